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

// reportUnrun adds a not-run case for every selected case Ginkgo never
// reported: when the run is interrupted before the suite's cases start
// (during setup or the preflight), Ginkgo reports none, and the reports
// must still list every case.
func (st *runState) reportUnrun() {
	ids, err := Filters{LabelFilter: st.cfg.LabelFilter, Focus: st.cfg.Focus}.Select()
	if err != nil {
		return
	}
	st.mu.Lock()
	have := map[string]bool{}
	for _, c := range st.cases {
		have[c.ID] = true
	}
	reason := "not run: the run was interrupted before its cases"
	if st.setupErr != nil {
		first, _, _ := strings.Cut(st.setupErr.Error(), "\n")
		reason = "not run: the run stopped before its cases: " + first
	}
	var added []report.Case
	for _, id := range ids {
		if have[id] {
			continue
		}
		s, _ := Lookup(id)
		var row *Row
		if _, rowID, ok := strings.Cut(id, "/"); ok {
			for i := range s.Rows {
				if s.Rows[i].ID == rowID {
					row = &s.Rows[i]
				}
			}
		}
		_, title := caseText(s, row)
		c := st.newCase(s, row, id, title)
		c.Outcome, c.Reason = report.NotRun, reason
		added = append(added, *c)
	}
	st.cases = append(st.cases, added...)
	st.mu.Unlock()
	if st.cfg.OnCase != nil {
		for _, c := range added {
			st.cfg.OnCase(c)
		}
	}
}
