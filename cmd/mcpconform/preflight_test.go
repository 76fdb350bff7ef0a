package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mcpconform/mcpconform/mockserver"
	"github.com/mcpconform/mcpconform/proxyundertest"
	"github.com/mcpconform/mcpconform/report"
	"github.com/mcpconform/mcpconform/scenarios"
)

// The preflight lets through a proxy that forwards to the mock, and stops
// one that does not with what came back and what to check.
func TestPreflight(t *testing.T) {
	const key = "preflight-key-0123"
	canned := func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprintf(w, "event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"serverInfo\":{\"name\": %q,\"version\":\"1\"}}}\n\n", mockserver.ServerName)
	}
	cases := []struct {
		name  string
		proxy func(t *testing.T, mock *mockserver.Mock) string // returns the proxy's MCP URL
		hdr   http.Header
		stdio bool
		want  []string // parts of the message; nil: the preflight passes
	}{
		{name: "reference", proxy: reference(proxyundertest.Options{})},
		{name: "API-key gate with the key", proxy: reference(proxyundertest.Options{Roles: []string{"K"}, APIKey: key}),
			hdr: http.Header{"X-Api-Key": {key}}},
		{name: "API-key gate without the key", proxy: reference(proxyundertest.Options{Roles: []string{"K"}, APIKey: key}),
			want: []string{"401 Unauthorized", "--api-key"}},
		{name: "TLS on the port, http:// given", proxy: func(t *testing.T, _ *mockserver.Mock) string {
			srv := httptest.NewTLSServer(http.NotFoundHandler())
			t.Cleanup(srv.Close)
			return strings.Replace(srv.URL, "https://", "http://", 1) + "/mcp"
		}, want: []string{"400 Bad Request", "Client sent an HTTP request to an HTTPS server", "https://"}},
		{name: "upstream https", proxy: func(t *testing.T, m *mockserver.Mock) string {
			up, _ := url.Parse(strings.Replace(m.BaseURL, "http://", "https://", 1))
			srv := httptest.NewServer(proxyundertest.NewReference(up, proxyundertest.Options{}).Handler())
			t.Cleanup(srv.Close)
			return srv.URL + "/mcp"
		}, want: []string{"502 Bad Gateway", "http://, not https://"}},
		{name: "wrong upstream port", proxy: func(t *testing.T, _ *mockserver.Mock) string {
			dead := httptest.NewServer(http.NotFoundHandler())
			up, _ := url.Parse(dead.URL)
			dead.Close()
			srv := httptest.NewServer(proxyundertest.NewReference(up, proxyundertest.Options{}).Handler())
			t.Cleanup(srv.Close)
			return srv.URL + "/mcp"
		}, want: []string{"502 Bad Gateway", "connection refused", "could not reach its upstream"}},
		{name: "path not routed", proxy: func(t *testing.T, _ *mockserver.Mock) string {
			srv := httptest.NewServer(http.NotFoundHandler())
			t.Cleanup(srv.Close)
			return srv.URL + "/mcp"
		}, want: []string{"404 Not Found", "the path"}},
		{name: "canned answer", proxy: func(t *testing.T, _ *mockserver.Mock) string {
			srv := httptest.NewServer(http.HandlerFunc(canned))
			t.Cleanup(srv.Close)
			return srv.URL + "/mcp"
		}, want: []string{"200 OK", "without asking the mock", "--upstream-stdio"}},
		{name: "hangs", proxy: func(t *testing.T, _ *mockserver.Mock) string {
			release := make(chan struct{})
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-release:
				case <-r.Context().Done():
				}
			}))
			t.Cleanup(func() { close(release); srv.Close() })
			return srv.URL + "/mcp"
		}, want: []string{"no answer within"}},
		{name: "stdio bridge answering as the mock", stdio: true, proxy: func(t *testing.T, _ *mockserver.Mock) string {
			srv := httptest.NewServer(http.HandlerFunc(canned))
			t.Cleanup(srv.Close)
			return srv.URL + "/mcp"
		}},
		{name: "stdio bridge failing", stdio: true, proxy: func(t *testing.T, _ *mockserver.Mock) string {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				http.Error(w, "spawn failed", http.StatusBadGateway)
			}))
			t.Cleanup(srv.Close)
			return srv.URL + "/mcp"
		}, want: []string{"502 Bad Gateway", "spawn failed", "mcpconform mock --stdio"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := mockserver.Start(mockserver.Options{Addr: "127.0.0.1:0"})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = m.Close() })
			proxyURL := c.proxy(t, m)
			start := time.Now()
			err = preflight(context.Background(), proxyURL, c.hdr, m, c.stdio, 2*time.Second)
			if took := time.Since(start); took > 4*time.Second {
				t.Errorf("the preflight took %s, over its 2s bound", took)
			}
			switch {
			case c.want == nil && err != nil:
				t.Errorf("preflight failed a proxy that works:\n%v", err)
			case c.want != nil && err == nil:
				t.Errorf("preflight passed; want it to stop the run mentioning %q", c.want)
			case c.want != nil:
				for _, w := range c.want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("message lacks %q:\n%v", w, err)
					}
				}
			}
		})
	}
}

