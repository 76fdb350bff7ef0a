package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/mcpconform/mcpconform/report"
	"github.com/mcpconform/mcpconform/scenarios"
)

// childCommand prepares this test binary re-executed as the CLI.
func childCommand(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+strings.Join(args, "\x1f"))
	return cmd
}

const secretHeader = "Bearer sekret-token-0123456789"

// A failing run against a specimen writes every format; each one parses as
// its consumers expect, secrets are redacted, and every failing case carries
// reproduce lines.
func TestRunOutWritesEveryReport(t *testing.T) {
	cr := runChild(t, 2*time.Minute, "run", "--proxy", "builtin:status-rewrite", "--label-filter", "HTTP-E2E-010",
		"--header", "Authorization: "+secretHeader)
	if cr.code != exitFail {
		t.Fatalf("exit %d, want %d:\n%s", cr.code, exitFail, cr.output)
	}
	dir := outDirOf(t, cr)
	for _, name := range []string{"results.json", "junit.xml", "summary.md", "report.html"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if bytes.Contains(data, []byte("sekret-token-0123456789")) {
			t.Errorf("%s contains the --header secret", name)
		}
	}
	// JUnit: well-formed XML with one testcase per case and failures.
	var suites struct {
		Suites []struct {
			Cases []struct {
				Name    string    `xml:"name,attr"`
				Failure *struct{} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	junit, _ := os.ReadFile(filepath.Join(dir, "junit.xml"))
	if err := xml.Unmarshal(junit, &suites); err != nil {
		t.Fatalf("junit.xml does not parse: %v", err)
	}
	nCases, nFail := 0, 0
	for _, s := range suites.Suites {
		for _, c := range s.Cases {
			nCases++
			if c.Failure != nil {
				nFail++
			}
		}
	}
	if nCases != len(cr.run.Cases) || nFail == 0 {
		t.Errorf("junit: %d testcases (%d failures), results.json has %d cases", nCases, nFail, len(cr.run.Cases))
	}
	html, _ := os.ReadFile(filepath.Join(dir, "report.html"))
	if !bytes.Contains(html, []byte("HTTP-E2E-010/401")) {
		t.Error("report.html does not name the failing case")
	}
	// HAR 1.2 for each failing case.
	failing := 0
	for _, c := range cr.run.Cases {
		if c.Outcome != report.Fail {
			continue
		}
		failing++
		data, err := os.ReadFile(filepath.Join(dir, "har", report.HARFileName(&c)))
		if err != nil {
			t.Fatalf("no HAR for %s: %v", c.ID, err)
		}
		var har struct {
			Log struct {
				Version string `json:"version"`
				Entries []struct {
					Request struct {
						Method string `json:"method"`
						URL    string `json:"url"`
					} `json:"request"`
					Response struct {
						Status int `json:"status"`
					} `json:"response"`
				} `json:"entries"`
			} `json:"log"`
		}
		if err := json.Unmarshal(data, &har); err != nil || har.Log.Version != "1.2" || len(har.Log.Entries) == 0 {
			t.Errorf("%s: HAR version %q, %d entries, err %v", c.ID, har.Log.Version, len(har.Log.Entries), err)
		}
		n := len(c.Reproduce)
		if n < 4 || !strings.HasPrefix(c.Reproduce[0], "mcpconform mock --replay "+dir+"/results.json --case "+c.ID+" --proxy builtin:status-rewrite ") ||
			!strings.HasPrefix(c.Reproduce[1], "P=") || !strings.HasPrefix(c.Reproduce[n-1], "# expected: ") {
			t.Errorf("%s: reproduce lines %q", c.ID, c.Reproduce)
		}
		curls := 0
		for _, l := range c.Reproduce {
			if strings.HasPrefix(l, "curl -i") {
				curls++
				if !strings.Contains(l, "-H 'Authorization: Bearer <redacted:") {
					t.Errorf("%s: curl line should keep the scheme and redact the token: %s", c.ID, l)
				}
			}
		}
		if curls == 0 {
			t.Errorf("%s: no curl line: %q", c.ID, c.Reproduce)
		}
	}
	if failing == 0 {
		t.Fatal("status-rewrite failed no HTTP-E2E-010 case")
	}
}

func outDirOf(t *testing.T, cr childRun) string {
	t.Helper()
	m := regexp.MustCompile(`reports in (\S+)`).FindStringSubmatch(cr.output)
	if m == nil {
		t.Fatalf("no 'reports in' line:\n%s", cr.output)
	}
	return m[1]
}

func TestUnredactedKeepsSecrets(t *testing.T) {
	cr := runChild(t, 2*time.Minute, "run", "--proxy", "builtin:status-rewrite", "--label-filter", "HTTP-E2E-010",
		"--focus", "HTTP-E2E-010/401 ", "--header", "Authorization: "+secretHeader, "--unredacted")
	data, err := os.ReadFile(filepath.Join(outDirOf(t, cr), "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte("sekret-token-0123456789")) {
		t.Error("--unredacted: results.json lost the header value")
	}
}

// A baseline turns listed failures into expected-fail (exit 0); an entry
// whose case passes again is stale and fails the run (exit 1).
func TestBaselineAndStale(t *testing.T) {
	first := runChild(t, 2*time.Minute, "run", "--proxy", "builtin:status-rewrite", "--label-filter", "HTTP-E2E-010 || VER-001")
	if first.code != exitFail {
		t.Fatalf("exit %d:\n%s", first.code, first.output)
	}
	results := filepath.Join(outDirOf(t, first), "results.json")
	var buf bytes.Buffer
	if code := execute([]string{"baseline", results}, &buf, io.Discard); code != 0 {
		t.Fatalf("baseline exit %d", code)
	}
	var b Baseline
	if err := yaml.Unmarshal(buf.Bytes(), &b); err != nil || len(b.ExpectedFailures) == 0 {
		t.Fatalf("baseline output %v:\n%s", err, buf.String())
	}
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yml")
	_ = os.WriteFile(good, buf.Bytes(), 0o644)
	cr := runChild(t, 2*time.Minute, "run", "--proxy", "builtin:status-rewrite", "--label-filter", "HTTP-E2E-010 || VER-001", "--baseline", good)
	if cr.code != exitOK || cr.run.Counts[report.ExpectedFail] != len(b.ExpectedFailures) || cr.run.Counts[report.Fail] != 0 {
		t.Fatalf("with the baseline: exit %d, counts %v:\n%s", cr.code, cr.run.Counts, cr.output)
	}

	stale := filepath.Join(dir, "stale.yml")
	_ = os.WriteFile(stale, append(buf.Bytes(), "  - id: VER-001\n    reason: fixed long ago\n"...), 0o644)
	cr = runChild(t, 2*time.Minute, "run", "--proxy", "builtin:status-rewrite", "--label-filter", "HTTP-E2E-010 || VER-001", "--baseline", stale)
	if cr.code != exitFail || len(cr.run.StaleBaseline) != 1 || !strings.HasPrefix(cr.run.StaleBaseline[0], "VER-001") {
		t.Fatalf("stale entry: exit %d, stale %q:\n%s", cr.code, cr.run.StaleBaseline, cr.output)
	}
	if !strings.Contains(cr.output, "stale baseline entry (now passes): VER-001") {
		t.Errorf("output does not name the stale entry:\n%s", cr.output)
	}
}

// A launched proxy that exits at once: exit 3, and its output is shown.
func TestProxyCmdExitsAtOnce(t *testing.T) {
	cr := runChild(t, time.Minute, "run", "--proxy-cmd", `echo "config error: no upstream on line 3" >&2; exit 7`, "--label-filter", "VER-001")
	if cr.code != exitUnreachable {
		t.Fatalf("exit %d, want 3:\n%s", cr.code, cr.output)
	}
	for _, want := range []string{"config error: no upstream on line 3", "exit code 7"} {
		if !strings.Contains(cr.output, want) {
			t.Errorf("output lacks %q:\n%s", want, cr.output)
		}
	}
	if !strings.Contains(cr.run.ProxyLog, "config error") {
		t.Errorf("results.json proxyLog = %q", cr.run.ProxyLog)
	}
}

// A launched proxy is reached on {port} and stopped when the run ends.
func TestProxyCmdLaunchedAndStopped(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 not installed")
	}
	cr := runChild(t, 2*time.Minute, "run", "--proxy-cmd", "exec python3 -m http.server {port} --bind 127.0.0.1", "--label-filter", "VER-001", "--no-preflight")
	// http.server answers POST with 501: reached, and non-conformant (the
	// preflight would stop it as forwarding nothing; the launch is tested).
	if cr.code != exitFail {
		t.Fatalf("exit %d, want 1:\n%s", cr.code, cr.output)
	}
	if !strings.Contains(cr.run.ProxyLog, `"POST /mcp HTTP/1.1" 501`) {
		t.Errorf("proxy log does not show the harness's request:\n%s", cr.run.ProxyLog)
	}
	m := regexp.MustCompile(`launching proxy +exec python3 -m http.server (\d+)`).FindStringSubmatch(cr.output)
	if m == nil {
		t.Fatalf("no launch line:\n%s", cr.output)
	}
	if conn, err := net.DialTimeout("tcp", "127.0.0.1:"+m[1], time.Second); err == nil {
		conn.Close()
		t.Errorf("port %s still accepts connections after the run: the proxy was not stopped", m[1])
	}
}

// A proxy that dies mid-run: the remaining cases end at once as errors that
// say so, and the run exits 3.
func TestProxyCmdDiesMidRun(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 not installed")
	}
	// Serves exactly one request, then exits.
	script := `exec python3 -c 'import http.server,sys; s=http.server.HTTPServer(("127.0.0.1",{port}),http.server.BaseHTTPRequestHandler); s.handle_request(); s.handle_request(); print("bye"); sys.exit(4)'`
	start := time.Now()
	// Many cases, so some start after python has exited even on a slow machine.
	cr := runChild(t, 2*time.Minute, "run", "--proxy-cmd", script, "--label-filter", "HTTP-E2E-010 || AUTH-HDR-001", "--no-preflight")
	if cr.code != exitUnreachable {
		t.Fatalf("exit %d, want 3:\n%s", cr.code, cr.output)
	}
	gone := 0
	for _, c := range cr.run.Cases {
		if c.Outcome == report.Error && strings.Contains(c.Message+c.Reason, "proxy exited: exit code 4") {
			gone++
		}
	}
	if gone == 0 || time.Since(start) > time.Minute {
		t.Errorf("%d cases report the exit, after %s:\n%s", gone, time.Since(start), cr.output)
	}
}

// Ctrl-C during a run against a slow proxy: the running case stops, the rest
// are not-run, and every report is still written.
func TestInterruptWritesPartialReports(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	// The slow proxy: reads requests and never answers. A request (not the
	// bare reachability dial) means a case is running.
	requested := make(chan struct{}, 1)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				if _, err := http.ReadRequest(bufio.NewReader(conn)); err == nil {
					select {
					case requested <- struct{}{}:
					default:
					}
					_, _ = io.Copy(io.Discard, conn)
				}
			}()
		}
	}()
	out := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := childCommand(ctx, "run", "--proxy", "http://"+ln.Addr().String()+"/mcp", "--upstream", "127.0.0.1:0",
		"--label-filter", "HTTP-E2E-010", "--timeout", "60s", "--out", out, "--no-preflight") // interrupted in a case, not in the preflight
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-requested:
	case <-time.After(time.Minute):
		_ = cmd.Process.Kill()
		t.Fatalf("the slow proxy never got a request:\n%s", buf.String())
	}
	sent := time.Now()
	_ = cmd.Process.Signal(syscall.SIGINT)
	err = cmd.Wait()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	}
	if ctx.Err() != nil || time.Since(sent) > 30*time.Second {
		t.Fatalf("the run took %s to stop after SIGINT:\n%s", time.Since(sent), buf.String())
	}
	if code != exitUsage {
		t.Errorf("exit %d after SIGINT, want %d", code, exitUsage)
	}
	r, err := report.ReadJSONFile(filepath.Join(out, "results.json"))
	if err != nil {
		t.Fatalf("results.json: %v\n%s", err, buf.String())
	}
	sc, _ := scenarios.Lookup("HTTP-E2E-010")
	if !r.Interrupted || r.Complete || len(r.Cases) != len(sc.Rows) {
		t.Fatalf("interrupted=%v complete=%v, %d cases (want %d):\n%s", r.Interrupted, r.Complete, len(r.Cases), len(sc.Rows), buf.String())
	}
	for _, c := range r.Cases {
		if c.Outcome != report.NotRun {
			t.Errorf("%s: %s (%s), want not-run", c.ID, c.Outcome, c.Reason)
		}
	}
	for _, name := range []string{"junit.xml", "summary.md", "report.html"} {
		if _, err := os.Stat(filepath.Join(out, name)); err != nil {
			t.Errorf("%s not written after SIGINT: %v", name, err)
		}
	}
}

