package scenarios

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mcpconform/mcpconform/browserprobe"
	"github.com/mcpconform/mcpconform/mockserver"
	"github.com/mcpconform/mcpconform/report"
)

// Browser checks (--browser): a case of the CORS area also runs in headless
// Chromium, whose client page sends the case's requests from its own origin.
// The header-level verdict stays the case's outcome; the browser's verdict
// is an additional check of the same case, and a disagreement between the
// two fails the case and says so.

// browserToken is the bearer token the client page sends where a step
// carries Authorization; no mock in a CORS case checks it.
const browserToken = "mcpconform-browser-token"

// maxBrowserExchanges caps the browser's evidence per case, apart from the
// harness's own (a case may have used its share already).
const maxBrowserExchanges = 40

// browserRun is the one browser of a run, started once the mock and the
// proxy are up.
type browserRun struct {
	once sync.Once
	b    *browserprobe.Browser
	err  error
}

// browserLaunchTimeout bounds Chromium's start. On a loaded 2-core machine
// it has taken 9 s; a start that fails ends the browser checks, not the run.
const browserLaunchTimeout = 30 * time.Second

// launchBrowser starts Chromium in the background, while the mock and the
// proxy are set up.
func (st *runState) launchBrowser() {
	if st.cfg.BrowserPath == "" {
		return
	}
	st.browser.once.Do(func() {
		st.browser.b, st.browser.err = browserprobe.Launch(browserprobe.Options{Path: st.cfg.BrowserPath, LaunchTimeout: browserLaunchTimeout})
	})
}

// awaitBrowser waits until Chromium is ready, before the first case and so
// outside every case's time limit: a slow start must not eat the first CORS
// case's time.
func (st *runState) awaitBrowser(ctx context.Context) {
	b := st.browser.b
	if b == nil || st.browser.err != nil {
		return
	}
	wctx, cancel := context.WithTimeout(ctx, browserLaunchTimeout+time.Second)
	defer cancel()
	if err := b.Ready(wctx); err != nil {
		st.browser.err = err
		fmt.Fprintf(st.browserLog(), "browser         failed to start, the browser checks will be errors: %v\n", err)
		return
	}
	fmt.Fprintf(st.browserLog(), "browser         %s, client page on %s\n", b.Engine(), b.Origin())
}

func (st *runState) browserLog() io.Writer {
	if st.cfg.BrowserLog == nil {
		return io.Discard
	}
	return st.cfg.BrowserLog
}

func (st *runState) stopBrowser() {
	if b := st.browser.b; b != nil {
		_ = b.Close()
	}
}

// browserOn reports whether the run judges in a browser too.
func (h *H) browserOn() bool { return h.run.cfg.BrowserPath != "" }

// failClass says how a browser step failed, so a case can tell its own
// findings from a failure that belongs to another case's requirement.
type failClass string

const (
	// The preflight failed as such: its status, its Allow-Origin, a redirect.
	failPreflight failClass = "preflight"
	// The preflight did not allow the method, or a request field.
	failPreflightMethod failClass = "preflight-method"
	failPreflightHeader failClass = "preflight-header"
	// The preflight did not allow a field that is not an MCP one (an API
	// key header, a --header): another requirement's concern.
	failPreflightOtherHeader failClass = "preflight-other-header"
	// A credentials rule: a wildcard or an Allow-Credentials other than true
	// on a credentialed request.
	failCredentials failClass = "credentials"
	// The browser refused the actual response (its Allow-Origin).
	failActual failClass = "actual"
	// A response reached the script, which read a field as null.
	failHidden failClass = "hidden"
	// A response reached the script, with another status.
	failStatus failClass = "status"
	// The stream gave the script fewer events than it should.
	failStream failClass = "stream"
	// No response and no CORS error: refused, reset, timed out.
	failNetwork failClass = "network"
)

// mcpRequestFields are the request fields an MCP browser client sends
// (lower case, as a preflight names them).
var mcpRequestFields = []string{"authorization", "content-type", "accept", "mcp-session-id", "mcp-protocol-version", "last-event-id"}

// corsClass sorts DevTools' CORS error codes; param is the method or field
// the error names.
func corsClass(code, param string, credentialed bool) failClass {
	switch code {
	case "HeaderDisallowedByPreflightResponse":
		if !slices.Contains(mcpRequestFields, strings.ToLower(param)) {
			return failPreflightOtherHeader
		}
		return failPreflightHeader
	case "WildcardOriginNotAllowed", "InvalidAllowCredentials", "PreflightWildcardOriginNotAllowed", "PreflightInvalidAllowCredentials":
		if credentialed {
			return failCredentials
		}
	case "MethodDisallowedByPreflightResponse", "InvalidAllowMethodsPreflightResponse":
		return failPreflightMethod
	case "InvalidAllowHeadersPreflightResponse":
		return failPreflightHeader
	case "":
		return failNetwork
	}
	if strings.HasPrefix(code, "Preflight") {
		return failPreflight
	}
	return failActual
}

