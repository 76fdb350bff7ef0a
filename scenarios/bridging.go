package scenarios

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/mcpconform/mcpconform/mockserver"
	"github.com/mcpconform/mcpconform/report"
	"github.com/mcpconform/mcpconform/scenarios/wwwauth"
)

// Area 1: header bridging (AUTH-HDR-*, HTTP-E2E-*).

func init() {
	Define(Scenario{
		ID:          "AUTH-HDR-001",
		Title:       "WWW-Authenticate reaches the client unmodified",
		Area:        "bridging",
		Level:       MUST,
		Roles:       []Role{RoleT, RoleB},
		Requirement: "A proxy forwarding a response MUST NOT modify any WWW-Authenticate header fields in that response.",
		Source:      "RFC 9110 §11.6.1",
		KnownBugs: []string{
			"(i) MCP Inspector v1 proxy dropped the header and answered 500 (inspector#168)",
			"(ii) mcp-proxy 5.10.0 kept only resource_metadata (punkpeye/mcp-proxy#44)",
		},
		Checks: "The mock answers initialize with each catalogue challenge; the client must get the same status and the challenge at B1 (role T) or B2 (role B).",
		Rows:   challengeRows(),
		Run:    checkChallengeRow,
	})
	Define(Scenario{
		ID:          "HTTP-E2E-010",
		Title:       "error statuses reach the client with their Content-Type and body",
		Area:        "bridging",
		Level:       MUST,
		Roles:       []Role{RoleT, RoleB},
		Requirement: "Status codes reach the client unchanged; MCP clients branch on them (404 re-initialize, 405 no GET stream, 400/404/405 legacy fallback).",
		Source:      "RFC 9110 §3.7, §15; MCP 2025-11-25 transports",
		KnownBugs:   []string{"(i) 401 turned into 500 or 200 by bridging proxies (inspector#168)"},
		Checks:      "The mock answers with the status and a JSON-RPC error body (POST initialize; GET and DELETE inside a session for rows -get/-delete); the client must see the same status, Content-Type and body bytes.",
		Rows:        statusRows(),
		Run:         checkStatusRow,
	})
	Define(Scenario{
		ID:          "HTTP-E2E-008",
		Title:       "every 401 the client sees carries a challenge",
		Area:        "bridging",
		Level:       MUST,
		Roles:       anyRoles,
		Requirement: "The server generating a 401 response MUST send a WWW-Authenticate header field containing at least one challenge.",
		Source:      "RFC 9110 §15.5.2, §3.7 (gateways)",
		KnownBugs:   []string{"(i) MCP Inspector v1 relayed upstream 401s as res.status(401).json(error), without the header"},
		Checks:      "The mock answers 401 with a challenge on initialize and on a mid-session call; any 401 at the client must carry a non-empty WWW-Authenticate.",
		Rows: []Row{
			{ID: "initialize", Title: "on initialize"},
			{ID: "mid-session", Title: "on a call inside a session"},
		},
		Run: checkEvery401HasChallenge,
	})
}

// Legs of AUTH-HDR-001: where in the protocol the challenge comes back.
const (
	legInitialize = "initialize" // POST initialize
	legMid        = "mid"        // POST tools/call echo_headers inside a session (upstreamOnlyCall)
	legResume     = "resume"     // GET with Last-Event-ID inside a session
	legStream     = "stream"     // GET stream open inside a session
	legDelete     = "delete"     // DELETE of the session
)

// challengeCase is one row of AUTH-HDR-001: a catalogue challenge on a leg.
type challengeCase struct {
	Ch  mockserver.Challenge
	Leg string
}

// challengeRows are the AUTH-HDR-001 rows. IDs are stable: "WWWA-NN" is the
// row on POST initialize, "WWWA-NN-mid" the same challenge on a POST inside
// a session, and WWWA-38 is WWWA-03 on a GET resume (Last-Event-ID).
func challengeRows() []Row {
	var rows []Row
	for _, c := range mockserver.Challenges {
		title := fmt.Sprintf("%d %s", c.Status, shorten(strings.Join(c.Lines, " ⏎ "), 60))
		if len(c.Lines) == 0 {
			title = fmt.Sprintf("%d without WWW-Authenticate", c.Status)
		}
		rows = append(rows,
			Row{ID: c.ID, Title: "POST initialize: " + title, Data: challengeCase{Ch: c, Leg: legInitialize}},
			Row{ID: c.ID + "-mid", Title: "POST mid-session: " + title, Data: challengeCase{Ch: c, Leg: legMid}})
	}
	w3, _ := mockserver.ChallengeByID("WWWA-03")
	w38 := w3
	w38.ID = "WWWA-38"
	w38.Why = "WWWA-03 on GET /mcp with Last-Event-ID (SSE resume), AUTH-HDR-012 [vii]"
	rows = append(rows, Row{ID: "WWWA-38", Title: "GET resume: 401 " + shorten(strings.Join(w3.Lines, " "), 60), Data: challengeCase{Ch: w38, Leg: legResume},
		Revisions: RevisionRange{Until: Rev20251125}})
	return rows
}

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

