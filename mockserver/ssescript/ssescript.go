// Package ssescript writes text/event-stream responses byte by byte from a
// script, for the scenarios that need exact bytes on the wire: line-ending
// styles, a BOM, priming events, retry fields, comments and keep-alives,
// events split across writes, huge or numerous events, and an abrupt cut.
// The official MCP Go SDK writes the ordinary streams; this writer exists
// because the SDK cannot be told to misbehave.
//
// The writer stamps when each event's last byte was flushed (OnSent), so the
// harness can compare send and arrival times, and reports how the request
// ended (OnDone), so it can check that a client disconnect propagated
// through the proxy to the upstream.
package ssescript

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Kind is what a Step does.
type Kind int

const (
	KindEvent Kind = iota // write one event (fields + blank line)
	KindRaw               // write Raw verbatim
	KindWait              // pause for Wait, or until the client goes away
	KindFlush             // flush now (only meaningful with ManualFlush)
	KindCut               // abort the connection without ending the body
)

// Step is one action of a script. For KindEvent the wire order is comment
// lines, event, id, retry, data lines, blank line (the order the MCP Go SDK
// uses, comments first).
type Step struct {
	Kind Kind
	// ID is written as "id: ID" when HasID (so an empty ID clears the
	// client's last event ID).
	ID    string
	HasID bool
	// Event is written as "event: Event" when non-empty.
	Event string
	// Retry is written verbatim as "retry: Retry" when non-empty, so invalid
	// values such as "12a" can be scripted.
	Retry string
	// Data is written as one "data: line" per LF-separated line when HasData.
	Data    string
	HasData bool
	// Comment is written as one ":" line per LF-separated line when
	// HasComment (": text", or ":" for an empty line).
	Comment    string
	HasComment bool
	// Raw is written as is for KindRaw: no line-ending translation, no blank
	// line added.
	Raw []byte
	// Wait is the pause for KindWait.
	Wait time.Duration
}

// Event is an event with an id (omitted when id is "") and data.
func Event(id, data string) Step {
	return Step{Kind: KindEvent, ID: id, HasID: id != "", Data: data, HasData: true}
}

// Message is Event with "event: message", as the MCP Go SDK writes them.
func Message(id, data string) Step {
	s := Event(id, data)
	s.Event = "message"
	return s
}

// Priming is a SEP-1699 priming event: an id and an empty data line
// ("id: ID\ndata: \n\n"), which browsers dispatch with empty data.
func Priming(id string) Step {
	return Step{Kind: KindEvent, ID: id, HasID: true, HasData: true}
}

// Retry is a lone "retry: ms" event.
func Retry(ms int) Step {
	return Step{Kind: KindEvent, Retry: strconv.Itoa(ms)}
}

// Comment is a comment-only event (":" when text is "", the usual
// keep-alive).
func Comment(text string) Step {
	return Step{Kind: KindEvent, Comment: text, HasComment: true}
}

// Raw writes b verbatim.
func Raw(b string) Step { return Step{Kind: KindRaw, Raw: []byte(b)} }

// Wait pauses for d, or until the client goes away.
func Wait(d time.Duration) Step { return Step{Kind: KindWait, Wait: d} }

// Flush flushes what was written so far.
func Flush() Step { return Step{Kind: KindFlush} }

// Cut aborts the connection mid-stream: the body never gets its end (no
// terminating chunk on HTTP/1.1, RST_STREAM on HTTP/2). Steps after it are
// never run.
func Cut() Step { return Step{Kind: KindCut} }

// Sequence is n events with ids "1".."n", each after a Wait(gap) except the
// first. data(i) gives event i's data (i from 0); nil gives {"seq":i}.
func Sequence(n int, gap time.Duration, data func(i int) string) []Step {
	if data == nil {
		data = func(i int) string { return `{"seq":` + strconv.Itoa(i) + `}` }
	}
	steps := make([]Step, 0, 2*n)
	for i := range n {
		if i > 0 && gap > 0 {
			steps = append(steps, Wait(gap))
		}
		steps = append(steps, Event(strconv.Itoa(i+1), data(i)))
	}
	return steps
}

// Many is n back-to-back events of size data bytes each ("10 000 small
// events"); ids are "1".."n" and the data starts with the index so that
// reordering shows.
func Many(n, size int) []Step {
	return Sequence(n, 0, func(i int) string { return Payload(i, size) })
}

// Big is one event whose single data line is size bytes ("one 1 MiB event").
func Big(id string, size int) Step { return Event(id, Payload(0, size)) }

// Heartbeat is a comment every `every` for `total` ("idle with a keep-alive
// comment every 15 s for 90 s"): Wait(every), Comment(text), repeated.
func Heartbeat(every, total time.Duration, text string) []Step {
	var steps []Step
	for t := every; every > 0 && t <= total; t += every {
		steps = append(steps, Wait(every), Comment(text))
	}
	return steps
}

