// Package scenarios holds the conformance scenarios (Ginkgo specs, one file
// per area), their catalogue, and the harness client that drives a proxy.
// Ginkgo runs inside the mcpconform binary: Run builds the spec tree from the
// catalogue and calls RunSpecs once per process.
package scenarios

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/formatter"
	"github.com/onsi/ginkgo/v2/types"
	"github.com/onsi/gomega"

	"github.com/mcpconform/mcpconform/mockserver"
	"github.com/mcpconform/mcpconform/report"
)

// Env is what Setup provides: the running mock and where the proxy listens.
type Env struct {
	Mock        *mockserver.Mock
	ProxyMCPURL string
	// ProxySSEURL is the proxy's legacy HTTP+SSE endpoint (--proxy-sse);
	// empty means derive it from ProxyMCPURL where that is possible.
	ProxySSEURL string
	// ProxyGone, when set, reports why a launched proxy is no longer running
	// (nil while it runs), so the remaining cases end at once as errors.
	ProxyGone func() error
	// ProxyExited, when set, is closed once a launched proxy has exited. A
	// process that died a moment ago already refuses connections before its
	// exit is reaped; a case that failed on the wire waits for this (briefly)
	// so it is reported as the exit, not as a conformance failure.
	ProxyExited <-chan struct{}
	// ProxyLog, when set, lists what the proxy itself logged between two
	// times (a built-in's account of its upstream hop); a case that does
	// not pass shows the lines logged while it ran.
	ProxyLog func(from, to time.Time) []string
}

// Config is one run, built by the CLI from its flags.
type Config struct {
	// Setup starts the mock and the target. It runs in BeforeSuite, because
	// Ginkgo may os.Exit and everything it starts must live inside the suite.
	Setup    func(ctx context.Context) (*Env, error)
	Teardown func()

	Roles []Role
	// SpecVersion is the MCP revision judged (--spec-version): what the
	// harness negotiates, which scenarios exist and at which level.
	SpecVersion  string
	Capabilities map[string]bool // "cors", ...
	LabelFilter  string
	Focus        []string
	// FailFast stops the run at the first case that fails or errs (after
	// Strict), unless Accepted says the baseline expects it; the rest end
	// not-run. Infos and warnings never stop it.
	FailFast bool
	Accepted func(report.Case) bool
	// Strict makes a broken SHOULD (warn) a failure, as each case ends.
	Strict bool
	// Timeout bounds each scenario; SuiteTimeout the whole run.
	Timeout      time.Duration
	SuiteTimeout time.Duration
	MaxBody      int64
	ProxyHeader  http.Header

	// GiveUpAfter ends the remaining cases at once as errors after this many
	// consecutive cases in which every request to the proxy timed out; 0
	// waits out every case.
	GiveUpAfter int

	// Params are area settings (API key, token lifetime, SSE timing).
	Params Params

	// BrowserPath, when set, is the Chromium that also judges the CORS
	// area from a client page (--browser); see browsercheck.go. BrowserLog
	// is told once it started (its version, the page's origin) or failed.
	BrowserPath string
	BrowserLog  io.Writer

	// Progress receives one line per finished case; Verbose adds the
	// failure text.
	Progress io.Writer
	Verbose  bool
	// OnCase is called after every case, for incremental reports.
	OnCase func(report.Case)
	// OnHint receives, at most once per run, a finding about the run's
	// setup rather than the proxy: the declared role does not match what
	// reached the upstream.
	OnHint func(string)
	// OnBegin is called once before the first case with the number of cases
	// the filters selected; OnStart when a case begins. The CLI draws its
	// progress line from them.
	OnBegin func(total int)
	OnStart func(id, title string)
}

// Params are the settings areas read through H.Params().
type Params struct {
	APIKey       string
	APIKeyHeader string
	Exempt       []string
	NamedServer  string
	TokenTTL     time.Duration
	SSEGap       time.Duration
	SSETolerance time.Duration
	Long         bool
}

