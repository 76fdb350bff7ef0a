package scenarios

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/mcpconform/mcpconform/mockserver"
	"github.com/mcpconform/mcpconform/report"
	"github.com/mcpconform/mcpconform/scenarios/sseread"
)

// Legacy HTTP+SSE transport (2024-11-05): LSSE-001..004. The mock arms a
// hand-written legacy server per case (mockserver.ArmLegacy) in the style
// the row names; the proxy's legacy endpoint is its /mcp URL with /sse.

const (
	// legacyEventWait bounds the wait for one event on a legacy stream.
	legacyEventWait = 3 * time.Second
	// legacyStreamWait bounds a whole legacy stream exchange.
	legacyStreamWait = 8 * time.Second
)

func init() {
	Define(Scenario{
		ID:            "LSSE-001",
		StdioUpstream: true,
		Title:         "legacy HTTP+SSE: endpoint event first, POSTs to it answered on the stream",
		Area:          "transport",
		Level:         MUST,
		Roles:         []Role{RoleT, RoleB},
		Requirement:   "When a client connects, the server MUST send an endpoint event containing a URI for the client to use for sending messages. All subsequent client messages MUST be sent as HTTP POST requests to this endpoint.",
		Source:        "MCP 2024-11-05 Transports, HTTP with SSE",
		Checks:        "GET /sse through the proxy (TypeScript-SDK upstream); the first event must be `endpoint`, a POST initialize to its URI (resolved against the SSE URL) must be accepted and its answer must arrive as a `message` event on the stream.",
		Run:           checkLegacyRoundTrip,
	})
	Define(Scenario{
		ID:            "LSSE-002",
		StdioUpstream: true,
		Title:         "legacy endpoint URI resolves to the proxy",
		Area:          "transport",
		Level:         MUST,
		Roles:         []Role{RoleT, RoleB},
		Requirement:   "SDK clients resolve the endpoint event data against the SSE URL and refuse an endpoint on another origin; an absolute upstream URL must be rewritten by the proxy, or clients fail or bypass the proxy and its auth.",
		Source:        "MCP 2024-11-05 HTTP with SSE (derived); SDK clients' origin check",
		KnownBugs:     []string{"proxies forwarding an absolute upstream endpoint URL: \"Endpoint origin does not match connection origin\""},
		Checks:        "The upstream emits a relative endpoint (row relative) or an absolute URL on its own origin (row absolute); resolved against the proxy's /sse URL it must point at the proxy, and a POST there must reach the upstream.",
		Rows: []Row{
			{ID: "relative", Title: "relative /messages?sessionId=…", Data: mockserver.LegacyTS},
			{ID: "absolute", Title: "absolute http://upstream/messages?sessionId=…", Data: mockserver.LegacyAbsolute},
		},
		Run: checkLegacyEndpointOrigin,
	})
	Define(Scenario{
		ID:          "LSSE-003",
		Title:       "legacy endpoint path and query reach the upstream verbatim",
		Area:        "transport",
		Level:       MUST,
		Roles:       []Role{RoleT},
		Requirement: "The proxy forwards the endpoint path and query verbatim: the TypeScript SDK emits /messages?sessionId=<uuid>, the Python SDK and FastMCP /messages/?session_id=<hex> (trailing slash, snake_case key).",
		Source:      "MCP 2024-11-05 HTTP with SSE (derived); RFC 9110 §7.7",
		KnownBugs:   []string{"(v) trailing slash added or stripped → 404 (open-webui/mcpo#209, #280; claude-ai-mcp#234)"},
		Checks:      "The upstream emits its endpoint in the row's style; the POST the client sends there must reach the upstream with exactly that path and query.",
		Rows: []Row{
			{ID: "ts", Title: "TypeScript SDK: /messages?sessionId=<uuid>", Data: mockserver.LegacyTS},
			{ID: "python", Title: "Python SDK: /messages/?session_id=<hex>", Data: mockserver.LegacyPython},
		},
		Run: checkLegacyVerbatim,
	})
	Define(Scenario{
		ID:          "LSSE-004",
		Title:       "legacy legs: 401 bridged on GET /sse and POST /messages, 202 passes through",
		Area:        "transport",
		Level:       MUST,
		Roles:       []Role{RoleT, RoleB, RoleK},
		Requirement: "A 401 on GET /sse and on POST /messages is bridged with its challenge; a 202 from POST /messages passes through.",
		Source:      "MCP 2024-11-05 HTTP with SSE; RFC 9110 §15.5.2 (AUTH-HDR-012)",
		Checks:      "The upstream answers GET /sse (row sse-401) or the POST to the endpoint (row messages-401) with 401 and WWWA-03; the client must get 401 with the challenge (B1). Row messages-202: the POST's 202 reaches the client with no body.",
		Rows: []Row{
			{ID: "sse-401", Title: "GET /sse answered 401", Data: legSSE},
			{ID: "messages-401", Title: "POST /messages answered 401", Data: legMessages},
			{ID: "messages-202", Title: "POST /messages answered 202", Data: "messages-202"},
		},
		Run: checkLegacyAuthLegs,
	})
	Define(Scenario{
		ID:          "AUTH-HDR-012",
		Title:       "a 401 with its challenge on every transport leg",
		Area:        "bridging",
		Level:       MUST,
		Roles:       []Role{RoleT, RoleB, RoleK},
		Requirement: "Authorization is checked on every request; the 401 on any leg carries WWW-Authenticate. For an SSE GET, a 401 must not become a 200 that closes immediately.",
		Source:      "MCP 2025-11-25 Token Requirements; RFC 9110 §15.5.2",
		KnownBugs:   []string{"(vii) tokens baked in at stream open: the GET stream's 401 never reaches the client (peakflo/20x#268, metamcp#142)"},
		Checks:      "The upstream answers one leg with 401 and WWWA-03: POST /mcp in a session, GET /mcp stream open, DELETE /mcp, legacy GET /sse, legacy POST /messages. The client must get 401 with the challenge (B1 for T, B2 for B).",
		Rows: []Row{
			{ID: "post", Title: "POST /mcp in a session", Data: legMid},
			{ID: "get", Title: "GET /mcp stream open", Data: legStream, Revisions: sessionLegs},
			{ID: "delete", Title: "DELETE /mcp", Data: legDelete, Revisions: sessionLegs},
			{ID: "sse", Title: "legacy GET /sse", Data: legSSE},
			{ID: "messages", Title: "legacy POST /messages", Data: legMessages},
		},
		Run: checkChallengeEveryLeg,
	})
}

