package scenarios

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/onsi/ginkgo/v2"

	"github.com/mcpconform/mcpconform/mockserver"
	"github.com/mcpconform/mcpconform/report"
)

// maxExchangesPerCase caps the evidence one case keeps, so a scenario that
// sends hundreds of requests cannot bloat the report.
const maxExchangesPerCase = 40

// H is what a scenario body works with: the targets, the mock, the evidence
// of the case, and the verdict helpers.
type H struct {
	ctx context.Context
	env *Env
	run *runState
	sc  *Scenario
	// Row is the current row of a table-driven scenario, nil otherwise.
	Row *Row
	c   *report.Case
	// ev guards the evidence of c: a stream read in the background and the
	// requests sent meanwhile attach evidence concurrently.
	ev *evidenceLog
}

// evidenceLog serialises evidence writes and remembers which upstream
// journal entries are attached, so overlapping probes attach each once.
type evidenceLog struct {
	mu   sync.Mutex
	seen map[int]bool
}

func newEvidenceLog() *evidenceLog { return &evidenceLog{seen: map[int]bool{}} }

// Ctx is bounded by the scenario timeout; every wait in a scenario uses it.
func (h *H) Ctx() context.Context { return h.ctx }

// Mock is the mock upstream.
func (h *H) Mock() *mockserver.Mock { return h.env.Mock }

// Params are the run's area settings.
func (h *H) Params() Params { return h.run.cfg.Params }

// Roles are the roles the proxy under test is declared to hold.
func (h *H) Roles() []Role { return h.run.cfg.Roles }

// HasRole reports whether the proxy holds r.
func (h *H) HasRole(r Role) bool {
	for _, x := range h.run.cfg.Roles {
		if x == r {
			return true
		}
	}
	return false
}

// knownSessions snapshots the session ids the mock has minted so far. A
// request that later carries one of them belongs to an older session (a
// bridge ends an earlier client's upstream session when it gets round to
// it), not to the probe that started after the snapshot.
func (h *H) knownSessions() map[string]bool {
	out := map[string]bool{}
	for _, id := range h.Mock().Sessions() {
		out[id] = true
	}
	return out
}

// ownTraffic drops the entries that carry an older session's id.
func ownTraffic(entries []*mockserver.Entry, older map[string]bool) []*mockserver.Entry {
	var out []*mockserver.Entry
	for _, e := range entries {
		if id := e.Header.Get("Mcp-Session-Id"); id == "" || !older[id] {
			out = append(out, e)
		}
	}
	return out
}

// CapUpstreamStdio is the capability of a run whose proxy bridges to a
// stdio server it spawns (--upstream-stdio), not to the HTTP mock.
const CapUpstreamStdio = "upstream-stdio"

// stdioUpstream reports whether the run declared a stdio upstream: the HTTP
// mock then sees nothing of the proxy's traffic.
func (h *H) stdioUpstream() bool { return h.run.cfg.Capabilities[CapUpstreamStdio] }

// Bridge reports whether the proxy is declared an MCP-terminating bridge
// (role B): it keeps its own sessions, ids and SSE framing and opens its own
// upstream session, so probes run inside sessions opened through it and
// compare JSON-RPC meaning instead of bytes.
func (h *H) Bridge() bool { return h.HasRole(RoleB) }

// Proxy is the proxy under test.
func (h *H) Proxy() Target {
	sse := h.env.ProxySSEURL
	if sse == "" {
		sse = derivedLegacyURL(h.env.ProxyMCPURL)
	}
	return Target{Name: "proxy", MCPURL: h.env.ProxyMCPURL, SSEURL: sse, Hop: report.HopClientProxy, Header: h.run.cfg.ProxyHeader}
}

// Upstream is the mock reached directly: the control.
// When the mock's token gate is on (role I runs), the control carries the
// mock's control token, which only the harness holds.
func (h *H) Upstream() Target {
	t := Target{Name: "upstream", MCPURL: h.env.Mock.MCPURL(), SSEURL: h.env.Mock.SSEURL(), Hop: report.HopControl}
	if h.env.Mock.GateOn() {
		t.Header = http.Header{"Authorization": {"Bearer " + h.env.Mock.ControlToken()}}
	}
	return t
}