type runState struct {
	cfg      Config
	env      *Env
	setupErr error
	client   *client
	mu       sync.Mutex
	cases    []report.Case
	// unanswered counts consecutive cases in which every request to the
	// proxy timed out: a hung proxy would otherwise cost one full timeout
	// per remaining case.
	unanswered int
	// stopAt is the case that stopped the run under --fail-fast.
	stopAt string
	// roleSeen is set once the first session through the proxy has been
	// compared with what reached the upstream (observeRole).
	roleSeen bool
	browser  browserRun
}

// observeRole compares the first session opened through the proxy with what
// reached the upstream for it, and says once when the declared role does
// not match: a terminating bridge sends its own initialize and hands its
// client its own session id; a transparent proxy forwards the client's
// initialize and the upstream's id.
func (st *runState) observeRole(clientSession string, upstream []*mockserver.Entry) {
	st.mu.Lock()
	if st.roleSeen || st.cfg.OnHint == nil {
		st.mu.Unlock()
		return
	}
	st.roleSeen = true
	st.mu.Unlock()
	var init *mockserver.Entry
	for _, e := range upstream {
		if e.RPCMethod == "initialize" {
			init = e
		}
	}
	if init == nil {
		return // nothing reached the HTTP mock (a stdio upstream): nothing to compare
	}
	_, rh, _, _ := init.Response()
	minted := rh.Get("Mcp-Session-Id")
	var body struct {
		Params struct {
			ClientInfo struct {
				Name string `json:"name"`
			} `json:"clientInfo"`
		} `json:"params"`
	}
	_ = json.Unmarshal(init.Body, &body)
	own := body.Params.ClientInfo.Name != harnessClientName
	renamed := minted != "" && clientSession != minted
	bridge := false
	for _, r := range st.cfg.Roles {
		bridge = bridge || r == RoleB
	}
	switch {
	case !bridge && (own || renamed):
		var why []string
		if own {
			why = append(why, fmt.Sprintf("the upstream received an initialize from client %q, not the harness's", body.Params.ClientInfo.Name))
		}
		if renamed {
			why = append(why, "the client got a session id other than the one the upstream minted")
		}
		st.cfg.OnHint("this looks like an MCP-terminating bridge (" + strings.Join(why, "; ") + "), but the run declares it transparent: rerun with --role B, or transparent-proxy checks fail for reasons that are not bugs")
	case bridge && !own && !renamed && minted != "":
		st.cfg.OnHint("this looks like a transparent proxy (the upstream received the harness's own initialize and minted the session id the client got), but the run declares --role B: rerun with --role T for the byte-level checks")
	}
}

var (
	treeOnce sync.Once
	current  *runState
)