// `mcpconform run … | head -1`: the console's reader goes away after one
// line. The run must not die of SIGPIPE on the next line: it finishes and
// writes every report.
func TestClosedConsolePipeWritesReports(t *testing.T) {
	out := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := childCommand(ctx, "run", "--proxy", "builtin:reference", "--upstream", "127.0.0.1:0",
		"--label-filter", "transport", "--out", out)
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	// Read one line, as head -1 does, then close the pipe's only reader.
	line, err := bufio.NewReader(pr).ReadString('\n')
	pr.Close()
	if err != nil {
		_ = cmd.Process.Kill()
		t.Fatalf("no first console line: %v", err)
	}
	err = cmd.Wait()
	if ctx.Err() != nil {
		t.Fatalf("the run did not finish after its console pipe closed (first line %q)", line)
	}
	if ee, ok := err.(*exec.ExitError); ok {
		t.Fatalf("the run ended with %v after its console pipe closed, want exit 0", ee)
	} else if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"results.json", "junit.xml", "summary.md", "report.html"} {
		if _, err := os.Stat(filepath.Join(out, name)); err != nil {
			t.Errorf("%s not written: %v", name, err)
		}
	}
	if r, err := report.ReadJSONFile(filepath.Join(out, "results.json")); err != nil || !r.Complete {
		t.Errorf("results.json not complete: %v", err)
	}
}