// Legacy legs of a challenge.
const (
	legSSE      = "sse"      // GET /sse stream open
	legMessages = "messages" // POST to the endpoint of an open legacy stream
)

// legacyConn is a legacy SSE stream read in the background, so the harness
// can POST while it stays open, as a legacy client does.
type legacyConn struct {
	h      *H
	t      Target
	url    string
	mark   int
	events chan sseread.Event
	done   chan *StreamResult
	cancel context.CancelFunc
	res    *StreamResult
	closed bool
}

// openLegacy starts GET url on t. The stream stops by itself after the
// answer to request id 1 arrives, at legacyStreamWait, or on close.
func (h *H) openLegacy(t Target, u string) *legacyConn {
	return h.openLegacyUntil(t, u, 1, legacyStreamWait, nil)
}

// openLegacyUntil is openLegacy stopping at the answer to request stopID,
// within wait, with sent supplying send stamps for the timeline.
func (h *H) openLegacyUntil(t Target, u string, stopID int, wait time.Duration, sent func([]sseread.Event) []time.Time) *legacyConn {
	ctx, cancel := context.WithCancel(h.ctx)
	c := &legacyConn{h: h, t: t, url: u, mark: h.Mock().Journal.Mark(), events: make(chan sseread.Event, 64), done: make(chan *StreamResult, 1), cancel: cancel}
	// A shallow copy with its own context: h.stream reads h.ctx, and this
	// stream must end when the case is done with it, not at the timeout.
	hc := *h
	hc.ctx = ctx
	go func() {
		c.done <- hc.stream(t, Request{Method: http.MethodGet, URL: u, Header: http.Header{"Accept": {"text/event-stream"}}},
			StreamOptions{MaxWait: wait, Sent: sent, OnEvent: func(e sseread.Event) bool {
				select {
				case c.events <- e:
				default: // a flood of events: the case reads only the first few
				}
				return !isAnswerTo(e, stopID)
			}})
	}()
	return c
}