// Send performs one request and keeps the evidence: the exchange at the
// client, and, through the proxy, what the upstream received for it.
func (h *H) Send(t Target, req Request) *Result {
	mark := h.env.Mock.Journal.Mark()
	res := h.run.client.do(h.ctx, t, req)
	h.Evidence(res.Exchange)
	if t.Name == "proxy" {
		h.UpstreamEvidence(h.env.Mock.Journal.Since(mark)...)
	}
	return res
}

// UpstreamEvidence attaches what the upstream received (and answered), each
// journal entry once per case however many probes saw it.
func (h *H) UpstreamEvidence(entries ...*mockserver.Entry) {
	for _, e := range entries {
		h.ev.mu.Lock()
		dup := h.ev.seen[e.Seq]
		h.ev.seen[e.Seq] = true
		h.ev.mu.Unlock()
		if !dup {
			h.Evidence(e.Exchange())
		}
	}
}

// SendArmed arms fault, sends req, and returns the result with the upstream
// journal entry the fault answered (nil when the request never reached the
// mock): what the upstream received is then judged next to what came back.
func (h *H) SendArmed(t Target, fault mockserver.Fault, req Request) (*Result, *mockserver.Entry) {
	mark := h.Mock().Journal.Mark()
	h.Mock().Arm(fault)
	res := h.Send(t, req)
	for _, e := range h.Mock().Journal.Since(mark) {
		if e.Fault == fault.Name {
			return res, e
		}
	}
	return res, nil
}

// Evidence attaches exchanges to the case, up to the cap.
func (h *H) Evidence(ex ...report.Exchange) {
	h.ev.mu.Lock()
	defer h.ev.mu.Unlock()
	for _, e := range ex {
		if len(h.c.Exchanges) >= h.evidenceCap() {
			h.c.Truncated = true
			return
		}
		if capExchange(&e) {
			h.c.Truncated = true // bodies or headers cut to the evidence caps
		}
		h.c.Exchanges = append(h.c.Exchanges, e)
	}
}

// evidenceCap is how many exchanges the case keeps: maxExchangesPerCase,
// or more where the scenario says so (Scenario.MaxExchanges).
func (h *H) evidenceCap() int {
	if h.sc == nil {
		return maxExchangesPerCase
	}
	return max(maxExchangesPerCase, h.sc.MaxExchanges)
}

// Mismatch is a check that did not hold: what was expected, what was seen,
// and at which hop. Details name precisely what changed.
type Mismatch struct {
	Hop      string
	Expected string
	Observed string
	Details  []string
	// Level, when set, is the keyword of this particular check where it
	// differs from its scenario's (a MUST scenario whose finding is only a
	// SHOULD, e.g. progress delivered on the wrong stream): it decides the
	// outcome instead of the scenario's level.
	Level Level
}

// Mismatchf builds a Mismatch.
func Mismatchf(hop, expected, observed string, details ...string) *Mismatch {
	return &Mismatch{Hop: hop, Expected: expected, Observed: observed, Details: details}
}

func (m *Mismatch) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "expected: %s\nobserved: %s\nat hop:   %s", m.Expected, m.Observed, m.Hop)
	for _, d := range m.Details {
		fmt.Fprintf(&b, "\n  - %s", d)
	}
	return b.String()
}

// Control judges the probe run directly against the mock. If it fails, the
// harness itself is wrong (or the mock is), so the case is an error and never
// a proxy failure.
func (h *H) Control(m *Mismatch) {
	if m == nil {
		return
	}
	if slow := h.proxyTimeout(); slow != "" && h.ctx.Err() != nil {
		// The control failed only because the case's time was gone, and
		// a request to the proxy is what used it up: the proxy's verdict,
		// not the harness's error.
		h.Verdict(Mismatchf(report.HopClientProxy, "an answer within the case's time limit (--timeout)", "a request to the proxy timed out: "+slow,
			"the case ran out of time before it could finish (its next control, direct to the mock, had none left)"))
	}
	h.c.Outcome = report.Error
	h.c.Reason = "control failed (direct to the mock, no proxy): the harness cannot judge this case"
	h.record(m)
	ginkgo.Fail(h.c.Reason + "\n" + m.String())
}