func TestExplain(t *testing.T) {
	var out bytes.Buffer
	if code := execute([]string{"explain", "HTTP-E2E-010/401"}, &out, io.Discard); code != 0 {
		t.Fatalf("exit %d", code)
	}
	sc, _ := scenarios.Lookup("HTTP-E2E-010")
	for _, want := range []string{sc.Requirement, sc.Source, "level:       MUST", "checks:      " + sc.Checks, sc.KnownBugs[0], "row 401", "status:      401", "mcpconform mock --replay out/results.json --case HTTP-E2E-010/401"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("explain lacks %q:\n%s", want, out.String())
		}
	}
	if code := execute([]string{"explain", "NOPE-001"}, io.Discard, io.Discard); code != exitUsage {
		t.Errorf("unknown ID: exit %d", code)
	}
}

// `report` re-renders from results.json; several files go side by side.
func TestReportCommand(t *testing.T) {
	dir := t.TempDir()
	mk := func(name, target string, o report.Outcome) string {
		r := &report.Run{Schema: report.SchemaVersion, Proxy: report.Proxy{Target: target}, Complete: true,
			Cases: []report.Case{{ID: "VER-001", Scenario: "VER-001", Area: "transport", Level: "MUST", Outcome: o, Expected: "x", Observed: "y",
				Exchanges: []report.Exchange{{Hop: report.HopClientProxy, Request: report.Request{Method: "POST", URL: "http://127.0.0.1:1/mcp"}}}}}}
		r.Tally()
		p := filepath.Join(dir, name)
		if err := report.WriteFileAtomic(p, func(w io.Writer) error { return report.WriteJSON(w, r) }); err != nil {
			t.Fatal(err)
		}
		return p
	}
	a, b := mk("a.json", "proxy-alpha", report.Fail), mk("b.json", "proxy-beta", report.Pass)
	html, md, junit, har := filepath.Join(dir, "o.html"), filepath.Join(dir, "o.md"), filepath.Join(dir, "o.xml"), filepath.Join(dir, "har")
	if code := execute([]string{"report", a, b, "--html", html, "--markdown", md, "--junit", junit, "--har", har}, io.Discard, os.Stderr); code != 0 {
		t.Fatalf("exit %d", code)
	}
	page, _ := os.ReadFile(html)
	if !bytes.Contains(page, []byte("proxy-alpha")) || !bytes.Contains(page, []byte("proxy-beta")) {
		t.Error("side-by-side HTML lacks one of the runs")
	}
	// Several files: a HAR folder per run, numbered and named by the run.
	for _, p := range []string{md, junit, filepath.Join(har, "1-proxy-alpha", "VER-001.har")} {
		if st, err := os.Stat(p); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", p, err)
		}
	}
	if code := execute([]string{"report", a}, io.Discard, io.Discard); code != exitUsage {
		t.Errorf("no output named: exit %d", code)
	}
}