// next returns the next event, or false when the stream ended or none came
// within legacyEventWait.
func (c *legacyConn) next() (sseread.Event, bool) {
	timer := time.NewTimer(legacyEventWait)
	defer timer.Stop()
	select {
	case e := <-c.events:
		return e, true
	case res := <-c.done:
		c.res = res
		// Events read before the end are still queued.
		select {
		case e := <-c.events:
			return e, true
		default:
		}
		return sseread.Event{}, false
	case <-timer.C:
		return sseread.Event{}, false
	}
}

// wait lets the stream run until it stops by itself (the awaited answer, or
// its bound), then closes it.
func (c *legacyConn) wait() *StreamResult {
	if c.res == nil {
		c.res = <-c.done
	}
	return c.close()
}

// close ends the stream and attaches its evidence (once, however often it
// is called).
func (c *legacyConn) close() *StreamResult {
	c.cancel()
	if c.res == nil {
		c.res = <-c.done
	}
	if c.closed {
		return c.res
	}
	c.closed = true
	c.h.Evidence(c.res.Exchange)
	if c.t.Name == "proxy" {
		for _, e := range c.h.Mock().Journal.Since(c.mark) {
			if e.Method == http.MethodGet {
				c.h.UpstreamEvidence(e)
			}
		}
	}
	return c.res
}

// isAnswerTo reports whether e is a `message` event carrying the JSON-RPC
// response to id.
func isAnswerTo(e sseread.Event, id int) bool {
	if e.Event != "message" && e.Event != "" {
		return false
	}
	var msg struct {
		ID     json.RawMessage `json:"id"`
		Result json.RawMessage `json:"result"`
		Error  json.RawMessage `json:"error"`
	}
	if json.Unmarshal([]byte(e.Data), &msg) != nil {
		return false
	}
	return string(msg.ID) == fmt.Sprint(id) && (msg.Result != nil || msg.Error != nil)
}

// legacyRun is what one legacy exchange showed.
type legacyRun struct {
	SSEURL   string
	Stream   *StreamResult
	First    *sseread.Event // the first event, nil when none came
	Resolved *url.URL       // the endpoint resolved against SSEURL
	Emitted  string         // the endpoint the upstream emitted
	Cross    bool           // the endpoint resolved to another origin
	Post     *Result        // the POST initialize to the endpoint
	Entry    *mockserver.Entry
	Answered bool // the answer arrived as a message event
	// Upstream says whether the GET reached the upstream at all.
	Upstream bool
}

// legacyInit is the initialize a 2024-11-05 client POSTs to the endpoint.
func legacyInit() []byte {
	p := initializeParams()
	p["protocolVersion"] = mockserver.LegacyProtocolVersion
	return rpcRequest(1, "initialize", p)
}