// initializeReq is a plain initialize POST.
func initializeReq() Request {
	return Request{Header: postHeaders(""), Body: rpcRequest(1, "initialize", initializeParams())}
}

// Faults answer only on the MCP route, as a real upstream 404s other paths
// before its auth gate runs.
var matchInitialize = mockserver.Match{Method: http.MethodPost, Path: mockserver.MCPPath, RPCMethod: "initialize"}

// deliveryLevel is what the proxy's role must reach for a row: T forwards
// field lines at the row's level (B1 by default, B0 where the row is about
// case or bytes, B2 where normalising is allowed); a terminating bridge
// re-emits an equivalent challenge set (B2).
func (h *H) deliveryLevel(ch mockserver.Challenge) wwwauth.Level {
	if !h.HasRole(RoleT) {
		return wwwauth.B2
	}
	switch ch.Deliver {
	case "B0":
		return wwwauth.B0
	case "B2":
		return wwwauth.B2
	}
	return wwwauth.B1
}

// legMatch is what the armed challenge answers on a leg. The initialize leg
// matches every POST to the MCP endpoint, as a protected server rejects
// every request without a valid credential: a bridge may open its upstream
// session with something else first (a ping, the 2026-07-28
// server/discover) and must meet the same challenge.
func legMatch(leg string) mockserver.Match {
	switch leg {
	case legMid:
		return mockserver.Match{Method: http.MethodPost, Path: mockserver.MCPPath, RPCMethod: "tools/call"}
	case legResume:
		return mockserver.Match{Method: http.MethodGet, Path: mockserver.MCPPath, Header: "Last-Event-ID"}
	case legStream:
		return mockserver.Match{Method: http.MethodGet, Path: mockserver.MCPPath}
	case legDelete:
		return mockserver.Match{Method: http.MethodDelete, Path: mockserver.MCPPath}
	}
	return mockserver.Match{Method: http.MethodPost, Path: mockserver.MCPPath}
}

// sessionLegs are the revisions with a GET stream and session DELETE.
var sessionLegs = RevisionRange{Until: Rev20251125}

// protected makes a canned answer behave like a protected server: it
// answers every matching request until the probe ends (endProbe), so a
// bridge's own probes and re-initializes and an injector's retry meet the
// same answer instead of using up a one-shot fault.
func protected(f mockserver.Fault) mockserver.Fault {
	f.Times = -1
	return f
}

// endProbe disarms what a probe armed, so the control's faults never answer
// the proxy probe's session setup.
func (h *H) endProbe() { h.Mock().Disarm() }

// legSkipForBridge says why a leg cannot be probed through an
// MCP-terminating bridge, or "".
func (h *H) legSkipForBridge(leg string) string {
	if h.Bridge() && leg == legResume {
		return "resumption (GET with Last-Event-ID) is between the client and the bridge's own event store: no upstream request carries the client's Last-Event-ID"
	}
	return ""
}

// judgeOnLeg runs the usual two probes of a fault on one leg: against the
// mock (the control, judged at its hop) and through the proxy.
func (h *H) judgeOnLeg(leg string, f mockserver.Fault, judge func(*Result, string) *Mismatch) {
	res, m := h.sendOnLeg(h.Upstream(), leg, f)
	if m == nil {
		m = judge(res, report.HopControl)
	}
	h.endProbe()
	h.Control(m)
	res, m = h.sendOnLeg(h.Proxy(), leg, f)
	h.Verdict(m)
	h.Verdict(judge(res, report.HopClientProxy))
}

