package scenarios

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mcpconform/mcpconform/mockserver"
	"github.com/mcpconform/mcpconform/mockserver/ssescript"
	"github.com/mcpconform/mcpconform/report"
	"github.com/mcpconform/mcpconform/scenarios/sseread"
)

// serveLoopback serves h on 127.0.0.1 only and returns its URL.
func serveLoopback(tb testing.TB, h http.Handler) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(h)
	ts.Listener.Close()
	ts.Listener = ln
	ts.Start()
	tb.Cleanup(ts.Close)
	return ts.URL + mockserver.MCPPath
}

// testH is a harness with a fresh mock (h.Stream journals through it) and
// a 20 s bound on every wait.
func testH(t *testing.T) *H {
	t.Helper()
	m, err := mockserver.Start(mockserver.Options{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	c := newClient(16 << 20)
	t.Cleanup(c.close)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return &H{ctx: ctx, env: &Env{Mock: m}, run: &runState{client: c}, c: &report.Case{}, ev: newEvidenceLog()}
}

// scripted serves one script and returns a target for it and its recorder.
func scripted(t *testing.T, s ssescript.Script) (Target, *ssescript.Recorder) {
	rec := ssescript.NewRecorder()
	u := serveLoopback(t, rec.Handler(s))
	return Target{Name: "upstream", MCPURL: u, Hop: report.HopClientProxy}, rec
}

func TestStreamTimeline(t *testing.T) {
	h := testH(t)
	const gap = 150 * time.Millisecond
	tg, rec := scripted(t, ssescript.Script{Steps: ssescript.Sequence(3, gap, nil)})
	res := h.Stream(tg, streamGet(tg.MCPURL), StreamOptions{Recorder: rec, MaxWait: 10 * time.Second})
	if res.Err != nil || res.ReadErr != nil || res.TimedOut || res.Stopped || res.Status != 200 {
		t.Fatalf("%s (read %v)", res.Describe(), res.ReadErr)
	}
	if len(res.Events) != 3 || len(res.Sent) != 3 {
		t.Fatalf("%d events, %d send times", len(res.Events), len(res.Sent))
	}
	reads := map[int]bool{}
	for i, e := range res.Events {
		sent := res.Sent[i]
		if e.ID != string(rune('1'+i)) || sent.IsZero() {
			t.Errorf("event %d: id %q sent %v", i, e.ID, sent)
		}
		// Arrival close to the send, within the generous bound of a loaded
		// machine: the mock flushes each event itself. The stamp is taken
		// when Flush returns, so the client may read an event a moment
		// before its stamp exists.
		if lag := e.Arrived.Sub(sent); lag < -50*time.Millisecond || lag > 2*time.Second {
			t.Errorf("event %d arrived %v after its send", i, lag)
		}
		if reads[e.Read] {
			t.Errorf("event %d shares body read %d with an earlier event", i, e.Read)
		}
		reads[e.Read] = true
		if i > 0 && sent.Sub(res.Sent[i-1]) < gap-20*time.Millisecond {
			t.Errorf("events %d and %d sent %v apart, script gap %v", i-1, i, sent.Sub(res.Sent[i-1]), gap)
		}
	}
	if !res.HeadersAt.After(res.Start) || res.Ended.Before(res.Events[2].Arrived) {
		t.Errorf("start %v headers %v ended %v", res.Start, res.HeadersAt, res.Ended)
	}
	if d := res.Describe(); !strings.Contains(d, "200 OK, 3 blocks in 3 body reads") {
		t.Errorf("Describe: %s", d)
	}
	if tl := res.Timeline(); !strings.Contains(tl, `#0 id "1" sent +`) || !strings.Contains(tl, "in read") || strings.Contains(tl, "sent ?") {
		t.Errorf("Timeline: %s", tl)
	}
	ex := res.Exchange
	if ex.Response == nil || len(ex.SSE) != 3 || ex.SSE[2].SentMS < 0 || ex.SSE[2].ArrivedMS < ex.SSE[2].SentMS-50 {
		t.Fatalf("evidence %+v", ex)
	}
	// Go's client moves Transfer-Encoding out of the header map; the
	// evidence puts it back so framing bugs show.
	found := false
	for _, hd := range ex.Response.Headers {
		found = found || (hd.Name == "Transfer-Encoding" && hd.Value == "chunked")
	}
	if !found || ex.Response.Body != string(ssescript.Script{Steps: ssescript.Sequence(3, gap, nil)}.Bytes()) {
		t.Errorf("evidence headers %+v body %q", ex.Response.Headers, ex.Response.Body)
	}
	if len(h.c.Exchanges) != 1 {
		t.Errorf("%d exchanges attached, want the stream's one", len(h.c.Exchanges))
	}
	if m := h.judgeIncremental(tg.Hop, res, 3); m != nil {
		t.Errorf("a direct stream was judged: %+v", m)
	}
}

func TestAlignStamps(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Second) }
	ev := func(id string, hasID bool) sseread.Event { return sseread.Event{ID: id, HasID: hasID} }
	stamps := func(ids ...string) []ssescript.Stamp {
		var out []ssescript.Stamp
		for i, id := range ids {
			out = append(out, ssescript.Stamp{Index: i, ID: id, Sent: at(i + 1)})
		}
		return out
	}
	cases := []struct {
		name   string
		events []sseread.Event
		stamps []ssescript.Stamp
		want   []int // stamp second per event, 0 = unknown
	}{
		{"in order", []sseread.Event{ev("a", true), ev("b", true), ev("c", true)}, stamps("a", "b", "c"), []int{1, 2, 3}},
		{"dropped middle event does not shift", []sseread.Event{ev("a", true), ev("c", true)}, stamps("a", "b", "c"), []int{1, 3}},
		{"no ids: by position", []sseread.Event{ev("", false), ev("", false)}, stamps("", "", ""), []int{1, 2}},
		{"renumbered id is unknown", []sseread.Event{ev("1", true), ev("b", true)}, stamps("a", "b"), []int{0, 2}},
		{"id-less block where the script had an id: by position", []sseread.Event{ev("", false), ev("b", true)}, stamps("a", "b"), []int{1, 2}},
		{"more events than stamps", []sseread.Event{ev("", false), ev("", false)}, stamps(""), []int{1, 0}},
		{"duplicate script id keeps the first send", []sseread.Event{ev("x", true)}, stamps("x", "x"), []int{1}},
		{"no stamps", []sseread.Event{ev("a", true)}, nil, []int{0}},
	}
	for _, tc := range cases {
		got := alignStamps(tc.events, tc.stamps)
		if len(got) != len(tc.events) {
			t.Fatalf("%s: %d times for %d events", tc.name, len(got), len(tc.events))
		}
		for i, w := range tc.want {
			var want time.Time
			if w > 0 {
				want = at(w)
			}
			if !got[i].Equal(want) {
				t.Errorf("%s: event %d sent %v, want %v", tc.name, i, got[i], want)
			}
		}
	}
}