// Payload returns size bytes of printable data beginning with "i:" and
// continuing with a repeating a-z pattern, so truncation or corruption is
// visible in a diff.
func Payload(i, size int) string {
	var b strings.Builder
	b.Grow(size)
	b.WriteString(strconv.Itoa(i))
	b.WriteByte(':')
	for k := 0; b.Len() < size; k++ {
		b.WriteByte(byte('a' + k%26))
	}
	return b.String()[:max(0, size)]
}

// Script is an SSE response. The zero value of every option is the ordinary
// behaviour; a Script is a value and safe to serve concurrently.
type Script struct {
	Steps []Step
	// LineEnding ends every generated line: "\n" (default), "\r\n" or "\r".
	LineEnding string
	// BOM writes a UTF-8 BOM before the first step.
	BOM bool
	// SplitWrites writes each event (and Raw step) in three writes, flushed
	// apart: its first byte, the middle, its last byte, so that a CRLF
	// terminator is split between CR and LF. SplitDelay pauses between them.
	SplitWrites bool
	SplitDelay  time.Duration
	// ManualFlush flushes only at Flush steps, Waits, a Cut and the end, so
	// several events can leave in one write. Events are stamped at their
	// flush. The headers (and BOM) are flushed at once either way.
	ManualFlush bool
	// Status defaults to 200, ContentType to "text/event-stream".
	Status      int
	ContentType string
	// NoTransform adds no-transform to Cache-Control: no-cache.
	NoTransform bool
	// Headers are added to the response (after the defaults, so they can
	// override them). X-Accel-Buffering is deliberately not sent unless set
	// here: the harness must see whether the proxy buffers without it.
	Headers http.Header
	// OnSent is called (on the handler goroutine) after each event's last
	// byte is flushed.
	OnSent func(Stamp)
	// OnDone is called once when Serve returns (also after a Cut).
	OnDone func(Done)
}

// Stamp says when an event (or Raw step) left: its last byte was flushed at
// Sent.
type Stamp struct {
	Index int    // position among the Event and Raw steps written, from 0
	Step  int    // index in Script.Steps
	ID    string // the event's id ("" if none)
	Sent  time.Time
}

// Done says how a Serve ended.
type Done struct {
	// Completed: every step was written and flushed.
	Completed bool
	// ClientGone: the request context ended or a write/flush failed before
	// the script finished, i.e. the client (or the proxy) hung up.
	ClientGone bool
	// Cut: the script cut the connection itself.
	Cut bool
	// At is when the handler noticed the end.
	At time.Time
	// Events is how many Event/Raw steps were fully flushed.
	Events int
	// Err is the write/flush/context error, if any.
	Err error
}

// ErrClientGone wraps the context or write error seen when the client left.
var ErrClientGone = errors.New("ssescript: client went away")

// ServeHTTP serves the script; see Serve.
func (s Script) ServeHTTP(w http.ResponseWriter, r *http.Request) { _ = s.Serve(w, r) }

// Serve writes the response and returns when the script ends or the client
// goes away (nil when completed). A Cut step panics with
// http.ErrAbortHandler after OnDone has run, which is how net/http is told to
// drop the connection without finishing the body; wrappers must let that
// panic through. Serve starts no goroutines.
func (s Script) Serve(w http.ResponseWriter, r *http.Request) (err error) {
	run := runner{s: s, w: w, rc: http.NewResponseController(w), le: s.lineEnding()}
	defer func() {
		d := run.done
		d.At = time.Now()
		d.Err = err
		if s.OnDone != nil {
			s.OnDone(d)
		}
		if d.Cut {
			panic(http.ErrAbortHandler)
		}
	}()

	// An unread request body keeps net/http from watching the connection,
	// and then r.Context() would not end when the client hangs up. Reading
	// it (bounded) makes disconnects visible.
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
	}

	h := w.Header()
	ct := s.ContentType
	if ct == "" {
		ct = "text/event-stream"
	}
	h.Set("Content-Type", ct)
	if s.NoTransform {
		h.Set("Cache-Control", "no-cache, no-transform")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	for k, vs := range s.Headers {
		h[http.CanonicalHeaderKey(k)] = append([]string(nil), vs...)
	}
	status := s.Status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	if s.BOM {
		if _, err := w.Write(bomBytes); err != nil {
			return run.gone(err)
		}
	}
	// Flush the headers now: "the first byte arrives before event 2 is sent"
	// is a check, and it is unfair if the mock itself sits on them.
	if err := run.flush(); err != nil {
		return err
	}
	ctx := r.Context()
	for i, st := range s.Steps {
		if err := ctx.Err(); err != nil {
			return run.gone(err)
		}
		switch st.Kind {
		case KindEvent, KindRaw:
			run.buf = s.appendStep(run.buf[:0], st)
			if err := run.write(ctx, run.buf); err != nil {
				return err
			}
			run.pending = append(run.pending, Stamp{Index: run.index, Step: i, ID: st.ID})
			run.index++
			if !s.ManualFlush {
				if err := run.flush(); err != nil {
					return err
				}
			}
		case KindFlush:
			if err := run.flush(); err != nil {
				return err
			}
		case KindWait:
			// Whatever was written should be on its way before we idle.
			if err := run.flush(); err != nil {
				return err
			}
			if st.Wait > 0 {
				t := time.NewTimer(st.Wait)
				select {
				case <-ctx.Done():
					t.Stop()
					return run.gone(ctx.Err())
				case <-t.C:
				}
			}
		case KindCut:
			// Bytes written but not flushed would be lost in the abort;
			// flush them so the cut lands exactly after them.
			if err := run.flush(); err != nil {
				return err
			}
			run.done.Cut = true
			return nil
		default:
			return fmt.Errorf("ssescript: step %d: unknown kind %d", i, st.Kind)
		}
	}
	if err := run.flush(); err != nil {
		return err
	}
	run.done.Completed = true
	return nil
}

