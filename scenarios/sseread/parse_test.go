package sseread

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/r3labs/sse/v2"
)

// view is the part of an Event that does not depend on timing or chunking.
type view struct {
	ID          string
	HasID       bool
	LastEventID string
	Event       string
	Data        string
	HasData     bool
	Retry       string
	Comment     string
	HasComment  bool
	Ignored     []string
	Dispatched  bool
	Incomplete  bool
}

func viewOf(e Event) view {
	return view{e.ID, e.HasID, e.LastEventID, e.Event, e.Data, e.HasData, e.Retry,
		e.Comment, e.HasComment, e.Ignored, e.Dispatched, e.Incomplete}
}

func views(evs []Event) []view {
	var out []view
	for _, e := range evs {
		out = append(out, viewOf(e))
	}
	return out
}

// data is a dispatched data-only event with the given last event ID.
func data(d, lastID string) view {
	return view{Data: d, HasData: true, Dispatched: true, LastEventID: lastID}
}

// chunkings feed the same bytes in different read patterns; the parse must
// not depend on where reads split the stream (CR|LF split included).
var chunkings = map[string]func(string) io.Reader{
	"whole":   func(s string) io.Reader { return strings.NewReader(s) },
	"onebyte": func(s string) io.Reader { return iotest.OneByteReader(strings.NewReader(s)) },
	"dataerr": func(s string) io.Reader { return iotest.DataErrReader(strings.NewReader(s)) },
	"halves":  func(s string) io.Reader { return iotest.HalfReader(strings.NewReader(s)) },
}

func TestParse(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want []view
	}{
		{"multi-line data LF", "data: a\ndata: b\n\n", []view{data("a\nb", "")}},
		{"multi-line data CRLF", "data: a\r\ndata: b\r\n\r\n", []view{data("a\nb", "")}},
		{"multi-line data CR", "data: a\rdata: b\r\r", []view{data("a\nb", "")}},
		{"LF line then lone-CR blank", "data: a\n\rdata: b\n\r", []view{data("a", ""), data("b", "")}},
		{"CRLF line then lone-CR blank", "data: a\r\n\rdata: b\r\n\r", []view{data("a", ""), data("b", "")}},
		{"CR line then CRLF blank", "data: a\r\r\ndata: b\r\r\n", []view{data("a", ""), data("b", "")}},
		{"BOM stripped", "\uFEFFdata: a\n\n", []view{data("a", "")}},
		{"only one BOM stripped", "\uFEFF\uFEFFdata: a\n\ndata: b\n\n", []view{
			{Ignored: []string{"\uFEFFdata: a"}},
			data("b", ""),
		}},
		{"BOM-like bytes later are data", "data: \uFEFFa\n\n", []view{data("\uFEFFa", "")}},
		{"partial BOM prefix is data", "\xEF\xBBx: y\n\n", []view{{Ignored: []string{"\xEF\xBBx: y"}}}},
		{"comments kept", ": hello\n:\ndata: a\n\n", []view{{Comment: "hello\n", HasComment: true, Data: "a", HasData: true, Dispatched: true}}},
		{"comment-only keep-alive", ":\n\n", []view{{HasComment: true}}},
		{"comment keeps inner spaces", ":  two\n\n", []view{{Comment: " two", HasComment: true}}},
		{"id with NUL ignored", "id: 1\ndata: a\n\nid: a\x00b\ndata: b\n\n", []view{
			{ID: "1", HasID: true, LastEventID: "1", Data: "a", HasData: true, Dispatched: true},
			{LastEventID: "1", Data: "b", HasData: true, Dispatched: true, Ignored: []string{"id: a\x00b"}},
		}},
		{"empty id clears", "id: 1\ndata: a\n\nid:\ndata: b\n\n", []view{
			{ID: "1", HasID: true, LastEventID: "1", Data: "a", HasData: true, Dispatched: true},
			{ID: "", HasID: true, LastEventID: "", Data: "b", HasData: true, Dispatched: true},
		}},
		{"id persists", "id: 1\ndata: a\n\ndata: b\n\n", []view{
			{ID: "1", HasID: true, LastEventID: "1", Data: "a", HasData: true, Dispatched: true},
			data("b", "1"),
		}},
		{"retry 12a ignored", "retry: 12a\ndata: a\n\n", []view{{Ignored: []string{"retry: 12a"}, Data: "a", HasData: true, Dispatched: true}}},
		{"retry digits", "retry: 1500\n\n", []view{{Retry: "1500"}}},
		{"retry empty ignored", "retry:\n\n", []view{{Ignored: []string{"retry:"}}}},
		{"no trailing blank line", "data: a\n\ndata: b\n", []view{data("a", ""), {Data: "b", HasData: true, Incomplete: true}}},
		{"no trailing newline", "data: a\n\ndata: b", []view{data("a", ""), {Data: "b", HasData: true, Incomplete: true}}},
		{"incomplete id does not stick", "id: 1\ndata: a\n\nid: 2\ndata: b", []view{
			{ID: "1", HasID: true, LastEventID: "1", Data: "a", HasData: true, Dispatched: true},
			{ID: "2", HasID: true, LastEventID: "1", Data: "b", HasData: true, Incomplete: true},
		}},
		{"priming id + empty data line dispatches empty", "id: 7\ndata: \n\n", []view{{ID: "7", HasID: true, LastEventID: "7", HasData: true, Dispatched: true}}},
		{"priming id only is not dispatched", "id: 7\n\n", []view{{ID: "7", HasID: true, LastEventID: "7"}}},
		{"field without colon", "data\n\ndata\ndata\n\n", []view{data("", ""), data("\n", "")}},
		{"no space after colon", "data:a\n\n", []view{data("a", "")}},
		{"only one space removed", "data:  a\n\n", []view{data(" a", "")}},
		{"colon in value", "data: a: b\n\n", []view{data("a: b", "")}},
		{"unknown field", "foo: bar\ndata: a\n\n", []view{{Ignored: []string{"foo: bar"}, Data: "a", HasData: true, Dispatched: true}}},
		{"field names are case-sensitive", "Data: a\n\n", []view{{Ignored: []string{"Data: a"}}}},
		{"event type", "event: message\ndata: a\n\n", []view{{Event: "message", Data: "a", HasData: true, Dispatched: true}}},
		{"blank lines between events", "\n\n\ndata: a\n\n\n\n\r\n\rdata: b\n\n\n", []view{data("a", ""), data("b", "")}},
		{"empty stream", "", nil},
		{"only blank lines", "\n\r\n\r", nil},
		{"empty data line in the middle", "data: a\ndata:\ndata: b\n\n", []view{data("a\n\nb", "")}},
	}
	for _, tc := range cases {
		for cname, mk := range chunkings {
			t.Run(tc.name+"/"+cname, func(t *testing.T) {
				evs, err := Read(context.Background(), mk(tc.in), Options{}, nil)
				if err != nil {
					t.Fatalf("Read: %v", err)
				}
				if got := views(evs); !reflect.DeepEqual(got, tc.want) {
					t.Errorf("input %q\n got %+v\nwant %+v", tc.in, got, tc.want)
				}
				for i, e := range evs {
					if e.Index != i {
						t.Errorf("event %d has Index %d", i, e.Index)
					}
				}
			})
		}
	}
}