func TestStreamMaxWait(t *testing.T) {
	h := testH(t)
	tg, rec := scripted(t, ssescript.Script{Steps: []ssescript.Step{ssescript.Event("1", "a"), ssescript.Wait(30 * time.Second), ssescript.Event("2", "b")}})
	const maxWait = 400 * time.Millisecond
	start := time.Now()
	res := h.Stream(tg, streamGet(tg.MCPURL), StreamOptions{Recorder: rec, MaxWait: maxWait})
	if took := time.Since(start); took > maxWait+3*time.Second {
		t.Errorf("Stream returned after %v with MaxWait %v", took, maxWait)
	}
	if !res.TimedOut || res.Stopped || res.Err != nil || len(res.Events) != 1 || res.Events[0].ID != "1" {
		t.Fatalf("timed out %v, stopped %v: %s", res.TimedOut, res.Stopped, res.Describe())
	}
	if !strings.Contains(res.Describe(), "still open when the harness gave up") || !strings.Contains(res.Exchange.Error, "still open after") {
		t.Errorf("Describe %q, evidence error %q", res.Describe(), res.Exchange.Error)
	}
	// Giving up closes the connection: the upstream sees the client leave.
	d, ok := rec.Wait(3 * time.Second)
	if !ok || !d.ClientGone || d.Completed {
		t.Errorf("upstream end %+v (seen %v)", d, ok)
	}
}

