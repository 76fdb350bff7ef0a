package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/mcpconform/mcpconform/mockserver"
	"github.com/mcpconform/mcpconform/proxyundertest"
	"github.com/mcpconform/mcpconform/report"
	"github.com/mcpconform/mcpconform/scenarios"
)

// runOptions are the flags of `mcpconform run`.
type runOptions struct {
	// redactor holds the run's secrets: out of its reports, and of what it prints.
	redactor secretRedactor

	proxy        string
	proxySSE     string
	specVersion  string
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
	giveUpAfter  int
	// listenAny lets the mock upstream bind a non-loopback --upstream.
	listenAny bool
	// noPreflight skips the preflight (preflight.go); upstreamStdio says
	// the proxy's upstream is `mcpconform mock --stdio`, not the HTTP mock.
	noPreflight   bool
	upstreamStdio bool

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

	// Reports and gating.
	baseline   string
	unredacted bool

	// Launching the proxy under test, and profiles.
	proxyCmd      string
	launchTimeout time.Duration
	profile       string
	profileDir    string
	proxyName     string
	proxyVersion  string
	// name labels the run in every output (--name, or the profile's name).
	name string

	browserOptions
}

// proxyOptions tells a built-in proxy what the run declared.
func (o *runOptions) proxyOptions(roles []scenarios.Role) proxyundertest.Options {
	opt := proxyundertest.Options{APIKey: o.apiKey, APIKeyHeader: o.apiKeyHeader, Exempt: o.exempt, NamedServer: o.namedServer, CORS: o.cors}
	for _, r := range roles {
		opt.Roles = append(opt.Roles, string(r))
	}
	if o.upstreamStdio && strings.HasPrefix(o.proxy, proxyundertest.BuiltinPrefix) {
		// A built-in bridge spawns this binary's stdio mock as its upstream.
		if argv, env, err := selfInvocation([]string{"mock", "--stdio"}); err == nil {
			opt.UpstreamCommand, opt.UpstreamEnv = argv, env
		}
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
		RunE: func(cmd *cobra.Command, _ []string) error {
			// `mcpconform run … | head` closes the console's pipe early;
			// by default Go then dies of SIGPIPE on the next console line
			// and the reports are never written. With the signal caught,
			// that write fails instead and the run goes on to write them.
			// (Notify, not Ignore: an ignored signal would be inherited by
			// a --proxy-cmd child.)
			signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
			if o.profile != "" {
				if err := o.applyProfile(cmd.Flags().Changed); err != nil {
					return usageErr("--profile: %v", err)
				}
			}
			rev, err := checkSpecVersion(o.specVersion)
			if err != nil {
				return err
			}
			if rev == allRevisions {
				return o.runEveryRevision(cmd, stdout, stderr)
			}
			o.specVersion = rev
			// The error is printed by the caller: redacted like the console.
			err = o.run(stdout, stderr)
			if ee, ok := err.(*exitError); ok && ee.err != nil && !o.unredacted {
				ee.err = errors.New(o.redactor.text(ee.err.Error()))
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.proxy, "proxy", "", "proxy MCP URL, or builtin:NAME (required)")
	f.StringVar(&o.proxySSE, "proxy-sse", "", "the proxy's legacy HTTP+SSE URL when it is not the MCP URL with /sse for /mcp (e.g. 'http://127.0.0.1:6277/sse?url={upstream_sse}&transportType=sse'); same placeholders as --proxy plus {upstream_sse}")
	f.StringVar(&o.specVersion, "spec-version", scenarios.DefaultRevision, "MCP revision to judge against: what the mock negotiates and which requirements and levels apply ("+revisionList()+", or all: once per revision, side by side)")
	f.StringVar(&o.upstream, "upstream", mockserver.DefaultAddr, "address the mock upstream listens on (loopback; port 0 picks a free one)")
	f.StringVar(&o.role, "role", "T", "roles of the proxy: T transparent, B bridge, I token injector, K API-key guarded (e.g. I,K)")
	f.StringVar(&o.labelFilter, "label-filter", "", "run only cases whose labels match (area, scenario ID or row ID), e.g. 'bridging || SESS-001'")
	f.StringArrayVar(&o.focus, "focus", nil, "run only cases whose ID or title matches this regular expression (repeatable)")
	f.BoolVar(&o.failFast, "fail-fast", false, "stop at the first failure; the rest are reported as not run")
	f.DurationVar(&o.timeout, "timeout", 10*time.Second, "time limit of each scenario (scenarios that wait on purpose get more)")
	f.DurationVar(&o.suiteTimeout, "suite-timeout", time.Hour, "time limit of the whole run")
	f.StringVar(&o.out, "out", "", "directory to write results.json, junit.xml, summary.md, report.html and har/ into")
	f.StringArrayVar(&o.headers, "header", nil, "'Name: value' added to every request sent to the proxy (repeatable)")
	f.BoolVar(&o.cors, "cors", false, "the proxy is browser-facing: run the CORS scenarios")
	f.IntVar(&o.giveUpAfter, "give-up-after", 3, "after this many consecutive cases in which every request to the proxy timed out, end the rest at once as errors (0 = wait out every case)")
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
	f.StringVar(&o.baseline, "baseline", "", "YAML file of accepted failures (expected-failures: [{id, reason}]); a listed case that passes fails the run as stale")
	f.BoolVar(&o.unredacted, "unredacted", false, "keep credentials (API key, tokens, client secret, --header values) in the reports")
	f.StringVar(&o.proxyCmd, "proxy-cmd", "", "launch the proxy with this shell command; placeholders {port} {upstream} {upstream_origin} {token_url} {client_id} {client_secret} {refresh_token} {api_key} {api_key_header} {resource} {profile_dir} {tmp}")
	f.DurationVar(&o.launchTimeout, "launch-timeout", 20*time.Second, "how long a launched proxy may take to accept connections on {port}")
	f.BoolVar(&o.noPreflight, "no-preflight", false, "skip the preflight (one initialize through the proxy must reach the mock, else the run stops with exit 3) and run every case whatever the proxy forwards")
	f.BoolVar(&o.upstreamStdio, "upstream-stdio", false, "the proxy bridges to a stdio server it spawns (`mcpconform mock --stdio`), not to the HTTP mock: the preflight checks that initialize through the proxy gets the mock's answer")
	f.BoolVar(&o.listenAny, "listen-any", false, "allow a non-loopback --upstream (e.g. 0.0.0.0:0 for a proxy in a container); the mock then answers, and hands test credentials to, anyone who can reach it")
	f.StringVar(&o.name, "name", "", "label of the proxy in the console, every report, the JUnit suite and side-by-side columns (default: the profile's name, else the URL)")
	f.StringVar(&o.profile, "profile", "", "YAML profile of the proxy (url or launch template, roles, API key, tolerances, baseline); flags override it")
	o.browserOptions.addFlags(f)
	return cmd
}

// prepared is what the flags come to once checked: everything a run needs
// before it starts anything.
type prepared struct {
	roles       []scenarios.Role
	browserPath string
	hdr         http.Header
	baseline    *Baseline
}

// prepare checks the flags and derives what the run needs from them,
// starting nothing: every usage error is found here, before the mock, the
// proxy or a child run exists (--spec-version all checks once, in the
// parent).
func (o *runOptions) prepare() (*prepared, error) {
	if o.proxy == "" && o.proxyCmd != "" {
		o.proxy = "http://127.0.0.1:{port}/mcp"
	}
	if o.proxy == "" {
		return nil, usageErr("--proxy is required: a URL such as http://127.0.0.1:8080/mcp, or builtin:reference (or --proxy-cmd to launch one)")
	}
	if o.proxyCmd != "" && strings.HasPrefix(o.proxy, proxyundertest.BuiltinPrefix) {
		return nil, usageErr("--proxy-cmd launches an external proxy; it cannot be combined with --proxy %s", o.proxy)
	}
	if err := checkBuiltin(o.proxy); err != nil {
		return nil, err
	}
	if err := checkSelection(o.labelFilter, o.focus); err != nil {
		return nil, err
	}
	p := &prepared{}
	roles, err := scenarios.ParseRoles(o.role)
	if err != nil {
		return nil, usageErr("%v", err)
	}
	if o.upstreamStdio && !hasRole(roles, scenarios.RoleB) {
		// Only an MCP-terminating bridge can put an HTTP endpoint in
		// front of a stdio server; the T, I and K probes read the HTTP
		// mock behind the proxy, which a stdio upstream leaves out.
		return nil, usageErr("--upstream-stdio declares a bridge to a stdio server, so --role must include B (e.g. --role B or B,K; got %s)", o.role)
	}
	browserPath, err := o.resolveBrowser(roles)
	if err != nil {
		return nil, err
	}
	hdr := http.Header{}
	for _, h := range o.headers {
		name, value, ok := strings.Cut(h, ":")
		if !ok || strings.TrimSpace(name) == "" {
			return nil, usageErr("--header %q: want 'Name: value'", h)
		}
		hdr.Add(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	if o.apiKey == "" {
		// A fresh key per run: a proxy that accepts it without being told
		// it cannot be passing by accident.
		o.apiKey = randomAPIKey()
	}
	if hasRole(roles, scenarios.RoleK) && hdr.Get(o.apiKeyHeader) == "" {
		// Every scenario reaches a K proxy with the key, under the header
		// spelling the user declared (the map key keeps it verbatim).
		hdr[o.apiKeyHeader] = []string{o.apiKey}
	}
	// Expand templates once with dummy values, so a typo in a placeholder is
	// a usage error before anything starts.
	dummy := map[string]string{"port": "1", "upstream": "http://127.0.0.1:1/mcp", "upstream_origin": "http://127.0.0.1:1", "upstream_sse": "http://127.0.0.1:1/sse"}
	if _, err := proxyundertest.Expand(o.proxyCmd, dummy); err != nil {
		return nil, usageErr("--proxy-cmd: %v", err)
	}
	proxySpec, err := proxyundertest.Expand(o.proxy, dummy)
	if err != nil {
		return nil, usageErr("--proxy: %v", err)
	}
	if !strings.HasPrefix(o.proxy, proxyundertest.BuiltinPrefix) {
		// Validate the URL before starting anything.
		if _, err := proxyundertest.Open(proxySpec, "http://"+o.upstream+mockserver.MCPPath, proxyundertest.Options{}); err != nil {
			return nil, usageErr("%v", err)
		}
	}
	if o.proxySSE != "" {
		if strings.HasPrefix(o.proxy, proxyundertest.BuiltinPrefix) {
			return nil, usageErr("--proxy-sse names an external proxy's legacy endpoint; builtin:%s serves /sse next to /mcp", strings.TrimPrefix(o.proxy, proxyundertest.BuiltinPrefix))
		}
		if _, err := proxyundertest.LegacyURL(o.proxySSE, dummy, "http://127.0.0.1:1/mcp", "http://127.0.0.1:1/sse"); err != nil {
			return nil, usageErr("%v", err)
		}
	}
	p.roles, p.browserPath, p.hdr = roles, browserPath, hdr
	if o.baseline != "" {
		if p.baseline, err = loadBaseline(o.baseline); err != nil {
			return nil, usageErr("--baseline: %v", err)
		}
	}
	return p, nil
}

func (o *runOptions) run(stdout, stderr io.Writer) error {
	if o.listenAny {
		fmt.Fprintf(stderr, "mcpconform: warning: --listen-any: the mock upstream listens on %s and may be reachable from other hosts; it answers anyone and issues test credentials\n", o.upstream)
	}
	p, err := o.prepare()
	if err != nil {
		return err
	}
	roles, browserPath, hdr, baseline := p.roles, p.browserPath, p.hdr, p.baseline
	if o.out != "" {
		if err := os.MkdirAll(o.out, 0o755); err != nil {
			return usageErr("--out: %v", err)
		}
		if n, err := cleanOut(o.out); err != nil {
			return usageErr("--out: %v", err)
		} else if n > 0 {
			fmt.Fprintf(stdout, "removed %d output(s) of an earlier run from %s\n", n, o.out)
		}
	}

	run := &report.Run{
		Schema:      report.SchemaVersion,
		Tool:        report.Tool{Name: "mcpconform", Version: toolVersion()},
		Proxy:       report.Proxy{Target: o.proxy, Name: o.proxyName, Version: o.proxyVersion, Roles: strings.Split(o.role, ",")},
		Started:     time.Now().UTC(),
		SpecVersion: o.specVersion,
	}
	if o.name != "" {
		run.Proxy.Name, run.Proxy.Version = o.name, ""
	}
	// One store of the run's secrets, for the reports (publicCopy) and,
	// unless --unredacted, for the console.
	o.redactor.add(o.secrets(hdr)...)
	if !o.unredacted {
		stdout, stderr = o.redactor.writer(stdout), o.redactor.writer(stderr)
	}
	con := newConsole(stdout, o.verbose, baseline)
	defer con.close()
	var (
		mock        *mockserver.Mock
		target      *proxyundertest.Target
		launched    *proxyundertest.Launched
		tmpDir      string
		setupCode   = exitOK
		mu          sync.Mutex
		unreachable error
		credFile    string // credentials.env in a temporary file: removed at the end
	)
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		if credFile != "" {
			os.Remove(credFile)
		}
	}()
	stopLaunched := func() {
		mu.Lock()
		l := launched
		mu.Unlock()
		if l != nil {
			l.Stop(3 * time.Second)
		}
	}
	setup := func(ctx context.Context) (*scenarios.Env, error) {
		m, err := mockserver.Start(o.mockOptions(roles))
		if err != nil {
			setupCode = exitUsage
			return nil, err
		}
		mock = m
		run.Upstream = m.MCPURL()
		fmt.Fprintf(stdout, "mock upstream   %s  (legacy SSE %s)\n", m.MCPURL(), m.SSEURL())
		popt := o.proxyOptions(roles)
		credTmp, err := authzCredentials(stdout, m, &popt, o.out, hasRole(roles, scenarios.RoleI))
		if err != nil {
			setupCode = exitUsage
			return nil, err
		}
		if credTmp != "" {
			mu.Lock()
			credFile = credTmp
			mu.Unlock()
		}
		// The AS credentials exist only now: the console and the reports
		// (launch line, proxy log) must not show them either.
		o.redactor.add(popt.ClientSecret, popt.RefreshToken)
		spec := o.proxy
		var values map[string]string // launch placeholders, once known
		if o.proxyCmd != "" {
			port, err := proxyundertest.FreePort()
			if err != nil {
				setupCode = exitUsage
				return nil, err
			}
			if tmpDir, err = os.MkdirTemp("", "mcpconform-proxy-"); err != nil {
				setupCode = exitUsage
				return nil, err
			}
			values = o.placeholders(m, port, popt, tmpDir)
			cmdline, _ := proxyundertest.Expand(o.proxyCmd, values)
			spec, _ = proxyundertest.Expand(o.proxy, values)
			mu.Lock()
			fmt.Fprintf(stdout, "launching proxy  %s\n", o.redactor.text(cmdline))
			mu.Unlock()
			run.Proxy.Target = spec
			run.Notes = append(run.Notes, "proxy launched with: "+cmdline)
			l, err := proxyundertest.Launch(cmdline, nil)
			if err != nil {
				mu.Lock()
				unreachable = err
				mu.Unlock()
				return nil, err
			}
			mu.Lock()
			launched = l
			mu.Unlock()
			u, _ := url.Parse(spec)
			wctx, cancel := context.WithTimeout(ctx, o.launchTimeout)
			err = l.WaitReady(wctx, u.Host)
			cancel()
			if err != nil && ctx.Err() != nil {
				// Ctrl-C while the proxy starts: an interrupted run.
				return nil, errors.New("interrupted while the launched proxy was starting")
			}
			if err != nil {
				// The log goes into the final message once, not into every case.
				mu.Lock()
				unreachable = fmt.Errorf("%v\n--- proxy output (last lines) ---\n%s", err, l.LogTail(40))
				mu.Unlock()
				return nil, fmt.Errorf("%v (its output is at the end of the run and in proxyLog)", err)
			}
		}
		t, err := proxyundertest.Open(spec, m.MCPURL(), popt)
		if err != nil {
			setupCode = exitUsage
			return nil, err
		}
		target = t
		switch {
		case t.Specimen != nil:
			fmt.Fprintf(stdout, "proxy under test %s  (built-in, listening on %s)\n", t.Display, t.MCPURL)
		case launched != nil:
			fmt.Fprintf(stdout, "proxy under test %s  (launched, pid group %d)\n", t.MCPURL, launched.Pid())
		default:
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
		env := &scenarios.Env{Mock: m, ProxyMCPURL: t.MCPURL}
		if o.proxySSE != "" {
			if env.ProxySSEURL, err = proxyundertest.LegacyURL(o.proxySSE, values, m.MCPURL(), m.SSEURL()); err != nil {
				setupCode = exitUsage
				return nil, err
			}
			fmt.Fprintf(stdout, "proxy legacy SSE %s\n", env.ProxySSEURL)
		}
		if t.Errors != nil {
			env.ProxyLog = builtinLog(t.Errors)
		}
		if launched != nil {
			env.ProxyGone = launched.Gone
			env.ProxyExited = launched.Done()
		}
		return env, nil
	}
	teardown := func() {
		stopLaunched()
		if target != nil {
			_ = target.Close()
		}
		if mock != nil {
			_ = mock.Close()
		}
	}
	// A launched proxy must not outlive the harness, whatever path ends it.
	defer func() {
		stopLaunched()
		if tmpDir != "" {
			_ = os.RemoveAll(tmpDir)
		}
	}()

	writePartial := func() {}
	if o.out != "" {
		// Each partial write redacts and encodes the whole run, so its cost
		// grows with the evidence: against a flooding proxy, writing after
		// every case is quadratic (minutes), and even a clean run spent a
		// sixth of its time on it. Write at most once a second, and skip a
		// write while the last one cost more than a twentieth of the time
		// since; the final write covers every case.
		var lastWrite time.Time
		var lastCost time.Duration
		writePartial = func() {
			mu.Lock()
			defer mu.Unlock()
			if time.Since(lastWrite) < max(time.Second, 19*lastCost) {
				return
			}
			start := time.Now()
			run.Tally()
			pub := publicCopy(run, o.redactor.list(), o.unredacted)
			_ = report.WriteFileAtomic(filepath.Join(o.out, "results.json"), func(w io.Writer) error { return report.WriteJSON(w, pub) })
			lastWrite, lastCost = time.Now(), time.Since(start)
		}
	}
	// Ginkgo handles SIGINT/SIGTERM inside RunSpecs: it interrupts the
	// running case, marks the rest as skipped and runs AfterSuite (our
	// teardown), then returns. We listen as well only to record that the run
	// was interrupted; every report is still written below.
	var interrupted atomic.Bool
	sigc := make(chan os.Signal, 1)
	signal.Notify(sigc, os.Interrupt, syscall.SIGTERM)
	sigDone := make(chan struct{})
	go func() {
		for {
			select {
			case <-sigc:
				if !interrupted.Swap(true) {
					con.interrupted()
				}
			case <-sigDone:
				return
			}
		}
	}()
	defer func() { signal.Stop(sigc); close(sigDone) }()

	var stop setupStop
	say := func(err error) string {
		mu.Lock()
		defer mu.Unlock()
		if unreachable != nil {
			return "proxy unreachable: " + unreachable.Error()
		}
		return err.Error()
	}
	cfg := scenarios.Config{
		Setup:        o.guardSetup(setup, hdr, stderr, say, &stop),
		Teardown:     teardown,
		Roles:        roles,
		SpecVersion:  o.specVersion,
		Capabilities: map[string]bool{"cors": o.cors, scenarios.CapUpstreamStdio: o.upstreamStdio},
		LabelFilter:  o.labelFilter,
		Focus:        o.focus,
		FailFast:     o.failFast,
		Accepted: func(c report.Case) bool {
			if baseline == nil || c.Outcome != report.Fail {
				return false
			}
			_, ok := baseline.entryFor(&c)
			return ok
		},
		Strict:       o.strict,
		Timeout:      o.timeout,
		SuiteTimeout: o.suiteTimeout,
		MaxBody:      o.maxBody,
		ProxyHeader:  hdr,
		GiveUpAfter:  o.giveUpAfter,
		Params:       o.scenarioParams(),
		BrowserPath:  browserPath,
		BrowserLog:   stdout,
		Verbose:      o.verbose,
		OnHint: func(hint string) {
			con.hint(hint)
			mu.Lock()
			run.Hints = append(run.Hints, hint)
			mu.Unlock()
		},
		OnBegin: con.begin,
		OnStart: con.start,
		OnCase: func(c report.Case) {
			// The console shows what the reports show: credentials redacted.
			mu.Lock()
			shown := publicCopy(&report.Run{Schema: report.SchemaVersion, Cases: []report.Case{c}}, o.redactor.list(), o.unredacted).Cases[0]
			mu.Unlock()
			con.finished(shown)
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
	stopLaunched()
	mu.Lock()
	defer mu.Unlock()
	run.Cases = cases
	run.Finished = time.Now().UTC()
	run.DurationMS = float64(run.Finished.Sub(run.Started).Microseconds()) / 1000
	run.Interrupted = interrupted.Load()
	run.Complete = !run.Interrupted
	if run.Interrupted {
		run.Notes = append(run.Notes, "interrupted (SIGINT/SIGTERM): the running case and every later one are not-run")
	}
	var proxyDied error
	if launched != nil {
		run.ProxyLog = launched.LogTail(200)
		proxyDied = launched.ExitedEarly()
		if proxyDied != nil {
			run.Notes = append(run.Notes, "the launched proxy exited during the run: "+proxyDied.Error())
		}
	}
	if unreachable != nil {
		run.Notes = append(run.Notes, "proxy unreachable at start: "+unreachable.Error())
	}
	if stop.preflight {
		run.Notes = append(run.Notes, stop.err.Error())
	}
	if baseline != nil {
		run.StaleBaseline = baseline.apply(run)
	}
	addReproduce(run, reproduceTargetOf(run, o.out, o.proxyCmd != ""))
	run.SortCases()
	run.Tally()
	pub := publicCopy(run, o.redactor.list(), o.unredacted)
	if err := writeReports(o.out, pub); err != nil {
		fmt.Fprintln(stderr, "mcpconform: writing reports:", err)
		return &exitError{code: exitUsage}
	}
	if err := report.AppendStepSummary(pub); err != nil {
		fmt.Fprintln(stderr, "mcpconform:", err)
	}
	if os.Getenv("GITHUB_ACTIONS") == "true" {
		report.WriteAnnotations(stdout, pub)
	}
	con.summary(pub, o.out, o.failFast)

	switch {
	// A setup failure was said when it happened (guardSetup).
	case stop.code(setupCode, unreachable != nil, run.Interrupted) != exitOK:
		return &exitError{code: stop.code(setupCode, unreachable != nil, run.Interrupted)}
	case proxyDied != nil:
		return &exitError{code: exitUnreachable, err: fmt.Errorf("the launched proxy exited during the run: %v", proxyDied)}
	case run.Failed(o.strict):
		return &exitError{code: exitFail}
	case len(run.Cases) > 0 && run.Counts[report.Skip] == len(run.Cases):
		// A gate that judged nothing must not read as green: the filter
		// picked only cases that do not apply to what the run declared.
		return &exitError{code: exitUsage, err: fmt.Errorf("no case was judged: all %d selected cases were skipped as not applicable (the reasons are above: check --role, --cors and the filter)", len(run.Cases))}
	case run.Counts[report.Error] > 0:
		return &exitError{code: exitUsage, err: fmt.Errorf("%d case(s) could not be judged (harness errors)", run.Counts[report.Error])}
	case run.Interrupted:
		return &exitError{code: exitUsage, err: fmt.Errorf("interrupted; %d case(s) not run", run.Counts[report.NotRun])}
	}
	return nil
}

// secrets are the values redacted from reports unless --unredacted: the
// credentials the run hands the proxy and every --header value.
func (o *runOptions) secrets(hdr http.Header) []string {
	popt := o.proxyOptions(nil)
	out := []string{o.apiKey, popt.ClientSecret, popt.RefreshToken}
	for _, vs := range hdr {
		for _, v := range vs {
			// "Bearer xyz": redact the credential, keep the scheme word, which
			// is evidence (the redactor replaces the longest match first).
			if scheme, cred, ok := strings.Cut(v, " "); ok && !strings.ContainsAny(scheme, "=,") && strings.TrimSpace(cred) != "" {
				v = strings.TrimSpace(cred)
			}
			out = append(out, v)
		}
	}
	return out
}

// placeholders are the values of a --proxy-cmd template.
func (o *runOptions) placeholders(m *mockserver.Mock, port int, popt proxyundertest.Options, tmp string) map[string]string {
	dir := o.profileDir
	if dir == "" {
		dir, _ = os.Getwd()
	}
	header := popt.APIKeyHeader
	if header == "" {
		header = "X-API-Key"
	}
	return map[string]string{
		"port":            strconv.Itoa(port),
		"upstream":        m.MCPURL(),
		"upstream_origin": m.BaseURL,
		"upstream_sse":    m.SSEURL(),
		"token_url":       popt.TokenURL,
		"client_id":       popt.ClientID,
		"client_secret":   popt.ClientSecret,
		"refresh_token":   popt.RefreshToken,
		"api_key":         popt.APIKey,
		"api_key_header":  header,
		"resource":        popt.Resource,
		"profile_dir":     dir,
		"tmp":             tmp,
	}
}

// publicCopy returns run as it may be shared: a redacted deep copy, or run
// itself with --unredacted. The in-memory run keeps the real values so
// reproduce lines and the baseline see what happened.
func publicCopy(run *report.Run, secrets []string, unredacted bool) *report.Run {
	if unredacted {
		return run
	}
	var buf bytes.Buffer
	if err := report.WriteJSON(&buf, run); err != nil {
		return run
	}
	cp, err := report.ReadJSON(&buf)
	if err != nil {
		return run
	}
	report.Redact(cp, secrets)
	return cp
}

// writeReports writes every report format into dir: results.json,
// junit.xml, summary.md, report.html and har/<case>.har per failing case.
func writeReports(dir string, run *report.Run) error {
	if dir == "" {
		return nil
	}
	files := []struct {
		name  string
		write func(io.Writer) error
	}{
		{"results.json", func(w io.Writer) error { return report.WriteJSON(w, run) }},
		{"junit.xml", func(w io.Writer) error { return report.WriteJUnit(w, run) }},
		{"summary.md", func(w io.Writer) error {
			return report.WriteMarkdown(w, run, report.MarkdownOptions{HARDir: "har"})
		}},
		{"report.html", func(w io.Writer) error { return report.WriteHTML(w, []*report.Run{run}) }},
	}
	for _, f := range files {
		if err := report.WriteFileAtomic(filepath.Join(dir, f.name), f.write); err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
	}
	if _, err := writeHARs(filepath.Join(dir, "har"), run); err != nil {
		return fmt.Errorf("har: %w", err)
	}
	return nil
}

// randomAPIKey is 32 hex characters from crypto/rand.
func randomAPIKey() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func hasRole(roles []scenarios.Role, r scenarios.Role) bool {
	for _, x := range roles {
		if x == r {
			return true
		}
	}
	return false
}
