package scenarios

import (
	"bytes"
	"cmp"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mcpconform/mcpconform/mockserver"
	"github.com/mcpconform/mcpconform/report"
)

// The notify probe against the mock itself: the notifications the tool
// schedules arrive one by one on the session's GET stream, with send stamps
// the judge can align.
func TestNotifyOnGetStream(t *testing.T) {
	h := testH(t)
	up := Target{Name: "upstream", MCPURL: h.Mock().MCPURL(), Hop: report.HopControl}
	const n, gap = 3, 80 * time.Millisecond
	res, m := h.notifyOnGet(up, n, gap, 0)
	if m != nil {
		t.Fatalf("probe failed: %s", m)
	}
	if got := knownEvents(res); got != n {
		t.Fatalf("%d stamped notifications arrived, want %d: %s", got, n, res.Timeline())
	}
	for i, e := range res.Events {
		if i >= len(res.Sent) || res.Sent[i].IsZero() {
			continue
		}
		if late := e.Arrived.Sub(res.Sent[i]); late > time.Second {
			t.Errorf("event %d arrived %s after its stamp", i, late)
		}
	}
}

// An idle period before the notification: the stream stays open and still
// delivers it.
func TestNotifyAfterIdle(t *testing.T) {
	h := testH(t)
	up := Target{Name: "upstream", MCPURL: h.Mock().MCPURL(), Hop: report.HopControl}
	res, m := h.notifyOnGet(up, 1, 0, 200*time.Millisecond)
	if m != nil {
		t.Fatalf("probe failed: %s", m)
	}
	if knownEvents(res) != 1 {
		t.Fatalf("the notification did not arrive after the idle period: %s", res.Describe())
	}
	for i, e := range res.Events {
		if _, ok := notifyStamp(e); ok {
			if d := e.Arrived.Sub(res.Start); d < 200*time.Millisecond {
				t.Errorf("the notification arrived %s after the stream opened, before the idle period ended", d)
			}
			if res.Sent[i].IsZero() {
				t.Error("the notification has no send stamp")
			}
		}
	}
}

// The cut-call fault ends the client's request with the one whole progress
// notification and no result; the bridge judge accepts that shape.
func TestCutCallShape(t *testing.T) {
	h := testH(t)
	up := Target{Name: "upstream", MCPURL: h.Mock().MCPURL(), Hop: report.HopControl}
	s, bad := h.Open(up)
	if s == nil {
		t.Fatalf("open: %s", bad.Describe())
	}
	h.Mock().Arm(cutCall())
	res := h.Stream(up, Request{Header: postHeaders(s.ID), Body: rpcRequest(9, "tools/call", progressCall(2, 0, "tok-1"))}, StreamOptions{MaxWait: 3 * time.Second})
	if res.TimedOut || res.Err != nil {
		t.Fatalf("the cut stream did not end: %s", res.Describe())
	}
	msgs := jsonRPCMessages(res.Header.Get("Content-Type"), res.Raw)
	if len(msgs) != 1 || !strings.Contains(string(msgs[0]), `"progressToken":"tok-1"`) {
		t.Fatalf("want exactly the one progress notification for tok-1, got %q", msgs)
	}
	if res.ReadErr == nil {
		t.Error("the body ended cleanly; the fault must cut the connection")
	}
}

// A decorated fault keeps the mock's own answer and adds the fields.
func TestDecorateKeepsTheRealAnswer(t *testing.T) {
	h := testH(t)
	up := Target{Name: "upstream", MCPURL: h.Mock().MCPURL(), Hop: report.HopControl}
	h.Mock().Arm(mockserver.Fault{Name: "deco", Match: matchInitialize, Decorate: []mockserver.Field{{Name: "X-Probe", Value: "1"}, {Name: "X-Probe", Value: "2"}}})
	res := h.Send(up, initializeReq())
	if !res.OK() || len(res.Messages) == 0 {
		t.Fatalf("initialize through a decorated fault: %s", res.Describe())
	}
	if got := strings.Join(res.Header.Values("X-Probe"), ","); got != "1,2" {
		t.Errorf("X-Probe = %q, want the two lines in order", got)
	}
	if res.Header.Get("Mcp-Session-Id") == "" {
		t.Error("the real initialize answer (with its session id) was replaced")
	}
}

func TestDerivedLegacyURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:8080/mcp":                     "http://127.0.0.1:8080/sse",
		"http://127.0.0.1:8080/servers/x/mcp":           "http://127.0.0.1:8080/servers/x/sse",
		"http://127.0.0.1:6277/mcp?url=u&transportType": "",
		"http://127.0.0.1:8080/api":                     "",
	} {
		if got := derivedLegacyURL(in); got != want {
			t.Errorf("derivedLegacyURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// observeRole tells a bridge from a transparent proxy by what reached the
// upstream for the first session, and says so only when the declared role
// is the other one.
func TestObserveRole(t *testing.T) {
	h := testH(t)
	up := Target{Name: "upstream", MCPURL: h.Mock().MCPURL(), Hop: report.HopControl}
	mark := h.Mock().Journal.Mark()
	res := h.Send(up, initializeReq())
	if !res.OK() {
		t.Fatal(res.Describe())
	}
	entries := h.Mock().Journal.Since(mark)
	minted := res.Header.Get("Mcp-Session-Id")
	cases := []struct {
		name     string
		roles    []Role
		session  string
		wantHint string
	}{
		{"transparent, declared T", []Role{RoleT}, minted, ""},
		{"own session id, declared T", []Role{RoleT}, "bridge-own-id", "rerun with --role B"},
		{"transparent, declared B", []Role{RoleB}, minted, "rerun with --role T"},
		{"own session id, declared B", []Role{RoleB}, "bridge-own-id", ""},
	}
	for _, c := range cases {
		var hints []string
		st := &runState{cfg: Config{Roles: c.roles, OnHint: func(s string) { hints = append(hints, s) }}}
		st.observeRole(c.session, entries)
		st.observeRole(c.session, entries) // once per run
		switch {
		case c.wantHint == "" && len(hints) != 0:
			t.Errorf("%s: unexpected hint %q", c.name, hints)
		case c.wantHint != "" && (len(hints) != 1 || !strings.Contains(hints[0], c.wantHint)):
			t.Errorf("%s: hints %q, want one containing %q", c.name, hints, c.wantHint)
		}
	}
}

// lazyHead holds a response's head, and what comes before the first
// event's data (a priming comment), until that data, as a Node proxy
// calling writeHead without flushHeaders and relaying events does; from
// there the stream flows per write.
type lazyHead struct {
	http.ResponseWriter
	status int
	held   []byte
	sent   bool
}

func (l *lazyHead) WriteHeader(code int) { l.status = code }

func (l *lazyHead) Write(p []byte) (int, error) {
	if l.sent {
		return l.ResponseWriter.Write(p)
	}
	l.held = append(l.held, p...)
	if !bytes.Contains(l.held, []byte("data:")) {
		return len(p), nil
	}
	l.sent = true
	l.ResponseWriter.WriteHeader(cmp.Or(l.status, http.StatusOK))
	if _, err := l.ResponseWriter.Write(l.held); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (l *lazyHead) Flush() {
	if l.sent {
		l.ResponseWriter.(http.Flusher).Flush()
	}
}

// A proxy that sends a stream's head with its first event still gets the
// notify probe's updates: the probe does not wait for the head before
// making the upstream send (it used to, and failed such a proxy).
func TestNotifyOnGetThroughLazyHead(t *testing.T) {
	h := testH(t)
	up, err := url.Parse(h.Mock().MCPURL())
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: up.Scheme, Host: up.Host})
	rp.FlushInterval = -1
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rp.ServeHTTP(&lazyHead{ResponseWriter: w}, r)
	}))
	defer srv.Close()
	px := Target{Name: "proxy", MCPURL: srv.URL + up.Path, Hop: report.HopClientProxy}
	res, m := h.notifyOnGet(px, 2, 50*time.Millisecond, 0)
	if m != nil {
		t.Fatalf("probe failed through a lazy-head proxy: %s", m)
	}
	if got := knownEvents(res); got != 2 {
		t.Fatalf("%d stamped notifications arrived, want 2: %s", got, res.Timeline())
	}
}
