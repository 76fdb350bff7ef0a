package sseread_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/mcpconform/mcpconform/mockserver/ssescript"
	"github.com/mcpconform/mcpconform/scenarios/sseread"
)

// BenchmarkReadFraming measures framing + parsing throughput from memory, so
// the reader is never the bottleneck when the harness judges a proxy.
func BenchmarkReadFraming(b *testing.B) {
	cases := []struct {
		name string
		s    ssescript.Script
	}{
		{"small-LF", ssescript.Script{Steps: ssescript.Many(2000, 200)}},
		{"small-CRLF", ssescript.Script{Steps: ssescript.Many(2000, 200), LineEnding: "\r\n"}},
		{"multiline-CR", ssescript.Script{Steps: ssescript.Sequence(2000, 0, func(i int) string {
			return ssescript.Payload(i, 60) + "\n" + ssescript.Payload(i, 60) + "\n" + ssescript.Payload(i, 60)
		}), LineEnding: "\r"}},
		{"1MiB-events", ssescript.Script{Steps: []ssescript.Step{
			ssescript.Big("1", 1<<20), ssescript.Big("2", 1<<20), ssescript.Big("3", 1<<20), ssescript.Big("4", 1<<20)}}},
	}
	for _, tc := range cases {
		stream := tc.s.Bytes()
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(stream)))
			b.ReportAllocs()
			for b.Loop() {
				evs, err := sseread.Read(context.Background(), bytes.NewReader(stream), sseread.Options{MaxRaw: -1}, nil)
				if err != nil || len(evs) == 0 {
					b.Fatal(len(evs), err)
				}
			}
		})
	}
	// A big event trickling in small reads (a proxy re-chunking into 1 KiB
	// pieces) must not make framing quadratic.
	stream := ssescript.Script{Steps: []ssescript.Step{ssescript.Big("1", 4<<20)}}.Bytes()
	b.Run("4MiB-event-in-1KiB-reads", func(b *testing.B) {
		b.SetBytes(int64(len(stream)))
		for b.Loop() {
			body := &capped{r: bytes.NewReader(stream), max: 1 << 10}
			evs, err := sseread.Read(context.Background(), body, sseread.Options{MaxRaw: -1, MaxEventSize: 8 << 20}, nil)
			if err != nil || len(evs) != 1 {
				b.Fatal(len(evs), err)
			}
		}
	})
}

// capped returns at most max bytes per Read.
type capped struct {
	r   *bytes.Reader
	max int
}

func (c *capped) Read(p []byte) (int, error) { return c.r.Read(p[:min(len(p), c.max)]) }