// bstep is one step of a browser check and what it must give the script.
type bstep struct {
	browserprobe.Step
	// setup steps are prerequisites: when one fails the flow stops, and
	// unless the failure is of a class the case judges, the check is
	// blocked rather than failed.
	setup bool
	// status the script must see: 0 any 2xx, -1 any status at all.
	status int
	// must are the fields the script must read (non-null); mustIfSent
	// those it must read when the response carries them.
	must, mustIfSent []string
	// events is how many SSE events the script must read.
	events int
	// arm is armed at the mock for the step, and disarmed after it.
	arm *mockserver.Fault
}

// judgedStep is a step with its verdict.
type judgedStep struct {
	spec    bstep
	r       *browserprobe.Result
	class   failClass
	problem string // what went wrong, in the script's and the browser's words
	verdict string // pass, fail, warn, blocked, expected
}

// browserFlow runs one case's steps in the client page.
type browserFlow struct {
	h       *H
	page    *browserprobe.Page
	concern func(failClass) bool
	// flow sends the case's steps.
	flow func(*browserFlow)
	// header, when set, replaces the run's --header values and key on the
	// page's requests.
	header http.Header
	// warnOn are DevTools issue prefixes that make a passing step a warn
	// (the browser allowed it but said it will not).
	warnOn []string
	// expected, when set, names why a failed step is what the case wants
	// ("" when it is not).
	expected func(*judgedStep) string
	steps    []*judgedStep
	stopped  string // the setup step that failed, ending the flow
	err      error  // the browser could not run the flow
}

// step runs s unless the flow stopped, and returns the script's result (nil
// when it did not run).
func (f *browserFlow) step(s bstep) *browserprobe.Result {
	if f.err != nil || f.stopped != "" {
		return nil
	}
	if s.arm != nil {
		f.h.Mock().Arm(*s.arm)
		defer f.h.Mock().Disarm()
	}
	r, err := f.page.Step(f.h.Ctx(), s.Step)
	if err != nil {
		f.err = err
		return nil
	}
	f.steps = append(f.steps, &judgedStep{spec: s, r: r})
	if s.setup && !statusOK(r, s.status) {
		f.stopped = s.Label
	}
	return r
}

func statusOK(r *browserprobe.Result, want int) bool {
	switch {
	case !r.Reached:
		return false
	case want == -1:
		return true
	case want == 0:
		return r.Status/100 == 2
	}
	return r.Status == want
}

// sessionFallback is the session the browser received on the wire from r
// (empty when none), for later steps when the script could not read it:
// the case at hand judges something else.
func sessionFallback(r *browserprobe.Result) string {
	if r == nil {
		return ""
	}
	sid, _ := r.Wire("Mcp-Session-Id")
	return sid
}

// judge classifies each step once the browser settled.
func (f *browserFlow) judge(s *judgedStep) {
	r, spec := s.r, s.spec
	var problems []string
	switch {
	case !r.Reached:
		s.class = corsClass(r.CORSCode, r.CORSParam, spec.Credentials)
		p := "nothing reached the script: " + r.Error
		if r.CORSError != "" {
			p += "; DevTools: CORS error " + r.CORSError
		} else if r.NetError != "" {
			p += "; DevTools: " + r.NetError
		}
		problems = append(problems, p)
	case !statusOK(r, spec.status):
		s.class = failStatus
		want := "a 2xx"
		if spec.status > 0 {
			want = fmt.Sprint(spec.status)
		}
		problems = append(problems, fmt.Sprintf("the script got %d %s, want %s", r.Status, r.StatusText, want))
	default:
		for _, name := range append(spec.must, spec.mustIfSent...) {
			if _, ok := r.Value(name); ok {
				continue
			}
			if _, onWire := r.Wire(name); !onWire && !slices.Contains(spec.must, name) {
				continue
			}
			s.class = failHidden
			if v, onWire := r.Wire(name); onWire {
				problems = append(problems, fmt.Sprintf("the script read %s as null, though the %d carried %q: hidden by CORS", name, r.Status, shorten(v, 80)))
			} else {
				problems = append(problems, fmt.Sprintf("the script read %s as null: the %d did not carry it", name, r.Status))
			}
		}
		if s.class == "" && len(r.Events) < spec.events {
			s.class = failStream
			p := fmt.Sprintf("the script read %d SSE event(s) off the stream, want %d", len(r.Events), spec.events)
			if r.StreamError != "" {
				p += " (" + r.StreamError + ")"
			}
			problems = append(problems, p)
		}
	}
	// The browser's own words for it.
	for _, c := range r.Console {
		if !strings.HasPrefix(c, "Failed to load resource") {
			problems = append(problems, "Chromium: "+c)
		}
	}
	switch {
	case s.class == "":
		s.verdict = "pass"
		for _, is := range r.Issues {
			for _, w := range f.warnOn {
				if strings.HasPrefix(is, w) {
					s.verdict = "warn"
					problems = append(problems, "allowed, but DevTools raised "+is)
				}
			}
		}
		if s.verdict == "pass" {
			problems = nil
		}
	case f.expected != nil && f.expected(s) != "":
		s.verdict = "expected"
		problems = append([]string{f.expected(s)}, problems...)
	case f.concern(s.class):
		s.verdict = "fail"
	default:
		s.verdict = "blocked"
	}
	s.problem = strings.Join(problems, "; ")
}