// sendOnLeg arms f as a protected server's answer on the leg, opens a
// session when the leg needs one, and sends the leg's request. A nil Result
// comes with the Mismatch that stopped it. The GET-stream fault is armed
// before the session opens: a bridge opens its upstream GET stream right
// after initialize, not when its client asks for one.
func (h *H) sendOnLeg(t Target, leg string, f mockserver.Fault) (*Result, *Mismatch) {
	if why := h.legSkipForBridge(leg); why != "" {
		h.Skip(why)
	}
	f = protected(f)
	if leg == legInitialize {
		h.Mock().Arm(f)
		return h.Send(t, initializeReq()), nil
	}
	if leg == legStream {
		h.Mock().Arm(f)
	}
	s, bad := h.Open(t)
	if s == nil {
		return nil, Mismatchf(t.Hop, "an MCP session opens before the challenge", "initialize failed: "+bad.describeAnswer())
	}
	if leg != legStream {
		h.Mock().Arm(f)
	}
	switch leg {
	case legMid:
		return s.Call("tools/call", upstreamOnlyCall(), nil), nil
	case legDelete:
		return s.Close(), nil
	case legStream, legResume:
	default:
		h.Errorf("leg %q has no probe", leg)
	}
	hdr := getHeaders(s.ID)
	if leg == legResume {
		hdr.Set("Last-Event-ID", "mcpconform-resume-1")
	}
	// The answer is judged by its head; a stream that opens instead of the
	// refusal stays open, so the read is bounded.
	return h.Stream(t, Request{Method: http.MethodGet, Header: hdr}, StreamOptions{MaxWait: legStreamWait}).asResult(), nil
}

// legStreamWait bounds the read of a GET leg's answer: long enough for a
// refusal's body, short of the scenario timeout when a stream opens instead.
const legStreamWait = 2 * time.Second

// judgeChallenge compares what arrived with what the mock sent for a row.
// It names the changed status, the lost or changed parameters, and the lost
// companion fields (DPoP-Nonce).
func judgeChallenge(ch mockserver.Challenge, sent []string, res *Result, hop string, level wwwauth.Level, bridge bool) *Mismatch {
	want := fmt.Sprintf("%d with WWW-Authenticate %s (%s)", ch.Status, quoteLines(sent), level)
	if res.Err != nil {
		return Mismatchf(hop, want, res.Describe())
	}
	if ch.ErrorOK && (res.Status == http.StatusRequestHeaderFieldsTooLarge || res.Status/100 == 5) {
		return nil // an explicit refusal is allowed for this row
	}
	got := res.Header.Values("WWW-Authenticate")
	var details []string
	if res.Status != ch.Status {
		details = append(details, fmt.Sprintf("status changed from %d to %d", ch.Status, res.Status))
	}
	// A bridge may add its own challenge where the upstream sent none.
	if !(bridge && len(sent) == 0) && !wwwauth.Equivalent(level, sent, got) {
		if len(sent) == 0 {
			details = append(details, fmt.Sprintf("a WWW-Authenticate the upstream never sent was added: %s", quoteLines(got)))
		} else {
			details = append(details, wwwauth.Diff(sent, got)...)
		}
	}
	for _, f := range ch.Extra {
		if g := res.Header.Values(f.Name); len(g) != 1 || g[0] != f.Value {
			details = append(details, fmt.Sprintf("%s changed from %q to %s", f.Name, f.Value, quoteLines(g)))
		}
	}
	if len(details) == 0 {
		return nil
	}
	return Mismatchf(hop, want, fmt.Sprintf("%d with WWW-Authenticate %s", res.Status, quoteLines(got)), details...)
}

func checkChallengeRow(h *H) {
	cc := h.Row.Data.(challengeCase)
	ch := cc.Ch
	if h.Bridge() && ch.Status/100 == 2 {
		h.Skip(fmt.Sprintf("a bridge answers from its own session: a challenge on the upstream's successful %d has no counterpart in its answer", ch.Status))
	}
	sent := ch.Values(h.Mock())
	match := legMatch(cc.Leg)
	// The control reads raw rows through net/http, which unfolds an
	// obs-fold: B2 is the most the control can show there.
	ctl := wwwauth.B0
	if len(ch.RawLines) > 0 {
		ctl = wwwauth.B2
	}
	res, m := h.sendOnLeg(h.Upstream(), cc.Leg, ch.Fault(h.Mock(), match))
	if m == nil {
		m = judgeChallenge(mockserver.Challenge{ID: ch.ID, Status: ch.Status, Extra: ch.Extra}, sent, res, report.HopControl, ctl, false)
	}
	h.endProbe()
	h.Control(m)
	res, m = h.sendOnLeg(h.Proxy(), cc.Leg, ch.Fault(h.Mock(), match))
	h.Verdict(m)
	level := h.deliveryLevel(ch)
	h.Verdict(judgeChallenge(ch, sent, res, report.HopClientProxy, level, !h.HasRole(RoleT)))
	got := res.Header.Values("WWW-Authenticate")
	if res.Status == ch.Status && level != wwwauth.B0 && !wwwauth.Equivalent(wwwauth.B0, sent, got) {
		h.Note("info: delivered at %s but not byte-exact (B0): %s", level, strings.Join(wwwauth.Diff(sent, got), "; "))
	}
	if res.Status != ch.Status && ch.ErrorOK {
		h.Note("info: the proxy refused the message with %d instead of forwarding it (allowed for %s)", res.Status, ch.ID)
	}
}