// What a run prints is redacted like its reports, and a launched proxy's
// output reaches the terminal with its control bytes escaped.
func TestConsoleRedactsAndEscapes(t *testing.T) {
	const key = "SECRETKEY-4711"
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// A child: a run builds the catalogue's spec tree once per process.
	var out bytes.Buffer
	cmd := childCommand(ctx, "run", "--role", "K", "--api-key", key, "--upstream", "127.0.0.1:0",
		"--proxy-cmd", `echo "starting with key {api_key}"; printf 'boot\033[2J\n'; exit 1`,
		"--proxy", "http://127.0.0.1:{port}/mcp?api_key={api_key}")
	cmd.Stdout, cmd.Stderr = &out, &out
	code := 0
	if ee, ok := cmd.Run().(*exec.ExitError); ok {
		code = ee.ExitCode()
	}
	if code != exitUnreachable {
		t.Errorf("exit %d, want %d", code, exitUnreachable)
	}
	if strings.Contains(out.String(), key) {
		t.Errorf("the API key is on the console:\n%s", out.String())
	}
	if strings.ContainsRune(out.String(), 0x1b) || !strings.Contains(out.String(), `boot\x1b[2J`) {
		t.Errorf("the proxy's output is not escaped:\n%q", out.String())
	}
}

// --fail-fast stops at the first failure, and only at a failure: not at an
// info or a warning, not at a failure the baseline accepts. What follows
// the stop is not-run, and the exit code is the failure's.
func TestFailFast(t *testing.T) {
	dir := t.TempDir()
	bl := filepath.Join(dir, "baseline.yml")
	if err := os.WriteFile(bl, []byte("expected-failures:\n  - id: AUTH-HDR-001\n    reason: known\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		args    []string
		code    int
		stopper string // scenario of the case the run stops after ("": none)
	}{
		// An info (AUTH-JRN-004/upstream-url) and no failure.
		{"reference", []string{"--proxy", "builtin:reference"}, exitOK, ""},
		// A warning only (RES-004 below 2026-07-28).
		{"warning", []string{"--proxy", "builtin:no-disconnect-propagation", "--label-filter", "RES-004 || SESS-001 || VER-001"}, exitOK, ""},
		{"failure", []string{"--proxy", "builtin:strip-auth-params"}, exitFail, "AUTH-HDR-001"},
		{"accepted", []string{"--proxy", "builtin:strip-auth-params", "--baseline", bl}, exitFail, "AUTH-HDR-012"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cr := runChild(t, 2*time.Minute, append([]string{"run", "--fail-fast"}, tc.args...)...)
			if cr.code != tc.code {
				t.Fatalf("exit %d, want %d:\n%s", cr.code, tc.code, cr.output)
			}
			stopped := ""
			for _, c := range cr.run.Cases {
				if tc.stopper == "" && c.Outcome == report.NotRun {
					t.Errorf("%s not run (%s) though nothing failed", c.ID, c.Reason)
				}
				if c.Outcome == report.NotRun && strings.Contains(c.Reason, "--fail-fast stopped the run after ") {
					stopped = strings.TrimSuffix(strings.TrimPrefix(c.Reason, "not run: --fail-fast stopped the run after "), " failed")
				}
			}
			if sc, _, _ := strings.Cut(stopped, "/"); sc != tc.stopper {
				t.Errorf("stopped after %q, want a case of %q", stopped, tc.stopper)
			}
		})
	}
}

