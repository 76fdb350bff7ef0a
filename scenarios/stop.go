package scenarios

import (
	"strings"

	"github.com/onsi/ginkgo/v2"

	"github.com/mcpconform/mcpconform/report"
)

// When setup fails (the proxy is unreachable, failed to launch, or failed
// the preflight) no case can judge anything. The CLI says why once, as it
// happens; each case then ends at once as not-run carrying the reason,
// without a progress line of its own (a line per case would bury the one
// that matters), and the reports still list every case.

// notRunAfterSetup ends the case as not-run with the setup failure as its
// reason. It does not return.
func (st *runState) notRunAfterSetup(c *report.Case) {
	first, _, _ := strings.Cut(st.setupErr.Error(), "\n")
	c.Reason = "not run: the run stopped before its cases: " + first
	ginkgo.Skip(c.Reason)
}

// quietAfterSetup reports whether a finished case needs no progress line:
// a case not run because setup failed.
func (st *runState) quietAfterSetup(c *report.Case) bool {
	return st.setupErr != nil && c.Outcome == report.NotRun
}
