package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/mcpconform/mcpconform/report"
	"github.com/mcpconform/mcpconform/scenarios"
)

// Baseline is a list of failures a project accepts for now. A run turns a
// listed failure into expected-fail; a listed case that passes again makes
// the entry stale, and a stale entry fails the run, so the list only shrinks.
type Baseline struct {
	ExpectedFailures []BaselineEntry `yaml:"expected-failures"`
}

// BaselineEntry names a case ("AUTH-HDR-001/WWWA-13") or a whole scenario
// ("AUTH-HDR-001", covering all its rows).
type BaselineEntry struct {
	ID     string `yaml:"id"`
	Reason string `yaml:"reason"`
}

func loadBaseline(path string) (*Baseline, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var b Baseline
	if err := dec.Decode(&b); err != nil && err != io.EOF {
		return nil, fmt.Errorf("baseline %s: %w", path, err)
	}
	for _, e := range b.ExpectedFailures {
		if e.ID == "" {
			return nil, fmt.Errorf("baseline %s: an entry has no id", path)
		}
		// A misspelt ID would silently match nothing; refuse it.
		sc, ok := scenarios.Lookup(e.ID)
		if !ok {
			return nil, fmt.Errorf("baseline %s: %q is not a scenario ID (see `mcpconform list`)", path, e.ID)
		}
		if _, row, hasRow := strings.Cut(e.ID, "/"); hasRow {
			found := false
			for _, id := range sc.CaseIDs() {
				found = found || strings.EqualFold(id, sc.ID+"/"+row)
			}
			if !found {
				return nil, fmt.Errorf("baseline %s: %q: scenario %s has no row %q", path, e.ID, sc.ID, row)
			}
		}
	}
	return &b, nil
}

// covers reports whether entry e names case c.
func (e BaselineEntry) covers(c *report.Case) bool {
	return strings.EqualFold(e.ID, c.ID) || strings.EqualFold(e.ID, c.Scenario)
}

// entryFor returns the entry that accepts c's failure or warning, if any.
func (b *Baseline) entryFor(c *report.Case) (BaselineEntry, bool) {
	for _, e := range b.ExpectedFailures {
		if e.covers(c) {
			return e, true
		}
	}
	return BaselineEntry{}, false
}

// apply marks listed failures (fail, and warn) as expected-fail and returns
// the stale entries: those with at least one matching case that passed and
// none that still misbehaves. Entries whose cases did not run (filtered out,
// skipped, errored) are neither.
func (b *Baseline) apply(run *report.Run) (stale []string) {
	for _, e := range b.ExpectedFailures {
		passed, failing := 0, 0
		for i := range run.Cases {
			c := &run.Cases[i]
			if !e.covers(c) {
				continue
			}
			switch c.Outcome {
			case report.Fail, report.Warn:
				c.Outcome = report.ExpectedFail
				c.BaselineReason = e.Reason
				failing++
			case report.ExpectedFail, report.Info:
				failing++
			case report.Pass:
				passed++
			}
		}
		if passed > 0 && failing == 0 {
			stale = append(stale, fmt.Sprintf("%s (%s)", e.ID, firstLineOf(e.Reason)))
		}
	}
	return stale
}

func firstLineOf(s string) string {
	l, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	if l == "" {
		return "no reason given"
	}
	return l
}

// baselineFrom lists every case of run that fails, warns or is already an
// expected failure, keeping existing reasons.
func baselineFrom(run *report.Run) *Baseline {
	b := &Baseline{ExpectedFailures: []BaselineEntry{}}
	for _, c := range run.Cases {
		switch c.Outcome {
		case report.Fail, report.Warn, report.ExpectedFail:
		default:
			continue
		}
		reason := c.BaselineReason
		if reason == "" {
			reason = firstLineOf(firstNonEmptyStr(c.Observed, c.Message, c.Reason))
			reason = fmt.Sprintf("%s: %s", c.Outcome, reason)
			if len(reason) > 200 {
				reason = reason[:199] + "…"
			}
		}
		b.ExpectedFailures = append(b.ExpectedFailures, BaselineEntry{ID: c.ID, Reason: reason})
	}
	return b
}

func firstNonEmptyStr(xs ...string) string {
	for _, x := range xs {
		if strings.TrimSpace(x) != "" {
			return x
		}
	}
	return ""
}

func newBaselineCmd(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "baseline results.json",
		Short: "Print a baseline (YAML) that accepts every current failure of a run",
		Long: `Print a baseline file listing every failing, warning or expected-fail case of results.json,
with the observed behaviour as the reason. Save it and pass it to 'run --baseline FILE':
listed failures then count as expected-fail, and an entry whose case passes again fails the
run as stale, so the list only ever shrinks. Edit the reasons before committing it.`,
		Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			run, err := report.ReadJSONFile(args[0])
			if err != nil {
				return usageErr("%v", err)
			}
			b := baselineFrom(run)
			fmt.Fprintf(stdout, "# mcpconform baseline for %s, from %s (%s)\n", run.Proxy.Target, args[0], run.Started.Format("2006-01-02"))
			fmt.Fprintln(stdout, "# Each entry: a case ID (SCENARIO/ROW) or a scenario ID (all its rows), and why it is accepted.")
			enc := yaml.NewEncoder(stdout)
			enc.SetIndent(2)
			if err := enc.Encode(b); err != nil {
				return err
			}
			return enc.Close()
		},
	}
}