// interruptAt runs the CLI in a child, sends it SIGINT once a line of its
// output starts with prefix, and returns its exit code and output. It
// fails the test if no such line comes or the child outlives ctx.
func interruptAt(t *testing.T, ctx context.Context, prefix string, args ...string) (int, string) {
	t.Helper()
	cmd := childCommand(ctx, args...)
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	var out bytes.Buffer
	rd := bufio.NewReader(io.TeeReader(pr, &out))
	for {
		line, err := rd.ReadString('\n')
		if err != nil {
			_ = cmd.Process.Kill()
			t.Fatalf("no line starting %q: %v\n%s", prefix, err, out.String())
		}
		if strings.HasPrefix(line, prefix) {
			break
		}
	}
	_ = cmd.Process.Signal(syscall.SIGINT)
	_, _ = io.Copy(&out, pr)
	err = cmd.Wait()
	if ctx.Err() != nil {
		t.Fatalf("the run did not stop after SIGINT:\n%s", out.String())
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	}
	return code, out.String()
}

// Ctrl-C while a launched proxy is starting is an interrupted run (exit 2),
// not an unreachable proxy (exit 3).
func TestInterruptWhileLaunching(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code, out := interruptAt(t, ctx, "launching proxy", "run", "--proxy-cmd", "exec sleep 30", "--upstream", "127.0.0.1:0", "--out", t.TempDir())
	if code != exitUsage {
		t.Fatalf("exit %d after Ctrl-C during the launch, want %d:\n%s", code, exitUsage, out)
	}
}

