// Package report holds the result model of one conformance run and the writers
// that turn it into files (JSON, JUnit XML, Markdown, HTML, HAR).
//
// Every writer reads the same Run value; nothing here knows about Ginkgo except
// the converter in ginkgo.go.
package report

import (
	"sort"
	"time"
)

// SchemaVersion names the layout of results.json. Bump it when a field changes
// meaning; adding fields is compatible.
const SchemaVersion = "mcpconform.results/v1"

// Outcome is the verdict of one case.
type Outcome string

const (
	Pass         Outcome = "pass"
	Fail         Outcome = "fail"          // a MUST broken
	Warn         Outcome = "warn"          // a SHOULD broken (--strict turns it into fail)
	Info         Outcome = "info"          // a convention not followed; never gates
	Skip         Outcome = "skip"          // not applicable to the declared roles/capabilities
	Error        Outcome = "error"         // the harness could not judge (control failed, proxy gone, ...)
	ExpectedFail Outcome = "expected-fail" // failed, and listed in the baseline
	NotRun       Outcome = "not-run"       // the run stopped (Ctrl-C, fail-fast) before this case
)

// Outcomes lists every outcome in the order reports show them.
var Outcomes = []Outcome{Fail, Error, Warn, ExpectedFail, Info, Pass, Skip, NotRun}

// Run is one invocation of `mcpconform run`.
type Run struct {
	Schema      string    `json:"schema"`
	Tool        Tool      `json:"tool"`
	Proxy       Proxy     `json:"proxy"`
	Upstream    string    `json:"upstream"`
	Started     time.Time `json:"started"`
	Finished    time.Time `json:"finished"`
	DurationMS  float64   `json:"durationMs"`
	Interrupted bool      `json:"interrupted,omitempty"`
	// Complete is false while the run is still going (partial results.json).
	Complete bool            `json:"complete"`
	Counts   map[Outcome]int `json:"counts"`
	Cases    []Case          `json:"cases"`
	// StaleBaseline lists baseline entries whose case now passes.
	StaleBaseline []string `json:"staleBaseline,omitempty"`
	// ProxyLog is the tail of a launched proxy's stdout/stderr.
	ProxyLog string `json:"proxyLog,omitempty"`
	// Notes are run-level remarks (e.g. "proxy unreachable at start").
	Notes []string `json:"notes,omitempty"`
	// SpecVersion is the MCP revision the run judged against (--spec-version):
	// what the mock negotiated and which requirements and levels applied.
	SpecVersion string `json:"specVersion,omitempty"`
	// Hints are findings about the run's setup rather than the proxy, said
	// once at the top of every report (e.g. "this looks like an
	// MCP-terminating bridge; rerun with --role B").
	Hints []string `json:"hints,omitempty"`
}

// Tool identifies the harness that produced the run.
type Tool struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// Proxy describes the proxy under test.
type Proxy struct {
	Target  string   `json:"target"` // URL or builtin:NAME, secrets redacted
	Name    string   `json:"name,omitempty"`
	Version string   `json:"version,omitempty"`
	Roles   []string `json:"roles,omitempty"`
}

