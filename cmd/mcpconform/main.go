// Command mcpconform is the conformance harness for MCP proxies: it starts a
// mock MCP upstream, drives the proxy under test through it, and reports case
// by case what the proxy broke.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// Exit codes. CI gates on them.
const (
	exitOK          = 0 // every case passed (or was skipped / baselined)
	exitFail        = 1 // a conformance failure, or a stale baseline entry
	exitUsage       = 2 // bad flags, or the harness itself failed
	exitUnreachable = 3 // nothing answers at the proxy address, or it failed to launch
)

// version is set at build time with -ldflags "-X main.version=…".
var version = ""

func toolVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// exitError carries an exit code out of a cobra command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

func usageErr(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

func main() {
	os.Exit(execute(os.Args[1:], os.Stdout, os.Stderr))
}

// execute runs the CLI with args and returns the exit code; tests call it in
// a child process (Ginkgo allows one run per process).
func execute(args []string, stdout, stderr io.Writer) int {
	root := newRoot(stdout, stderr)
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(stderr, "mcpconform:", ee.err)
		}
		return ee.code
	}
	fmt.Fprintln(stderr, "mcpconform:", err)
	return exitUsage
}

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "mcpconform",
		Short: "Conformance harness for MCP proxies",
		Long: `mcpconform starts a mock MCP upstream that answers with 401/403 and many shapes of
WWW-Authenticate, streams SSE on a script and issues short-lived tokens; it drives the proxy
under test through it and reports, case by case, what the proxy broke.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(newRunCmd(stdout, stderr), newListCmd(stdout), newVersionCmd(stdout))
	root.AddCommand(newReportCmd(stdout), newBaselineCmd(stdout), newExplainCmd(stdout), newMockCmd(stdout, stderr))
	return root
}

func newVersionCmd(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the mcpconform version",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			fmt.Fprintln(stdout, "mcpconform", toolVersion())
			return nil
		},
	}
}
