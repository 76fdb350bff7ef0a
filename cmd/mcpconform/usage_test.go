package main

import (
	"bytes"
	"context"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/mcpconform/mcpconform/scenarios"
)

// Usage mistakes are one plain line on stderr and exit 2, before anything
// starts: a CI filter with a typo must not be a green build, and Ginkgo's
// coloured reports or a panic are not how a usage error reads.
func TestUsageErrorsAreOneLine(t *testing.T) {
	cases := []struct {
		args []string
		want string // a part of the line
	}{
		{[]string{"run", "--proxy", "builtin:reference", "--label-filter", "NO-SUCH-001"}, `--label-filter "NO-SUCH-001" selects no case`},
		{[]string{"run", "--proxy", "builtin:reference", "--focus", "no such case"}, `--focus "no such case" selects no case`},
		{[]string{"run", "--proxy", "builtin:reference", "--label-filter", "sse &&"}, `--label-filter "sse &&"`},
		{[]string{"run", "--proxy", "builtin:reference", "--label-filter", "(sse"}, `Mismatched '('`},
		{[]string{"run", "--proxy", "builtin:reference", "--focus", "["}, `--focus "[": not a regular expression`},
		{[]string{"run", "--proxy", "builtin:no-such-proxy"}, "no such built-in proxy"},
		// Said once by the parent, not once per revision by each child.
		{[]string{"run", "--proxy", "builtin:no-such-proxy", "--spec-version", "all"}, "no such built-in proxy"},
		{[]string{"run", "--proxy", "builtin:bridge", "--role", "K", "--upstream-stdio"}, "--upstream-stdio declares a bridge to a stdio server, so --role must include B"},
		{[]string{"list", "--label-filter", "(sse"}, `Mismatched '('`},
		{[]string{"list", "--focus", "["}, `--focus "["`},
		{[]string{"list", "--label-filter", "NO-SUCH-001"}, "selects no case"},
	}
	for _, c := range cases {
		var stdout, stderr bytes.Buffer
		code := execute(append(c.args, "--upstream", "127.0.0.1:0")[:len(c.args)+2*boolInt(c.args[0] == "run")], &stdout, &stderr)
		line := stderr.String()
		switch {
		case code != exitUsage:
			t.Errorf("%v: exit %d, want %d\nstdout: %s\nstderr: %s", c.args, code, exitUsage, stdout.String(), line)
		case strings.Count(line, "\n") != 1 || !strings.Contains(line, c.want):
			t.Errorf("%v: stderr %q, want one line containing %q", c.args, line, c.want)
		case strings.Contains(line, "\x1b["):
			t.Errorf("%v: stderr has terminal colour codes: %q", c.args, line)
		case stdout.Len() > 0:
			t.Errorf("%v: printed before refusing: %q", c.args, stdout.String())
		}
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Filters.Select is what the run refuses an empty selection by; it must
// select exactly what Ginkgo runs. Ginkgo's own selection is read from
// `mcpconform list` (a dry run of the spec tree) in a child process.
func TestSelectMatchesGinkgo(t *testing.T) {
	for _, f := range []scenarios.Filters{
		{LabelFilter: "sse"},
		{LabelFilter: "AUTH-HDR-001 && !(WWWA-01 || WWWA-02)"},
		{LabelFilter: "WWWA-13 || SESS-001"},
		{LabelFilter: "apikey && (missing || x-api-key)"},
		{Focus: []string{"AUTH-HDR-001/WWWA-0[1-3]"}},
		{Focus: []string{"incrementally", "^mcpconform mcpconform refresh "}},
		{Focus: []string{"(?i)SESSION", "401"}},
		{LabelFilter: "transport", Focus: []string{"session"}},
	} {
		want, err := f.Select()
		if err != nil || len(want) == 0 {
			t.Fatalf("%s: %v, %d cases", f, err, len(want))
		}
		args := []string{"list", "--spec-version", "all"}
		if f.LabelFilter != "" {
			args = append(args, "--label-filter", f.LabelFilter)
		}
		for _, r := range f.Focus {
			args = append(args, "--focus", r)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		out, err := childCommand(ctx, args...).CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("list %v: %v\n%s", args, err, out)
		}
		var got []string
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n")[1:] {
			got = append(got, strings.Fields(l)[0])
		}
		sort.Strings(got)
		sort.Strings(want)
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%s: Select gives %d cases %v\nGinkgo selects %d %v", f, len(want), want, len(got), got)
		}
	}
}

// A run whose every selected case skipped judged nothing: not a green gate
// (a CI job filtering on cors without --cors would pass forever).
func TestNothingJudgedIsNotGreen(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// A child: a run builds the catalogue's spec tree once per process.
	var stdout, stderr bytes.Buffer
	cmd := childCommand(ctx, "run", "--proxy", "builtin:reference", "--label-filter", "cors", "--upstream", "127.0.0.1:0")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	code := 0
	if ee, ok := cmd.Run().(*exec.ExitError); ok {
		code = ee.ExitCode()
	}
	if code != exitUsage || !strings.Contains(stderr.String(), "no case was judged: all 6 selected cases were skipped") ||
		!strings.Contains(stdout.String(), "NOTHING JUDGED  builtin:reference") {
		t.Errorf("exit %d, want %d saying nothing was judged:\n%s\n%s", code, exitUsage, stdout.String(), stderr.String())
	}
}
