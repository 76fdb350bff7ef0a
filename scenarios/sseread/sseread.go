// Package sseread reads a text/event-stream body the way a conforming
// EventSource would (WHATWG HTML §9.2.5-9.2.6), and stamps every event with
// the time and index of the body read that delivered it, so the harness can
// tell a streaming proxy from a buffering one.
//
// Framing uses r3labs/sse/v2's exported EventStreamReader (the project asked
// for that library); its field parser is unexported, so the field rules live
// in parse.go. EventStreamReader alone gets three things wrong, and this
// package compensates, because the harness must judge proxies against what a
// browser would see, not against r3labs' quirks:
//
//   - Mixed line endings. It only looks for "\r\r", "\n\n", "\r\n\n",
//     "\n\r\n" and "\r\n\r\n" as event ends, so "\n\r" (LF line, lone-CR blank
//     line) and "\r\n\r" followed by a non-LF byte are missed and two events
//     merge; "\r\r\n" is cut after "\r\r", leaving a stray LF at the start of
//     the next token. Pure-CR, pure-LF and pure-CRLF streams frame correctly.
//   - BOM. A leading U+FEFF is not stripped, so the first field name becomes
//     "\uFEFFdata" (an unknown field) and the first event's data is lost.
//   - End of stream. At EOF, or after a read error, the unterminated remainder
//     is returned as if it were a complete event; WHATWG says to discard it.
//
// So the body passes through a normalising reader before framing: it drops
// one leading BOM and rewrites CRLF and lone CR to LF. That is lossless for
// SSE semantics, since CR can only ever end a line, and it never holds back a
// byte (a trailing CR is emitted as LF at once and a following LF skipped
// later), so it cannot itself delay an event. The only bytes ever held are up
// to two leading bytes that could still be the start of a BOM. The remainder
// token is recognised by byte accounting (it has no terminator) and is
// reported with Incomplete set and Dispatched false. The raw, un-normalised
// bytes are kept separately (bounded) for byte-for-byte comparisons.
//
// Limits: EventStreamReader sits on bufio.Scanner with a maximum token size;
// an event bigger than that fails with bufio.ErrTooLong, which Next reports
// as ErrEventTooLarge. Memory grows only as far as the largest event seen.
// Its split function rescans the whole buffer (five bytes.Index calls) after
// every read, which is quadratic for a big event arriving in small reads (a
// 4 MiB event in 1 KiB reads framed at 6 MB/s); the normaliser therefore
// keeps reading into the scanner's buffer until it holds a blank line or is
// full. That delays nothing: no event can be returned before its blank line.
//
// Arrival evidence is taken below all of this, from the body's own Reads, so
// neither the normaliser nor the scanner changes which Read an event is
// attributed to.
package sseread

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/r3labs/sse/v2"
)

// Defaults applied when an Options field is zero.
const (
	DefaultMaxEventSize = 4 << 20  // the harness sends 1 MiB events; leave room
	DefaultMaxEvents    = 100_000  // 10 000-event floods fit with margin
	DefaultMaxBytes     = 64 << 20 // a whole stream
	DefaultMaxRaw       = 4 << 20  // raw bytes kept for comparison
)

// Errors a read can end with; test with errors.Is.
var (
	// ErrEventTooLarge: one event (after line-ending normalisation, without its
	// terminating blank line) exceeded Options.MaxEventSize.
	ErrEventTooLarge = errors.New("sseread: event exceeds MaxEventSize")
	// ErrByteLimit: the body exceeded Options.MaxBytes.
	ErrByteLimit = errors.New("sseread: body exceeds MaxBytes")
	// ErrEventLimit: more than Options.MaxEvents events.
	ErrEventLimit = errors.New("sseread: more than MaxEvents events")
)

// Options bound a read. Zero fields take the defaults above.
type Options struct {
	// MaxEventSize bounds one event block in bytes, after CRLF/CR → LF and
	// without the blank line that ends it.
	MaxEventSize int
	// MaxEvents bounds the number of blocks returned.
	MaxEvents int
	// MaxBytes bounds the raw body; a body of exactly MaxBytes is fine.
	MaxBytes int64
	// MaxRaw bounds the raw bytes kept for Raw(); negative keeps none.
	MaxRaw int
	// Start is the exchange start that ArrivedMS/SentMS are measured from;
	// zero means when NewReader was called.
	Start time.Time
}

