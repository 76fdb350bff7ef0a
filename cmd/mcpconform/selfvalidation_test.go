package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpconform/mcpconform/proxyundertest"
	"github.com/mcpconform/mcpconform/report"
	"github.com/mcpconform/mcpconform/scenarios"
)

// Self-validation: the harness proves itself on every `go test ./...`. Every
// scenario passes against builtin:reference and fails against the specimen of
// the bug it guards against; each specimen fails exactly the scenarios it
// declares. Ginkgo allows one run per process, so each run is a child process:
// this test binary re-executed with childEnv set.

const childEnv = "MCPCONFORM_SELFTEST_ARGS"

// addRowEnv makes a child add a row to a scenario before it runs
// ("SCENARIO/ROW"): a row nothing checks, for TestUnexercisableChecks.
const addRowEnv = "MCPCONFORM_SELFTEST_ADD_ROW"

func TestMain(m *testing.M) {
	// This binary runs the CLI only when childEnv says so: a run that
	// starts itself again (--spec-version all, a built-in bridge's stdio
	// mock) goes through the same door.
	selfInvocation = func(args []string) ([]string, []string, error) {
		return []string{os.Args[0], "-test.run=^$"}, []string{childEnv + "=" + strings.Join(args, "\x1f"), addRowEnv + "="}, nil
	}
	if args, ok := os.LookupEnv(childEnv); ok {
		if id := os.Getenv(addRowEnv); id != "" {
			addUncheckedRow(id)
		}
		os.Exit(execute(strings.Split(args, "\x1f"), os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// childRun is the outcome of one `mcpconform run` in a child process.
type childRun struct {
	code   int
	output string
	run    *report.Run
}

// runChild runs the CLI in a child process with a hard deadline.
func runChild(t testing.TB, deadline time.Duration, args ...string) childRun {
	t.Helper()
	return runChildEnv(t, deadline, nil, args...)
}

// runChildEnv is runChild with extra environment variables for the child.
func runChildEnv(t testing.TB, deadline time.Duration, env []string, args ...string) childRun {
	t.Helper()
	out := t.TempDir()
	args = append(args, "--upstream", "127.0.0.1:0", "--out", out)
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), env...), childEnv+"="+strings.Join(args, "\x1f"))
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("run %v did not finish within %s:\n%s", args, deadline, buf.String())
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %v: %v", args, err)
	}
	cr := childRun{code: code, output: buf.String()}
	if r, err := report.ReadJSONFile(filepath.Join(out, "results.json")); err == nil {
		cr.run = r
	} else {
		t.Fatalf("run %v wrote no readable results.json: %v\n%s", args, err, buf.String())
	}
	return cr
}

// failingScenarios lists the scenario IDs with a fail or error case.
func failingScenarios(r *report.Run) []string {
	set := map[string]bool{}
	for _, c := range r.Cases {
		if c.Outcome == report.Fail || c.Outcome == report.Error || c.Outcome == report.Warn {
			set[c.Scenario] = true
		}
	}
	return sortedSet(set)
}

