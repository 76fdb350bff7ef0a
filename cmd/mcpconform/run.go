package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/mcpconform/mcpconform/mockserver"
	"github.com/mcpconform/mcpconform/proxyundertest"
	"github.com/mcpconform/mcpconform/report"
	"github.com/mcpconform/mcpconform/scenarios"
)

// runOptions are the flags of `mcpconform run`.
type runOptions struct {
	proxy        string
	upstream     string
	role         string
	labelFilter  string
	focus        []string
	failFast     bool
	timeout      time.Duration
	suiteTimeout time.Duration
	out          string
	headers      []string
	cors         bool
	strict       bool
	verbose      bool
	maxBody      int64

	// Role K: the API-key gate.
	apiKey       string
	apiKeyHeader string
	exempt       []string
	namedServer  string

	// Timing knobs.
	tokenTTL     time.Duration
	sseGap       time.Duration
	sseTolerance time.Duration
	long         bool
}

// proxyOptions tells a built-in proxy what the run declared.
func (o *runOptions) proxyOptions(roles []scenarios.Role) proxyundertest.Options {
	opt := proxyundertest.Options{APIKey: o.apiKey, APIKeyHeader: o.apiKeyHeader, Exempt: o.exempt, NamedServer: o.namedServer}
	for _, r := range roles {
		opt.Roles = append(opt.Roles, string(r))
	}
	return opt
}

// scenarioParams carries the role and timing settings into the scenarios.
func (o *runOptions) scenarioParams() scenarios.Params {
	return scenarios.Params{
		APIKey: o.apiKey, APIKeyHeader: o.apiKeyHeader, Exempt: o.exempt, NamedServer: o.namedServer,
		TokenTTL: o.tokenTTL, SSEGap: o.sseGap, SSETolerance: o.sseTolerance, Long: o.long,
	}
}

func newRunCmd(stdout, stderr io.Writer) *cobra.Command {
	o := &runOptions{}
	cmd := &cobra.Command{
		Use:   "run --proxy URL|builtin:NAME",
		Short: "Run the conformance scenarios against a proxy",
		Long: `Start the mock MCP upstream, point the proxy under test at it, run the scenarios and report.

--proxy is the proxy's MCP endpoint (e.g. http://127.0.0.1:8080/mcp), or builtin:NAME for a
built-in proxy (builtin:reference passes everything; see 'mcpconform list --builtins').
A URL may hold {upstream}, replaced by the URL-escaped upstream MCP URL, for proxies that take
the target per request (the MCP Inspector's proxy).

Exit codes: 0 clean, 1 conformance failure, 2 usage or harness error, 3 proxy unreachable.`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error { return o.run(stdout, stderr) },
	}
	f := cmd.Flags()
	f.StringVar(&o.proxy, "proxy", "", "proxy MCP URL, or builtin:NAME (required)")
	f.StringVar(&o.upstream, "upstream", mockserver.DefaultAddr, "address the mock upstream listens on (loopback; port 0 picks a free one)")
	f.StringVar(&o.role, "role", "T", "roles of the proxy: T transparent, B bridge, I token injector, K API-key guarded (e.g. I,K)")
	f.StringVar(&o.labelFilter, "label-filter", "", "run only cases whose labels match (area, scenario ID or row ID), e.g. 'bridging || SESS-001'")
	f.StringArrayVar(&o.focus, "focus", nil, "run only cases whose ID or title matches this regular expression (repeatable)")
	f.BoolVar(&o.failFast, "fail-fast", false, "stop at the first failure; the rest are reported as not run")
	f.DurationVar(&o.timeout, "timeout", 10*time.Second, "time limit of each scenario (scenarios that wait on purpose get more)")
	f.DurationVar(&o.suiteTimeout, "suite-timeout", time.Hour, "time limit of the whole run")
	f.StringVar(&o.out, "out", "", "directory to write results.json and junit.xml into")
	f.StringArrayVar(&o.headers, "header", nil, "'Name: value' added to every request sent to the proxy (repeatable)")
	f.BoolVar(&o.cors, "cors", false, "the proxy is browser-facing: run the CORS scenarios")
	f.BoolVar(&o.strict, "strict", false, "treat SHOULD-level warnings as failures")
	f.BoolVarP(&o.verbose, "verbose", "v", false, "print the failure text of every non-passing case")
	f.Int64Var(&o.maxBody, "max-body", 16<<20, "largest response body the harness reads, in bytes")
	f.StringVar(&o.apiKey, "api-key", "", "role K: the key the proxy expects (random per run if empty)")
	f.StringVar(&o.apiKeyHeader, "api-key-header", "X-API-Key", "role K: the header that carries the key")
	f.StringSliceVar(&o.exempt, "exempt", []string{"/status"}, "role K: routes the proxy answers without the key")
	f.StringVar(&o.namedServer, "named-server", "", "role K: the proxy also serves /servers/NAME/mcp and /servers/NAME/sse")
	f.DurationVar(&o.tokenTTL, "token-ttl", time.Second, "role I: access-token lifetime issued by the mock authorization server")
	f.DurationVar(&o.sseGap, "sse-gap", 300*time.Millisecond, "SSE: time between scripted events")
	f.DurationVar(&o.sseTolerance, "sse-tolerance", 250*time.Millisecond, "SSE: how late an event may arrive before it counts as buffered")
	f.BoolVar(&o.long, "long", false, "run the long variants (idle streams for minutes)")
	return cmd
}