// reference serves the reference proxy in front of the mock.
func reference(opt proxyundertest.Options) func(t *testing.T, m *mockserver.Mock) string {
	return func(t *testing.T, m *mockserver.Mock) string {
		up, _ := url.Parse(m.BaseURL)
		srv := httptest.NewServer(proxyundertest.NewReference(up, opt).Handler())
		t.Cleanup(srv.Close)
		return srv.URL + "/mcp"
	}
}

// A proxy that forwards nothing stops the run after the preflight: exit 3,
// the cause said once and first, no line per case, and reports that list
// every case as not run with the reason. An unreachable proxy likewise.
func TestRunStopsAtSetupMistakes(t *testing.T) {
	notFound := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "no route /mcp here", http.StatusNotFound)
	}))
	defer notFound.Close()
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL + "/mcp"
	dead.Close()
	for _, c := range []struct {
		proxy, once string
	}{
		{notFound.URL + "/mcp", "preflight: an initialize POST"},
		{deadURL, "proxy unreachable"},
	} {
		cr := runChild(t, time.Minute, "run", "--proxy", c.proxy)
		if cr.code != exitUnreachable {
			t.Errorf("%s: exit %d, want %d\n%s", c.proxy, cr.code, exitUnreachable, cr.output)
		}
		if n := strings.Count(cr.output, c.once); n != 1 {
			t.Errorf("%s: %q said %d times, want once:\n%s", c.proxy, c.once, n, cr.output)
		}
		if i, j := strings.Index(cr.output, c.once), strings.Index(cr.output, "NOT RUN"); i < 0 || j < i {
			t.Errorf("%s: the cause does not come before the summary:\n%s", c.proxy, cr.output)
		}
		if strings.Contains(cr.output, "\n----") || strings.Contains(cr.output, "\nERR ") {
			t.Errorf("%s: a line per case:\n%s", c.proxy, cr.output)
		}
		if len(cr.run.Cases) < len(catalogueCases()) {
			t.Errorf("%s: results.json lists %d cases, the catalogue has %d", c.proxy, len(cr.run.Cases), len(catalogueCases()))
		}
		for _, k := range cr.run.Cases {
			if k.Outcome != "not-run" || !strings.Contains(k.Reason, "stopped before its cases") {
				t.Errorf("%s: %s is %s (%s), want not-run with the reason", c.proxy, k.ID, k.Outcome, k.Reason)
				break
			}
		}
	}
}