// Ctrl-C during `--spec-version all`: the running revision's child stops
// and writes its reports, the later revisions are not run, the side-by-side
// page is still written, and the exit code says interrupted.
func TestInterruptEveryRevision(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	// "PASS  ": a case of the first revision.
	code, out := interruptAt(t, ctx, "PASS  ", "run", "--proxy", "builtin:reference", "--spec-version", "all", "--upstream", "127.0.0.1:0", "--out", dir)
	if code != exitUsage {
		t.Fatalf("exit %d after Ctrl-C, want %d:\n%s", code, exitUsage, out)
	}
	first := scenarios.Revisions[0]
	if r, err := report.ReadJSONFile(filepath.Join(dir, first, "results.json")); err != nil || !r.Interrupted {
		t.Errorf("the interrupted revision's results.json: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "report.html")); err != nil {
		t.Errorf("no side-by-side page: %v", err)
	}
	if !strings.Contains(out, "INTERRUPTED  builtin:reference") {
		t.Errorf("the interrupted revision's verdict line does not say so:\n%s", out)
	}
	for _, rev := range scenarios.Revisions[1:] {
		if !strings.Contains(out, "== MCP "+rev+": not run (interrupted)") {
			t.Errorf("revision %s not reported as not run:\n%s", rev, out)
		}
	}
}

// `list --scenarios` honours the filters: the scenarios of the selected cases.
func TestListScenariosFiltered(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// A child: the filter builds the catalogue's spec tree, once per process.
	b, err := childCommand(ctx, "list", "--scenarios", "--label-filter", "SESS-001 || VER-001").Output()
	if err != nil {
		t.Fatalf("%v", err)
	}
	out := bytes.NewBuffer(b)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[1], "SESS-001 ") && !strings.HasPrefix(lines[2], "SESS-001 ") {
		t.Errorf("want the header, SESS-001 and VER-001:\n%s", out.String())
	}
}