func quoteLines(lines []string) string {
	if len(lines) == 0 {
		return "(absent)"
	}
	q := make([]string, len(lines))
	for i, l := range lines {
		q[i] = "«" + l + "»"
	}
	return strings.Join(q, " + ")
}

// statusRow is one status in the HTTP-E2E-010 matrix, on a leg.
type statusRow struct {
	Status int
	Leg    string
}

// statusRows are the HTTP-E2E-010 rows: every status on POST initialize
// (row ID = the status), and the statuses clients branch on for GET and
// DELETE (404 re-initialize, 405 no stream / no delete) on those legs.
func statusRows() []Row {
	var rows []Row
	for _, c := range []int{400, 401, 403, 404, 405, 406, 202, 200} {
		rows = append(rows, Row{ID: fmt.Sprint(c), Title: fmt.Sprintf("POST initialize: %d %s", c, http.StatusText(c)), Data: statusRow{Status: c, Leg: legInitialize}})
	}
	for _, leg := range []struct{ id, leg, name string }{{"get", legStream, "GET stream"}, {"delete", legDelete, "DELETE"}} {
		for _, c := range []int{401, 404, 405} {
			rows = append(rows, Row{ID: fmt.Sprintf("%d-%s", c, leg.id), Title: fmt.Sprintf("%s: %d %s", leg.name, c, http.StatusText(c)), Data: statusRow{Status: c, Leg: leg.leg},
				Revisions: sessionLegs})
		}
	}
	return rows
}

func checkStatusRow(h *H) {
	row := h.Row.Data.(statusRow)
	body := mockserver.ErrorBody(row.Status)
	fields := []mockserver.Field{{Name: "Content-Type", Value: "application/json"}}
	if row.Status == http.StatusAccepted {
		body, fields = "", nil // 202 carries no body (MCP: accepted notifications)
	}
	if row.Status == http.StatusUnauthorized || row.Status == http.StatusForbidden {
		// A 401 must carry a challenge (RFC 9110 §15.5.2); 403 carries one in MCP step-up.
		fields = append(fields, mockserver.Field{Name: "WWW-Authenticate", Value: `Bearer resource_metadata="` + h.Mock().PRMURL() + `"`})
	}
	if row.Status == http.StatusMethodNotAllowed {
		fields = append(fields, mockserver.Field{Name: "Allow", Value: "POST"})
	}
	fault := mockserver.Fault{Name: "status-" + h.Row.ID, Match: legMatch(row.Leg), Status: row.Status, Fields: fields, Body: body}
	if h.Bridge() {
		h.skipStatusForBridge(row)
		h.judgeOnLeg(row.Leg, fault, func(res *Result, hop string) *Mismatch {
			if hop == report.HopControl {
				return judgeSameStatusAndBody(res, hop, row.Status, body)
			}
			return h.bridgeLegLevel(row.Leg, res, judgeBridgedStatus(res, hop, row.Status, row.Leg == legInitialize))
		})
		return
	}
	h.judgeOnLeg(row.Leg, fault, func(res *Result, hop string) *Mismatch {
		return judgeSameStatusAndBody(res, hop, row.Status, body)
	})
}

// skipStatusForBridge ends, as a skip, the HTTP-E2E-010 rows that have no
// counterpart through a bridge (it does not return for those).
func (h *H) skipStatusForBridge(row statusRow) {
	switch {
	case row.Status/100 == 2:
		h.Skip(fmt.Sprintf("a bridge answers initialize from its own session: an upstream %d carrying no initialize result cannot open its upstream session, and what the bridge answers then is its own error", row.Status))
	case row.Leg != legInitialize && row.Status != http.StatusUnauthorized:
		h.Skip(fmt.Sprintf("a bridge keeps its own session: an upstream %d on its own %s does not end or refuse the client's session (only an auth refusal must reach the client there)", row.Status, map[string]string{legStream: "GET stream", legDelete: "DELETE"}[row.Leg]))
	}
}