// readFirstEvent stops at the end of the first event that carries data (the
// stream may stay open after the initialize result) and never reads on.
func TestReadFirstEvent(t *testing.T) {
	// Each part arrives in its own read, as a stream's events do.
	for _, parts := range [][]string{
		{"id: 1\ndata: \n\n", "event: message\ndata: {}\n\n"}, // a priming event (empty data), then the result
		{"data: {}\r\n\r\n"},
		{": comment\n\n", "data: {}\n\n"},
	} {
		var rs []io.Reader
		for _, p := range parts {
			rs = append(rs, strings.NewReader(p))
		}
		want := strings.Join(parts, "")
		if got := readFirstEvent(io.MultiReader(append(rs, stallReader{t})...)); string(got) != want {
			t.Errorf("readFirstEvent(%q) = %q, want %q", parts, got, want)
		}
	}
	// A stream that ends before any data: what came, and no more.
	if got := readFirstEvent(strings.NewReader("id: 1\ndata: \n\nevent: message\ndata: {")); string(got) != "id: 1\ndata: \n\nevent: message\ndata: {" {
		t.Errorf("an unfinished stream gave %q", got)
	}
}

// stallReader stands for a stream that stays open: reading it is an error.
type stallReader struct{ t *testing.T }

func (s stallReader) Read([]byte) (int, error) {
	s.t.Error("read past the first event with data")
	return 0, io.EOF
}

// Ctrl-C while the preflight waits on a proxy that never answers: an
// interrupted run (exit 2), not a setup mistake, and the reports still list
// every selected case as not run.
func TestInterruptDuringPreflight(t *testing.T) {
	requested := make(chan struct{}, 1)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Read the body: only then does the server watch the connection,
		// and the request's context ends when the client goes.
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case requested <- struct{}{}:
		default:
		}
		<-r.Context().Done()
	}))
	defer slow.Close()
	out := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := childCommand(ctx, "run", "--proxy", slow.URL+"/mcp", "--upstream", "127.0.0.1:0", "--label-filter", "HTTP-E2E-010", "--timeout", "60s", "--out", out)
	var buf strings.Builder
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-requested:
	case <-ctx.Done():
		t.Fatalf("the preflight never reached the slow proxy:\n%s", buf.String())
	}
	_ = cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	}
	if code != exitUsage || strings.Contains(buf.String(), "never reached the mock") {
		t.Errorf("exit %d after SIGINT in the preflight, want %d and no preflight verdict:\n%s", code, exitUsage, buf.String())
	}
	r, err := report.ReadJSONFile(filepath.Join(out, "results.json"))
	if err != nil {
		t.Fatalf("results.json: %v\n%s", err, buf.String())
	}
	sc, _ := scenarios.Lookup("HTTP-E2E-010")
	if !r.Interrupted || len(r.Cases) != len(sc.Rows) {
		t.Fatalf("interrupted=%v with %d cases, want %d not-run:\n%s", r.Interrupted, len(r.Cases), len(sc.Rows), buf.String())
	}
	for _, c := range r.Cases {
		if c.Outcome != report.NotRun || c.Reason == "" {
			t.Errorf("%s: %s (%q), want not-run with a reason", c.ID, c.Outcome, c.Reason)
		}
	}
}

// A setup that panics is a harness error said once, and the run exits 2
// (not 0: nothing was judged).
func TestSetupPanicIsSaidOnce(t *testing.T) {
	var stderr strings.Builder
	var stop setupStop
	o := &runOptions{}
	guarded := o.guardSetup(func(context.Context) (*scenarios.Env, error) { panic("no such listener") }, nil, &stderr,
		func(err error) string { return err.Error() }, &stop)
	env, err := guarded(context.Background())
	if env != nil || err == nil || !strings.Contains(err.Error(), "setup panicked: no such listener") {
		t.Fatalf("guarded setup = %v, %v", env, err)
	}
	if got := stderr.String(); strings.Count(got, "\n") != 1 || !strings.Contains(got, "setup panicked") {
		t.Errorf("stderr %q, want the panic said once", got)
	}
	if c := stop.code(exitOK, false, false); c != exitUsage {
		t.Errorf("exit code %d, want %d", c, exitUsage)
	}
	if c := (&setupStop{}).code(exitOK, false, false); c != exitOK {
		t.Errorf("no setup failure: exit code %d, want 0 (the cases decide)", c)
	}
}
