package ssescript

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestBytes(t *testing.T) {
	cases := []struct {
		name string
		s    Script
		want string
	}{
		{"event", Script{Steps: []Step{Event("1", "a")}}, "id: 1\ndata: a\n\n"},
		{"no id", Script{Steps: []Step{Event("", "a")}}, "data: a\n\n"},
		{"multi-line data", Script{Steps: []Step{Event("1", "a\nb")}}, "id: 1\ndata: a\ndata: b\n\n"},
		{"message", Script{Steps: []Step{Message("1", "{}")}}, "event: message\nid: 1\ndata: {}\n\n"},
		{"priming", Script{Steps: []Step{Priming("p0")}}, "id: p0\ndata: \n\n"},
		{"empty id clears", Script{Steps: []Step{{Kind: KindEvent, HasID: true, HasData: true, Data: "x"}}}, "id: \ndata: x\n\n"},
		{"retry", Script{Steps: []Step{Retry(1500)}}, "retry: 1500\n\n"},
		{"bad retry", Script{Steps: []Step{{Kind: KindEvent, Retry: "12a"}}}, "retry: 12a\n\n"},
		{"keep-alive", Script{Steps: []Step{Comment("")}}, ":\n\n"},
		{"comment", Script{Steps: []Step{Comment("a\nb")}}, ": a\n: b\n\n"},
		{"all fields", Script{Steps: []Step{{Kind: KindEvent, Comment: "c", HasComment: true, Event: "e", ID: "i", HasID: true, Retry: "5", Data: "d", HasData: true}}},
			": c\nevent: e\nid: i\nretry: 5\ndata: d\n\n"},
		{"CRLF + BOM", Script{LineEnding: "\r\n", BOM: true, Steps: []Step{Event("1", "a\nb")}}, "\uFEFFid: 1\r\ndata: a\r\ndata: b\r\n\r\n"},
		{"CR", Script{LineEnding: "\r", Steps: []Step{Event("1", "a")}}, "id: 1\rdata: a\r\r"},
		{"raw untouched", Script{LineEnding: "\r\n", Steps: []Step{Raw("data: x\n\r")}}, "data: x\n\r"},
		{"waits ignored, cut stops", Script{Steps: []Step{Event("1", "a"), Wait(time.Hour), Flush(), Cut(), Event("2", "b")}}, "id: 1\ndata: a\n\n"},
	}
	for _, tc := range cases {
		if got := string(tc.s.Bytes()); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestServeRecorder(t *testing.T) {
	rec := NewRecorder()
	s := rec.Attach(Script{
		Steps:       []Step{Event("1", "a"), Wait(time.Millisecond), Comment(""), Raw("data: r\n\n"), Event("2", "b")},
		SplitWrites: true,
		NoTransform: true,
		Headers:     http.Header{"X-Test": {"1"}},
	})
	w := httptest.NewRecorder()
	if err := s.Serve(w, httptest.NewRequest("GET", "/", nil)); err != nil {
		t.Fatal(err)
	}
	if got := w.Body.String(); got != string(s.Bytes()) {
		t.Errorf("body %q != Bytes %q", got, s.Bytes())
	}
	h := w.Result().Header
	if h.Get("Content-Type") != "text/event-stream" || h.Get("Cache-Control") != "no-cache, no-transform" ||
		h.Get("X-Test") != "1" || w.Code != 200 {
		t.Errorf("status %d headers %v", w.Code, h)
	}
	if _, ok := h["X-Accel-Buffering"]; ok {
		t.Error("X-Accel-Buffering must not be sent unless scripted")
	}
	st := rec.Stamps()
	if len(st) != 4 {
		t.Fatalf("stamps %+v", st)
	}
	for i, x := range st {
		if x.Index != i || x.Sent.IsZero() || (i > 0 && x.Sent.Before(st[i-1].Sent)) {
			t.Errorf("stamp %d: %+v", i, x)
		}
	}
	if st[0].ID != "1" || st[3].ID != "2" || st[3].Step != 4 {
		t.Errorf("stamps %+v", st)
	}
	d, ok := rec.Wait(time.Second)
	if !ok || !d.Completed || d.ClientGone || d.Cut || d.Events != 4 || d.Err != nil {
		t.Errorf("done %+v", d)
	}

	// Defaults and overrides.
	w = httptest.NewRecorder()
	Script{Status: 202, ContentType: "text/plain", Headers: http.Header{"cache-control": {"max-age=60"}}}.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	if w.Code != 202 || w.Header().Get("Content-Type") != "text/plain" || w.Header().Get("Cache-Control") != "max-age=60" {
		t.Errorf("overrides: %d %v", w.Code, w.Header())
	}
}

func TestWaitEndsWhenClientLeaves(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rec := NewRecorder()
	// The client "leaves" as soon as the first event is out.
	s := rec.Attach(Script{
		Steps:  []Step{Event("1", "a"), Wait(time.Minute), Event("2", "b")},
		OnSent: func(Stamp) { cancel() },
	})
	errc := make(chan error, 1)
	go func() {
		errc <- s.Serve(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil).WithContext(ctx))
	}()
	select {
	case err := <-errc:
		if !errors.Is(err, ErrClientGone) || !errors.Is(err, context.Canceled) {
			t.Errorf("err %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve still waiting after the client left")
	}
	if d := rec.Result(); !d.ClientGone || d.Completed || d.Events != 1 {
		t.Errorf("done %+v", d)
	}
}

func TestCutAborts(t *testing.T) {
	rec := NewRecorder()
	s := rec.Attach(Script{Steps: []Step{Event("1", "a"), Cut(), Event("2", "b")}})
	w := httptest.NewRecorder()
	func() {
		defer func() {
			if p := recover(); p != http.ErrAbortHandler {
				t.Errorf("recovered %v, want http.ErrAbortHandler", p)
			}
		}()
		_ = s.Serve(w, httptest.NewRequest("GET", "/", nil))
	}()
	if d := rec.Result(); !d.Cut || d.Completed || d.Events != 1 {
		t.Errorf("done %+v", d)
	}
	if w.Body.String() != "id: 1\ndata: a\n\n" {
		t.Errorf("body %q", w.Body.String())
	}
}

// plain has no Flush.
type plain struct{ h http.Header }

func (p plain) Header() http.Header       { return p.h }
func (plain) WriteHeader(int)             {}
func (plain) Write(b []byte) (int, error) { return len(b), nil }

func TestNoFlusherIsAnError(t *testing.T) {
	err := Script{Steps: []Step{Event("1", "a")}}.Serve(plain{http.Header{}}, httptest.NewRequest("GET", "/", nil))
	if err == nil || !strings.Contains(err.Error(), "cannot flush") {
		t.Errorf("err %v", err)
	}
}

func TestGenerators(t *testing.T) {
	seq := Sequence(3, time.Second, nil)
	if len(seq) != 5 || seq[1].Kind != KindWait || seq[4].ID != "3" || seq[4].Data != `{"seq":2}` {
		t.Errorf("Sequence: %+v", seq)
	}
	if m := Many(10_000, 32); len(m) != 10_000 || m[9999].ID != "10000" || len(m[9999].Data) != 32 {
		t.Errorf("Many: %d steps", len(m))
	}
	if b := Big("x", 1<<20); len(b.Data) != 1<<20 || strings.Contains(b.Data, "\n") {
		t.Errorf("Big: %d bytes", len(b.Data))
	}
	hb := Heartbeat(15*time.Second, 90*time.Second, "")
	if len(hb) != 12 || hb[0].Wait != 15*time.Second || !hb[1].HasComment {
		t.Errorf("Heartbeat: %+v", hb)
	}
	if p := Payload(12, 5); p != "12:ab" {
		t.Errorf("Payload %q", p)
	}
	if p := Payload(123, 2); p != "12" {
		t.Errorf("short Payload %q", p)
	}
}

// discard is a flushing ResponseWriter that throws the bytes away.
type discard struct{ h http.Header }

func (d discard) Header() http.Header       { return d.h }
func (discard) WriteHeader(int)             {}
func (discard) Write(b []byte) (int, error) { return len(b), nil }
func (discard) Flush()                      {}

func BenchmarkScriptEmit(b *testing.B) {
	const n = 1000
	s := Script{Steps: Many(n, 64)}
	size := len(s.Bytes())
	b.Run("discard", func(b *testing.B) {
		req := httptest.NewRequest("GET", "/", nil)
		b.SetBytes(int64(size))
		b.ReportAllocs()
		for b.Loop() {
			if err := s.Serve(discard{http.Header{}}, req); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "events/s")
	})
	b.Run("loopback", func(b *testing.B) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		ts := httptest.NewUnstartedServer(s)
		ts.Listener.Close()
		ts.Listener = ln
		ts.Start()
		defer ts.Close()
		tr := &http.Transport{DisableCompression: true}
		defer tr.CloseIdleConnections()
		client := &http.Client{Transport: tr}
		b.SetBytes(int64(size))
		for b.Loop() {
			resp, err := client.Get(ts.URL)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.Copy(io.Discard, resp.Body); err != nil {
				b.Fatal(err)
			}
			resp.Body.Close()
		}
		b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "events/s")
	})
}