// TestR3labsQuirks pins the behaviour of r3labs' EventStreamReader that this
// package compensates for. If an upgrade fixes it, this test says so and the
// normaliser's comments need revisiting.
func TestR3labsQuirks(t *testing.T) {
	tokens := func(in string) []string {
		r := sse.NewEventStreamReader(strings.NewReader(in), 1<<16)
		var out []string
		for {
			tok, err := r.ReadEvent()
			if err != nil {
				return out
			}
			out = append(out, string(tok))
		}
	}
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"data: a\r\rdata: b\r\r", []string{"data: a", "data: b"}},             // pure CR: fine
		{"data: a\n\rdata: b\n\r", []string{"data: a\n\rdata: b\n\r"}},         // mixed: merged
		{"data: a\r\n\rdata: b\r\n\r", []string{"data: a\r\n\rdata: b\r\n\r"}}, // mixed: merged
		{"data: a\r\r\ndata: b\r\r\n", []string{"data: a", "\ndata: b", "\n"}}, // stray LF
		{"\uFEFFdata: a\n\n", []string{"\uFEFFdata: a"}},                       // BOM kept
		{"data: a\n\ndata: b", []string{"data: a", "data: b"}},                 // remainder returned
	} {
		if got := tokens(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("r3labs framing of %q changed: got %q, was %q", tc.in, got, tc.want)
		}
	}
	r := sse.NewEventStreamReader(strings.NewReader("data: "+strings.Repeat("x", 100)+"\n\n"), 64)
	if _, err := r.ReadEvent(); err == nil || !strings.Contains(err.Error(), "token too long") {
		t.Errorf("oversized event: got %v, want bufio token too long", err)
	}
}

// chunks returns its pieces one per Read.
type chunks struct{ parts []string }