func (o *runOptions) run(stdout, stderr io.Writer) error {
	if o.proxy == "" {
		return usageErr("--proxy is required: a URL such as http://127.0.0.1:8080/mcp, or builtin:reference")
	}
	roles, err := scenarios.ParseRoles(o.role)
	if err != nil {
		return usageErr("%v", err)
	}
	hdr := http.Header{}
	for _, h := range o.headers {
		name, value, ok := strings.Cut(h, ":")
		if !ok || strings.TrimSpace(name) == "" {
			return usageErr("--header %q: want 'Name: value'", h)
		}
		hdr.Add(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	if !strings.HasPrefix(o.proxy, proxyundertest.BuiltinPrefix) {
		// Validate the URL before starting anything.
		if _, err := proxyundertest.Open(o.proxy, "http://"+o.upstream+mockserver.MCPPath, proxyundertest.Options{}); err != nil {
			return usageErr("%v", err)
		}
	}
	if o.out != "" {
		if err := os.MkdirAll(o.out, 0o755); err != nil {
			return usageErr("--out: %v", err)
		}
	}

	run := &report.Run{
		Schema:  report.SchemaVersion,
		Tool:    report.Tool{Name: "mcpconform", Version: toolVersion()},
		Proxy:   report.Proxy{Target: o.proxy, Roles: strings.Split(o.role, ",")},
		Started: time.Now().UTC(),
	}
	var (
		mock        *mockserver.Mock
		target      *proxyundertest.Target
		setupCode   = exitOK
		mu          sync.Mutex
		unreachable error
	)
	setup := func(ctx context.Context) (*scenarios.Env, error) {
		m, err := mockserver.Start(mockserver.Options{Addr: o.upstream})
		if err != nil {
			setupCode = exitUsage
			return nil, err
		}
		mock = m
		run.Upstream = m.MCPURL()
		fmt.Fprintf(stdout, "mock upstream   %s  (legacy SSE %s)\n", m.MCPURL(), m.SSEURL())
		t, err := proxyundertest.Open(o.proxy, m.MCPURL(), o.proxyOptions(roles))
		if err != nil {
			setupCode = exitUsage
			return nil, err
		}
		target = t
		if t.Specimen != nil {
			fmt.Fprintf(stdout, "proxy under test %s  (built-in, listening on %s)\n", t.Display, t.MCPURL)
		} else {
			fmt.Fprintf(stdout, "proxy under test %s\n", t.MCPURL)
			fmt.Fprintf(stdout, "                 its upstream must be %s\n", m.MCPURL())
		}
		dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := proxyundertest.Reachable(dctx, t.MCPURL); err != nil {
			mu.Lock()
			unreachable = err
			mu.Unlock()
			return nil, fmt.Errorf("proxy unreachable at %s: %v", t.MCPURL, err)
		}
		return &scenarios.Env{Mock: m, ProxyMCPURL: t.MCPURL}, nil
	}
	teardown := func() {
		if target != nil {
			_ = target.Close()
		}
		if mock != nil {
			_ = mock.Close()
		}
	}

	writePartial := func() {}
	if o.out != "" {
		writePartial = func() {
			mu.Lock()
			defer mu.Unlock()
			run.Tally()
			_ = report.WriteFileAtomic(filepath.Join(o.out, "results.json"), func(w io.Writer) error { return report.WriteJSON(w, run) })
		}
	}
	cfg := scenarios.Config{
		Setup:        setup,
		Teardown:     teardown,
		Roles:        roles,
		Capabilities: map[string]bool{"cors": o.cors},
		LabelFilter:  o.labelFilter,
		Focus:        o.focus,
		FailFast:     o.failFast,
		Timeout:      o.timeout,
		SuiteTimeout: o.suiteTimeout,
		MaxBody:      o.maxBody,
		ProxyHeader:  hdr,
		Params:       o.scenarioParams(),
		Progress:     stdout,
		Verbose:      o.verbose,
		OnCase: func(c report.Case) {
			mu.Lock()
			run.Cases = append(run.Cases, c)
			mu.Unlock()
			writePartial()
		},
	}
	cases, err := scenarios.Run(cfg)
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	run.Cases = cases
	run.Finished = time.Now().UTC()
	run.DurationMS = float64(run.Finished.Sub(run.Started).Microseconds()) / 1000
	run.Complete = true
	if unreachable != nil {
		run.Notes = append(run.Notes, "proxy unreachable at start: "+unreachable.Error())
	}
	if o.strict {
		for i := range run.Cases {
			if run.Cases[i].Outcome == report.Warn {
				run.Cases[i].Outcome = report.Fail
			}
		}
	}
	run.SortCases()
	run.Tally()
	if err := writeReports(o.out, run); err != nil {
		fmt.Fprintln(stderr, "mcpconform: writing reports:", err)
		return &exitError{code: exitUsage}
	}
	printSummary(stdout, run, o.out)

	switch {
	case setupCode != exitOK:
		return &exitError{code: setupCode}
	case unreachable != nil:
		return &exitError{code: exitUnreachable, err: fmt.Errorf("proxy unreachable: %v", unreachable)}
	case run.Failed(o.strict):
		return &exitError{code: exitFail}
	case run.Counts[report.Error] > 0:
		return &exitError{code: exitUsage, err: fmt.Errorf("%d case(s) could not be judged (harness errors)", run.Counts[report.Error])}
	}
	return nil
}

// writeReports writes every report format into dir.
func writeReports(dir string, run *report.Run) error {
	if dir == "" {
		return nil
	}
	files := []struct {
		name  string
		write func(io.Writer, *report.Run) error
	}{
		{"results.json", report.WriteJSON},
		{"junit.xml", report.WriteJUnit},
	}
	for _, f := range files {
		if err := report.WriteFileAtomic(filepath.Join(dir, f.name), func(w io.Writer) error { return f.write(w, run) }); err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
	}
	return nil
}

func printSummary(w io.Writer, run *report.Run, out string) {
	fmt.Fprintln(w)
	var parts []string
	for _, o := range report.Outcomes {
		if n := run.Counts[o]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, o))
		}
	}
	verdict := "PASS"
	if run.Failed(false) {
		verdict = "FAIL"
	} else if run.Counts[report.Error] > 0 {
		verdict = "ERROR"
	}
	fmt.Fprintf(w, "%s  %s — %s in %.1fs\n", verdict, run.Proxy.Target, strings.Join(parts, ", "), run.DurationMS/1000)
	failing := map[string][]string{}
	for _, c := range run.Cases {
		if c.Outcome == report.Fail || c.Outcome == report.Error {
			failing[c.Scenario] = append(failing[c.Scenario], c.ID)
		}
	}
	if len(failing) > 0 {
		ids := make([]string, 0, len(failing))
		for id := range failing {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		fmt.Fprintf(w, "failing scenarios: %s\n", strings.Join(ids, ", "))
	}
	for _, s := range run.StaleBaseline {
		fmt.Fprintf(w, "stale baseline entry (now passes): %s\n", s)
	}
	if out != "" {
		fmt.Fprintf(w, "reports in %s\n", out)
	}
}
