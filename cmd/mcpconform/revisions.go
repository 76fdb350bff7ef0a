package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/mcpconform/mcpconform/report"
	"github.com/mcpconform/mcpconform/scenarios"
)

// allRevisions is the --spec-version value that runs the suite once per
// supported revision.
const allRevisions = "all"

// selfInvocation is how this binary runs itself with CLI args: the argv
// and extra environment. Tests replace it: their binary is the test
// binary, which runs the CLI only when an environment variable says so.
var selfInvocation = func(args []string) (argv, env []string, err error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, nil, err
	}
	return append([]string{exe}, args...), nil, nil
}

// selfCommand is the command that runs this binary with args.
func selfCommand(args []string) (*exec.Cmd, error) {
	argv, env, err := selfInvocation(args)
	if err != nil {
		return nil, err
	}
	c := exec.Command(argv[0], argv[1:]...)
	if env != nil {
		c.Env = append(os.Environ(), env...)
	}
	return c, nil
}

// runEveryRevision is `run --spec-version all`: the suite once per revision
// (Ginkgo runs once per process, so each revision is a child run of this
// binary with the same flags), the reports of each in OUT/<revision>, and
// one side-by-side page OUT/report.html. The exit code is the worst.
func (o *runOptions) runEveryRevision(cmd *cobra.Command, stdout, stderr io.Writer) error {
	// A usage error is the same for every revision: said once, here.
	if _, err := o.prepare(); err != nil {
		return err
	}
	base := flagsAsArgs(cmd.Flags(), "spec-version", "out")
	worst := exitOK
	var runs []*report.Run
	// Ctrl-C reaches the parent only (each child has its own process
	// group), which hands it on once to the running child: that run writes
	// its reports, the loop stops, and the side-by-side page is still
	// written for the revisions that ran.
	var (
		mu          sync.Mutex
		current     *exec.Cmd
		interrupted bool
	)
	sigc := make(chan os.Signal, 1)
	signal.Notify(sigc, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigc)
	sigDone := make(chan struct{})
	defer close(sigDone)
	go func() {
		for {
			select {
			case sig := <-sigc:
				mu.Lock()
				interrupted = true
				if current != nil && current.Process != nil {
					_ = current.Process.Signal(sig)
				}
				mu.Unlock()
			case <-sigDone:
				return
			}
		}
	}()
	for _, rev := range scenarios.Revisions {
		mu.Lock()
		stop := interrupted
		mu.Unlock()
		if stop {
			worst = worseExit(worst, exitUsage)
			fmt.Fprintf(stdout, "\n== MCP %s: not run (interrupted)\n", rev)
			continue
		}
		fmt.Fprintf(stdout, "\n== MCP %s\n", rev)
		args := append([]string{"run"}, base...)
		args = append(args, "--spec-version", rev)
		out := ""
		if o.out != "" {
			out = filepath.Join(o.out, rev)
			args = append(args, "--out", out)
		}
		c, err := selfCommand(args)
		if err != nil {
			return &exitError{code: exitUsage, err: err}
		}
		c.Stdout, c.Stderr = stdout, stderr
		c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		mu.Lock()
		err = c.Start()
		if err == nil {
			current = c
		}
		mu.Unlock()
		if err != nil {
			return &exitError{code: exitUsage, err: fmt.Errorf("run for %s: %v", rev, err)}
		}
		code := exitOK
		if err := c.Wait(); err != nil {
			ee, ok := err.(*exec.ExitError)
			if !ok {
				return &exitError{code: exitUsage, err: fmt.Errorf("run for %s: %v", rev, err)}
			}
			code = ee.ExitCode()
		}
		mu.Lock()
		current = nil
		mu.Unlock()
		worst = worseExit(worst, code)
		if out != "" {
			if r, err := report.ReadJSONFile(filepath.Join(out, "results.json")); err == nil {
				runs = append(runs, r)
			}
		}
	}
	if o.out != "" && len(runs) > 0 {
		page := filepath.Join(o.out, "report.html")
		if err := report.WriteFileAtomic(page, func(w io.Writer) error { return report.WriteHTML(w, runs) }); err != nil {
			return &exitError{code: exitUsage, err: err}
		}
		fmt.Fprintf(stdout, "\nevery revision side by side: %s\n", page)
	}
	if worst != exitOK {
		return &exitError{code: worst}
	}
	return nil
}

// worseExit orders exit codes by what they say about the run: a proxy that
// could not be reached or launched (3) over a harness error (2) over a
// conformance failure (1) over a clean run.
func worseExit(a, b int) int {
	rank := map[int]int{exitOK: 0, exitFail: 1, exitUsage: 2, exitUnreachable: 3}
	if rank[b] > rank[a] {
		return b
	}
	return a
}

// flagsAsArgs renders the flags given on the command line back into
// arguments, leaving out the named ones.
func flagsAsArgs(fs *pflag.FlagSet, skip ...string) []string {
	var out []string
	fs.Visit(func(f *pflag.Flag) {
		for _, s := range skip {
			if f.Name == s {
				return
			}
		}
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			for _, v := range sv.GetSlice() {
				out = append(out, "--"+f.Name+"="+v)
			}
			return
		}
		out = append(out, "--"+f.Name+"="+f.Value.String())
	})
	return out
}

// checkSpecVersion validates --spec-version (a revision, or all).
func checkSpecVersion(v string) (string, error) {
	if v == allRevisions {
		return v, nil
	}
	rev, err := scenarios.ParseRevision(v)
	if err != nil {
		return "", usageErr("%v", err)
	}
	return rev, nil
}

// revisionList is the --spec-version help text's list.
func revisionList() string { return strings.Join(scenarios.Revisions, ", ") }
