package main

import (
	"testing"
	"time"
)

// BenchmarkJourney measures the authorization journey against the built-in
// reference, one child run per iteration: the real client's cases
// (AUTH-JRN-011, the official Go SDK logging in, control included) and the
// whole journey area, as the sum of their case durations, and the wall time
// of a run limited to the area (process start and mock included).
//
//	go test -run='^$' -bench=Journey -benchtime=5x ./cmd/mcpconform/
func BenchmarkJourney(b *testing.B) {
	var wall, sdk, area time.Duration
	for b.Loop() {
		start := time.Now()
		cr := runChild(b, time.Minute, "run", "--proxy", "builtin:reference", "--label-filter", "journey")
		wall += time.Since(start)
		if cr.code != exitOK {
			b.Fatalf("journey run exited %d:\n%s", cr.code, cr.output)
		}
		for _, c := range cr.run.Cases {
			d := time.Duration(c.DurationMS * float64(time.Millisecond))
			area += d
			if c.Scenario == "AUTH-JRN-011" {
				sdk += d
			}
		}
	}
	n := float64(b.N)
	b.ReportMetric(sdk.Seconds()*1000/n, "real-client-ms/run")
	b.ReportMetric(area.Seconds()*1000/n, "journey-area-ms/run")
	b.ReportMetric(wall.Seconds()/n, "wall-s/run")
}
