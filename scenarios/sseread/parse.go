package sseread

import (
	"bytes"
	"fmt"
	"io"
	"sync"
	"time"
)

// counter sits directly on the body. It stamps every Read that returned
// bytes (the arrival evidence), keeps the raw bytes before anything rewrites
// them, and enforces MaxBytes.
type counter struct {
	src      io.Reader
	maxBytes int64
	rawMax   int

	mu       sync.Mutex // Raw/Stats may be read while Next runs
	reads    int
	total    int64
	first    time.Time
	last     time.Time
	raw      []byte
	rawTrunc bool
	err      error // first error the body returned, io.EOF included
}

func (c *counter) Read(p []byte) (int, error) {
	c.mu.Lock()
	remain := c.maxBytes - c.total
	c.mu.Unlock()
	// Ask for one byte beyond the limit so that a body of exactly MaxBytes
	// ends cleanly while a longer one is caught.
	if int64(len(p)) > remain+1 {
		p = p[:remain+1]
	}
	n, err := c.src.Read(p)
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if int64(n) > remain {
		n = int(remain)
		err = fmt.Errorf("%w (%d bytes)", ErrByteLimit, c.maxBytes)
	}
	if n > 0 {
		c.reads++
		c.total += int64(n)
		if c.first.IsZero() {
			c.first = now
		}
		c.last = now
		if c.rawMax > 0 {
			keep := min(n, c.rawMax-len(c.raw))
			c.raw = append(c.raw, p[:keep]...)
			if keep < n {
				c.rawTrunc = true
			}
		}
	}
	if err != nil && c.err == nil {
		c.err = err
	}
	return n, err
}

func (c *counter) stamp() (int, time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reads, c.last
}

func (c *counter) error() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *counter) rawCopy() ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Clone(c.raw), c.rawTrunc
}

func (c *counter) stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Stats{Reads: c.reads, Bytes: c.total, FirstRead: c.first, LastRead: c.last}
}

var bom = []byte{0xEF, 0xBB, 0xBF}

// normalizer strips one leading BOM and turns CRLF and lone CR into LF, so
// that r3labs' framing only ever sees "\n\n" terminators. It rewrites in
// place (the output is never longer than the input) and never holds back a
// byte except a possible partial BOM at the very start.
type normalizer struct {
	src       io.Reader
	bomDone   bool
	held      []byte // leading bytes that may still be a BOM
	skipLF    bool   // the last byte seen was CR, already emitted as LF
	lastLF    bool   // the last byte emitted was LF (a terminator may straddle reads)
	out       []byte // output that did not fit in p (only around the BOM)
	err       error  // deferred error from src
	delivered int64  // bytes handed to the scanner
}

func (z *normalizer) Read(p []byte) (int, error) {
	total := 0 // normalised bytes gathered in p by this call
	for {
		if len(z.out) > 0 {
			n := copy(p, z.out)
			z.out = z.out[n:]
			z.delivered += int64(n)
			return n, nil
		}
		if z.err != nil {
			if total > 0 {
				break // deliver; the error follows on the next call
			}
			if len(z.held) > 0 {
				// The stream ended inside what looked like a BOM: those
				// bytes were data after all.
				z.out, z.held, z.bomDone = z.transform(z.held), nil, true
				z.lastLF = len(z.out) > 0 && z.out[len(z.out)-1] == '\n'
				continue
			}
			return 0, z.err
		}
		if len(p) == total {
			if total > 0 {
				break
			}
			return 0, nil
		}
		n, err := z.src.Read(p[total:])
		z.err = err
		if !z.bomDone && n > 0 {
			// total is 0 here: bytes are only gathered once bomDone is set.
			buf := append(z.held, p[:n]...)
			switch {
			case len(buf) >= len(bom) && bytes.HasPrefix(buf, bom):
				buf = buf[len(bom):]
			case len(buf) < len(bom) && bytes.HasPrefix(bom, buf):
				z.held = buf
				continue
			}
			z.held, z.bomDone = nil, true
			// append made buf a fresh slice (held is never p), and it may be
			// longer than p, so it goes out through z.out.
			z.out = z.transform(buf)
			z.lastLF = len(z.out) > 0 && z.out[len(z.out)-1] == '\n'
			continue
		}
		out := z.transform(p[total : total+n])
		if len(out) == 0 {
			// Nothing new (a lone LF after CR, or an empty read): read
			// again rather than return (0, nil), which bufio counts as no
			// progress.
			continue
		}
		term := (z.lastLF && out[0] == '\n') || bytes.Contains(out, lflf)
		z.lastLF = out[len(out)-1] == '\n'
		total += len(out)
		if term {
			break
		}
		// No event can end in these bytes, so handing them over now would
		// only make r3labs rescan its whole buffer (five bytes.Index calls
		// per read: quadratic for a big event arriving in small reads).
		// Keep filling p instead; this delays no event, since the scanner
		// could not return one before a blank line arrives anyway.
	}
	z.delivered += int64(total)
	return total, nil
}