// judgeBridgedStatus is HTTP-E2E-010 through a bridge: the client gets the
// upstream's status and, for a JSON-RPC request (rpcBody), a body that is a
// JSON-RPC error (the bridge re-encodes it with the client's request id:
// meaning, not bytes).
func judgeBridgedStatus(res *Result, hop string, status int, rpcBody bool) *Mismatch {
	want := fmt.Sprintf("%d", status)
	if rpcBody {
		want += " with a JSON-RPC error body"
	}
	if res.Err != nil {
		return Mismatchf(hop, want, res.Describe())
	}
	var d []string
	if res.Status != status {
		d = append(d, fmt.Sprintf("status changed from %d to %d", status, res.Status))
	}
	isErr := false
	for _, m := range res.Messages {
		isErr = isErr || rpcErrorMessage(m) != ""
	}
	if rpcBody && !isErr {
		d = append(d, fmt.Sprintf("the body is not a JSON-RPC error: %q", shorten(string(res.Body), 200)))
	}
	if len(d) > 0 {
		return Mismatchf(hop, want, fmt.Sprintf("%d, Content-Type %q, body %q", res.Status, res.Header.Get("Content-Type"), shorten(string(res.Body), 200)), d...)
	}
	return nil
}

// rpcErrorMessage is the message of a JSON-RPC error object in b, or "".
func rpcErrorMessage(b []byte) string {
	var m struct {
		Error *struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(b, &m) != nil || m.Error == nil {
		return ""
	}
	if m.Error.Message == "" {
		return "(no message)"
	}
	return m.Error.Message
}

// judgeSameStatusAndBody is HTTP-E2E-010 for a forwarding proxy: the same
// status, Content-Type and body bytes.
func judgeSameStatusAndBody(res *Result, hop string, status int, body string) *Mismatch {
	want := fmt.Sprintf("%d, Content-Type application/json, body %s", status, body)
	if body == "" {
		want = fmt.Sprintf("%d with an empty body", status)
	}
	if res.Err != nil {
		return Mismatchf(hop, want, res.Describe())
	}
	var d []string
	if res.Status != status {
		d = append(d, fmt.Sprintf("status changed from %d to %d", status, res.Status))
	}
	if ct := res.Header.Get("Content-Type"); body != "" && !strings.HasPrefix(ct, "application/json") {
		d = append(d, fmt.Sprintf("Content-Type changed to %q", ct))
	}
	if !bytes.Equal(bytes.TrimSpace(res.Body), []byte(body)) {
		d = append(d, fmt.Sprintf("body changed to %q", shorten(string(res.Body), 200)))
	}
	if len(d) == 0 {
		return nil
	}
	return Mismatchf(hop, want, fmt.Sprintf("%d, Content-Type %q, body %q", res.Status, res.Header.Get("Content-Type"), shorten(string(res.Body), 200)), d...)
}

func checkEvery401HasChallenge(h *H) {
	challenge := `Bearer realm="mcp", error="invalid_token", resource_metadata="` + h.Mock().PRMURL() + `"`
	leg := legInitialize
	if h.Row.ID == "mid-session" {
		leg = legMid
	}
	fault := mockserver.Fault{Name: "401", Match: legMatch(leg), Status: http.StatusUnauthorized, Body: mockserver.ErrorBody(401),
		Fields: []mockserver.Field{{Name: "WWW-Authenticate", Value: challenge}, {Name: "Content-Type", Value: "application/json"}}}
	judge := func(res *Result, hop string) *Mismatch {
		switch {
		case res.Err != nil:
			// No answer at all is not "no 401 without a challenge": the
			// client got no challenge either.
			return Mismatchf(hop, "an answer; a 401 carries at least one challenge", res.Describe())
		case res.Status == http.StatusUnauthorized && len(res.Header.Values("WWW-Authenticate")) == 0:
			return Mismatchf(hop, "a 401 carries at least one challenge", "401 without WWW-Authenticate")
		case hop == report.HopControl && res.Status != http.StatusUnauthorized:
			return Mismatchf(hop, "401 from the mock", res.Describe())
		}
		return nil
	}
	h.judgeOnLeg(leg, fault, judge)
}

func init() {
	Define(Scenario{
		ID:          "HTTP-E2E-001",
		Title:       "same-name field lines keep their order",
		Area:        "bridging",
		Level:       MUST,
		Roles:       []Role{RoleT},
		Requirement: "A proxy MUST NOT change the order of these field line values when forwarding a message.",
		Source:      "RFC 9110 §5.3",
		Checks:      "The mock answers 401 with two WWW-Authenticate lines (Basic, then Bearer) and three X-Mcpconform-Order lines; the client must see the values in the same order (lines may be combined).",
		Run:         checkFieldOrder,
	})
	Define(Scenario{
		ID:          "HTTP-E2E-007",
		Title:       "a 405 keeps its Allow field",
		Area:        "bridging",
		Level:       MUST,
		Roles:       []Role{RoleT, RoleB},
		Requirement: "An origin server MUST generate an Allow header field in a 405 response; a proxy MUST NOT modify the Allow header field.",
		Source:      "RFC 9110 §15.5.6, §10.2.1",
		Checks:      "The mock answers DELETE /mcp of a session with 405 Allow: GET, POST; the client must get 405 with the same Allow.",
		Run:         checkAllowOn405,
	})
	Define(Scenario{
		ID:          "HTTP-HOP-001",
		Title:       "fields named by Connection are removed, both ways",
		Area:        "bridging",
		Level:       MUST,
		Roles:       []Role{RoleT, RoleB, RoleI, RoleK},
		Requirement: "Intermediaries MUST parse a received Connection header field before a message is forwarded and, for each connection-option in this field, remove any header or trailer field(s) from the message with the same name as the connection-option, and then remove the Connection header field itself.",
		Source:      "RFC 9110 §7.6.1",
		Checks:      "The client sends Connection: X-Mcpconform-Hop-Req with that field; the mock answers with Connection: X-Mcpconform-Hop and that field. Neither named field may cross the proxy.",
		Run:         checkConnectionFields,
	})
	Define(Scenario{
		ID:          "HTTP-HOP-005",
		Title:       "end-to-end fields are forwarded, both ways",
		Area:        "bridging",
		Level:       MUST,
		Roles:       []Role{RoleT},
		Requirement: "End-to-end fields (WWW-Authenticate, Mcp-Session-Id, MCP-Protocol-Version, Mcp-Method, Mcp-Name, Mcp-Param-*, Last-Event-ID, DPoP-Nonce, Allow, Retry-After, Cache-Control, X-Accel-Buffering) are not connection-specific and are forwarded.",
		Source:      "RFC 9110 §7.6.1 (derived); MCP 2025-11-25 / 2026-07-28 headers",
		KnownBugs:   []string{"allow-list proxies forwarding only mcp-session-id and authorization", "(i)(ii) header rewriting bridges"},
		Checks:      "A POST initialize carries the MCP request fields; the mock answers 429 with the response set. Every field must arrive unchanged (B1) at the upstream and at the client.",
		Run:         checkEndToEndFields,
	})
}

func checkFieldOrder(h *H) {
	fields := []mockserver.Field{
		{Name: "WWW-Authenticate", Value: `Basic realm="legacy"`},
		{Name: "WWW-Authenticate", Value: `Bearer resource_metadata="` + h.Mock().PRMURL() + `", scope="mcp"`},
		{Name: "X-Mcpconform-Order", Value: "1"},
		{Name: "X-Mcpconform-Order", Value: "2"},
		{Name: "X-Mcpconform-Order", Value: "3"},
		{Name: "Content-Type", Value: "application/json"},
	}
	fault := mockserver.Fault{Name: "order", Match: matchInitialize, Status: http.StatusUnauthorized, Fields: fields, Body: mockserver.ErrorBody(401)}
	judge := func(res *Result, hop string) *Mismatch {
		if res.Err != nil {
			return Mismatchf(hop, "401 with the field lines in order", res.Describe())
		}
		var d []string
		for _, name := range []string{"WWW-Authenticate", "X-Mcpconform-Order"} {
			var sent []string
			for _, f := range fields {
				if f.Name == name {
					sent = append(sent, f.Value)
				}
			}
			got := res.Header.Values(name)
			if strings.Join(sent, ", ") != strings.Join(trimEach(got), ", ") {
				d = append(d, fmt.Sprintf("%s: sent %s, got %s", name, quoteLines(sent), quoteLines(got)))
			}
		}
		if len(d) == 0 {
			return nil
		}
		return Mismatchf(hop, "same-name field lines in the order sent", "order or content changed", d...)
	}
	h.Mock().Arm(fault)
	h.Control(judge(h.Send(h.Upstream(), initializeReq()), report.HopControl))
	h.Mock().Arm(fault)
	h.Verdict(judge(h.Send(h.Proxy(), initializeReq()), report.HopClientProxy))
}

func trimEach(ls []string) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = strings.Trim(l, " \t")
	}
	return out
}