var bomBytes = []byte{0xEF, 0xBB, 0xBF}

type runner struct {
	s       Script
	w       http.ResponseWriter
	rc      *http.ResponseController
	le      string
	buf     []byte
	pending []Stamp
	index   int
	done    Done
}

func (run *runner) gone(err error) error {
	run.done.ClientGone = true
	return fmt.Errorf("%w: %w", ErrClientGone, err)
}

func (run *runner) flush() error {
	if err := run.rc.Flush(); err != nil {
		if errors.Is(err, http.ErrNotSupported) {
			// Streaming is the point of this package; a writer that cannot
			// flush would make every timing check meaningless.
			return fmt.Errorf("ssescript: the ResponseWriter cannot flush: %w", err)
		}
		return run.gone(err)
	}
	if len(run.pending) > 0 {
		now := time.Now()
		for _, st := range run.pending {
			st.Sent = now
			if run.s.OnSent != nil {
				run.s.OnSent(st)
			}
		}
		run.done.Events += len(run.pending)
		run.pending = run.pending[:0]
	}
	return nil
}

// write sends b, in three flushed pieces when SplitWrites is set.
func (run *runner) write(ctx context.Context, b []byte) error {
	if !run.s.SplitWrites || len(b) < 3 {
		if _, err := run.w.Write(b); err != nil {
			return run.gone(err)
		}
		return nil
	}
	parts := [][]byte{b[:1], b[1 : len(b)-1], b[len(b)-1:]}
	for k, p := range parts {
		if _, err := run.w.Write(p); err != nil {
			return run.gone(err)
		}
		if k == len(parts)-1 {
			break // the caller flushes (or not, with ManualFlush)
		}
		if err := run.rc.Flush(); err != nil {
			return run.gone(err)
		}
		if run.s.SplitDelay > 0 {
			t := time.NewTimer(run.s.SplitDelay)
			select {
			case <-ctx.Done():
				t.Stop()
				return run.gone(ctx.Err())
			case <-t.C:
			}
		}
	}
	return nil
}

func (s Script) lineEnding() string {
	if s.LineEnding == "" {
		return "\n"
	}
	return s.LineEnding
}

// appendStep appends the wire bytes of an Event or Raw step.
func (s Script) appendStep(b []byte, st Step) []byte {
	if st.Kind == KindRaw {
		return append(b, st.Raw...)
	}
	le := s.lineEnding()
	if st.HasComment {
		for line := range strings.SplitSeq(st.Comment, "\n") {
			b = append(b, ':')
			if line != "" {
				b = append(append(b, ' '), line...)
			}
			b = append(b, le...)
		}
	}
	if st.Event != "" {
		b = append(append(append(b, "event: "...), st.Event...), le...)
	}
	if st.HasID {
		b = append(append(append(b, "id: "...), st.ID...), le...)
	}
	if st.Retry != "" {
		b = append(append(append(b, "retry: "...), st.Retry...), le...)
	}
	if st.HasData {
		for line := range strings.SplitSeq(st.Data, "\n") {
			b = append(append(append(b, "data: "...), line...), le...)
		}
	}
	return append(b, le...)
}

// Bytes returns exactly the body bytes Serve writes, waits ignored, up to a
// Cut.
func (s Script) Bytes() []byte {
	var b []byte
	if s.BOM {
		b = append(b, bomBytes...)
	}
	for _, st := range s.Steps {
		switch st.Kind {
		case KindEvent, KindRaw:
			b = s.appendStep(b, st)
		case KindCut:
			return b
		}
	}
	return b
}