// legacyExchange arms a legacy upstream of style (after any fault the
// caller armed, so that one answers first), opens the stream on t, POSTs
// initialize to the endpoint and waits for the answer on the stream.
func (h *H) legacyExchange(t Target, style mockserver.LegacyStyle) *legacyRun {
	u := h.legacyURLOrSkip(t)
	l := h.Mock().ArmLegacy(style)
	run := &legacyRun{SSEURL: u}
	c := h.openLegacy(t, u)
	defer func() {
		run.Stream = c.close()
		// The legacy faults answer until disarmed; the next exchange of
		// the case (control, then proxy) arms its own server.
		h.Mock().Disarm()
		for _, e := range h.Mock().Journal.Since(c.mark) {
			if e.Method == http.MethodGet && strings.HasPrefix(e.Path, mockserver.SSEPath) {
				run.Upstream = true
			}
		}
	}()
	first, ok := c.next()
	if !ok {
		return run
	}
	run.First = &first
	if eps := l.Endpoints(); len(eps) > 0 {
		run.Emitted = eps[len(eps)-1]
	}
	base, _ := url.Parse(u)
	ref, err := url.Parse(strings.TrimSpace(first.Data))
	if first.Event != "endpoint" || err != nil {
		return run
	}
	run.Resolved = base.ResolveReference(ref)
	if run.Resolved.Scheme != base.Scheme || run.Resolved.Host != base.Host {
		// SDK clients refuse this endpoint; the harness does not bypass
		// the proxy either.
		run.Cross = true
		return run
	}
	mark := h.Mock().Journal.Mark()
	run.Post = h.Send(t, Request{URL: run.Resolved.String(), Header: http.Header{"Content-Type": {"application/json"}}, Body: legacyInit()})
	for _, e := range h.Mock().Journal.Since(mark) {
		if e.Method == http.MethodPost && strings.HasPrefix(e.Path, mockserver.MessagesPath) {
			run.Entry = e
		}
	}
	if !run.Post.OK() {
		return run
	}
	for {
		e, ok := c.next()
		if !ok {
			return run
		}
		if isAnswerTo(e, 1) {
			run.Answered = true
			return run
		}
	}
}

// skipNoLegacy skips when the proxy does not expose /sse at all: its own
// 404 and nothing reached the upstream.
func (h *H) skipNoLegacy(run *legacyRun) {
	if run.Stream != nil && run.Stream.Err == nil && run.Stream.Status == http.StatusNotFound && !run.Upstream {
		h.Skip("the proxy answers 404 on /sse without asking the upstream: it does not expose the legacy HTTP+SSE endpoint")
	}
}

// describeFirst says what the stream delivered instead of an endpoint event.
func (run *legacyRun) describeStream() string {
	switch {
	case run.Stream == nil:
		return "no stream"
	case run.First == nil:
		return run.Stream.Describe() + ", no event"
	case run.First.Event != "endpoint":
		return fmt.Sprintf("%s, first event %q with data %q", run.Stream.Describe(), run.First.Event, shorten(run.First.Data, 120))
	}
	return fmt.Sprintf("endpoint %q", run.First.Data)
}

// judgeRoundTrip is LSSE-001's rule on one run.
func judgeRoundTrip(run *legacyRun, hop string) *Mismatch {
	const want = "first event `endpoint`; a POST there accepted (2xx); the answer as a `message` event"
	switch {
	case run.First == nil || run.First.Event != "endpoint":
		return Mismatchf(hop, want, run.describeStream())
	case run.Resolved == nil:
		return Mismatchf(hop, want, fmt.Sprintf("endpoint data %q is not a URI reference", run.First.Data))
	case run.Cross:
		return Mismatchf(hop, want, fmt.Sprintf("endpoint %q resolves to another origin than %s", run.First.Data, run.SSEURL), "the client cannot POST through the proxy")
	case !run.Post.OK():
		return Mismatchf(hop, want, "POST "+run.Resolved.String()+": "+run.Post.Describe())
	case !run.Answered:
		return Mismatchf(hop, want, "POST accepted, but the answer to initialize never arrived on the stream: "+run.Stream.Describe())
	}
	return nil
}

func checkLegacyRoundTrip(h *H) {
	h.Control(judgeRoundTrip(h.legacyExchange(h.Upstream(), mockserver.LegacyTS), report.HopControl))
	run := h.legacyExchange(h.Proxy(), mockserver.LegacyTS)
	h.skipNoLegacy(run)
	h.Verdict(judgeRoundTrip(run, report.HopClientProxy))
}