func checkAllowOn405(h *H) {
	const allow = "GET, POST"
	fault := mockserver.Fault{Name: "405-allow", Match: legMatch(legDelete), Status: http.StatusMethodNotAllowed,
		Fields: []mockserver.Field{{Name: "Allow", Value: allow}, {Name: "Content-Type", Value: "application/json"}}, Body: mockserver.ErrorBody(405)}
	want := "405 with Allow: " + allow
	judge := func(res *Result, hop string) *Mismatch {
		if res.Err != nil {
			return Mismatchf(hop, want, res.Describe())
		}
		got := res.Header.Values("Allow")
		var d []string
		if res.Status != http.StatusMethodNotAllowed {
			d = append(d, fmt.Sprintf("status changed from 405 to %d", res.Status))
		}
		if strings.Join(trimEach(got), ", ") != allow {
			if len(got) == 0 {
				d = append(d, "the Allow field was dropped")
			} else {
				d = append(d, fmt.Sprintf("Allow changed from %q to %s", allow, quoteLines(got)))
			}
		}
		if len(d) == 0 {
			return nil
		}
		return Mismatchf(hop, want, fmt.Sprintf("%d with Allow %s", res.Status, quoteLines(got)), d...)
	}
	if h.Bridge() {
		// A bridge answers its client's DELETE itself. If that answer is a
		// 405, the bridge is the origin server of it and MUST send Allow
		// (any value of its own); if it ended the session (2xx), there is
		// no 405 to judge.
		h.judgeOnLeg(legDelete, fault, func(res *Result, hop string) *Mismatch {
			switch {
			case hop == report.HopControl || res.Err != nil:
				return judge(res, hop)
			case res.Status/100 == 2:
				h.Skip(fmt.Sprintf("the bridge ended the session itself (%d) although the upstream refused DELETE with 405: no 405 reached the client to judge", res.Status))
			case res.Status == http.StatusMethodNotAllowed && len(res.Header.Values("Allow")) == 0:
				return Mismatchf(hop, "a 405 carries Allow", "405 without Allow", "the bridge is the origin server of its 405 and MUST generate Allow (RFC 9110 §15.5.6)")
			}
			return nil
		})
		return
	}
	h.judgeOnLeg(legDelete, fault, judge)
}