// Case is the result of one scenario, or of one row of a table-driven scenario.
type Case struct {
	// ID is the stable identifier users put in baselines: "AUTH-HDR-001" or
	// "AUTH-HDR-001/WWWA-13".
	ID          string   `json:"id"`
	Scenario    string   `json:"scenario"`
	Row         string   `json:"row,omitempty"`
	Title       string   `json:"title"`
	Area        string   `json:"area"`
	Level       string   `json:"level"` // MUST, SHOULD, CONVENTION
	Requirement string   `json:"requirement,omitempty"`
	Source      string   `json:"source,omitempty"`
	KnownBugs   []string `json:"knownBugs,omitempty"`

	Outcome Outcome `json:"outcome"`
	// Reason says why a case was skipped, errored or not run.
	Reason   string `json:"reason,omitempty"`
	Expected string `json:"expected,omitempty"`
	Observed string `json:"observed,omitempty"`
	Hop      string `json:"hop,omitempty"`
	// Message is the full failure text ("expected … / observed … / at hop …").
	Message    string  `json:"message,omitempty"`
	DurationMS float64 `json:"durationMs"`

	Exchanges []Exchange `json:"exchanges,omitempty"`
	// Reproduce holds shell commands that show the failure by hand.
	Reproduce []string `json:"reproduce,omitempty"`
	// Truncated is set when evidence was cut to stay within the per-case cap.
	Truncated bool `json:"truncated,omitempty"`
	// BaselineReason is the reason given in the baseline for an expected-fail.
	BaselineReason string `json:"baselineReason,omitempty"`
	// RootCause is set when the case could not do its own check because a
	// prerequisite failed (e.g. "initialize through the proxy failed: 502
	// Bad Gateway"). Cases with the same RootCause were blocked by one
	// cause: reports show it once, with the list of cases it blocked.
	RootCause string `json:"rootCause,omitempty"`
	// Browser is the same case run by a web client page in a real browser
	// (--browser): what its script could do and read, next to the
	// header-level verdict above, which stays the case's outcome.
	Browser *BrowserCheck `json:"browser,omitempty"`
}

// BrowserCheck is one case as a real browser judged it. Its exchanges
// (preflights included) are in Case.Exchanges at HopBrowserProxy.
type BrowserCheck struct {
	Engine     string `json:"engine"`     // e.g. "Chromium 156.0.8078.114"
	PageOrigin string `json:"pageOrigin"` // the origin the client page ran on
	// Outcome is the browser's own verdict: pass, fail, warn (allowed, with
	// a browser warning about it), skip (a prerequisite failed, so the
	// browser could not reach this check) or error (the browser could not
	// run the check).
	Outcome Outcome `json:"outcome"`
	// Agrees is false when the browser's verdict differs from the
	// header-level one: a finding of its own, said in Summary.
	Agrees  bool          `json:"agrees"`
	Summary string        `json:"summary"`
	Steps   []BrowserStep `json:"steps,omitempty"`
	// Console holds what the browser printed to the page's console during
	// the case (errors and warnings), verbatim.
	Console []string `json:"console,omitempty"`
	// Issues are the DevTools issues raised (CORS errors, deprecations).
	Issues []string `json:"issues,omitempty"`
	// Screenshot is a PNG of the page's result table at the end of the case.
	Screenshot []byte `json:"screenshot,omitempty"`
}

// BrowserStep is one request the client page's script made, with what it
// could do and read.
type BrowserStep struct {
	Name    string `json:"name"`
	Request string `json:"request"`          // "POST http://… via XMLHttpRequest"
	Status  int    `json:"status,omitempty"` // the status the script saw; 0 when no response reached it
	Error   string `json:"error,omitempty"`  // what the script got instead of a response
	// Read are the response fields the script read with their values;
	// Null are those it read as null (hidden by CORS, or absent).
	Read []Header `json:"read,omitempty"`
	Null []string `json:"null,omitempty"`
	// Events is how many SSE events the script read off a stream.
	Events int `json:"events,omitempty"`
	// CORSError is the browser's CORS error status for the step, e.g.
	// "MethodDisallowedByPreflightResponse (DELETE)".
	CORSError string `json:"corsError,omitempty"`
	// Verdict: pass, fail, warn, blocked (a prerequisite of the case
	// failed) or expected (a failure the case wants, e.g. a credentialed
	// request to a proxy that offers none).
	Verdict string `json:"verdict"`
	Note    string `json:"note,omitempty"`
}

// Hop names, used in Exchange.Hop and Case.Hop.
const (
	HopClientProxy    = "client→proxy"
	HopProxyUpstream  = "proxy→upstream"
	HopControl        = "client→upstream (control)"
	HopProxyAuthz     = "proxy→authorization server"
	HopClientAuthz    = "client→authorization server"
	HopClientUpstream = HopControl
)