func checkLegacyEndpointOrigin(h *H) {
	style := h.Row.Data.(mockserver.LegacyStyle)
	h.Control(judgeRoundTrip(h.legacyExchange(h.Upstream(), style), report.HopControl))
	run := h.legacyExchange(h.Proxy(), style)
	h.skipNoLegacy(run)
	want := "the endpoint resolves to the proxy's origin and a POST there reaches the upstream"
	switch {
	case run.First == nil || run.First.Event != "endpoint" || run.Resolved == nil:
		h.Verdict(Mismatchf(report.HopClientProxy, want, run.describeStream()))
	case run.Cross:
		m := Mismatchf(report.HopClientProxy, want,
			fmt.Sprintf("endpoint %q resolves to %s://%s, not the proxy's %s", run.First.Data, run.Resolved.Scheme, run.Resolved.Host, run.SSEURL),
			fmt.Sprintf("the upstream emitted %q and the proxy forwarded it unchanged; SDK clients refuse it (\"Endpoint origin does not match connection origin\") or bypass the proxy", run.Emitted))
		if !h.Bridge() {
			// A transparent proxy forwards bodies as they are; the cure is
			// the deployment's, so this is a warning with the fix. A bridge
			// mints its own endpoint: for it the leak stays a failure.
			m.Level = SHOULD
			m.Details = append(m.Details, "fix the deployment: have the upstream emit a relative endpoint (or its public URL, e.g. a base-URL setting), or add a body rewrite rule for the `endpoint` event (nginx sub_filter, Caddy replace-response)")
		}
		h.Verdict(m)
	case run.Entry == nil && !h.Bridge():
		h.Verdict(Mismatchf(report.HopProxyUpstream, want, "POST "+run.Resolved.String()+" never reached the upstream; client got "+run.Post.Describe()))
	default:
		h.Verdict(judgeRoundTrip(run, report.HopClientProxy))
	}
}

func checkLegacyVerbatim(h *H) {
	style := h.Row.Data.(mockserver.LegacyStyle)
	judge := func(run *legacyRun, hop string) *Mismatch {
		want := fmt.Sprintf("the upstream receives POST %s", run.Emitted)
		if run.Emitted == "" {
			want = "the upstream receives the POST at the endpoint it emitted"
		}
		switch {
		case run.First == nil || run.First.Event != "endpoint" || run.Resolved == nil || run.Cross:
			return Mismatchf(hop, want, run.describeStream())
		case run.Entry == nil:
			return Mismatchf(report.HopProxyUpstream, want, "POST "+run.Resolved.String()+" never reached the upstream; client got "+run.Post.Describe())
		}
		got := run.Entry.Path
		if run.Entry.RawQuery != "" {
			got += "?" + run.Entry.RawQuery
		}
		if got != run.Emitted {
			var d []string
			emittedPath, emittedQuery, _ := strings.Cut(run.Emitted, "?")
			if run.Entry.Path != emittedPath {
				d = append(d, fmt.Sprintf("path changed from %q to %q", emittedPath, run.Entry.Path))
			}
			if run.Entry.RawQuery != emittedQuery {
				d = append(d, fmt.Sprintf("query changed from %q to %q", emittedQuery, run.Entry.RawQuery))
			}
			return Mismatchf(report.HopProxyUpstream, want, "POST "+got, d...)
		}
		if !run.Post.OK() {
			return Mismatchf(hop, want+", its answer reaching the client", run.Post.Describe())
		}
		return nil
	}
	h.Control(judge(h.legacyExchange(h.Upstream(), style), report.HopControl))
	run := h.legacyExchange(h.Proxy(), style)
	h.skipNoLegacy(run)
	h.Verdict(judge(run, report.HopClientProxy))
}