func (c *chunks) Read(p []byte) (int, error) {
	if len(c.parts) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.parts[0])
	if n == len(c.parts[0]) {
		c.parts = c.parts[1:]
	} else {
		c.parts[0] = c.parts[0][n:]
	}
	return n, nil
}

func TestReadIndex(t *testing.T) {
	body := &chunks{parts: []string{"data: a\n\ndata: b\n\nda", "ta: c\n", "\n", ": x\n\n"}}
	evs, err := Read(context.Background(), body, Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	for _, e := range evs {
		got = append(got, e.Read)
	}
	if want := []int{1, 1, 3, 4}; !reflect.DeepEqual(got, want) {
		t.Errorf("read indices %v, want %v", got, want)
	}
	if !evs[0].Arrived.Equal(evs[1].Arrived) || evs[2].Arrived.Before(evs[1].Arrived) {
		t.Errorf("arrival times not consistent with reads: %v", evs)
	}
}

func TestLimits(t *testing.T) {
	ctx := context.Background()
	t.Run("event exactly MaxEventSize", func(t *testing.T) {
		in := "data: " + strings.Repeat("x", 58) + "\n\n" // block is 64 bytes
		evs, err := Read(ctx, iotest.OneByteReader(strings.NewReader(in)), Options{MaxEventSize: 64}, nil)
		if err != nil || len(evs) != 1 || len(evs[0].Data) != 58 {
			t.Fatalf("got %d events, err %v", len(evs), err)
		}
	})
	t.Run("event over MaxEventSize", func(t *testing.T) {
		in := "data: ok\n\ndata: " + strings.Repeat("x", 59) + "\n\n"
		evs, err := Read(ctx, strings.NewReader(in), Options{MaxEventSize: 64}, nil)
		if !errors.Is(err, ErrEventTooLarge) || len(evs) != 1 {
			t.Fatalf("got %d events, err %v; want 1 and ErrEventTooLarge", len(evs), err)
		}
		if !strings.Contains(err.Error(), "64 bytes") {
			t.Errorf("error does not name the limit: %v", err)
		}
	})
	t.Run("MaxBytes exact and over", func(t *testing.T) {
		in := "data: a\n\ndata: b\n\n"
		if _, err := Read(ctx, strings.NewReader(in), Options{MaxBytes: int64(len(in))}, nil); err != nil {
			t.Errorf("exact size: %v", err)
		}
		evs, err := Read(ctx, strings.NewReader(in), Options{MaxBytes: int64(len(in) - 1)}, nil)
		if !errors.Is(err, ErrByteLimit) {
			t.Errorf("over: err %v, want ErrByteLimit", err)
		}
		if len(evs) != 2 || !evs[1].Incomplete {
			t.Errorf("over: the cut event should be incomplete: %+v", views(evs))
		}
	})
	t.Run("MaxEvents", func(t *testing.T) {
		in := strings.Repeat("data: a\n\n", 5)
		evs, err := Read(ctx, strings.NewReader(in), Options{MaxEvents: 5}, nil)
		if err != nil || len(evs) != 5 {
			t.Errorf("exact: %d events, %v", len(evs), err)
		}
		evs, err = Read(ctx, strings.NewReader(in), Options{MaxEvents: 4}, nil)
		if !errors.Is(err, ErrEventLimit) || len(evs) != 4 {
			t.Errorf("over: %d events, %v", len(evs), err)
		}
	})
	t.Run("raw kept and bounded", func(t *testing.T) {
		in := "\uFEFFdata: a\r\n\r\n"
		r := NewReader(strings.NewReader(in), Options{MaxRaw: 5})
		if _, err := r.ReadAll(ctx, nil); err != nil {
			t.Fatal(err)
		}
		raw, trunc := r.Raw()
		if string(raw) != in[:5] || !trunc {
			t.Errorf("raw %q trunc %v", raw, trunc)
		}
		r = NewReader(strings.NewReader(in), Options{})
		_, _ = r.ReadAll(ctx, nil)
		if raw, trunc := r.Raw(); string(raw) != in || trunc {
			t.Errorf("raw %q trunc %v, want the untouched bytes", raw, trunc)
		}
		if st := r.Stats(); st.Bytes != int64(len(in)) || st.Reads < 1 {
			t.Errorf("stats %+v", st)
		}
	})
}

func TestStopAndCancel(t *testing.T) {
	t.Run("onEvent false stops", func(t *testing.T) {
		evs, err := Read(context.Background(), strings.NewReader(strings.Repeat("data: a\n\n", 10)), Options{},
			func(e Event) bool { return e.Index < 2 })
		if err != nil || len(evs) != 3 {
			t.Errorf("%d events, %v", len(evs), err)
		}
	})
	t.Run("cancel closes a stalled body", func(t *testing.T) {
		pr, pw := io.Pipe()
		defer pw.Close()
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() {
			_, err := Read(ctx, pr, Options{}, func(Event) bool { cancel(); return true })
			errc <- err
		}()
		if _, err := pw.Write([]byte("data: a\n\n")); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-errc:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("err %v, want context.Canceled", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Read did not return after cancel")
		}
	})
	t.Run("context.Canceled from the body is not EOF", func(t *testing.T) {
		body := io.MultiReader(strings.NewReader("data: a\n\n"), iotest.ErrReader(context.Canceled))
		evs, err := Read(context.Background(), body, Options{}, nil)
		if !errors.Is(err, context.Canceled) || len(evs) != 1 {
			t.Errorf("%d events, err %v; r3labs maps Canceled to EOF, we must not", len(evs), err)
		}
	})
	t.Run("read error mid-event", func(t *testing.T) {
		boom := errors.New("reset")
		body := io.MultiReader(strings.NewReader("data: a\n\ndata: b"), iotest.ErrReader(boom))
		evs, err := Read(context.Background(), body, Options{}, nil)
		if !errors.Is(err, boom) || len(evs) != 2 || !evs[1].Incomplete {
			t.Errorf("%+v, err %v", views(evs), err)
		}
	})
}

func TestBuffered(t *testing.T) {
	t0 := time.Now()
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	mk := func(arrive []int, reads []int) []Event {
		evs := make([]Event, len(arrive))
		for i := range arrive {
			evs[i] = Event{Index: i, ID: fmt.Sprint(i + 1), HasID: true, Read: reads[i], Arrived: at(arrive[i])}
		}
		return evs
	}
	sent := []time.Time{at(0), at(300), at(600), at(900)}
	cases := []struct {
		name   string
		arrive []int
		reads  []int
		want   bool
		reason []string
	}{
		{"streaming", []int{2, 303, 601, 905}, []int{1, 2, 3, 4}, false, nil},
		{"coalescing 200ms is conformant", []int{200, 500, 800, 1100}, []int{1, 2, 3, 4}, false, nil},
		{"whole body at the end", []int{905, 905, 905, 905}, []int{1, 1, 1, 1}, true,
			[]string{`event #0 (id "1")`, `event #3 (id "4")`, "same body read #1", "late"}},
		{"two in one read", []int{2, 601, 601, 905}, []int{1, 2, 2, 3}, true,
			[]string{`event #1 (id "2")`, `event #2 (id "3")`, "300ms apart"}},
		{"one late", []int{2, 303, 900, 905}, []int{1, 2, 3, 4}, true, []string{`event #2 (id "3")`, "300ms late"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, reason := Buffered(mk(tc.arrive, tc.reads), sent, DefaultGap, DefaultTolerance)
			if got != tc.want {
				t.Fatalf("Buffered = %v (%s), want %v", got, reason, tc.want)
			}
			for _, s := range tc.reason {
				if !strings.Contains(reason, s) {
					t.Errorf("reason %q lacks %q", reason, s)
				}
			}
		})
	}
	t.Run("unknown send times are skipped", func(t *testing.T) {
		evs := mk([]int{905, 905}, []int{1, 1})
		if got, r := Buffered(evs, []time.Time{{}, at(900)}, DefaultGap, DefaultTolerance); got {
			t.Errorf("got buffered: %s", r)
		}
	})
}

func TestReport(t *testing.T) {
	t0 := time.Now()
	e := Event{ID: "1", Data: "x", Read: 3, Arrived: t0.Add(1500 * time.Microsecond)}
	r := e.Report(t0, time.Time{})
	if r.SentMS != -1 || r.ArrivedMS != 1.5 || r.Read != 3 || r.ID != "1" || r.Data != "x" {
		t.Errorf("%+v", r)
	}
	rs := ToReport([]Event{e, e}, t0, []time.Time{t0.Add(time.Millisecond)})
	if rs[0].SentMS != 1 || rs[1].SentMS != -1 {
		t.Errorf("%+v", rs)
	}
}

// TestNormalizerSplitCRLF checks the one state that crosses reads: a CR at
// the end of one read and its LF at the start of the next.
func TestNormalizerSplitCRLF(t *testing.T) {
	z := &normalizer{src: &chunks{parts: []string{"a\r", "\nb\r", "\r", "\n"}}}
	got, err := io.ReadAll(z)
	if err != nil || !bytes.Equal(got, []byte("a\nb\n\n")) {
		t.Errorf("got %q, %v", got, err)
	}
}
