package main

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mcpconform/mcpconform/report"
)

// A failure of each area reproduces by hand: the run's results.json, then
// `mcpconform mock --replay results.json --case ID --proxy builtin:SPECIMEN`
// (the recorded upstream answers with the same specimen in front), then the
// curl lines it prints, run with sh. The output shows the failure the run
// reported, through the proxy, with the bytes of the run.
func TestReplayReproducesEachArea(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl not installed")
	}
	for _, tc := range []struct {
		area, specimen, id string
		args               []string
		// check judges what the curl lines printed.
		check func(out string) string
	}{
		{"bridging", "strip-auth-params", "AUTH-HDR-001/WWWA-03-mid", nil, func(out string) string {
			last := out[strings.LastIndex(out, "HTTP/1.1 "):]
			if !strings.HasPrefix(last, "HTTP/1.1 401") || !strings.Contains(last, "resource_metadata=") || strings.Contains(last, "realm=") {
				return "the in-session 401 should arrive with resource_metadata and without realm"
			}
			return ""
		}},
		{"bridging-raw", "raw-relay", "HTTP-E2E-002/nul", nil, func(out string) string {
			// curl itself refuses the head the relay passed on.
			if !strings.Contains(out, "Nul byte in header") {
				return "the NUL of the recorded raw answer should come through the relay (curl: Nul byte in header)"
			}
			return ""
		}},
		{"transport", "mask-404", "SESS-003", nil, func(out string) string {
			if !strings.Contains(out, "HTTP/1.1 502") {
				return "the recorded upstream 404 should come back as the specimen's 502"
			}
			return ""
		}},
		{"sse", "buffer-sse", "SSE-STREAM-001/post", nil, func(out string) string {
			for _, resp := range strings.Split(out, "HTTP/1.1 ")[1:] {
				head, _, _ := strings.Cut(resp, "\r\n\r\n")
				if regexp.MustCompile(`(?i)content-type: text/event-stream`).MatchString(head) && regexp.MustCompile(`(?i)content-length: \d+`).MatchString(head) {
					return ""
				}
			}
			return "a stream should come back whole, with a Content-Length"
		}},
		{"cors", "no-expose-headers", "CORS-001", []string{"--cors"}, func(out string) string {
			if !strings.Contains(strings.ToLower(out), "access-control-allow-origin") || strings.Contains(strings.ToLower(out), "access-control-expose-headers") {
				return "the answers should allow the origin and expose nothing"
			}
			return ""
		}},
		// The built-in in front of the replay expects the run's key, so
		// the recorded requests get through its gate as in the run.
		{"apikey-key", "apikey-forwarded-upstream", "APIKEY-006", []string{"--role", "K"}, func(out string) string {
			if !strings.HasPrefix(strings.TrimSpace(out), "HTTP/1.1 200") {
				return "the recorded requests carry the run's key: the gate in front of the replay should let them through"
			}
			return ""
		}},
		{"apikey", "apikey-401-without-challenge", "APIKEY-002", []string{"--role", "K"}, func(out string) string {
			if !strings.Contains(out, "HTTP/1.1 401") || strings.Contains(strings.ToLower(out), "www-authenticate") {
				return "the gate's 401 should come without a challenge"
			}
			return ""
		}},
	} {
		t.Run(tc.area, func(t *testing.T) {
			scenario, _, _ := strings.Cut(tc.id, "/")
			args := append([]string{"run", "--proxy", "builtin:" + tc.specimen, "--label-filter", scenario, "--unredacted"}, tc.args...)
			cr := runChild(t, 2*time.Minute, args...)
			var c *report.Case
			for i := range cr.run.Cases {
				if cr.run.Cases[i].ID == tc.id {
					c = &cr.run.Cases[i]
				}
			}
			if c == nil || (c.Outcome != report.Fail && c.Outcome != report.Warn) {
				t.Fatalf("%s through %s: %+v\n%s", tc.id, tc.specimen, c, cr.output)
			}
			results := filepath.Join(outDirOf(t, cr), "results.json")
			if want := "mcpconform mock --replay " + results + " --case " + tc.id + " --proxy builtin:" + tc.specimen; !strings.HasPrefix(c.Reproduce[0], want) {
				t.Errorf("first reproduce line %q, want it to start %q", c.Reproduce[0], want)
			}

			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			mock := childCommand(ctx, "mock", "--addr", "127.0.0.1:0", "--replay", results, "--case", tc.id, "--proxy", "builtin:"+tc.specimen, "--hold", "3s")
			stdout, _ := mock.StdoutPipe()
			mock.Stderr = os.Stderr
			if err := mock.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() {
				_ = mock.Process.Signal(os.Interrupt)
				if err := mock.Wait(); err != nil {
					t.Errorf("replay after SIGINT: %v", err)
				}
			}()
			var printed, script []string
			inScript := false
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				l := sc.Text()
				printed = append(printed, l)
				if l == "Ctrl-C stops" {
					break
				}
				switch {
				case strings.HasPrefix(l, "send the case's requests"):
					inScript = true
				case inScript && strings.HasPrefix(l, "  # expected"):
					inScript = false
				case inScript:
					script = append(script, strings.TrimPrefix(l, "  "))
				}
			}
			go func() { _, _ = io.Copy(io.Discard, stdout) }()
			if len(script) < 2 || !strings.HasPrefix(script[0], "P='http://127.0.0.1:") {
				t.Fatalf("no curl script with the proxy's address:\n%s", strings.Join(printed, "\n"))
			}
			out, err := exec.CommandContext(ctx, "sh", "-c", strings.Join(script, "\n")).CombinedOutput()
			if _, exit := err.(*exec.ExitError); err != nil && !exit {
				t.Fatalf("the curl lines failed: %v\n%s\n%s", err, strings.Join(script, "\n"), out)
			}
			if why := tc.check(string(out)); why != "" {
				t.Errorf("%s: %s; the curl lines printed:\n%s\nthe replay said:\n%s", tc.id, why, report.Printable(string(out)), strings.Join(printed, "\n"))
			}
		})
	}
}
