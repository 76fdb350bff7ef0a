package proxyundertest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// upstreamRecorder is a stand-in upstream that remembers what reached it.
type upstreamRecorder struct {
	mu  sync.Mutex
	got []*http.Request
	srv *httptest.Server
}

func newUpstream(t *testing.T) *upstreamRecorder {
	u := &upstreamRecorder{}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.got = append(u.got, r.Clone(r.Context()))
		u.mu.Unlock()
		_, _ = io.WriteString(w, `{"upstream":true}`)
	}))
	t.Cleanup(u.srv.Close)
	return u
}

func (u *upstreamRecorder) take() []*http.Request {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := u.got
	u.got = nil
	return out
}

func openBuiltin(t *testing.T, name string, up *upstreamRecorder, opt Options) string {
	t.Helper()
	tg, err := Open(BuiltinPrefix+name, up.srv.URL+"/mcp", opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tg.Close() })
	return strings.TrimSuffix(tg.MCPURL, "/mcp")
}

// send issues one request with header names written verbatim.
func send(t *testing.T, method, url string, hdr map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = []string{v}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

const testKey = "s3cret-KEY-0123"

var kOpt = Options{Roles: []string{"K"}, APIKey: testKey, APIKeyHeader: "X-API-Key", Exempt: []string{"/status"}, NamedServer: "alpha"}

func TestReferenceGate(t *testing.T) {
	up := newUpstream(t)
	base := openBuiltin(t, "reference", up, kOpt)
	cases := []struct {
		name, method, path string
		hdr                map[string]string
		status             int
		reaches            string // upstream path, "" = nothing arrives
	}{
		{"missing key", "POST", "/mcp", nil, 401, ""},
		{"empty key", "POST", "/mcp", map[string]string{"X-API-Key": ""}, 401, ""},
		{"prefix", "POST", "/mcp", map[string]string{"X-API-Key": testKey[:len(testKey)-1]}, 401, ""},
		{"plus a byte", "POST", "/mcp", map[string]string{"X-API-Key": testKey + "x"}, 401, ""},
		{"other case", "POST", "/mcp", map[string]string{"X-API-Key": strings.ToLower(testKey)}, 401, ""},
		{"messages", "POST", "/messages/", nil, 401, ""},
		{"named mcp without key", "POST", "/servers/alpha/mcp", nil, 401, ""},
		{"named sse without key", "GET", "/servers/alpha/sse", nil, 401, ""},
		{"right key", "POST", "/mcp", map[string]string{"X-API-Key": testKey}, 200, "/mcp"},
		{"lowercase name", "POST", "/mcp", map[string]string{"x-api-key": testKey}, 200, "/mcp"},
		{"named mcp maps to /mcp", "POST", "/servers/alpha/mcp", map[string]string{"X-API-Key": testKey}, 200, "/mcp"},
		{"named sse maps to /sse", "GET", "/servers/alpha/sse", map[string]string{"X-API-Key": testKey}, 200, "/sse"},
		{"options exempt", "OPTIONS", "/mcp", nil, 200, "/mcp"},
		{"status answered locally", "GET", "/status", nil, 200, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			up.take()
			resp := send(t, c.method, base+c.path, c.hdr)
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, c.status)
			}
			got := up.take()
			switch {
			case c.reaches == "" && len(got) > 0:
				t.Errorf("%s %s reached the upstream", got[0].Method, got[0].URL.Path)
			case c.reaches != "" && (len(got) != 1 || got[0].URL.Path != c.reaches):
				t.Errorf("upstream saw %d requests, want one for %s", len(got), c.reaches)
			case c.reaches != "" && got[0].Header.Get("X-API-Key") != "":
				t.Errorf("the key was forwarded upstream")
			}
			if c.status == 401 {
				ch := resp.Header.Get("WWW-Authenticate")
				if !strings.HasPrefix(ch, "ApiKey ") || strings.Contains(ch, "resource_metadata") {
					t.Errorf("challenge %q, want the gate's own ApiKey challenge", ch)
				}
			}
		})
	}
}

// The case-sensitive specimen sees the header name as spelled on the wire,
// which net/http would otherwise canonicalize away.
func TestCaseSensitiveSpecimenSeesRawNames(t *testing.T) {
	up := newUpstream(t)
	base := openBuiltin(t, "apikey-case-sensitive-name", up, kOpt)
	for name, want := range map[string]int{"X-API-Key": 200, "x-api-key": 401, "X-Api-Key": 401} {
		if got := send(t, "POST", base+"/mcp", map[string]string{name: testKey}).StatusCode; got != want {
			t.Errorf("key under %q: status %d, want %d", name, got, want)
		}
	}
}