// runBrowser runs a case's browser check: f sends the steps and says which
// failures are the case's own. The check always comes back, with
// outcome error when the browser could not run it.
func (h *H) runBrowser(f *browserFlow, headerFailed bool) *report.BrowserCheck {
	b := h.run.browser.b
	if b == nil || h.run.browser.err != nil {
		return &report.BrowserCheck{Outcome: report.Error, Summary: "the browser could not run: " + fmt.Sprint(h.run.browser.err)}
	}
	if h.Ctx().Err() != nil {
		return &report.BrowserCheck{Engine: b.Engine(), PageOrigin: b.Origin(), Outcome: report.Error,
			Summary: "not run: the header-level part used up the case's time (--timeout)"}
	}
	hdr := h.run.cfg.ProxyHeader
	if f.header != nil {
		hdr = f.header
	}
	page, err := b.Open(h.Ctx(), browserprobe.Target{Title: h.c.ID, URL: h.env.ProxyMCPURL, Header: hdr, Token: browserToken})
	if err != nil {
		return &report.BrowserCheck{Engine: b.Engine(), PageOrigin: b.Origin(), Outcome: report.Error, Summary: "the browser could not run: " + err.Error()}
	}
	f.h, f.page = h, page
	f.flow(f)
	h.Mock().Disarm()
	// The evidence is gathered even when the flow broke off, within a short
	// grace past the case's deadline so a slow browser still leaves it.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(h.Ctx()), 2*time.Second)
	defer cancel()
	page.Settle(ctx)
	bc := &report.BrowserCheck{Engine: page.Engine(), PageOrigin: page.Origin()}
	for i, s := range f.steps {
		f.judge(s)
		_ = page.Mark(ctx, i, s.verdict, verdictText(s))
		bc.Steps = append(bc.Steps, stepReport(s))
	}
	bc.Outcome, bc.Summary = f.outcome()
	// A screenshot shows what went wrong; a pass that agrees needs none
	// (and taking one costs a tenth of a second).
	ev := page.Close(ctx, bc.Outcome != report.Pass || headerFailed)
	bc.Console, bc.Issues, bc.Screenshot = ev.Console, ev.Issues, ev.Screenshot
	n := 0
	for _, ex := range ev.Exchanges {
		if n == maxBrowserExchanges {
			h.c.Truncated = true
			break
		}
		if capExchange(&ex) {
			h.c.Truncated = true
		}
		h.c.Exchanges = append(h.c.Exchanges, ex)
		n++
	}
	return bc
}

func verdictText(s *judgedStep) string {
	if s.problem == "" {
		return s.verdict
	}
	return s.verdict + ": " + s.problem
}

func stepReport(s *judgedStep) report.BrowserStep {
	r := s.r
	st := report.BrowserStep{
		Name: s.spec.Label, Request: fmt.Sprintf("%s %s via %s (%s)", r.Method, r.URL, r.Transport, strings.Join(r.Sent, ", ")),
		Error: r.Error, Events: len(r.Events), CORSError: r.CORSError, Verdict: s.verdict, Note: s.problem,
	}
	if r.Reached {
		st.Status = r.Status
	}
	for _, f := range r.Read {
		if f.Value == nil {
			st.Null = append(st.Null, f.Name)
		} else {
			st.Read = append(st.Read, report.Header{Name: f.Name, Value: *f.Value})
		}
	}
	return st
}