// defaults fills unset limits.
func (c *Config) defaults() {
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	if c.SuiteTimeout <= 0 {
		c.SuiteTimeout = time.Hour
	}
	if c.MaxBody <= 0 {
		c.MaxBody = 16 << 20
	}
	if len(c.Roles) == 0 {
		c.Roles = []Role{RoleT}
	}
	if c.SpecVersion == "" {
		c.SpecVersion = DefaultRevision
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
}

// Run executes the selected scenarios and returns one Case per result, in
// catalogue order. It may be called once per process (a Ginkgo rule).
func Run(cfg Config) ([]report.Case, error) {
	cfg.defaults()
	ProtocolVersion = cfg.SpecVersion
	st := &runState{cfg: cfg, client: newClient(cfg.MaxBody)}
	first := false
	treeOnce.Do(func() { first = true; current = st; buildTree() })
	if !first {
		return nil, errors.New("scenarios.Run called twice in one process (Ginkgo runs once per process)")
	}
	// Ginkgo's own reporter would interleave its output with ours.
	formatter.ColorableStdOut = io.Discard
	gomega.RegisterFailHandler(ginkgo.Fail)
	suiteCfg, repCfg := ginkgo.GinkgoConfiguration()
	suiteCfg.LabelFilter = cfg.LabelFilter
	suiteCfg.FocusStrings = cfg.Focus
	suiteCfg.Timeout = cfg.SuiteTimeout
	suiteCfg.GracePeriod = 5 * time.Second
	suiteCfg.RandomizeAllSpecs = false
	repCfg.NoColor = true
	repCfg.Succinct = true
	repCfg.SilenceSkips = true
	ginkgo.RunSpecs(&quietT{}, suiteText, suiteCfg, repCfg)
	st.client.close()
	st.stopBrowser()
	st.reportUnrun()
	return st.cases, nil
}

// quietT is the GinkgoTestingT Ginkgo reports failure to; the verdict is read
// from the cases, not from here.
type quietT struct{ failed bool }

func (t *quietT) Fail() { t.failed = true }

// CaseInfo is one selected case, for `list`.
type CaseInfo struct {
	ID       string
	Scenario *Scenario
	Row      *Row // nil for a scenario without rows
}

// Preview lists the cases a run with these filters would execute, without
// running anything (Ginkgo's dry run). Like Run, once per process.
func Preview(cfg Config) ([]CaseInfo, error) {
	cfg.defaults()
	st := &runState{cfg: cfg}
	first := false
	treeOnce.Do(func() { first = true; current = st; buildTree() })
	if !first {
		return nil, errors.New("scenarios.Preview called after the tree was built")
	}
	formatter.ColorableStdOut = io.Discard
	suiteCfg, repCfg := ginkgo.GinkgoConfiguration()
	suiteCfg.LabelFilter = cfg.LabelFilter
	suiteCfg.FocusStrings = cfg.Focus
	rep := ginkgo.PreviewSpecs(suiteText, suiteCfg, repCfg)
	var out []CaseInfo
	for _, sr := range rep.SpecReports {
		if sr.LeafNodeType != types.NodeTypeIt || sr.State == types.SpecStateSkipped {
			continue
		}
		id := caseIDFromText(sr.LeafNodeText)
		if sc, ok := Lookup(id); ok {
			ci := CaseInfo{ID: id, Scenario: sc}
			if _, rowID, ok := strings.Cut(id, "/"); ok {
				for i := range sc.Rows {
					if sc.Rows[i].ID == rowID {
						ci.Row = &sc.Rows[i]
					}
				}
			}
			out = append(out, ci)
		}
	}
	return out, nil
}

func caseIDFromText(text string) string {
	id, _, _ := strings.Cut(text, " ")
	return id
}

// buildTree turns the catalogue into Ginkgo specs: one Describe per area, one
// It per case. Everything sits inside one top-level container so Ginkgo keeps
// the catalogue order (it shuffles top-level containers only).
func buildTree() {
	ginkgo.Describe(suiteText, func() {
		byArea := map[string][]*Scenario{}
		var areas []string
		for _, s := range All() {
			if _, ok := byArea[s.Area]; !ok {
				areas = append(areas, s.Area)
			}
			byArea[s.Area] = append(byArea[s.Area], s)
		}
		for _, area := range areas {
			ginkgo.Describe(area, ginkgo.Label(area), func() {
				for _, s := range byArea[area] {
					if len(s.Rows) == 0 {
						defineCase(s, nil)
						continue
					}
					for i := range s.Rows {
						defineCase(s, &s.Rows[i])
					}
				}
			})
		}
	})

	ginkgo.BeforeSuite(func(ctx ginkgo.SpecContext) {
		st := current
		if st.cfg.Setup == nil {
			st.setupErr = errors.New("no setup configured")
			return
		}
		st.launchBrowser()
		func() {
			// A setup that panics (a built-in proxy that cannot start as
			// asked) must end every case as an error, not skip them all
			// and leave an empty, passing run.
			defer func() {
				if r := recover(); r != nil {
					st.env, st.setupErr = nil, fmt.Errorf("setup panicked: %v", r)
				}
			}()
			env, err := st.cfg.Setup(ctx)
			st.env, st.setupErr = env, err
		}()
		if st.setupErr == nil {
			st.awaitBrowser(ctx)
		}
	}, ginkgo.NodeTimeout(time.Minute))

	ginkgo.ReportBeforeSuite(func(r types.Report) {
		if current.cfg.OnBegin != nil {
			current.cfg.OnBegin(r.PreRunStats.SpecsThatWillRun)
		}
	})

	ginkgo.AfterSuite(func() {
		current.stopBrowser()
		if current.cfg.Teardown != nil {
			current.cfg.Teardown()
		}
	})

	ginkgo.ReportAfterEach(func(sr types.SpecReport) {
		if sr.LeafNodeType != types.NodeTypeIt {
			return
		}
		current.finish(sr)
	})
}

func defineCase(s *Scenario, row *Row) {
	id, title := caseText(s, row)
	timeout := max(current.cfg.Timeout, s.Timeout)
	ginkgo.It(id+" "+title, ginkgo.Label(s.labels(row)...), ginkgo.SpecTimeout(timeout+5*time.Second),
		func(ctx ginkgo.SpecContext) {
			current.runCase(ctx, s, row, id, title, timeout)
		})
}

// newCase fills the catalogue part of a result, at the run's revision.
func (st *runState) newCase(s *Scenario, row *Row, id, title string) *report.Case {
	c := &report.Case{
		ID: id, Scenario: s.ID, Title: title, Area: s.Area, Level: string(s.LevelAt(st.cfg.SpecVersion)),
		Requirement: s.Requirement, Source: s.Source, KnownBugs: s.KnownBugs,
	}
	if row != nil {
		c.Row = row.ID
	}
	return c
}

func (st *runState) runCase(ctx context.Context, s *Scenario, row *Row, id, title string, timeout time.Duration) {
	c := st.newCase(s, row, id, title)
	if st.cfg.OnStart != nil {
		st.cfg.OnStart(id, title)
	}
	// Each case starts on fresh connections: a connection a hostile proxy
	// left half-read or wedged must not poison the next case through the
	// keep-alive pool.
	defer st.client.close()
	ginkgo.AddReportEntry("mcpconform.case", c, ginkgo.ReportEntryVisibilityNever)
	h := &H{env: st.env, run: st, sc: s, Row: row, c: c, ev: newEvidenceLog()}
	if st.setupErr != nil {
		st.notRunAfterSetup(c)
	}
	if at := st.failedFast(); at != "" {
		c.Reason = "not run: --fail-fast stopped the run after " + at + " failed"
		ginkgo.Skip(c.Reason)
	}
	if ok, why := s.AppliesTo(st.cfg.Roles); !ok {
		h.Skip(why)
	}
	if ok, why := s.existsAt(st.cfg.SpecVersion, row); !ok {
		h.Skip(why)
	}
	if st.cfg.Capabilities[CapUpstreamStdio] && !s.StdioUpstream {
		h.Skip("the proxy's upstream is a stdio server (--upstream-stdio): this check needs the HTTP mock behind the proxy, its answers or its record of what arrived")
	}
	if s.Needs != "" && !st.cfg.Capabilities[s.Needs] {
		h.Skip(fmt.Sprintf("needs capability %q, which the run does not declare (--%s)", s.Needs, s.Needs))
	}
	if st.env.ProxyGone != nil {
		if err := st.env.ProxyGone(); err != nil {
			h.Errorf("proxy exited: %v", err)
		}
	}
	if n := st.cfg.GiveUpAfter; n > 0 && st.unanswered >= n {
		h.Errorf("proxy unresponsive: in the last %d cases every request to it timed out, so this case was not waited for (--give-up-after %d)", st.unanswered, n)
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	h.ctx = cctx
	defer st.blameExit(c)
	defer st.env.Mock.Disarm()
	s.Run(h)
}

// failedFast is the case that stopped the run under --fail-fast, or "".
func (st *runState) failedFast() string {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.stopAt
}

// finish converts a finished spec into a Case and hands it on.
func (st *runState) finish(sr types.SpecReport) {
	var c *report.Case
	for _, e := range sr.ReportEntries {
		if e.Name == "mcpconform.case" {
			c, _ = e.GetRawValue().(*report.Case)
		}
	}
	if c == nil {
		// Not started (skipped by filter, fail-fast or an interrupt).
		id := caseIDFromText(sr.LeafNodeText)
		s, ok := Lookup(id)
		if !ok {
			return
		}
		_, rowID, _ := strings.Cut(id, "/")
		var row *Row
		for i := range s.Rows {
			if s.Rows[i].ID == rowID {
				row = &s.Rows[i]
			}
		}
		title := strings.TrimPrefix(sr.LeafNodeText, id+" ")
		c = st.newCase(s, row, id, title)
		if !st.selected(sr) {
			return // filtered out by --label-filter/--focus: not part of this run
		}
	}
	s, _ := Lookup(c.Scenario)
	report.FromSpec(sr, c, s.LevelAt(st.cfg.SpecVersion).Outcome())
	if st.cfg.Strict && c.Outcome == report.Warn {
		c.Outcome = report.Fail
	}
	if c.Outcome == report.Pass || c.Outcome == report.Skip || c.Outcome == report.NotRun {
		c.RootCause = "" // the prerequisite failed on the way but did not decide the case
	}
	st.attachProxyLog(c, sr)
	st.countUnanswered(c)
	st.mu.Lock()
	st.cases = append(st.cases, *c)
	if st.cfg.FailFast && st.stopAt == "" && (c.Outcome == report.Fail || c.Outcome == report.Error) &&
		(st.cfg.Accepted == nil || !st.cfg.Accepted(*c)) {
		st.stopAt = c.ID
	}
	st.mu.Unlock()
	st.progress(c)
	if st.cfg.OnCase != nil {
		st.cfg.OnCase(*c)
	}
}

// proxyExitGrace bounds how long a case that failed on the wire waits to
// learn whether the launched proxy has just exited.
const proxyExitGrace = 500 * time.Millisecond

// blameExit turns a case that failed because the launched proxy died under
// it into a harness error naming the exit. It runs while the case unwinds.
func (st *runState) blameExit(c *report.Case) {
	if st.env.ProxyExited == nil || c.Outcome == report.Skip {
		return
	}
	wireError := false
	for _, ex := range c.Exchanges {
		if ex.Hop == report.HopClientProxy && ex.Error != "" {
			wireError = true
		}
	}
	if !wireError {
		return
	}
	t := time.NewTimer(proxyExitGrace)
	defer t.Stop()
	select {
	case <-st.env.ProxyExited:
	case <-t.C:
		return
	}
	c.Outcome = report.Error
	c.Reason = "proxy exited"
	if err := st.env.ProxyGone(); err != nil {
		c.Reason = "proxy exited: " + err.Error()
	}
}

// countUnanswered updates the run of consecutive cases whose every request
// to the proxy timed out. Cases that sent nothing to the proxy (skips, quick
// errors) leave it as it is; one complete answer resets it.
func (st *runState) countUnanswered(c *report.Case) {
	sent, late := 0, 0
	for _, ex := range c.Exchanges {
		if ex.Hop != report.HopClientProxy {
			continue
		}
		sent++
		if timedOut(ex) {
			late++
		}
	}
	switch {
	case sent == 0:
	case late == sent:
		st.unanswered++
	default:
		st.unanswered = 0
	}
}

// selected reports whether the filters chose this spec, so a spec skipped by
// fail-fast or an interrupt (not run) is told apart from one filtered out.
func (st *runState) selected(sr types.SpecReport) bool {
	f := Filters{LabelFilter: st.cfg.LabelFilter, Focus: st.cfg.Focus}
	return f.matches(sr.Labels(), suiteText+" "+sr.FullText())
}

func (st *runState) progress(c *report.Case) {
	if st.quietAfterSetup(c) {
		return
	}
	mark := map[report.Outcome]string{
		report.Pass: "PASS", report.Fail: "FAIL", report.Warn: "WARN", report.Info: "INFO",
		report.Skip: "SKIP", report.Error: "ERR ", report.NotRun: "----", report.ExpectedFail: "XFAIL",
	}[c.Outcome]
	fmt.Fprintf(st.cfg.Progress, "%-5s %-28s %6.0fms  %s\n", mark, c.ID, c.DurationMS, c.Title)
	if st.cfg.Verbose || c.Outcome == report.Fail || c.Outcome == report.Error {
		if c.Message != "" && c.Outcome != report.Pass {
			for _, l := range strings.Split(c.Message, "\n") {
				fmt.Fprintf(st.cfg.Progress, "        %s\n", l)
			}
		} else if c.Reason != "" && c.Outcome == report.Error {
			fmt.Fprintf(st.cfg.Progress, "        %s\n", c.Reason)
		}
	}
}