// HopBrowserProxy is what a real browser sent to the proxy and got back
// (--browser), preflights included.
const HopBrowserProxy = "browser→proxy"

// Exchange is one HTTP request/response pair as seen at one hop.
type Exchange struct {
	Hop        string    `json:"hop"`
	Started    time.Time `json:"started"`
	DurationMS float64   `json:"durationMs"`
	Request    Request   `json:"request"`
	Response   *Response `json:"response,omitempty"`
	// Error is set when no (complete) response arrived: timeout, reset, garbage.
	Error string `json:"error,omitempty"`
	// SSE is the event timeline of a text/event-stream response body.
	SSE []SSEEvent `json:"sse,omitempty"`
}

// Header is one field line; order and repetition are kept.
type Header struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Request is the request half of an exchange.
type Request struct {
	Method        string   `json:"method"`
	URL           string   `json:"url"`
	Proto         string   `json:"proto,omitempty"`
	Headers       []Header `json:"headers"`
	Body          string   `json:"body,omitempty"`
	BodyTruncated bool     `json:"bodyTruncated,omitempty"`
}

// Response is the response half of an exchange.
type Response struct {
	Status        int      `json:"status"`
	StatusText    string   `json:"statusText,omitempty"`
	Proto         string   `json:"proto,omitempty"`
	Headers       []Header `json:"headers"`
	Body          string   `json:"body,omitempty"`
	BodyTruncated bool     `json:"bodyTruncated,omitempty"`
	// Raw is the whole response exactly as written on the socket, when the
	// mock wrote bytes net/http cannot (a NUL or an obs-fold in a field
	// line): Headers and Body are then a reading of it. `mock --replay`
	// writes Raw back as it is.
	Raw string `json:"raw,omitempty"`
}

// SSEEvent is one dispatched server-sent event with its timing.
// SentMS is when the mock wrote it (ms since the exchange started; -1 if
// unknown), ArrivedMS when the harness read it, Read the index of the body read
// that delivered it (events sharing a Read arrived together).
type SSEEvent struct {
	ID        string  `json:"id,omitempty"`
	Event     string  `json:"event,omitempty"`
	Data      string  `json:"data,omitempty"`
	Retry     string  `json:"retry,omitempty"`
	Comment   string  `json:"comment,omitempty"`
	SentMS    float64 `json:"sentMs"`
	ArrivedMS float64 `json:"arrivedMs"`
	Read      int     `json:"read"`
}

// Tally recomputes Counts from Cases.
func (r *Run) Tally() {
	r.Counts = map[Outcome]int{}
	for _, c := range r.Cases {
		r.Counts[c.Outcome]++
	}
}

// SortCases orders cases by area then ID, so every writer lists them alike.
func (r *Run) SortCases() {
	sort.SliceStable(r.Cases, func(i, j int) bool {
		if r.Cases[i].Area != r.Cases[j].Area {
			return areaRank(r.Cases[i].Area) < areaRank(r.Cases[j].Area)
		}
		return r.Cases[i].ID < r.Cases[j].ID
	})
}

// Areas in catalogue order.
var Areas = []string{"bridging", "transport", "cors", "sse", "refresh", "journey", "apikey", "harness"}

func areaRank(a string) int {
	for i, x := range Areas {
		if x == a {
			return i
		}
	}
	return len(Areas)
}

// Failed reports whether the run should exit 1: a fail, or a stale baseline.
// With strict, warnings count as failures too.
func (r *Run) Failed(strict bool) bool {
	if len(r.StaleBaseline) > 0 {
		return true
	}
	for _, c := range r.Cases {
		if c.Outcome == Fail || (strict && c.Outcome == Warn) {
			return true
		}
	}
	return false
}
