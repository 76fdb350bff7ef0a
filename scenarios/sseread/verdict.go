package sseread

import (
	"fmt"
	"strings"
	"time"

	"github.com/mcpconform/mcpconform/report"
)

// Defaults of the streaming rule in SCENARIOS.md ("Timing rules").
const (
	// DefaultGap: the mock sends events this far apart.
	DefaultGap = 300 * time.Millisecond
	// DefaultTolerance: how late an event may arrive. Real proxies that
	// coalesce writes for up to ~200 ms are conformant and must pass.
	DefaultTolerance = 250 * time.Millisecond
)

// Buffered reports buffering: two events sent >= gap apart arrived in the
// same underlying read, or an event arrived later than its send time plus
// tolerance. reason names the events and times (relative to the first send).
//
// sent[i] is the send time of events[i] (align them first, e.g. keep only the
// blocks the script stamped, in order); a zero time means unknown and the
// event is skipped, as are events with no read index. Extra events or send
// times beyond the shorter slice are ignored: counting is the caller's check.
func Buffered(events []Event, sent []time.Time, gap, tolerance time.Duration) (bool, string) {
	n := min(len(events), len(sent))
	var base time.Time
	for i := range n {
		if !sent[i].IsZero() {
			base = sent[i]
			break
		}
	}
	rel := func(t time.Time) string { return fmt.Sprintf("+%dms", t.Sub(base).Milliseconds()) }
	name := func(i int) string {
		if events[i].HasID {
			return fmt.Sprintf("event #%d (id %q)", events[i].Index, events[i].ID)
		}
		return fmt.Sprintf("event #%d", events[i].Index)
	}

	var reasons []string
	// Same-read check: within each run of events sharing a read index,
	// compare the earliest and latest send times.
	for i := 0; i < n; {
		j := i
		for j+1 < n && events[j+1].Read == events[i].Read {
			j++
		}
		if events[i].Read > 0 {
			lo, hi := -1, -1
			for k := i; k <= j; k++ {
				if sent[k].IsZero() {
					continue
				}
				if lo < 0 || sent[k].Before(sent[lo]) {
					lo = k
				}
				if hi < 0 || sent[k].After(sent[hi]) {
					hi = k
				}
			}
			if lo >= 0 && sent[hi].Sub(sent[lo]) >= gap {
				reasons = append(reasons, fmt.Sprintf(
					"%s sent %s and %s sent %s (%dms apart, gap %dms) arrived in the same body read #%d at %s",
					name(lo), rel(sent[lo]), name(hi), rel(sent[hi]),
					sent[hi].Sub(sent[lo]).Milliseconds(), gap.Milliseconds(),
					events[i].Read, rel(events[i].Arrived)))
			}
		}
		i = j + 1
	}
	for i := range n {
		if sent[i].IsZero() || events[i].Read == 0 {
			continue
		}
		if late := events[i].Arrived.Sub(sent[i]); late > tolerance {
			reasons = append(reasons, fmt.Sprintf(
				"%s sent %s arrived %s, %dms late (tolerance %dms)",
				name(i), rel(sent[i]), rel(events[i].Arrived), late.Milliseconds(), tolerance.Milliseconds()))
		}
	}
	if len(reasons) == 0 {
		return false, ""
	}
	const show = 5
	msg := strings.Join(reasons[:min(show, len(reasons))], "; ")
	if len(reasons) > show {
		msg += fmt.Sprintf("; and %d more", len(reasons)-show)
	}
	return true, msg
}

// Report converts e to the report model. start is the exchange start; sent
// is when the mock wrote the event (zero → SentMS -1, unknown).
//
// report.SSEEvent has no Dispatched/Incomplete flags: an incomplete final
// block converts like any other, so check Event.Incomplete before converting
// when that matters.
func (e Event) Report(start, sent time.Time) report.SSEEvent {
	out := report.SSEEvent{
		ID:      e.ID,
		Event:   e.Event,
		Data:    e.Data,
		Retry:   e.Retry,
		Comment: e.Comment,
		SentMS:  -1,
		Read:    e.Read,
	}
	if !e.Arrived.IsZero() {
		out.ArrivedMS = ms(e.Arrived.Sub(start))
	}
	if !sent.IsZero() {
		out.SentMS = ms(sent.Sub(start))
	}
	return out
}

// ToReport converts a timeline; sent is aligned with events as in Buffered
// and may be shorter or nil.
func ToReport(events []Event, start time.Time, sent []time.Time) []report.SSEEvent {
	out := make([]report.SSEEvent, len(events))
	for i, e := range events {
		var s time.Time
		if i < len(sent) {
			s = sent[i]
		}
		out[i] = e.Report(start, s)
	}
	return out
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
