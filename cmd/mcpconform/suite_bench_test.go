package main

import (
	"testing"
	"time"

	"github.com/mcpconform/mcpconform/report"
)

// BenchmarkReferenceSuite measures the default suite against the built-in
// reference proxy, as `make run` does (one child process per iteration,
// because Ginkgo runs once per process). It reports the wall time of the
// run and the share of it spent in the SSE area, whose scripted gaps and
// idle stream are the suite's deliberate waits: the rest is overhead.
//
//	go test -run='^$' -bench=ReferenceSuite -benchtime=3x ./cmd/mcpconform/
func BenchmarkReferenceSuite(b *testing.B) {
	var wall, sse, other time.Duration
	for b.Loop() {
		start := time.Now()
		cr := runChild(b, 2*time.Minute, "run", "--proxy", "builtin:reference")
		wall += time.Since(start)
		if cr.code != exitOK {
			b.Fatalf("reference run exited %d:\n%s", cr.code, cr.output)
		}
		for _, c := range cr.run.Cases {
			d := time.Duration(c.DurationMS * float64(time.Millisecond))
			if c.Area == "sse" {
				sse += d
			} else if c.Outcome != report.Skip {
				other += d
			}
		}
	}
	n := float64(b.N)
	b.ReportMetric(wall.Seconds()/n, "wall-s/run")
	b.ReportMetric(sse.Seconds()/n, "sse-area-s/run")
	b.ReportMetric(other.Seconds()/n, "other-areas-s/run")
	b.ReportMetric(wall.Seconds()/sse.Seconds(), "wall/sse-waits")
}