var lflf = []byte("\n\n")

// transform rewrites b in place and returns the shortened slice.
func (z *normalizer) transform(b []byte) []byte {
	if !z.skipLF && bytes.IndexByte(b, '\r') < 0 {
		return b // the common LF-only case stays a plain copy
	}
	w := 0
	for _, c := range b {
		if z.skipLF {
			z.skipLF = false
			if c == '\n' {
				continue
			}
		}
		if c == '\r' {
			c = '\n'
			z.skipLF = true
		}
		b[w] = c
		w++
	}
	return b[:w]
}

// parseBlock interprets one block (normalised: lines end with LF and there is
// no blank line inside except possibly leading/trailing ones) per WHATWG
// §9.2.6. lastID is the last event ID buffer, which outlives blocks.
func parseBlock(tok []byte, lastID *string) Event {
	ev := Event{Size: len(tok)}
	var (
		firstData []byte // data of the first line, kept unjoined if alone
		joined    []byte
		dataLines int
		comments  []byte
	)
	for len(tok) > 0 {
		line := tok
		if i := bytes.IndexByte(tok, '\n'); i >= 0 {
			line, tok = tok[:i], tok[i+1:]
		} else {
			tok = nil
		}
		if len(line) == 0 {
			continue
		}
		if line[0] == ':' {
			if ev.HasComment {
				comments = append(comments, '\n')
			}
			ev.HasComment = true
			comments = append(comments, trimSpace(line[1:])...)
			continue
		}
		field, value := line, []byte(nil)
		if i := bytes.IndexByte(line, ':'); i >= 0 {
			field, value = line[:i], trimSpace(line[i+1:])
		}
		switch string(field) {
		case "data":
			switch dataLines {
			case 0:
				firstData = value
			case 1:
				joined = append(append(append(joined, firstData...), '\n'), value...)
			default:
				joined = append(append(joined, '\n'), value...)
			}
			dataLines++
		case "event":
			ev.Event = string(value)
		case "id":
			if bytes.IndexByte(value, 0) >= 0 {
				ev.Ignored = append(ev.Ignored, string(line))
				continue
			}
			ev.ID, ev.HasID = string(value), true
			*lastID = ev.ID
		case "retry":
			if !digits(value) {
				ev.Ignored = append(ev.Ignored, string(line))
				continue
			}
			ev.Retry = string(value)
		default:
			ev.Ignored = append(ev.Ignored, string(line))
		}
	}
	switch dataLines {
	case 0:
	case 1:
		ev.Data = string(firstData)
	default:
		ev.Data = string(joined)
	}
	ev.HasData = dataLines > 0
	ev.Dispatched = ev.HasData // each data line adds an LF, so the buffer is non-empty
	ev.Comment = string(comments)
	ev.LastEventID = *lastID
	return ev
}

func trimSpace(b []byte) []byte {
	if len(b) > 0 && b[0] == ' ' {
		return b[1:]
	}
	return b
}

// digits reports a non-empty run of ASCII digits. WHATWG's "only ASCII
// digits" is read as excluding the empty string, as Chromium and Firefox do.
func digits(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
