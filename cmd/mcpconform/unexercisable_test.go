package main

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcpconform/mcpconform/report"
	"github.com/mcpconform/mcpconform/scenarios"
)

// unexercisable lists ways to leave a check with nothing to judge. Such a
// case must end skip or error with the reason: a pass there would be a
// pass for a check that never ran. Each entry runs one child with the
// case alone; add entries as scenarios learn to tell (the SSE and legacy
// areas are next).
var unexercisable = []struct {
	Case  string   // the case ID judged
	Proxy string   // the built-in proxy that leaves nothing to judge
	Args  []string // extra run flags
	// AddRow: Case is a row its scenario does not have; the child adds it
	// before running (a new row that no branch of the check handles).
	AddRow bool
	How    string
	// Allowed outcomes; nil means skip or error.
	Allowed []report.Outcome
}{
	{Case: "AUTH-REF-002", Proxy: "static-token", Args: []string{"--role", "I"},
		How: "the proxy never refreshes, so no refresh token is ever rotated"},
	// 5 s tokens: this proxy refreshes once a token expires, which a 1 s
	// token could do within the case on a loaded machine.
	{Case: "AUTH-REF-002", Proxy: "no-retry-on-401", Args: []string{"--role", "I", "--token-ttl", "5s"},
		How: "the proxy does not refresh after a revocation"},
	{Case: "AUTH-TOK-001", Proxy: "static-token", Args: []string{"--role", "I"},
		How: "the proxy makes no token request after the revocations: no refresh to carry `resource`"},
	{Case: "AUTH-REF-004/no-such-row", Proxy: "reference", Args: []string{"--role", "I"}, AddRow: true,
		How: "a row the check's switch does not know", Allowed: []report.Outcome{report.Error}},
	{Case: "APIKEY-001/no-such-row", Proxy: "reference", Args: []string{"--role", "K"}, AddRow: true,
		How: "a wrong-key row wrongKey does not know (was a skip)", Allowed: []report.Outcome{report.Error}},
	{Case: "APIKEY-005/no-such-row", Proxy: "reference", Args: []string{"--role", "K"}, AddRow: true,
		How: "a header-spelling row without the spelling", Allowed: []report.Outcome{report.Error}},
	{Case: "SSE-STREAM-001/no-such-row", Proxy: "reference", AddRow: true,
		How: "a stream row the check's switch does not know", Allowed: []report.Outcome{report.Error}},
	{Case: "SSE-PARSE-003/no-such-row", Proxy: "reference", AddRow: true,
		How: "a size row without a script", Allowed: []report.Outcome{report.Error}},
	{Case: "SSE-PARSE-003/no-such-row", Proxy: "reference", Args: []string{"--role", "B"}, AddRow: true,
		How: "a size row the bridge probe does not know", Allowed: []report.Outcome{report.Error}},
}

// addUncheckedRow adds row ROW to scenario SCENARIO ("SCENARIO/ROW") in
// this process's catalogue, with no data: in a child of
// TestUnexercisableChecks, before the run builds its spec tree.
func addUncheckedRow(id string) {
	scen, row, _ := strings.Cut(id, "/")
	s, ok := scenarios.Lookup(scen)
	if !ok || row == "" {
		panic(fmt.Sprintf("%s=%q: no scenario %q or no row", addRowEnv, id, scen))
	}
	s.Rows = append(s.Rows, scenarios.Row{ID: row, Title: "a row added by the test, which no check handles"})
}

func TestUnexercisableChecks(t *testing.T) {
	for _, u := range unexercisable {
		t.Run(strings.ReplaceAll(u.Case, "/", ":")+"_via_"+u.Proxy, func(t *testing.T) {
			t.Parallel()
			var env []string
			if u.AddRow {
				env = append(env, addRowEnv+"="+u.Case)
			}
			args := append([]string{"run", "--proxy", "builtin:" + u.Proxy, "--focus", regexp.QuoteMeta(u.Case) + " "}, u.Args...)
			cr := runChildEnv(t, 2*time.Minute, env, args...)
			allowed := u.Allowed
			if allowed == nil {
				allowed = []report.Outcome{report.Skip, report.Error}
			}
			var got *report.Case
			for i := range cr.run.Cases {
				if cr.run.Cases[i].ID == u.Case {
					got = &cr.run.Cases[i]
				}
			}
			switch {
			case got == nil:
				t.Fatalf("%s did not run against builtin:%s (%s):\n%s", u.Case, u.Proxy, u.How, cr.output)
			case !slices.Contains(allowed, got.Outcome):
				t.Errorf("%s against builtin:%s (%s) ended %s, want one of %v: a check that could not be exercised must say so\n%s %s",
					u.Case, u.Proxy, u.How, got.Outcome, allowed, got.Reason, got.Message)
			case got.Reason == "":
				t.Errorf("%s against builtin:%s ended %s without a reason", u.Case, u.Proxy, got.Outcome)
			}
		})
	}
}
