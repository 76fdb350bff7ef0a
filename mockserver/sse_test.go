package mockserver

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mcpconform/mcpconform/mockserver/ssescript"
)

func startMock(t *testing.T) *Mock {
	t.Helper()
	m, err := Start(Options{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return m
}

// fetch sends one request with a bounded context and reads at most 64 KiB
// of the answer (an SDK stream could otherwise stay open).
func fetch(t *testing.T, method, u string, h http.Header, body string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = h.Clone()
	if req.Header == nil {
		req.Header = http.Header{}
	}
	tr := &http.Transport{DisableCompression: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, string(b)
}

var sseAccept = http.Header{"Accept": {"text/event-stream"}}

func TestArmStreamAnswersOnlyTheNextMatchingRequest(t *testing.T) {
	m := startMock(t)
	s := ssescript.Script{Steps: ssescript.Sequence(3, 20*time.Millisecond, nil)}
	rec := m.ArmStream("scripted", StreamMatch(MCPPath), s)
	mark := m.Journal.Mark()

	// Neither a POST to the same path nor a GET elsewhere uses the script.
	initBody := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`
	if _, body := fetch(t, http.MethodPost, m.MCPURL(), http.Header{"Accept": {"application/json, text/event-stream"}, "Content-Type": {"application/json"}}, initBody); body == string(s.Bytes()) {
		t.Fatal("a POST got the GET stream's script")
	}
	if _, body := fetch(t, http.MethodGet, m.BaseURL+"/elsewhere", sseAccept, ""); body == string(s.Bytes()) {
		t.Fatal("a GET on another path got the script")
	}
	select {
	case <-rec.Done():
		t.Fatal("the script ran for a request it does not match")
	default:
	}

	start := time.Now()
	status, body := fetch(t, http.MethodGet, m.MCPURL(), sseAccept, "")
	end := time.Now()
	if status != http.StatusOK || body != string(s.Bytes()) {
		t.Fatalf("matching GET: %d %q, want the script's bytes", status, body)
	}
	d, ok := rec.Wait(3 * time.Second)
	if !ok || !d.Completed || d.ClientGone || d.Events != 3 {
		t.Fatalf("done %+v (seen %v)", d, ok)
	}
	st := rec.Stamps()
	if len(st) != 3 {
		t.Fatalf("stamps %+v", st)
	}
	for i, x := range st {
		if x.ID != string(rune('1'+i)) || x.Sent.Before(start) || x.Sent.After(end) || (i > 0 && x.Sent.Sub(st[i-1].Sent) < 15*time.Millisecond) {
			t.Errorf("stamp %d %+v (request %v..%v)", i, x, start, end)
		}
	}

	// Used once: the next GET goes to the MCP server again.
	if _, body := fetch(t, http.MethodGet, m.MCPURL(), sseAccept, ""); body == string(s.Bytes()) {
		t.Error("the script answered a second GET")
	}
	var faults []string
	for _, e := range m.Journal.Since(mark) {
		faults = append(faults, e.Method+" "+e.Path+"="+e.Fault)
	}
	want := "POST /mcp=,GET /elsewhere=,GET /mcp=scripted,GET /mcp="
	if got := strings.Join(faults, ","); got != want {
		t.Errorf("journal %s, want %s", got, want)
	}
	if len(st) != len(rec.Stamps()) {
		t.Error("a later request added stamps to the recorder")
	}
}

func TestArmStreamInOrderAndByHeader(t *testing.T) {
	m := startMock(t)
	one := ssescript.Script{Steps: []ssescript.Step{ssescript.Event("1", "one")}}
	two := ssescript.Script{Steps: []ssescript.Step{ssescript.Event("2", "two")}}
	resumed := ssescript.Script{Steps: []ssescript.Step{ssescript.Event("r", "resumed")}}
	r1 := m.ArmStream("one", StreamMatch(MCPPath), one)
	rr := m.ArmStream("resumed", Match{Method: http.MethodGet, Path: MCPPath, Header: "Last-Event-ID"}, resumed)
	r2 := m.ArmStream("two", StreamMatch(MCPPath), two)

	if _, body := fetch(t, http.MethodGet, m.MCPURL(), sseAccept, ""); body != string(one.Bytes()) {
		t.Errorf("first GET got %q", body)
	}
	// Without Last-Event-ID the resume script is skipped, not consumed.
	if _, body := fetch(t, http.MethodGet, m.MCPURL(), sseAccept, ""); body != string(two.Bytes()) {
		t.Errorf("second GET got %q", body)
	}
	h := sseAccept.Clone()
	h.Set("Last-Event-ID", "2")
	if _, body := fetch(t, http.MethodGet, m.MCPURL(), h, ""); body != string(resumed.Bytes()) {
		t.Errorf("resumed GET got %q", body)
	}
	for name, rec := range map[string]*ssescript.Recorder{"one": r1, "two": r2, "resumed": rr} {
		if d, ok := rec.Wait(3 * time.Second); !ok || !d.Completed || len(rec.Stamps()) != 1 {
			t.Errorf("%s: %+v (seen %v), stamps %+v", name, d, ok, rec.Stamps())
		}
	}
}

func TestArmStreamDisarmed(t *testing.T) {
	m := startMock(t)
	s := ssescript.Script{Steps: []ssescript.Step{ssescript.Event("x", "never")}}
	rec := m.ArmStream("unused", StreamMatch(MCPPath), s)
	m.Disarm()
	if _, body := fetch(t, http.MethodGet, m.MCPURL(), sseAccept, ""); body == string(s.Bytes()) {
		t.Error("a disarmed stream answered")
	}
	if _, ok := rec.Wait(200 * time.Millisecond); ok {
		t.Error("the disarmed script ran")
	}
}

// A client hanging up mid-stream ends the script with ClientGone, and the
// journal entry says so too.
func TestArmStreamClientGone(t *testing.T) {
	m := startMock(t)
	s := ssescript.Script{Steps: []ssescript.Step{ssescript.Event("1", "first"), ssescript.Wait(30 * time.Second), ssescript.Event("2", "never")}}
	rec := m.ArmStream("long", StreamMatch(MCPPath), s)
	mark := m.Journal.Mark()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, m.MCPURL(), nil)
	req.Header = sseAccept.Clone()
	tr := &http.Transport{DisableCompression: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	first := "id: 1\ndata: first\n\n"
	buf := make([]byte, len(first))
	if _, err := io.ReadFull(resp.Body, buf); err != nil || string(buf) != first {
		t.Fatalf("first event %q: %v", buf, err)
	}
	left := time.Now()
	resp.Body.Close()
	d, ok := rec.Wait(3 * time.Second)
	if !ok || !d.ClientGone || d.Completed || d.Events != 1 {
		t.Fatalf("done %+v (seen %v)", d, ok)
	}
	if lag := d.At.Sub(left); lag > 2*time.Second {
		t.Errorf("the script saw the hang-up %v later", lag)
	}
	e, err := m.Journal.WaitFor(ctx, mark, func(e *Entry) bool { _, _, _, done := e.Response(); return done })
	if err != nil {
		t.Fatal(err)
	}
	if e.Fault != "long" || e.ClientGone().IsZero() {
		t.Errorf("journal entry fault %q client gone %v", e.Fault, e.ClientGone())
	}
}