func checkLegacyAuthLegs(h *H) {
	leg := h.Row.Data.(string)
	if leg != "messages-202" {
		h.challengeOnLeg(leg)
		return
	}
	judge := func(run *legacyRun, hop string) *Mismatch {
		const want = "202 Accepted with no body for the POST to the endpoint"
		switch {
		case run.Post == nil:
			return Mismatchf(hop, want, "no POST sent: "+run.describeStream())
		case run.Post.Err != nil:
			return Mismatchf(hop, want, run.Post.Describe())
		case run.Post.Status != http.StatusAccepted:
			return Mismatchf(hop, want, run.Post.Describe(), fmt.Sprintf("status changed from 202 to %d", run.Post.Status))
		case len(strings.TrimSpace(string(run.Post.Body))) > 0 && !(h.Bridge() && hop != report.HopControl):
			// A bridge answers the POST itself; what its 202 says is its
			// own (the TypeScript SDK's legacy server writes "Accepted").
			return Mismatchf(hop, want, fmt.Sprintf("202 with body %q", shorten(string(run.Post.Body), 120)), "a body was added")
		}
		return nil
	}
	h.Control(judge(h.legacyExchange(h.Upstream(), mockserver.LegacyTS), report.HopControl))
	run := h.legacyExchange(h.Proxy(), mockserver.LegacyTS)
	h.skipNoLegacy(run)
	h.Verdict(judge(run, report.HopClientProxy))
}

func checkChallengeEveryLeg(h *H) { h.challengeOnLeg(h.Row.Data.(string)) }

// challengeOnLeg answers one leg with 401 and WWWA-03, as a protected
// server does (every request on the leg until the probe ends, so an
// injector's retry or a bridge's re-initialize meets it too), and judges
// what the client got at the row's delivery level.
func (h *H) challengeOnLeg(leg string) {
	ch, _ := mockserver.ChallengeByID("WWWA-03")
	sent := ch.Values(h.Mock())
	probe := func(t Target) (*Result, *Mismatch) {
		switch leg {
		case legSSE, legMessages:
			if h.Bridge() && t.Name == "proxy" {
				return h.legacyChallengeBridge(t, ch, leg == legMessages)
			}
		}
		switch leg {
		case legSSE:
			u := h.legacyURLOrSkip(t)
			h.Mock().Arm(protected(ch.Fault(h.Mock(), mockserver.Match{Method: http.MethodGet, Path: mockserver.SSEPath})))
			mark := h.Mock().Journal.Mark()
			res := h.Send(t, Request{Method: http.MethodGet, URL: u, Header: http.Header{"Accept": {"text/event-stream"}}})
			if res.Err == nil && res.Status == http.StatusNotFound && len(h.Mock().Journal.Since(mark)) == 0 {
				h.Skip("the proxy answers 404 on /sse without asking the upstream: it does not expose the legacy HTTP+SSE endpoint (name it with --proxy-sse if it has one elsewhere)")
			}
			return res, nil
		case legMessages:
			// Armed before the legacy server, so every POST to the
			// endpoint gets the challenge instead of the legacy answer.
			h.Mock().Arm(protected(ch.Fault(h.Mock(), mockserver.Match{Method: http.MethodPost, Path: mockserver.MessagesPath})))
			run := h.legacyExchange(t, mockserver.LegacyTS)
			if t.Name == "proxy" {
				h.skipNoLegacy(run)
			}
			if run.Post == nil {
				return nil, Mismatchf(t.Hop, "a legacy stream with an endpoint to POST to", run.describeStream())
			}
			return run.Post, nil
		}
		return h.sendOnLeg(t, leg, ch.Fault(h.Mock(), legMatch(leg)))
	}
	res, m := probe(h.Upstream())
	if m == nil {
		m = judgeChallenge(mockserver.Challenge{ID: ch.ID, Status: ch.Status}, sent, res, report.HopControl, h.deliveryLevel(ch), false)
	}
	h.endProbe()
	h.Control(m)
	res, m = probe(h.Proxy())
	h.Verdict(m)
	h.Verdict(h.bridgeLegLevel(leg, res, judgeChallenge(ch, sent, res, report.HopClientProxy, h.deliveryLevel(ch), !h.HasRole(RoleT))))
}