func (o Options) withDefaults() Options {
	if o.MaxEventSize <= 0 {
		o.MaxEventSize = DefaultMaxEventSize
	}
	if o.MaxEvents <= 0 {
		o.MaxEvents = DefaultMaxEvents
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.MaxRaw == 0 {
		o.MaxRaw = DefaultMaxRaw
	}
	if o.Start.IsZero() {
		o.Start = time.Now()
	}
	return o
}

// Event is one block of the stream: the lines between two blank lines.
//
// Every non-empty block is returned, including ones a browser would not
// dispatch (comment-only keep-alives, an id with no data line), because they
// are evidence: a proxy that drops keep-alives or SEP-1699 priming events
// changes what a client can resume from. Dispatched says whether WHATWG would
// fire a MessageEvent. Note that a priming event written as "id: 7\ndata: \n\n"
// (what the MCP SDKs send) IS dispatched with empty Data, since the data
// buffer holds "\n" before the trailing LF is cut; only a block with no data
// line at all ("id: 7\n\n") is not.
type Event struct {
	// Index is the block's position in the stream, from 0.
	Index int
	// ID is the value of this block's last valid id field; HasID says one was
	// present (an empty "id:" clears the last event ID). An id containing NUL
	// is ignored, as WHATWG says, and listed in Ignored.
	ID    string
	HasID bool
	// LastEventID is the last event ID buffer after this block; it carries
	// over from earlier blocks, as in WHATWG.
	LastEventID string
	// Event is the event field as sent ("" when absent; browsers then use
	// "message").
	Event string
	// Data is the data lines joined with LF; HasData says at least one data
	// line was present.
	Data    string
	HasData bool
	// Retry is the retry field when it was all ASCII digits (invalid values
	// go to Ignored).
	Retry string
	// Comment holds the comment lines (without ":" and one leading space),
	// joined with LF; HasComment says there was at least one.
	Comment    string
	HasComment bool
	// Ignored lists lines a conforming parser ignores: unknown fields, id
	// with NUL, non-digit retry.
	Ignored []string
	// Dispatched: a browser would fire a MessageEvent for this block.
	Dispatched bool
	// Incomplete: the stream ended (EOF or error) before the blank line; the
	// block is evidence only and never dispatched.
	Incomplete bool
	// Size is the block's length in normalised bytes.
	Size int
	// Read is the 1-based index of the underlying body Read that completed
	// the block (0 = unknown). Blocks sharing a Read arrived together.
	Read int
	// Arrived is when that Read returned.
	Arrived time.Time
}

// Reader frames and parses one SSE body. Next is not safe for concurrent use;
// Raw and Stats may be called from another goroutine while Next runs.
type Reader struct {
	opt      Options
	body     io.Reader
	cnt      *counter
	norm     *normalizer
	esr      *sse.EventStreamReader
	consumed int64 // normalised bytes covered by tokens + their terminators
	lastID   string
	n        int
	err      error
}

// NewReader wraps body. Next blocks inside body.Read: to stop a read that
// waits on a stalled stream, close the body (ReadAll does it on ctx.Done()).
func NewReader(body io.Reader, opt Options) *Reader {
	opt = opt.withDefaults()
	cnt := &counter{src: body, maxBytes: opt.MaxBytes, rawMax: opt.MaxRaw}
	norm := &normalizer{src: cnt}
	return &Reader{
		opt:  opt,
		body: body,
		cnt:  cnt,
		norm: norm,
		// +2 so that an event of exactly MaxEventSize still fits next to its
		// "\n\n" terminator inside the scanner's buffer.
		esr: sse.NewEventStreamReader(norm, opt.MaxEventSize+2),
	}
}

// Start returns the reference time of the exchange.
func (r *Reader) Start() time.Time { return r.opt.Start }

// Next returns the next non-empty block, or io.EOF after a clean end of
// stream, or the error that ended it. Errors are sticky.
func (r *Reader) Next() (Event, error) {
	if r.err != nil {
		return Event{}, r.err
	}
	for {
		tok, err := r.esr.ReadEvent()
		if err != nil {
			r.err = r.mapErr(err)
			return Event{}, r.err
		}
		r.consumed += int64(len(tok)) + 2
		// A token without its "\n\n" is the remainder r3labs hands out at
		// EOF/error: it claims two bytes more than were ever delivered.
		incomplete := r.consumed > r.norm.delivered
		if blank(tok) {
			continue
		}
		if len(tok) > r.opt.MaxEventSize {
			// Only an unterminated remainder can get here (the scanner's
			// buffer leaves room for the terminator, not for more data), but
			// an event over the limit is over the limit.
			r.err = fmt.Errorf("%w: an unterminated event of %d bytes is larger than %d bytes",
				ErrEventTooLarge, len(tok), r.opt.MaxEventSize)
			return Event{}, r.err
		}
		if r.n >= r.opt.MaxEvents {
			r.err = fmt.Errorf("%w (%d)", ErrEventLimit, r.opt.MaxEvents)
			return Event{}, r.err
		}
		prevID := r.lastID
		ev := parseBlock(tok, &r.lastID)
		if incomplete {
			// Pending data is discarded at end of stream, so the block
			// neither dispatches nor moves the last event ID.
			ev.Incomplete, ev.Dispatched = true, false
			r.lastID, ev.LastEventID = prevID, prevID
		}
		ev.Index = r.n
		r.n++
		ev.Read, ev.Arrived = r.cnt.stamp()
		return ev, nil
	}
}

func (r *Reader) mapErr(err error) error {
	st := r.Stats()
	switch {
	case errors.Is(err, bufio.ErrTooLong):
		return fmt.Errorf("%w: an event is larger than %d bytes (it starts at byte %d of the line-ending-normalised stream; %d body bytes in %d reads so far): %w",
			ErrEventTooLarge, r.opt.MaxEventSize, r.consumed, st.Bytes, st.Reads, err)
	case err == io.EOF:
		// ReadEvent turns context.Canceled into io.EOF; the counter knows
		// what the body really said.
		if cerr := r.cnt.error(); cerr != nil && cerr != io.EOF {
			return cerr
		}
		return io.EOF
	}
	return err
}

// ReadAll reads blocks until the end of stream, an error, ctx ending, or
// onEvent (may be nil) returning false. A clean end returns a nil error. If
// the body is an io.Closer, it is closed when ctx ends so that a stalled
// Read returns; otherwise cancelling is the caller's job (close the body).
func (r *Reader) ReadAll(ctx context.Context, onEvent func(Event) bool) ([]Event, error) {
	if c, ok := r.body.(io.Closer); ok {
		stop := context.AfterFunc(ctx, func() { _ = c.Close() })
		defer stop()
	}
	var events []Event
	for {
		if err := ctx.Err(); err != nil {
			return events, err
		}
		ev, err := r.Next()
		if err != nil {
			if cerr := ctx.Err(); cerr != nil {
				return events, fmt.Errorf("sseread: %w (body: %v)", cerr, err)
			}
			if err == io.EOF {
				return events, nil
			}
			return events, err
		}
		events = append(events, ev)
		if onEvent != nil && !onEvent(ev) {
			return events, nil
		}
	}
}

// Read is NewReader(body, opt).ReadAll(ctx, onEvent). Use a Reader directly
// when you also need the raw bytes or read statistics.
func Read(ctx context.Context, body io.Reader, opt Options, onEvent func(Event) bool) ([]Event, error) {
	return NewReader(body, opt).ReadAll(ctx, onEvent)
}

// Raw returns a copy of the raw body bytes read so far (up to MaxRaw) and
// whether more were read than kept.
func (r *Reader) Raw() ([]byte, bool) { return r.cnt.rawCopy() }

// Stats describes the underlying reads so far.
type Stats struct {
	Reads     int   // underlying Reads that returned bytes
	Bytes     int64 // raw bytes read
	FirstRead time.Time
	LastRead  time.Time
}

// Stats returns the read statistics so far.
func (r *Reader) Stats() Stats { return r.cnt.stats() }

func blank(tok []byte) bool {
	for _, c := range tok {
		if c != '\n' {
			return false
		}
	}
	return true
}
