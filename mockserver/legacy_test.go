package mockserver

import (
	"bufio"
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// Each legacy style emits its own endpoint spelling; a POST there is
// accepted with 202 and answered on the stream; an unknown session is 404.
func TestArmLegacyStyles(t *testing.T) {
	m, err := Start(Options{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for _, c := range []struct {
		style  LegacyStyle
		prefix string
	}{
		{LegacyTS, "/messages?sessionId="},
		{LegacyPython, "/messages/?session_id="},
		{LegacyAbsolute, m.BaseURL + "/messages?sessionId="},
	} {
		t.Run(string(c.style), func(t *testing.T) {
			defer m.Disarm()
			l := m.ArmLegacy(c.style)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, m.SSEURL(), nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
				t.Fatalf("Content-Type %q", ct)
			}
			rd := bufio.NewReader(resp.Body)
			block := func() map[string]string {
				f := map[string]string{}
				for {
					line, err := rd.ReadString('\n')
					if err != nil {
						t.Fatalf("stream: %v", err)
					}
					line = strings.TrimRight(line, "\n")
					if line == "" {
						return f
					}
					k, v, _ := strings.Cut(line, ": ")
					f[k] = v
				}
			}
			ep := block()
			if ep["event"] != "endpoint" || !strings.HasPrefix(ep["data"], c.prefix) {
				t.Fatalf("first event %v, want endpoint %s…", ep, c.prefix)
			}
			if got := l.Endpoints(); len(got) != 1 || got[0] != ep["data"] {
				t.Errorf("Endpoints() = %v", got)
			}
			base, _ := url.Parse(m.SSEURL())
			ref, _ := url.Parse(ep["data"])
			post := func(u string) int {
				r, err := http.Post(u, "application/json", strings.NewReader(`{"jsonrpc":"2.0","id":7,"method":"tools/list"}`))
				if err != nil {
					t.Fatal(err)
				}
				r.Body.Close()
				return r.StatusCode
			}
			if st := post(base.ResolveReference(ref).String()); st != http.StatusAccepted {
				t.Fatalf("POST status %d, want 202", st)
			}
			msg := block()
			if msg["event"] != "message" || !strings.Contains(msg["data"], `"id":7`) || !strings.Contains(msg["data"], `"tools":[]`) {
				t.Errorf("answer %v", msg)
			}
			bad := *base.ResolveReference(ref)
			bad.RawQuery = url.Values{l.queryKey(): {"nope"}}.Encode()
			if st := post(bad.String()); st != http.StatusNotFound {
				t.Errorf("unknown session: %d, want 404", st)
			}
		})
	}
}