func TestStreamHeadTimeout(t *testing.T) {
	h := testH(t)
	hang := make(chan struct{})
	t.Cleanup(func() { close(hang) })
	u := serveLoopback(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	start := time.Now()
	res := h.Stream(Target{Name: "proxy", MCPURL: u, Hop: report.HopClientProxy}, streamGet(u), StreamOptions{MaxWait: 300 * time.Millisecond})
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("took %v", took)
	}
	if res.Err == nil || !res.TimedOut || !strings.HasPrefix(res.Describe(), "no HTTP response") || res.Exchange.Error == "" {
		t.Errorf("err %v timed out %v: %s", res.Err, res.TimedOut, res.Describe())
	}
	if m := h.judgeIncremental(report.HopClientProxy, res, 1); m == nil {
		t.Error("no response at all passed the incremental check")
	}
}

func TestStreamStopAndTruncation(t *testing.T) {
	h := testH(t)
	big := ssescript.Script{Steps: []ssescript.Step{ssescript.Big("1", maxEvidenceBody+1000), ssescript.Event("2", "b"), ssescript.Wait(30 * time.Second)}}
	tg, rec := scripted(t, big)
	n := 0
	res := h.Stream(tg, streamGet(tg.MCPURL), StreamOptions{
		Recorder: rec, MaxWait: 10 * time.Second,
		Read:    sseread.Options{MaxRaw: 4096},
		OnEvent: func(sseread.Event) bool { n++; return n < 2 },
	})
	if !res.Stopped || res.TimedOut || len(res.Events) != 2 || res.ReadErr != nil {
		t.Fatalf("stopped %v timed out %v read %v: %s", res.Stopped, res.TimedOut, res.ReadErr, res.Describe())
	}
	if len(res.Events[0].Data) != maxEvidenceBody+1000 {
		t.Errorf("the big event has %d bytes: the read bound is MaxRaw's business only for the raw copy", len(res.Events[0].Data))
	}
	if len(res.Raw) != 4096 || !res.RawCut || !res.Exchange.Response.BodyTruncated {
		t.Errorf("raw %d bytes, cut %v, evidence truncated %v", len(res.Raw), res.RawCut, res.Exchange.Response.BodyTruncated)
	}
	if d, ok := rec.Wait(3 * time.Second); !ok || !d.ClientGone {
		t.Errorf("stopping did not hang up: %+v (seen %v)", d, ok)
	}
	// The attached evidence is capped however big the stream.
	if len(h.c.Exchanges) != 1 || len(h.c.Exchanges[0].Response.Body) > maxEvidenceBody {
		t.Errorf("%d exchanges, body %d bytes", len(h.c.Exchanges), len(h.c.Exchanges[0].Response.Body))
	}
}

func TestStreamSentFunc(t *testing.T) {
	h := testH(t)
	stamp := time.Now().UTC().Add(-time.Second)
	data := `{"jsonrpc":"2.0","method":"notifications/progress","params":{"progress":1,"message":"` + stamp.Format(time.RFC3339Nano) + `"}}`
	tg, _ := scripted(t, ssescript.Script{Steps: []ssescript.Step{ssescript.Message("1", data), ssescript.Message("2", `{"jsonrpc":"2.0","id":9,"result":{}}`)}})
	res := h.Stream(tg, streamGet(tg.MCPURL), StreamOptions{Sent: progressSent, MaxWait: 5 * time.Second})
	if len(res.Sent) != 2 || !res.Sent[0].Equal(stamp) || !res.Sent[1].IsZero() {
		t.Fatalf("sent %v", res.Sent)
	}
	// One event sent a second before it arrived is late by any tolerance.
	if m := h.judgeIncremental(tg.Hop, res, 1); m == nil || !strings.Contains(m.Observed, "buffered") {
		t.Errorf("a stamp 1s old was not judged late: %+v", m)
	}
}

// The proxy's exchanges carry the upstream requests they caused.
func TestStreamAttachesUpstreamEvidence(t *testing.T) {
	h := testH(t)
	m := h.Mock()
	rec := m.ArmStream("t", mockserver.StreamMatch(mockserver.MCPPath), ssescript.Script{Steps: []ssescript.Step{ssescript.Event("1", "a")}})
	res := h.Stream(Target{Name: "proxy", MCPURL: m.MCPURL(), Hop: report.HopClientProxy}, streamGet(m.MCPURL()), StreamOptions{Recorder: rec, MaxWait: 5 * time.Second})
	if res.Status != 200 || len(res.Events) != 1 {
		t.Fatal(res.Describe())
	}
	if len(h.c.Exchanges) != 2 || h.c.Exchanges[1].Hop != report.HopProxyUpstream {
		t.Errorf("exchanges %+v", h.c.Exchanges)
	}
}
