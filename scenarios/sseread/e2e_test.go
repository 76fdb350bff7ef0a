package sseread_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpconform/mcpconform/mockserver/ssescript"
	"github.com/mcpconform/mcpconform/scenarios/sseread"
)

// serve starts h on 127.0.0.1 only.
func serve(t testing.TB, h http.Handler) *httptest.Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(h)
	ts.Listener.Close()
	ts.Listener = ln
	ts.Start()
	t.Cleanup(ts.Close)
	return ts
}

// get opens the stream with a bounded context; the caller reads the body.
func get(t testing.TB, ctx context.Context, url string) *http.Response {
	t.Helper()
	tr := &http.Transport{DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	return resp
}

func wait(t testing.TB, rec *ssescript.Recorder) ssescript.Done {
	t.Helper()
	d, ok := rec.Wait(10 * time.Second)
	if !ok {
		t.Fatal("the script did not finish within 10s")
	}
	return d
}

func TestStreamingArrivesIncrementally(t *testing.T) {
	rec := ssescript.NewRecorder()
	ts := serve(t, rec.Handler(ssescript.Script{Steps: ssescript.Sequence(5, 100*time.Millisecond, nil)}))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	evs, err := sseread.Read(ctx, get(t, ctx, ts.URL).Body, sseread.Options{Start: start}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d := wait(t, rec); !d.Completed || d.ClientGone || d.Events != 5 {
		t.Errorf("done %+v", d)
	}
	sent := rec.Sent()
	if len(evs) != 5 || len(sent) != 5 {
		t.Fatalf("%d events, %d stamps", len(evs), len(sent))
	}
	seen := map[int]bool{}
	for i, e := range evs {
		if e.ID != strconv.Itoa(i+1) || !e.Dispatched {
			t.Errorf("event %d: %+v", i, e)
		}
		// Structure, not tight times: each event had a body read of its own.
		if seen[e.Read] {
			t.Errorf("event %d shares read #%d with an earlier event", i, e.Read)
		}
		seen[e.Read] = true
		if lag := e.Arrived.Sub(sent[i]); lag > 2*time.Second {
			t.Errorf("event %d arrived %v after it was sent", i, lag)
		}
	}
	if buf, why := sseread.Buffered(evs, sent, 80*time.Millisecond, 2*time.Second); buf {
		t.Errorf("a direct stream judged buffered: %s", why)
	}
	rep := sseread.ToReport(evs, start, sent)
	if rep[4].SentMS < 0 || rep[4].ArrivedMS < rep[0].ArrivedMS {
		t.Errorf("report timeline %+v", rep)
	}
}

// flushless is a ResponseWriter that accepts flushes and ignores them.
type flushless struct {
	h    http.Header
	code int
	buf  bytes.Buffer
}

func (f *flushless) Header() http.Header         { return f.h }
func (f *flushless) WriteHeader(code int)        { f.code = code }
func (f *flushless) Write(b []byte) (int, error) { return f.buf.Write(b) }
func (f *flushless) Flush()                      {}

// buffering is a broken proxy: it collects the whole body, then writes it.
func buffering(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fw := &flushless{h: http.Header{}, code: 200}
		next.ServeHTTP(fw, r)
		for k, v := range fw.h {
			w.Header()[k] = v
		}
		w.WriteHeader(fw.code)
		_, _ = w.Write(fw.buf.Bytes())
	})
}

// coalescing is a conformant proxy: it holds writes and flushes at most
// `hold` after the first unflushed one.
func coalescing(next http.Handler, hold time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cw := &coalescer{w: w, rc: http.NewResponseController(w), hold: hold}
		next.ServeHTTP(cw, r)
		cw.mu.Lock()
		defer cw.mu.Unlock()
		if cw.timer != nil {
			cw.timer.Stop()
		}
		cw.closed = true
		_ = cw.rc.Flush()
	})
}

type coalescer struct {
	w      http.ResponseWriter
	rc     *http.ResponseController
	hold   time.Duration
	mu     sync.Mutex
	timer  *time.Timer
	closed bool
}

func (c *coalescer) Header() http.Header  { return c.w.Header() }
func (c *coalescer) WriteHeader(code int) { c.w.WriteHeader(code) }
func (c *coalescer) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.w.Write(b)
}