func checkConnectionFields(h *H) {
	const reqField, respField = "X-Mcpconform-Hop-Req", "X-Mcpconform-Hop"
	// No "close" in the option list: Go's Transport deletes a Connection
	// field that contains close before the proxy can read the other
	// options, so `Connection: X, close` would test Go, not the proxy.
	// The mock's own initialize answer carries the fields, so a bridge can
	// open its upstream session through the probe.
	fault := mockserver.Fault{Name: "connection-fields", Match: matchInitialize,
		Decorate: []mockserver.Field{{Name: "Connection", Value: respField}, {Name: respField, Value: "1"}}}
	send := func(t Target) (*Result, *mockserver.Entry) {
		req := initializeReq()
		req.Header.Set("Connection", reqField)
		req.Header.Set(reqField, "1")
		return h.SendArmed(t, fault, req)
	}
	// The control shows that both fields exist when nothing sits in
	// between: the mock sent them and the harness client sent them.
	res, e := send(h.Upstream())
	switch {
	case res.Err != nil || e == nil:
		h.Control(Mismatchf(report.HopControl, "the mock answers the probe", res.Describe()))
	case res.Header.Get(respField) == "" || e.Header.Get(reqField) == "":
		h.Control(Mismatchf(report.HopControl, "both probe fields present without a proxy", fmt.Sprintf("response %s=%q, request %s=%q", respField, res.Header.Get(respField), reqField, e.Header.Get(reqField))))
	}
	res, e = send(h.Proxy())
	if e == nil {
		h.Verdict(Mismatchf(report.HopProxyUpstream, "the initialize reaches the upstream", "it never arrived; client got "+res.Describe()))
	}
	var d []string
	if v := e.Header.Get(reqField); v != "" {
		d = append(d, fmt.Sprintf("request field %s (named by Connection) reached the upstream", reqField))
	}
	if v := e.Header.Get("Connection"); strings.Contains(strings.ToLower(v), strings.ToLower(reqField)) {
		d = append(d, fmt.Sprintf("the client's Connection: %s reached the upstream", v))
	}
	// When the proxy asked the upstream to close, net/http in the mock
	// answers Connection: close instead of the armed option, so on the
	// wire the field was not connection-specific: judge only the request.
	upstreamClosed := strings.Contains(strings.ToLower(e.Header.Get("Connection")), "close")
	if upstreamClosed {
		h.Note("the proxy sent Connection: close upstream; only the request direction was judged")
	}
	if res.Err == nil && !upstreamClosed && res.Header.Get(respField) != "" {
		d = append(d, fmt.Sprintf("response field %s (named by Connection) reached the client", respField))
	}
	if res.Err == nil && strings.Contains(strings.ToLower(res.Header.Get("Connection")), strings.ToLower(respField)) {
		d = append(d, fmt.Sprintf("the upstream's Connection: %s reached the client", res.Header.Get("Connection")))
	}
	if len(d) > 0 {
		h.Verdict(Mismatchf(report.HopClientProxy+" / "+report.HopProxyUpstream, "connection-specific fields removed in both directions", "they were forwarded", d...))
	}
}

