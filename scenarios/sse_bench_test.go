package scenarios

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcpconform/mcpconform/mockserver"
	"github.com/mcpconform/mcpconform/mockserver/ssescript"
	"github.com/mcpconform/mcpconform/proxyundertest"
	"github.com/mcpconform/mcpconform/report"
)

// The figures behind SSE-STREAM-001's rule (gap 300 ms, tolerance 250 ms):
// how large a delay the incremental check reliably flags, and how often it
// flags a proxy that adds none while the machine is busy. Each b.Loop
// iteration is one whole incremental check (sseEvents events, the default gap
// apart, over real loopback HTTP through h.Stream and h.judgeIncremental, the
// scenario's own code), so -benchtime=Nx means N trials per figure:
//
//	make bench-detect            (DETECTN trials per delay, default 10)
//	go test -run='^$' -bench=SSE -benchtime=20x ./scenarios/

// detectDelays are the injected per-event delays.
var detectDelays = []time.Duration{0, 50, 100, 150, 200, 250, 300, 400, 600}

// BenchmarkSSEDetection reports, per injected delay d, the fraction of
// incremental checks that flag the stream ("flagged") and the median of each
// trial's worst lateness ("late-ms").
func BenchmarkSSEDetection(b *testing.B) {
	for _, d := range detectDelays {
		d *= time.Millisecond
		b.Run(fmt.Sprintf("delay=%dms", d.Milliseconds()), func(b *testing.B) {
			h := benchH(b)
			var cur atomic.Pointer[http.Handler]
			srv := serveLoopback(b, delayLine(d, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				(*cur.Load()).ServeHTTP(w, r)
			})))
			t := Target{Name: "bench", MCPURL: srv, Hop: report.HopClientProxy}
			var st trialStats
			for b.Loop() {
				rec := ssescript.NewRecorder()
				hd := rec.Handler(ssescript.Script{Steps: ssescript.Sequence(sseEvents, h.sseGap(), nil)})
				cur.Store(&hd)
				st.add(h.incrementalTrial(t, rec))
			}
			st.report(b, "flagged")
		})
	}
}

// BenchmarkSSEFalseAlarm runs the check through the reference proxy against
// the mock (the real pass-through path), on an idle machine and with
// CPU-bound goroutines on every other core, and reports the fraction flagged
// ("false-alarms") and the median worst lateness.
func BenchmarkSSEFalseAlarm(b *testing.B) {
	for _, load := range []string{"idle", "cpu-burn"} {
		b.Run(load, func(b *testing.B) {
			h := benchH(b)
			tg, err := proxyundertest.Open(proxyundertest.BuiltinPrefix+"reference", h.Mock().MCPURL(), proxyundertest.Options{Roles: []string{"T"}})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = tg.Close() })
			t := Target{Name: "bench", MCPURL: tg.MCPURL, Hop: report.HopClientProxy}
			if load == "cpu-burn" {
				stop := burnCPU(max(1, runtime.GOMAXPROCS(0)-1))
				defer stop()
			}
			var st trialStats
			for b.Loop() {
				h.Mock().Disarm()
				rec := h.Mock().ArmStream("bench", mockserver.StreamMatch(mockserver.MCPPath),
					ssescript.Script{Steps: ssescript.Sequence(sseEvents, h.sseGap(), nil)})
				st.add(h.incrementalTrial(t, rec))
			}
			st.report(b, "false-alarms")
		})
	}
}

// incrementalTrial is one GET stream judged as SSE-STREAM-001/get judges
// it; it returns whether it was flagged and the worst lateness seen.
func (h *H) incrementalTrial(t Target, rec *ssescript.Recorder) (bool, time.Duration) {
	h.c = &report.Case{}
	res := h.Stream(t, streamGet(t.MCPURL), StreamOptions{Recorder: rec, MaxWait: time.Duration(sseEvents)*h.sseGap() + 5*time.Second})
	var worst time.Duration
	for i, e := range res.Events {
		if i < len(res.Sent) && !res.Sent[i].IsZero() {
			worst = max(worst, e.Arrived.Sub(res.Sent[i]))
		}
	}
	return h.judgeIncremental(t.Hop, res, sseEvents) != nil, worst
}