// proxyTimeout is the error of this case's first request to the proxy that
// timed out, or "".
func (h *H) proxyTimeout() string {
	for _, ex := range h.c.Exchanges {
		if ex.Hop == report.HopClientProxy && timedOut(ex) {
			return ex.Error
		}
	}
	return ""
}

// timedOut reports whether an exchange ended because its time ran out (the
// client's errors say "timed out"): a proxy that did not answer in time.
func timedOut(ex report.Exchange) bool { return strings.Contains(ex.Error, "timed out") }

// Verdict judges the probe run through the proxy. A nil Mismatch passes.
func (h *H) Verdict(m *Mismatch) {
	if m == nil {
		return
	}
	if m.Level != "" {
		h.c.Outcome = m.Level.Outcome()
	}
	h.record(m)
	ginkgo.Fail(m.String())
}

// Pass records a remark on a passing case (e.g. "B0 not reached; B1 holds").
func (h *H) Note(format string, args ...any) {
	note := fmt.Sprintf(format, args...)
	if h.c.Message == "" {
		h.c.Message = note
	} else {
		h.c.Message += "\n" + note
	}
}

func (h *H) record(m *Mismatch) {
	h.c.Expected, h.c.Observed, h.c.Hop = m.Expected, m.Observed, m.Hop
	if len(m.Details) > 0 {
		h.c.Observed += " (" + strings.Join(m.Details, "; ") + ")"
	}
	h.c.Message = m.String()
}

// Errorf ends the case as a harness error (the harness could not judge).
func (h *H) Errorf(format string, args ...any) {
	h.c.Outcome = report.Error
	h.c.Reason = fmt.Sprintf(format, args...)
	ginkgo.Fail(h.c.Reason)
}

// Skip ends the case as not applicable, with the reason.
func (h *H) Skip(reason string) {
	h.c.Outcome = report.Skip
	h.c.Reason = reason
	ginkgo.Skip(reason)
}

// Session is an initialized MCP session on one target.
type Session struct {
	h      *H
	T      Target
	ID     string
	nextID int
	// Init is the initialize result.
	Init *Result
}

// Open initializes an MCP session (initialize + notifications/initialized).
// On failure it returns nil and the result that failed.
//
// Through the proxy, a failure is recorded as the case's root cause: the
// case could not reach its own check, and every case blocked the same way
// is shown under that one cause.
func (h *H) Open(t Target) (*Session, *Result) {
	mark := h.env.Mock.Journal.Mark()
	res := h.Send(t, Request{Header: postHeaders(""), Body: rpcRequest(1, "initialize", initializeParams())})
	if !res.OK() || len(res.Messages) == 0 {
		h.blockedBy(t, "initialize through the proxy failed: "+res.describeAnswer())
		return nil, res
	}
	s := &Session{h: h, T: t, ID: res.Header.Get("Mcp-Session-Id"), nextID: 2, Init: res}
	if t.Name == "proxy" {
		h.run.observeRole(s.ID, h.env.Mock.Journal.Since(mark))
	}
	if n := s.Notify("notifications/initialized"); n.Err != nil || n.Status/100 != 2 {
		h.blockedBy(t, "notifications/initialized through the proxy failed: "+n.Describe())
		return nil, n
	}
	return s, res
}

// blockedBy records a failed prerequisite through the proxy as the case's
// root cause (the first one wins; a passing case drops it, see finish).
func (h *H) blockedBy(t Target, cause string) {
	if t.Name == "proxy" && h.c.RootCause == "" {
		h.c.RootCause = cause
	}
}

// Call sends a JSON-RPC request in the session; extra headers override.
func (s *Session) Call(method string, params any, extra http.Header) *Result {
	id := s.nextID
	s.nextID++
	hdr := postHeaders(s.ID)
	for k, v := range extra {
		hdr[k] = v
	}
	return s.h.Send(s.T, Request{Header: hdr, Body: rpcRequest(id, method, params)})
}

// Notify sends a JSON-RPC notification in the session.
func (s *Session) Notify(method string) *Result {
	return s.h.Send(s.T, Request{Header: postHeaders(s.ID), Body: rpcNotification(method)})
}

// Close sends DELETE for the session, best effort.
func (s *Session) Close() *Result {
	return s.h.Send(s.T, Request{Method: http.MethodDelete, Header: postHeaders(s.ID)})
}