func (c *coalescer) Flush() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.timer != nil || c.closed {
		return // a flush is already scheduled
	}
	c.timer = time.AfterFunc(c.hold, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.timer = nil
		if !c.closed {
			_ = c.rc.Flush()
		}
	})
}

func TestBufferingProxyDetected(t *testing.T) {
	rec := ssescript.NewRecorder()
	ts := serve(t, buffering(rec.Handler(ssescript.Script{Steps: ssescript.Sequence(5, 100*time.Millisecond, nil)})))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	evs, err := sseread.Read(ctx, get(t, ctx, ts.URL).Body, sseread.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	wait(t, rec)
	if len(evs) != 5 {
		t.Fatalf("%d events", len(evs))
	}
	buf, why := sseread.Buffered(evs, rec.Sent(), 100*time.Millisecond, sseread.DefaultTolerance)
	if !buf {
		t.Fatal("a proxy that holds the whole body was not judged buffered")
	}
	if !strings.Contains(why, `event #0 (id "1")`) {
		t.Errorf("reason does not name the first event: %s", why)
	}
	t.Logf("reason: %s", why)
}

func TestCoalescingProxyPasses(t *testing.T) {
	rec := ssescript.NewRecorder()
	script := ssescript.Script{Steps: ssescript.Sequence(5, sseread.DefaultGap, nil)}
	ts := serve(t, coalescing(rec.Handler(script), 200*time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	evs, err := sseread.Read(ctx, get(t, ctx, ts.URL).Body, sseread.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	wait(t, rec)
	if buf, why := sseread.Buffered(evs, rec.Sent(), sseread.DefaultGap, sseread.DefaultTolerance); buf {
		t.Errorf("a proxy coalescing for 200ms was judged buffered: %s", why)
	}
}

func TestBigEvent(t *testing.T) {
	const size = 1 << 20
	script := ssescript.Script{Steps: []ssescript.Step{ssescript.Big("1", size), ssescript.Event("2", "after")}}
	ts := serve(t, script)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	evs, err := sseread.Read(ctx, get(t, ctx, ts.URL).Body, sseread.Options{MaxEventSize: 2 << 20}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || evs[0].Data != ssescript.Payload(0, size) || evs[1].Data != "after" {
		t.Fatalf("%d events", len(evs))
	}

	_, err = sseread.Read(ctx, get(t, ctx, ts.URL).Body, sseread.Options{MaxEventSize: 64 << 10}, nil)
	if !errors.Is(err, sseread.ErrEventTooLarge) || !strings.Contains(err.Error(), "65536 bytes") {
		t.Fatalf("err %v, want ErrEventTooLarge naming the limit", err)
	}
	t.Logf("error: %v", err)
}

func TestManySmallEventsInOrder(t *testing.T) {
	const n = 10_000
	rec := ssescript.NewRecorder()
	ts := serve(t, rec.Handler(ssescript.Script{Steps: ssescript.Many(n, 48)}))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r := sseread.NewReader(get(t, ctx, ts.URL).Body, sseread.Options{})
	evs, err := r.ReadAll(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != n {
		t.Fatalf("%d events, want %d", len(evs), n)
	}
	for i, e := range evs {
		if e.ID != strconv.Itoa(i+1) || e.Data != ssescript.Payload(i, 48) {
			t.Fatalf("event %d out of order or damaged: id %q data %q", i, e.ID, e.Data)
		}
	}
	if d := wait(t, rec); d.Events != n {
		t.Errorf("script stamped %d events", d.Events)
	}
	t.Logf("%d events in %d body reads", n, r.Stats().Reads)
}

func TestCutEndsReaderWithError(t *testing.T) {
	rec := ssescript.NewRecorder()
	steps := append(ssescript.Sequence(3, 0, nil), ssescript.Raw("data: half"), ssescript.Cut(), ssescript.Event("9", "never"))
	ts := serve(t, rec.Handler(ssescript.Script{Steps: steps}))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	evs, err := sseread.Read(ctx, get(t, ctx, ts.URL).Body, sseread.Options{}, nil)
	if err == nil || ctx.Err() != nil {
		t.Fatalf("err %v (ctx %v); want a body error before the deadline", err, ctx.Err())
	}
	if len(evs) != 4 || evs[2].ID != "3" || !evs[3].Incomplete || evs[3].Dispatched {
		t.Fatalf("events %+v", evs)
	}
	if d := wait(t, rec); !d.Cut || d.Completed || d.Events != 4 {
		t.Errorf("done %+v", d)
	}
	t.Logf("reader error after cut: %v", err)
}

func TestClientDisconnectObserved(t *testing.T) {
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		t.Run(method, func(t *testing.T) {
			rec := ssescript.NewRecorder()
			script := ssescript.Script{Steps: []ssescript.Step{ssescript.Event("1", "a"), ssescript.Wait(time.Minute)}}
			ts := serve(t, rec.Handler(script))
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			var body io.Reader
			if method == http.MethodPost {
				// A large unread request body hides the disconnect from
				// net/http (it only watches the connection once the body is
				// consumed); the script drains it. Without the drain this
				// case hangs for the whole Wait.
				body = strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/call","pad":"` + strings.Repeat("x", 512<<10) + `"}`)
			}
			req, _ := http.NewRequestWithContext(ctx, method, ts.URL, body)
			tr := &http.Transport{}
			defer tr.CloseIdleConnections()
			resp, err := (&http.Client{Transport: tr}).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			evs, err := sseread.Read(ctx, resp.Body, sseread.Options{}, func(sseread.Event) bool { return false })
			if err != nil || len(evs) != 1 {
				t.Fatalf("%d events, %v", len(evs), err)
			}
			hungUp := time.Now()
			resp.Body.Close()
			d := wait(t, rec)
			if !d.ClientGone || d.Completed || d.At.Before(hungUp) {
				t.Errorf("done %+v", d)
			}
			t.Logf("disconnect seen %v after hang-up", d.At.Sub(hungUp))
		})
	}
}

// TestBytesMatchWire checks Script.Bytes against what the reader saw raw, in
// the awkward encodings, and that every line-ending style parses alike.
func TestBytesMatchWire(t *testing.T) {
	steps := []ssescript.Step{
		ssescript.Priming("0"), ssescript.Retry(1500), ssescript.Comment("hi"),
		ssescript.Message("1", "a\nb"), ssescript.Raw("data: raw\r\r"), ssescript.Event("", "x"),
	}
	var first []sseread.Event
	for _, le := range []string{"\n", "\r\n", "\r"} {
		for _, split := range []bool{false, true} {
			s := ssescript.Script{Steps: steps, LineEnding: le, BOM: true, SplitWrites: split}
			ts := serve(t, s)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			r := sseread.NewReader(get(t, ctx, ts.URL).Body, sseread.Options{})
			evs, err := r.ReadAll(ctx, nil)
			cancel()
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := r.Raw()
			if !bytes.Equal(raw, s.Bytes()) {
				t.Errorf("le %q split %v: wire %q != Bytes %q", le, split, raw, s.Bytes())
			}
			if len(evs) != 6 {
				t.Fatalf("le %q: %d events", le, len(evs))
			}
			if first == nil {
				first = evs
				continue
			}
			for i := range evs {
				a, b := evs[i], first[i]
				if a.ID != b.ID || a.Data != b.Data || a.Event != b.Event || a.Retry != b.Retry ||
					a.Comment != b.Comment || a.Dispatched != b.Dispatched {
					t.Errorf("le %q split %v event %d: %+v differs from %+v", le, split, i, a, b)
				}
			}
		}
	}
	if e := first[0]; e.ID != "0" || !e.Dispatched || e.Data != "" {
		t.Errorf("priming: %+v", e)
	}
	if e := first[3]; e.Data != "a\nb" || e.Event != "message" {
		t.Errorf("message: %+v", e)
	}
}

// TestManualFlushSharesRead: two events in one flush arrive in one read,
// which is exactly the evidence Buffered looks for.
func TestManualFlushSharesRead(t *testing.T) {
	s := ssescript.Script{ManualFlush: true, Steps: []ssescript.Step{
		ssescript.Event("1", "a"), ssescript.Event("2", "b"), ssescript.Flush(),
	}}
	ts := serve(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	evs, err := sseread.Read(ctx, get(t, ctx, ts.URL).Body, sseread.Options{}, nil)
	if err != nil || len(evs) != 2 {
		t.Fatalf("%d events, %v", len(evs), err)
	}
	if evs[0].Read != evs[1].Read {
		t.Errorf("reads %d and %d, want one", evs[0].Read, evs[1].Read)
	}
}