type trialStats struct {
	n, flagged int
	late       []time.Duration
}

func (s *trialStats) add(flagged bool, late time.Duration) {
	s.n++
	if flagged {
		s.flagged++
	}
	s.late = append(s.late, late)
}

func (s *trialStats) report(b *testing.B, unit string) {
	if s.n == 0 {
		return
	}
	slices.Sort(s.late)
	b.ReportMetric(float64(s.flagged)/float64(s.n), unit)
	b.ReportMetric(float64(s.late[len(s.late)/2].Microseconds())/1000, "late-ms")
	b.ReportMetric(float64(s.late[len(s.late)-1].Microseconds())/1000, "max-late-ms")
	b.ReportMetric(0, "ns/op") // wall time per trial is the script's own waits
}

// benchH is a harness bound to a fresh mock, with the default timing rule.
func benchH(b *testing.B) *H {
	b.Helper()
	m, err := mockserver.Start(mockserver.Options{Addr: "127.0.0.1:0"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = m.Close() })
	c := newClient(0)
	b.Cleanup(c.close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	b.Cleanup(cancel)
	return &H{ctx: ctx, env: &Env{Mock: m}, run: &runState{client: c}, c: &report.Case{}, ev: newEvidenceLog()}
}

// delayLine holds every flushed write for d, then writes and flushes it in
// order: each event arrives d late but keeps its spacing, like a proxy that
// coalesces for d (coalesce-200ms) without merging events, so only the
// lateness half of the rule can catch it. The script stamps an event when
// its flush returns, which here is when the delay starts.
func delayLine(d time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		dw := &delayWriter{w: w, d: d, q: make(chan heldWrite, 64), done: make(chan struct{})}
		go dw.pump(r.Context(), http.NewResponseController(w))
		defer func() {
			dw.Flush()
			close(dw.q)
			<-dw.done
		}()
		next.ServeHTTP(dw, r)
	})
}

type heldWrite struct {
	at time.Time
	b  []byte
}

type delayWriter struct {
	w    http.ResponseWriter
	d    time.Duration
	buf  []byte
	q    chan heldWrite
	done chan struct{}
}

func (dw *delayWriter) Header() http.Header  { return dw.w.Header() }
func (dw *delayWriter) WriteHeader(code int) { dw.w.WriteHeader(code) }
func (dw *delayWriter) Write(p []byte) (int, error) {
	dw.buf = append(dw.buf, p...)
	return len(p), nil
}
func (dw *delayWriter) Flush() {
	dw.q <- heldWrite{at: time.Now().Add(dw.d), b: dw.buf}
	dw.buf = nil
}

func (dw *delayWriter) pump(ctx context.Context, rc *http.ResponseController) {
	defer close(dw.done)
	for hw := range dw.q {
		if wait := time.Until(hw.at); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
			}
		}
		if ctx.Err() != nil {
			continue // drain: the client left
		}
		if len(hw.b) > 0 {
			_, _ = dw.w.Write(hw.b)
		}
		_ = rc.Flush()
	}
}

// burnCPU keeps n goroutines busy until stop is called (bounded to one a
// core, and to 15 minutes should stop never be called).
func burnCPU(n int) (stop func()) {
	n = min(n, runtime.GOMAXPROCS(0))
	var quit atomic.Bool
	var wg sync.WaitGroup
	deadline := time.AfterFunc(15*time.Minute, func() { quit.Store(true) })
	for range n {
		wg.Go(func() {
			x := uint64(1)
			for !quit.Load() {
				for range 1 << 12 {
					x = x*6364136223846793005 + 1442695040888963407
				}
			}
			_ = x
		})
	}
	return func() {
		deadline.Stop()
		quit.Store(true)
		wg.Wait()
	}
}
