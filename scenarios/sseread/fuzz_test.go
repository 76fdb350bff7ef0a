package sseread

import (
	"bytes"
	"context"
	"errors"
	"io"
	"reflect"
	"testing"
)

// refParse is a deliberately naive WHATWG parser over the whole input, line
// by line, with no framing library: the oracle the streaming reader (r3labs
// framing + normaliser + parseBlock) is compared against.
func refParse(in []byte) []view {
	in = bytes.TrimPrefix(in, bom)
	var (
		out    []view
		cur    view
		lines  int
		data   []string
		lastID string
		prevID string
		ignore []string
	)
	finish := func(incomplete bool) {
		if lines == 0 {
			return
		}
		if len(data) > 0 {
			cur.Data, cur.HasData = joinLF(data), true
		}
		cur.Ignored = ignore
		if incomplete {
			cur.Incomplete, lastID = true, prevID
		} else {
			cur.Dispatched = cur.HasData
		}
		cur.LastEventID = lastID
		out = append(out, cur)
		cur, lines, data, ignore, prevID = view{}, 0, nil, nil, lastID
	}
	for len(in) > 0 {
		i := bytes.IndexAny(in, "\r\n")
		var line []byte
		terminated := i >= 0
		if terminated {
			line = in[:i]
			if in[i] == '\r' && i+1 < len(in) && in[i+1] == '\n' {
				in = in[i+2:]
			} else {
				in = in[i+1:]
			}
		} else {
			line, in = in, nil
		}
		if len(line) == 0 {
			finish(false)
			continue
		}
		lines++
		if line[0] == ':' {
			if cur.HasComment {
				cur.Comment += "\n"
			}
			cur.HasComment = true
			cur.Comment += string(bytes.TrimPrefix(line[1:], []byte(" ")))
			continue
		}
		name, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimPrefix(value, []byte(" "))
		switch string(name) {
		case "data":
			data = append(data, string(value))
		case "event":
			cur.Event = string(value)
		case "id":
			if bytes.Contains(value, []byte{0}) {
				ignore = append(ignore, string(line))
			} else {
				cur.ID, cur.HasID, lastID = string(value), true, string(value)
			}
		case "retry":
			if digits(value) {
				cur.Retry = string(value)
			} else {
				ignore = append(ignore, string(line))
			}
		default:
			ignore = append(ignore, string(line))
		}
	}
	finish(true)
	return out
}

func joinLF(s []string) string {
	var b bytes.Buffer
	for i, x := range s {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(x)
	}
	return b.String()
}

// sizedChunks splits its input into reads whose sizes cycle through sizes.
type sizedChunks struct {
	b     []byte
	sizes []byte
	k     int
}

func (s *sizedChunks) Read(p []byte) (int, error) {
	if len(s.b) == 0 {
		return 0, io.EOF
	}
	n := int(s.sizes[s.k%len(s.sizes)])%17 + 1
	s.k++
	n = copy(p[:min(n, len(p))], s.b)
	s.b = s.b[n:]
	return n, nil
}

func FuzzRead(f *testing.F) {
	for _, seed := range []string{
		"data: a\ndata: b\n\n",
		"\uFEFFid: 1\r\ndata: x\r\n\r\n:\r\rretry: 12a\n\n",
		"data: a\n\rdata: b\r\n\rdata: c\r\r\nid: a\x00b\n\nid:\ndata\n\ndata: tail",
		"event: message\nid: 7\ndata: \n\n: keepalive\n\n",
		"\xEF\xBB",
		"\r\n\r\n\n\r:x",
	} {
		f.Add([]byte(seed), []byte{3, 1, 7})
	}
	f.Fuzz(func(t *testing.T, in, sizes []byte) {
		if len(sizes) == 0 {
			sizes = []byte{255}
		}
		opt := Options{MaxEventSize: 256, MaxEvents: 32, MaxBytes: 8 << 10, MaxRaw: 8 << 10}
		r := NewReader(&sizedChunks{b: in, sizes: sizes}, opt)
		evs, err := r.ReadAll(context.Background(), nil)
		if len(evs) > opt.MaxEvents {
			t.Fatalf("%d events > MaxEvents", len(evs))
		}
		for _, e := range evs {
			if e.Size > opt.MaxEventSize || len(e.Data) > opt.MaxEventSize {
				t.Fatalf("event of %d bytes > MaxEventSize", e.Size)
			}
		}
		raw, _ := r.Raw()
		if !bytes.HasPrefix(in, raw) || (err == nil && !bytes.Equal(raw, in)) {
			t.Fatalf("raw bytes %q are not the input %q", raw, in)
		}
		want := refParse(in)
		got := views(evs)
		switch {
		case err == nil:
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("input %q\n got %+v\nwant %+v", in, got, want)
			}
		case errors.Is(err, ErrEventTooLarge), errors.Is(err, ErrEventLimit):
			// What was returned before the limit must match the oracle.
			if len(got) > len(want) || (len(got) > 0 && !reflect.DeepEqual(got, want[:len(got)])) {
				t.Fatalf("input %q (err %v)\n got %+v\nwant prefix of %+v", in, err, got, want)
			}
		case errors.Is(err, ErrByteLimit):
			if len(in) <= int(opt.MaxBytes) {
				t.Fatalf("byte limit on %d bytes", len(in))
			}
		default:
			t.Fatalf("unexpected error %v", err)
		}
	})
}