// outcome is the browser's verdict of the case and a one-line account.
func (f *browserFlow) outcome() (report.Outcome, string) {
	var fails, warns, blocked []string
	for _, s := range f.steps {
		line := s.spec.Label + ": " + s.problem
		switch s.verdict {
		case "fail":
			fails = append(fails, line)
		case "warn":
			warns = append(warns, line)
		case "blocked":
			blocked = append(blocked, line)
		}
	}
	switch {
	case len(fails) > 0:
		return report.Fail, strings.Join(fails, " | ")
	case f.err != nil:
		return report.Error, "the browser could not run the check: " + f.err.Error()
	case len(warns) > 0:
		return report.Warn, strings.Join(warns, " | ")
	case len(blocked) > 0:
		return report.Skip, "not judged in the browser, a prerequisite failed: " + strings.Join(blocked, " | ")
	}
	var expected []string
	for _, s := range f.steps {
		if s.verdict == "expected" {
			expected = append(expected, s.spec.Label)
		}
	}
	if len(expected) > 0 {
		return report.Pass, fmt.Sprintf("it refused what it must refuse (%s): %s", strings.Join(expected, "; "), f.steps[0].problem)
	}
	return report.Pass, fmt.Sprintf("the script did and read what each of its %d request(s) needed", len(f.steps))
}

// verdictWithBrowser ends a case judged at header level (m, nil when it
// passed) and in the browser (bc): the header-level verdict stays the
// outcome, the browser's is said next to it, and a disagreement fails the
// case with both accounts.
func (h *H) verdictWithBrowser(m *Mismatch, bc *report.BrowserCheck) {
	h.c.Browser = bc
	engine := bc.Engine
	if engine == "" {
		engine = "the browser"
	}
	headerFailed := m != nil
	switch bc.Outcome {
	case report.Fail:
		bc.Agrees = headerFailed
	case report.Pass, report.Warn: // Warn: the browser allowed it, saying it will not
		bc.Agrees = !headerFailed
	default: // not judged in the browser: nothing to agree or disagree with
		bc.Agrees = true
	}
	if !headerFailed {
		switch bc.Outcome {
		case report.Pass:
			h.Note("%s agrees: %s.", engine, bc.Summary)
			return
		case report.Skip:
			h.Note("In %s: %s.", engine, bc.Summary)
			return
		case report.Error:
			h.Errorf("header-level check passed; %s", bc.Summary)
		case report.Warn:
			h.Note("In %s: allowed with a warning: %s.", engine, bc.Summary)
			return
		}
		bc.Summary = "disagreement: the header-level check passed, but in " + engine + " " + bc.Summary
		h.Verdict(Mismatchf(report.HopBrowserProxy, "the client page's script can do and read every request (the header-level check passed)",
			"in "+engine+" it could not", bc.Summary))
	}
	var line string
	switch bc.Outcome {
	case report.Fail:
		line = "in " + engine + " too: " + bc.Summary
	case report.Warn:
		bc.Summary = "disagreement: " + engine + " let it through, with a warning: " + bc.Summary
		line = bc.Summary
	case report.Pass:
		bc.Summary = "disagreement: in " + engine + " " + bc.Summary
		line = bc.Summary
	default:
		line = "in " + engine + ": " + bc.Summary
	}
	m.Details = append(m.Details, line)
	h.Verdict(m)
}

// rpcJSON is a JSON-RPC message for a browser step.
func rpcJSON(b []byte) json.RawMessage { return json.RawMessage(b) }

// corsSetup opens a session in the page as a setup step pair: initialize
// (reading Mcp-Session-Id, as a client does) and notifications/initialized.
// It returns the session the browser received, for steps that need one
// when the script could not read it.
func (f *browserFlow) openSession(auth bool) string {
	r := f.step(bstep{setup: true, Step: browserprobe.Step{Label: "initialize (opens the session)", Method: http.MethodPost,
		RPC: rpcJSON(rpcRequest(1, "initialize", initializeParams())), Auth: auth, Read: []string{"Mcp-Session-Id"}}})
	sid := sessionFallback(r)
	f.step(bstep{setup: true, Step: browserprobe.Step{Label: "notifications/initialized", Method: http.MethodPost,
		RPC: rpcJSON(rpcNotification("notifications/initialized")), Auth: auth, Session: true, SessionID: sid, Version: true, ProtocolVersion: ProtocolVersion}})
	return sid
}

// isOneOf builds a concern from the classes a case judges.
func isOneOf(classes ...failClass) func(failClass) bool {
	return func(c failClass) bool {
		for _, x := range classes {
			if c == x {
				return true
			}
		}
		return false
	}
}