// e2eRequestFields are MCP request fields a T proxy forwards as sent.
var e2eRequestFields = []mockserver.Field{
	{Name: "Mcp-Session-Id", Value: "mcs-e2e-probe-!#$~"},
	{Name: "MCP-Protocol-Version", Value: ProtocolVersion},
	{Name: "Mcp-Method", Value: "initialize"},
	{Name: "Mcp-Name", Value: "=?base64?SGVsbG8=?="},
	{Name: "Mcp-Param-Region", Value: "us-west1"},
	{Name: "Last-Event-ID", Value: "s1-3"},
	{Name: "Authorization", Value: "Bearer abc.def-ghi"},
}

// e2eResponseFields are response fields a T proxy forwards as sent.
func e2eResponseFields(m *mockserver.Mock) []mockserver.Field {
	return []mockserver.Field{
		{Name: "WWW-Authenticate", Value: `Bearer error="invalid_token", resource_metadata="` + m.PRMURL() + `"`},
		{Name: "Mcp-Session-Id", Value: "mcs-e2e-resp-~!"},
		{Name: "DPoP-Nonce", Value: "eyJ7S_zG.eyJH0-Z.HX4w-7v"},
		{Name: "Allow", Value: "POST"},
		{Name: "Retry-After", Value: "7"},
		{Name: "Cache-Control", Value: "no-cache, no-transform"},
		{Name: "X-Accel-Buffering", Value: "no"},
		{Name: "Content-Type", Value: "application/json"},
	}
}

func checkEndToEndFields(h *H) {
	respFields := e2eResponseFields(h.Mock())
	fault := mockserver.Fault{Name: "e2e-fields", Match: matchInitialize, Status: http.StatusTooManyRequests, Fields: respFields, Body: mockserver.ErrorBody(429)}
	probe := func(t Target) *Mismatch {
		req := initializeReq()
		for _, f := range e2eRequestFields {
			req.Header.Set(f.Name, f.Value)
		}
		mark := h.Mock().Journal.Mark()
		h.Mock().Arm(fault)
		res := h.Send(t, req)
		var e *mockserver.Entry
		for _, x := range h.Mock().Journal.Since(mark) {
			if x.Fault == fault.Name {
				e = x
			}
		}
		if e == nil {
			return Mismatchf(report.HopProxyUpstream, "the initialize reaches the upstream", "it never arrived; client got "+res.Describe())
		}
		var d []string
		for _, f := range e2eRequestFields {
			if got := e.Header.Values(f.Name); strings.Join(got, ", ") != f.Value {
				d = append(d, fmt.Sprintf("request field %s: sent %q, upstream got %s", f.Name, f.Value, quoteLines(got)))
			}
		}
		if res.Err != nil {
			return Mismatchf(t.Hop, "429 with every end-to-end response field", res.Describe(), d...)
		}
		if res.Status != http.StatusTooManyRequests {
			d = append(d, fmt.Sprintf("status changed from 429 to %d", res.Status))
		}
		consumed := false
		for _, f := range respFields {
			got := res.Header.Values(f.Name)
			switch {
			case strings.Join(trimEach(got), ", ") == f.Value:
			case f.Name == "X-Accel-Buffering" && len(got) == 0:
				// Addressed to intermediaries: a proxy that acts on it and
				// removes it behaves as designed (nginx does).
				consumed = true
			default:
				d = append(d, fmt.Sprintf("response field %s: sent %q, client got %s", f.Name, f.Value, quoteLines(got)))
			}
		}
		switch {
		case len(d) > 0:
			return Mismatchf(t.Hop, "every end-to-end field forwarded unchanged", fmt.Sprintf("%d field(s) lost or changed", len(d)), d...)
		case consumed:
			m := Mismatchf(t.Hop, "every end-to-end field forwarded unchanged", "X-Accel-Buffering: no did not reach the client; every other field did",
				"X-Accel-Buffering is addressed to intermediaries: a proxy that honours it and removes it behaves as designed (nginx's default proxy_hide_header does this); a client behind a second buffering intermediary no longer gets the hint")
			m.Level = CONVENTION
			return m
		}
		return nil
	}
	h.Control(probe(h.Upstream()))
	h.Verdict(probe(h.Proxy()))
}
