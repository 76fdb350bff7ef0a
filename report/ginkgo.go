package report

import (
	"strings"

	"github.com/onsi/ginkgo/v2/types"
)

// FromSpec completes a Case from the Ginkgo report of the spec that ran it:
// outcome, duration and, when the spec body did not set them, the reason.
// failOutcome is what a failed check means at the scenario's level (fail,
// warn or info).
func FromSpec(sr types.SpecReport, c *Case, failOutcome Outcome) {
	c.DurationMS = float64(sr.RunTime.Microseconds()) / 1000
	msg := strings.TrimSpace(sr.Failure.Message)
	switch sr.State {
	case types.SpecStatePassed:
		c.Outcome = Pass
	case types.SpecStateSkipped, types.SpecStatePending:
		if c.Outcome != Skip {
			c.Outcome = NotRun
			if c.Reason == "" {
				c.Reason = "not run: the run stopped before this case (fail-fast or interrupt)"
			}
		}
	case types.SpecStateFailed:
		switch c.Outcome {
		case Error, Warn, Info:
			// Decided by the spec body: a harness error, or a check whose
			// own level is below its scenario's.
		default:
			c.Outcome = failOutcome
		}
		if c.Message == "" {
			c.Message = msg
		}
	case types.SpecStateTimedout:
		c.Outcome = Error
		c.Reason = "the scenario did not finish within its timeout; the harness stopped waiting"
		if c.Message == "" {
			c.Message = msg
		}
	case types.SpecStateInterrupted, types.SpecStateAborted:
		c.Outcome = NotRun
		c.Reason = "interrupted: " + firstLine(msg)
	case types.SpecStatePanicked:
		c.Outcome = Error
		c.Reason = "harness panic: " + firstLine(msg)
		c.Message = msg + "\n" + sr.Failure.Location.FullStackTrace
	default:
		c.Outcome = Error
		c.Reason = "unexpected spec state " + sr.State.String()
	}
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}