func sortedSet(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func describeFailures(r *report.Run) string {
	var b strings.Builder
	for _, c := range r.Cases {
		if c.Outcome != report.Pass && c.Outcome != report.Skip {
			fmt.Fprintf(&b, "  %s %s: %s %s\n", c.Outcome, c.ID, c.Reason, strings.ReplaceAll(c.Message, "\n", " | "))
		}
	}
	return b.String()
}

// judgeChild lists how a child run differs from what its specimen declares:
// exactly want fails, the exit code says so, and no case is a harness error.
func judgeChild(s *proxyundertest.Specimen, cr childRun, want map[string]bool) []string {
	var out []string
	got := failingScenarios(cr.run)
	if strings.Join(got, ",") != strings.Join(sortedSet(want), ",") {
		out = append(out, fmt.Sprintf("builtin:%s: failing scenarios = %v, want exactly %v\n%s", s.Name, got, sortedSet(want), describeFailures(cr.run)))
	}
	wantCode := exitFail
	if len(want) == 0 {
		wantCode = exitOK
	}
	if cr.code != wantCode {
		out = append(out, fmt.Sprintf("builtin:%s: exit code %d, want %d\n%s", s.Name, cr.code, wantCode, cr.output))
	}
	for _, c := range cr.run.Cases {
		if c.Outcome == report.Error {
			out = append(out, fmt.Sprintf("builtin:%s: %s is a harness error: %s %s", s.Name, c.ID, c.Reason, c.Message))
		}
	}
	return out
}

func TestSelfValidation(t *testing.T) {
	type result struct {
		spec *proxyundertest.Specimen
		run  childRun
	}
	var (
		mu      sync.Mutex
		results = map[string]result{}
	)
	// Children run six at a time: each run is mostly waiting (SSE gaps,
	// token lifetimes) and uses a small share of a core, so six fit two
	// cores with room left for the timing checks (measured: the matrix of
	// ~90 runs in about 3 min instead of 4.5 at four). The limit is ours,
	// not t.Parallel's: that one is capped by -test.parallel (GOMAXPROCS,
	// two here).
	sem := make(chan struct{}, 6)
	t.Run("matrix", func(t *testing.T) {
		type job struct {
			name string
			spec *proxyundertest.Specimen
			args []string
		}
		var jobs []job
		for _, s := range proxyundertest.Specimens() {
			if s.Listen != nil || s.Handler != nil {
				continue // hostile specimens have their own test
			}
			if s.Name == "reference" {
				for _, mode := range sortedKeys(proxyundertest.ReferenceModes) {
					jobs = append(jobs, job{"reference/" + mode, s, proxyundertest.ReferenceModes[mode]})
				}
				continue
			}
			if len(s.Modes) > 0 {
				for _, mode := range sortedKeys(s.Modes) {
					jobs = append(jobs, job{s.Name + "/" + mode, s, s.Modes[mode]})
				}
				continue
			}
			jobs = append(jobs, job{s.Name, s, s.RunArgs})
		}
		var wg sync.WaitGroup
		for _, j := range jobs {
			s := j.spec
			wg.Add(1)
			sem <- struct{}{}
			// t.Run may be called from several goroutines at once; each
			// subtest's time is then its own run, not a wait for a slot.
			// Done only once t.Run has returned, so the parent cannot end
			// before a subtest's result is recorded.
			go func() {
				defer wg.Done()
				t.Run(j.name, func(t *testing.T) {
					defer func() { <-sem }()
					args := append([]string{"run", "--proxy", "builtin:" + s.Name}, j.args...)
					want := map[string]bool{}
					for _, id := range append(append([]string{}, s.Guards...), s.AlsoFails...) {
						want[id] = true
					}
					// One run, no rerun: a verdict that differs between runs is
					// a bug to fix, not noise to retry away.
					cr := runChild(t, 3*time.Minute, args...)
					for _, p := range judgeChild(s, cr, want) {
						t.Error(p)
					}
					mu.Lock()
					results[j.name] = result{s, cr}
					mu.Unlock()
				})
			}()
		}
		wg.Wait()
	})

	if len(results) == 0 {
		t.Fatal("no specimen ran")
	}
	// A case that no specimen fails is a check that cannot fail: every
	// scenario, and every row of a table-driven one, on its own.
	failedBy := map[string][]string{} // case ID -> specimens it failed against
	for name, r := range results {
		if strings.HasPrefix(name, "reference/") {
			continue
		}
		for _, c := range r.run.run.Cases {
			if checkFailed(c.Outcome) {
				failedBy[c.ID] = append(failedBy[c.ID], name)
			}
		}
	}
	for _, p := range unprovenCases(failedBy) {
		t.Error(p)
	}
	// Every scenario must have passed against the reference in some mode.
	passed := map[string]bool{}
	for name, r := range results {
		if !strings.HasPrefix(name, "reference/") {
			continue
		}
		for _, c := range r.run.run.Cases {
			if c.Outcome == report.Pass {
				passed[c.Scenario] = true
			}
		}
	}
	for _, s := range scenarios.All() {
		if !passed[s.ID] {
			t.Errorf("scenario %s passed against no reference mode (%v)", s.ID, sortedKeys(proxyundertest.ReferenceModes))
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// checkFailed reports whether a case's check failed, at whatever level
// (fail for a MUST, warn for a SHOULD, info for a convention).
func checkFailed(o report.Outcome) bool {
	return o == report.Fail || o == report.Warn || o == report.Info
}

// unprovenCases lists the cases of the catalogue (at the revision the matrix
// runs) that no specimen was seen to fail: a scenario without rows must fail
// itself; a row must fail itself, or declare ProvenBy a row that does. A
// row that declares ProvenBy but fails on its own has a stale declaration.
func unprovenCases(failedBy map[string][]string) []string {
	var out []string
	for _, s := range scenarios.All() {
		if !s.ExistsAt(scenarios.DefaultRevision, nil) {
			continue
		}
		if len(s.Rows) == 0 {
			if len(failedBy[s.ID]) == 0 {
				out = append(out, fmt.Sprintf("scenario %s fails against no specimen: it cannot fail", s.ID))
			}
			continue
		}
		for i := range s.Rows {
			row := &s.Rows[i]
			if !s.ExistsAt(scenarios.DefaultRevision, row) {
				continue
			}
			id := s.ID + "/" + row.ID
			by := row.ProvenByRow()
			switch {
			case by == "" && len(failedBy[id]) == 0:
				out = append(out, fmt.Sprintf("row %s fails against no specimen: add a specimen that breaks it, or declare on the row ProvenBy: \"ROW: why\" naming the row whose specimen proves the same check", id))
			case by != "" && len(failedBy[id]) > 0:
				out = append(out, fmt.Sprintf("row %s declares ProvenBy %q but fails on its own (builtin:%s): drop the declaration", id, row.ProvenBy, strings.Join(failedBy[id], ", builtin:")))
			case by != "" && len(failedBy[s.ID+"/"+by]) == 0:
				out = append(out, fmt.Sprintf("row %s is ProvenBy %s/%s, which fails against no specimen either", id, s.ID, by))
			}
		}
	}
	return out
}
