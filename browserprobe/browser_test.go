package browserprobe

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// RequireEnv makes a missing Chromium fail the browser tests instead of
// skipping them; CI sets it after installing Chromium.
const RequireEnv = "MCPCONFORM_REQUIRE_BROWSER"

var (
	shared     *Browser
	sharedErr  error
	sharedOnce sync.Once
)

// testBrowser is one Chromium for the package's tests; it skips the test,
// visibly, when Chromium is not installed.
func testBrowser(t *testing.T) *Browser {
	t.Helper()
	path, err := Find(os.Getenv("MCPCONFORM_BROWSER_PATH"))
	if err != nil {
		if os.Getenv(RequireEnv) != "" {
			t.Fatalf("%s is set but: %v", RequireEnv, err)
		}
		t.Skipf("SKIPPED, browser checks not run: %v", err)
	}
	sharedOnce.Do(func() {
		shared, sharedErr = Launch(Options{Path: path})
	})
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := shared.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	return shared
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared != nil {
		_ = shared.Close()
	}
	os.Exit(code)
}

// policy is a tiny browser-facing endpoint with the CORS fields a row sets.
type policy struct {
	expose  string // Access-Control-Expose-Headers on actual responses
	methods string // Access-Control-Allow-Methods on preflights
}

func (p policy) server(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", r.Header.Get("Origin"))
		if r.Method == http.MethodOptions {
			h.Set("Access-Control-Allow-Methods", p.methods)
			h.Set("Access-Control-Allow-Headers", "authorization, content-type, mcp-session-id, mcp-protocol-version")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if p.expose != "" {
			h.Set("Access-Control-Expose-Headers", p.expose)
		}
		switch r.Method {
		case http.MethodGet:
			h.Set("Content-Type", "text/event-stream")
			fl := w.(http.Flusher)
			for i := range 3 {
				fmt.Fprintf(w, "id: %d\ndata: {\"n\":%d}\n\n", i, i)
				fl.Flush()
				// 150 ms apart: the first and last event stay in
				// separate reads even on a loaded machine (at 30 ms
				// Chromium once got all three in one read there).
				time.Sleep(150 * time.Millisecond)
			}
		case http.MethodDelete:
			w.WriteHeader(http.StatusNoContent)
		default:
			if r.Header.Get("Authorization") == "" {
				h.Set("WWW-Authenticate", `Bearer realm="test"`)
				http.Error(w, `{"error":"unauthorized"}`, http.StatusUnauthorized)
				return
			}
			h.Set("Mcp-Session-Id", "s-1")
			h.Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2025-11-25"}}`)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestClientPageSeesWhatCORSAllows(t *testing.T) {
	b := testBrowser(t)
	rpc := []byte(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}`)
	steps := []Step{
		{Label: "initialize without Authorization", Method: "POST", RPC: rpc, Read: []string{"WWW-Authenticate"}},
		{Label: "initialize", Method: "POST", RPC: rpc, Auth: true, Read: []string{"Mcp-Session-Id"}},
		{Label: "stream", Method: "GET", Session: true, Version: true, Stream: true},
		{Label: "delete", Method: "DELETE", Session: true, Version: true},
	}
	for _, tc := range []struct {
		name   string
		p      policy
		check  func(t *testing.T, rs []*Result, ev Evidence)
		output []string // console lines expected, verbatim fragments
	}{
		{name: "exposed", p: policy{expose: "WWW-Authenticate, Mcp-Session-Id", methods: "GET, POST, DELETE"},
			check: func(t *testing.T, rs []*Result, ev Evidence) {
				if v, ok := rs[0].Value("WWW-Authenticate"); !ok || v != `Bearer realm="test"` || rs[0].Status != 401 {
					t.Errorf("401: status %d, WWW-Authenticate %q %v", rs[0].Status, v, ok)
				}
				if v, _ := rs[1].Value("Mcp-Session-Id"); v != "s-1" || rs[1].ProtocolVersion != "2025-11-25" {
					t.Errorf("initialize: session %q, version %q", v, rs[1].ProtocolVersion)
				}
				if n := len(rs[2].Events); n != 3 || !rs[2].StreamEnded || rs[2].Events[2].Read == rs[2].Events[0].Read {
					t.Errorf("stream: %d events, ended %v, reads %+v (want 3 events read incrementally)", n, rs[2].StreamEnded, rs[2].Events)
				}
				if !rs[3].Reached || rs[3].Status != 204 {
					t.Errorf("delete: %+v", rs[3])
				}
				for _, c := range ev.Console {
					if strings.Contains(c, "blocked by CORS") || strings.Contains(c, "unsafe header") {
						t.Errorf("unexpected console line %q", c)
					}
				}
			}},
		{name: "hidden", p: policy{methods: "GET, POST, DELETE"},
			output: []string{`Refused to get unsafe header "WWW-Authenticate"`, `Refused to get unsafe header "Mcp-Session-Id"`},
			check: func(t *testing.T, rs []*Result, ev Evidence) {
				if _, ok := rs[0].Value("WWW-Authenticate"); ok || rs[0].Status != 401 {
					t.Errorf("401 read %+v", rs[0].Read)
				}
				if v, ok := rs[0].Wire("WWW-Authenticate"); !ok || v != `Bearer realm="test"` {
					t.Errorf("the wire should show the hidden field: %q %v", v, ok)
				}
			}},
		{name: "no DELETE", p: policy{expose: "WWW-Authenticate, Mcp-Session-Id", methods: "GET, POST"},
			output: []string{"Method DELETE is not allowed by Access-Control-Allow-Methods in preflight response."},
			check: func(t *testing.T, rs []*Result, ev Evidence) {
				if rs[3].Reached || rs[3].CORSCode != "MethodDisallowedByPreflightResponse" {
					t.Errorf("delete: reached %v, CORS %q", rs[3].Reached, rs[3].CORSError)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := tc.p.server(t)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			p, err := b.Open(ctx, Target{Title: t.Name(), URL: srv.URL + "/mcp", Token: "tok"})
			if err != nil {
				t.Fatal(err)
			}
			var rs []*Result
			for _, s := range steps {
				r, err := p.Step(ctx, s)
				if err != nil {
					p.Close(ctx, true)
					t.Fatal(err)
				}
				rs = append(rs, r)
			}
			p.Settle(ctx)
			if err := p.Mark(ctx, 0, "pass", "ok"); err != nil {
				t.Error(err)
			}
			ev := p.Close(ctx, true)
			tc.check(t, rs, ev)
			console := strings.Join(ev.Console, "\n")
			for _, want := range tc.output {
				if !strings.Contains(console, want) {
					t.Errorf("console lacks %q:\n%s", want, console)
				}
			}
			if !bytes.HasPrefix(ev.Screenshot, []byte("\x89PNG")) {
				t.Errorf("no PNG screenshot: %v", ev.ScreenshotErr)
			}
			preflights := 0
			for _, ex := range ev.Exchanges {
				if ex.Request.Method == http.MethodOptions {
					preflights++
					if ex.Request.Headers == nil || ex.Response == nil {
						t.Errorf("preflight without fields: %+v", ex)
					}
				}
			}
			// POST with Content-Type application/json twice, GET with
			// MCP fields, DELETE: each preflights (the cache is off).
			if preflights != 4 {
				t.Errorf("%d preflights in the evidence, want 4", preflights)
			}
		})
	}
}

func TestFindSaysHowToInstall(t *testing.T) {
	_, err := Find("/nonexistent/chromium")
	if err == nil || !strings.Contains(err.Error(), "apt-get install chromium") || !strings.Contains(err.Error(), "--browser-path") {
		t.Fatalf("err = %v, want the install hint", err)
	}
	if _, err := Find(os.TempDir()); err == nil {
		t.Fatal("a folder was accepted as the browser")
	}
}

// A browser that cannot start costs a bounded wait and a clear error, and
// Close returns at once.
func TestBrokenBrowserFailsFast(t *testing.T) {
	b, err := Launch(Options{Path: "/bin/false", LaunchTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = b.Open(ctx, Target{Title: "x", URL: "http://127.0.0.1:1/mcp"})
	if err == nil || !strings.Contains(err.Error(), "chromium (/bin/false)") {
		t.Errorf("Open: %v, want an error naming the executable", err)
	}
	_ = b.Close()
	if d := time.Since(start); d > 6*time.Second {
		t.Errorf("took %s", d)
	}
}

func TestShownHidesTheQuery(t *testing.T) {
	if got := Shown("http://127.0.0.1:1/mcp?api_key=secret"); strings.Contains(got, "secret") || got != "http://127.0.0.1:1/mcp?…" {
		t.Errorf("Shown = %q", got)
	}
	if got := Shown("http://127.0.0.1:1/mcp"); got != "http://127.0.0.1:1/mcp" {
		t.Errorf("Shown = %q", got)
	}
}

// Close asks Chromium to close and leaves nothing behind: no process of
// this browser (they all carry its private TMPDIR) and no temp folder.
func TestCloseLeavesNothing(t *testing.T) {
	path, err := Find(os.Getenv("MCPCONFORM_BROWSER_PATH"))
	if err != nil {
		if os.Getenv(RequireEnv) != "" {
			t.Fatalf("%s is set but: %v", RequireEnv, err)
		}
		t.Skipf("SKIPPED, browser checks not run: %v", err)
	}
	b, err := Launch(Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := b.Ready(ctx); err != nil {
		_ = b.Close()
		t.Fatal(err)
	}
	marker := []byte("TMPDIR=" + b.tmp + "\x00")
	if len(processesWith(marker)) == 0 {
		t.Fatal("no Chromium process carries the browser's TMPDIR: the test cannot see what Close leaves")
	}
	_ = b.Close()
	if _, err := os.Stat(b.tmp); !os.IsNotExist(err) {
		t.Errorf("the browser's temp folder %s is still there (%v)", b.tmp, err)
	}
	// Chromium's helpers exit shortly after the browser process: bounded.
	var left []string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if left = processesWith(marker); len(left) == 0 {
			return
		}
	}
	t.Errorf("Chromium processes still running 10 s after Close: %v", left)
}

// processesWith lists the PIDs whose environment contains marker.
func processesWith(marker []byte) []string {
	var pids []string
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		env, err := os.ReadFile("/proc/" + d.Name() + "/environ")
		if err == nil && bytes.Contains(env, marker) {
			pids = append(pids, d.Name())
		}
	}
	return pids
}