// bridgeLegLevel weighs a refused leg through a bridge, where the client's
// request and the upstream's refusal are not one exchange. DELETE: the
// bridge may end its own session and answer 2xx (fine), or pass the
// refusal on; anything else (a 500) fails. GET stream and a legacy POST in
// an open session: the bridge answered the client from its own session
// (a 200 stream, a 202), so the refusal surfaces only later or in-band; a
// client then loses server messages silently, or cannot start its
// authorization flow from a legacy POST — a SHOULD, said with the effect.
// A bridge that does answer with a refusal there is judged on it as any
// proxy is, at the scenario's level.
func (h *H) bridgeLegLevel(leg string, res *Result, m *Mismatch) *Mismatch {
	if m == nil || !h.Bridge() {
		return m
	}
	accepted := res != nil && res.Err == nil && res.Status/100 == 2
	switch leg {
	case legDelete:
		if accepted {
			h.Note("the bridge ended the client's session itself (%d) although the upstream refused its DELETE", res.Status)
			return nil
		}
		m.Details = append(m.Details, "a bridge may end its own session and answer 2xx, or pass the refusal on with its challenge; this answer does neither")
	case legStream:
		if !accepted {
			break // it did pass a refusal on: judged as one, at the scenario's level
		}
		m.Level = SHOULD
		m.Details = append(m.Details, "the upstream refused the bridge's GET stream; the client's GET got a stream that will never carry the upstream's messages, and learns of the refusal only at its next POST")
	case legMessages:
		if !accepted {
			break
		}
		m.Level = SHOULD
		m.Details = append(m.Details, "the bridge accepted the legacy POST before the upstream refused it: a legacy client with authorization support (it reacts to a 401 on its POST) cannot start its authorization flow")
	}
	return m
}

// legacyChallengeBridge is a legacy leg through a bridge, whose upstream
// session need not use the legacy transport at all. The upstream refuses
// with the challenge on every MCP route; the client must learn of it with
// the challenge on the first request where it can: GET /sse (a bridge that
// connects upstream when the stream opens) or the POST of initialize to the
// endpoint (one that connects on initialize). With mid set, the session
// opens first and the challenge answers a later call, whose POST to the
// endpoint must carry it (the only way a legacy client learns of a 401).
func (h *H) legacyChallengeBridge(t Target, ch mockserver.Challenge, mid bool) (*Result, *Mismatch) {
	u := h.legacyURLOrSkip(t)
	armAll := func() {
		for _, m := range []mockserver.Match{
			{Path: mockserver.MCPPath}, {Path: mockserver.SSEPath}, {Path: mockserver.MessagesPath},
		} {
			h.Mock().Arm(protected(ch.Fault(h.Mock(), m)))
		}
	}
	if !mid {
		armAll()
	}
	c := h.openLegacyUntil(t, u, 2, legacyStreamWait, nil)
	defer c.close()
	first, ok := c.next()
	if !ok || first.Event != "endpoint" {
		res := c.close()
		if res.Err == nil && res.Status != http.StatusOK {
			return res.asResult(), nil // the GET itself carried the refusal
		}
		return nil, Mismatchf(t.Hop, "the legacy stream opens with an endpoint event, or GET /sse is refused with the challenge", res.Describe())
	}
	base, _ := url.Parse(u)
	ref, err := url.Parse(strings.TrimSpace(first.Data))
	if err != nil {
		return nil, Mismatchf(t.Hop, "an endpoint URI", fmt.Sprintf("endpoint data %q", first.Data))
	}
	ep := base.ResolveReference(ref).String()
	post := func(body []byte) *Result {
		return h.Send(t, Request{URL: ep, Header: http.Header{"Content-Type": {"application/json"}}, Body: body})
	}
	init := post(legacyInit())
	if !mid {
		return init, nil
	}
	if !init.OK() {
		return nil, Mismatchf(t.Hop, "the legacy session opens before the challenge", "initialize POST: "+init.Describe())
	}
	for {
		e, ok := c.next()
		if !ok {
			return nil, Mismatchf(t.Hop, "the answer to initialize on the legacy stream", "it never arrived")
		}
		if isAnswerTo(e, 1) {
			break
		}
	}
	if r := post(rpcNotification("notifications/initialized")); !r.OK() {
		return nil, Mismatchf(t.Hop, "notifications/initialized is accepted", r.Describe())
	}
	armAll()
	return post(rpcRequest(2, "tools/list", nil)), nil
}
