package report

import (
	"fmt"
	"sort"
	"strings"
)

// Label is how reports name the proxy: the --name (or the profile's name and
// version) when given, else the target. A launched proxy's target names a
// port that existed only during the run, so a name is what columns and
// suites should carry.
func (p Proxy) Label() string {
	name := strings.TrimSpace(strings.TrimSpace(p.Name + " " + p.Version))
	switch {
	case name != "":
		return name
	case p.Target != "":
		return p.Target
	}
	return "(unnamed)"
}

// Digest is what a reader needs first from a run: which scenarios failed,
// grouped by area and level, and the prerequisites that blocked several
// cases at once. Console, Markdown and HTML all open with it.
type Digest struct {
	// Groups are the failing (fail or error) cases of one area and level,
	// worst level first, then in catalogue order of areas.
	Groups []DigestGroup
	// Causes are the root causes shared by failing cases, each once, with
	// the cases it blocked, most cases first.
	Causes []DigestCause
	// Warnings counts warn outcomes, ExpectedFails baselined failures.
	Warnings, ExpectedFails int
}

// DigestGroup is the failing scenarios of one area at one level.
type DigestGroup struct {
	Area, Level string
	// Scenarios in catalogue order, each with its failing rows.
	Scenarios []DigestScenario
}

// DigestScenario is one failing scenario and how many of its cases failed.
type DigestScenario struct {
	ID     string
	Cases  []string
	Errors int // how many of Cases are harness errors rather than failures
}

// DigestCause is one failed prerequisite and the cases it blocked.
type DigestCause struct {
	Cause string
	Cases []string
}

// NewDigest summarises run.
func NewDigest(run *Run) Digest {
	var d Digest
	type gkey struct{ area, level string }
	groups := map[gkey]*DigestGroup{}
	var order []gkey
	causes := map[string]*DigestCause{}
	var causeOrder []string
	for i := range run.Cases {
		c := &run.Cases[i]
		switch c.Outcome {
		case Warn:
			d.Warnings++
		case ExpectedFail:
			d.ExpectedFails++
		}
		if c.Outcome != Fail && c.Outcome != Error {
			continue
		}
		if c.RootCause != "" {
			dc := causes[c.RootCause]
			if dc == nil {
				dc = &DigestCause{Cause: c.RootCause}
				causes[c.RootCause] = dc
				causeOrder = append(causeOrder, c.RootCause)
			}
			dc.Cases = append(dc.Cases, c.ID)
		}
		k := gkey{c.Area, c.Level}
		g := groups[k]
		if g == nil {
			g = &DigestGroup{Area: c.Area, Level: c.Level}
			groups[k] = g
			order = append(order, k)
		}
		scen := c.Scenario
		if scen == "" {
			scen = c.ID
		}
		var ds *DigestScenario
		for j := range g.Scenarios {
			if g.Scenarios[j].ID == scen {
				ds = &g.Scenarios[j]
			}
		}
		if ds == nil {
			g.Scenarios = append(g.Scenarios, DigestScenario{ID: scen})
			ds = &g.Scenarios[len(g.Scenarios)-1]
		}
		ds.Cases = append(ds.Cases, c.ID)
		if c.Outcome == Error {
			ds.Errors++
		}
	}
	sort.SliceStable(order, func(i, j int) bool {
		if li, lj := levelRank(order[i].level), levelRank(order[j].level); li != lj {
			return li < lj
		}
		return areaRank(order[i].area) < areaRank(order[j].area)
	})
	for _, k := range order {
		d.Groups = append(d.Groups, *groups[k])
	}
	for _, c := range causeOrder {
		d.Causes = append(d.Causes, *causes[c])
	}
	sort.SliceStable(d.Causes, func(i, j int) bool { return len(d.Causes[i].Cases) > len(d.Causes[j].Cases) })
	return d
}

func levelRank(l string) int {
	switch l {
	case "MUST":
		return 0
	case "SHOULD":
		return 1
	}
	return 2
}

// Failing reports whether any case failed or errored.
func (d Digest) Failing() bool { return len(d.Groups) > 0 }

// String of one scenario: "AUTH-HDR-001 (12 rows)" or "SESS-001".
func (s DigestScenario) String() string {
	n := len(s.Cases)
	switch {
	case n == 1 && s.Cases[0] == s.ID:
		if s.Errors > 0 {
			return s.ID + " (error)"
		}
		return s.ID
	case n == 1:
		return s.Cases[0]
	}
	out := fmt.Sprintf("%s (%d rows", s.ID, n)
	if s.Errors > 0 {
		out += fmt.Sprintf(", %d errors", s.Errors)
	}
	return out + ")"
}

// Line is the group as one line: "bridging MUST: AUTH-HDR-001 (12 rows), HTTP-E2E-002".
func (g DigestGroup) Line() string {
	parts := make([]string, len(g.Scenarios))
	for i, s := range g.Scenarios {
		parts[i] = s.String()
	}
	level := g.Level
	if level == "" {
		level = "?"
	}
	return g.Area + " " + level + ": " + strings.Join(parts, ", ")
}

// CaseList names up to max cases, then "and N more".
func CaseList(ids []string, max int) string {
	if len(ids) <= max {
		return strings.Join(ids, ", ")
	}
	return strings.Join(ids[:max], ", ") + fmt.Sprintf(" and %d more", len(ids)-max)
}

// RunLabels names each of several runs for columns and suites: its Label,
// with the MCP revision added where two runs share a label (one proxy judged
// against several revisions), and the run's number where that is not
// enough either.
func RunLabels(runs []*Run) []string {
	out := make([]string, len(runs))
	count := map[string]int{}
	for i, r := range runs {
		out[i] = r.Proxy.Label()
		count[out[i]]++
	}
	seen := map[string]int{}
	for i, r := range runs {
		if count[out[i]] > 1 && r.SpecVersion != "" {
			out[i] += " · MCP " + r.SpecVersion
		}
	}
	for _, l := range out {
		seen[l]++
	}
	for i := range out {
		if seen[out[i]] > 1 {
			out[i] += fmt.Sprintf(" #%d", i+1)
		}
	}
	return out
}
