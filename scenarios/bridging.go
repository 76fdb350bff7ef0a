package scenarios

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"

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
		Checks:      "The mock answers initialize with the status and a JSON-RPC error body; the client must see the same status, Content-Type and body bytes.",
		Rows:        statusRows(400, 401, 403),
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
	legMid        = "mid"        // POST tools/list inside a session
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
	rows = append(rows, Row{ID: "WWWA-38", Title: "GET resume: 401 " + shorten(strings.Join(w3.Lines, " "), 60), Data: challengeCase{Ch: w38, Leg: legResume}})
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

// legMatch is what the armed challenge answers on a leg.
func legMatch(leg string) mockserver.Match {
	switch leg {
	case legMid:
		return mockserver.Match{Method: http.MethodPost, Path: mockserver.MCPPath, RPCMethod: "tools/list"}
	case legResume:
		return mockserver.Match{Method: http.MethodGet, Path: mockserver.MCPPath, Header: "Last-Event-ID"}
	case legStream:
		return mockserver.Match{Method: http.MethodGet, Path: mockserver.MCPPath}
	case legDelete:
		return mockserver.Match{Method: http.MethodDelete, Path: mockserver.MCPPath}
	}
	return matchInitialize
}

// sendOnLeg opens a session when the leg needs one, arms f and sends the
// leg's request. A nil Result comes with the Mismatch that stopped it.
func (h *H) sendOnLeg(t Target, leg string, f mockserver.Fault) (*Result, *Mismatch) {
	if leg == legInitialize {
		h.Mock().Arm(f)
		return h.Send(t, initializeReq()), nil
	}
	s, bad := h.Open(t)
	if s == nil {
		return nil, Mismatchf(t.Hop, "an MCP session opens before the challenge", "initialize failed: "+bad.Describe())
	}
	h.Mock().Arm(f)
	switch leg {
	case legMid:
		return s.Call("tools/list", nil, nil), nil
	case legDelete:
		return s.Close(), nil
	}
	hdr := postHeaders(s.ID)
	hdr.Set("Accept", "text/event-stream")
	hdr.Del("Content-Type")
	if leg == legResume {
		hdr.Set("Last-Event-ID", "mcpconform-resume-1")
	}
	return h.Send(t, Request{Method: http.MethodGet, Header: hdr}), nil
}

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

// statusRow is one status in the HTTP-E2E-010 matrix.
type statusRow struct {
	Status int
}

func statusRows(codes ...int) []Row {
	rows := make([]Row, len(codes))
	for i, c := range codes {
		rows[i] = Row{ID: fmt.Sprint(c), Title: fmt.Sprintf("%d %s", c, http.StatusText(c)), Data: statusRow{Status: c}}
	}
	return rows
}

func checkStatusRow(h *H) {
	row := h.Row.Data.(statusRow)
	body := mockserver.ErrorBody(row.Status)
	fields := []mockserver.Field{{Name: "Content-Type", Value: "application/json"}}
	if row.Status == http.StatusUnauthorized || row.Status == http.StatusForbidden {
		// A 401 must carry a challenge (RFC 9110 §15.5.2); 403 carries one in MCP step-up.
		fields = append(fields, mockserver.Field{Name: "WWW-Authenticate", Value: `Bearer resource_metadata="` + h.Mock().PRMURL() + `"`})
	}
	probe := func(t Target) *Result {
		h.Mock().Arm(mockserver.Fault{Name: "status-" + h.Row.ID, Match: matchInitialize, Status: row.Status, Fields: fields, Body: body})
		return h.Send(t, initializeReq())
	}
	want := fmt.Sprintf("%d, Content-Type application/json, body %s", row.Status, body)
	judge := func(res *Result, hop string) *Mismatch {
		if res.Err != nil {
			return Mismatchf(hop, want, res.Describe())
		}
		var d []string
		if res.Status != row.Status {
			d = append(d, fmt.Sprintf("status changed from %d to %d", row.Status, res.Status))
		}
		if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			d = append(d, fmt.Sprintf("Content-Type changed to %q", ct))
		}
		if !bytes.Equal(bytes.TrimSpace(res.Body), []byte(body)) {
			d = append(d, fmt.Sprintf("body changed to %s", shorten(string(res.Body), 200)))
		}
		if len(d) == 0 {
			return nil
		}
		return Mismatchf(hop, want, fmt.Sprintf("%d, Content-Type %q, body %s", res.Status, res.Header.Get("Content-Type"), shorten(string(res.Body), 200)), d...)
	}
	h.Control(judge(probe(h.Upstream()), report.HopControl))
	h.Verdict(judge(probe(h.Proxy()), report.HopClientProxy))
}

func checkEvery401HasChallenge(h *H) {
	challenge := `Bearer realm="mcp", error="invalid_token", resource_metadata="` + h.Mock().PRMURL() + `"`
	fault := func(match mockserver.Match) mockserver.Fault {
		return mockserver.Fault{Name: "401", Match: match, Status: http.StatusUnauthorized, Body: mockserver.ErrorBody(401),
			Fields: []mockserver.Field{{Name: "WWW-Authenticate", Value: challenge}, {Name: "Content-Type", Value: "application/json"}}}
	}
	probe := func(t Target) (*Result, *Mismatch) {
		if h.Row.ID == "initialize" {
			h.Mock().Arm(fault(matchInitialize))
			return h.Send(t, initializeReq()), nil
		}
		s, bad := h.Open(t)
		if s == nil {
			return bad, Mismatchf(t.Hop, "an MCP session opens", "initialize failed: "+bad.Describe())
		}
		h.Mock().Arm(fault(mockserver.Match{Method: http.MethodPost, Path: mockserver.MCPPath, RPCMethod: "tools/list"}))
		return s.Call("tools/list", nil, nil), nil
	}
	judge := func(res *Result, hop string) *Mismatch {
		if res.Err == nil && res.Status == http.StatusUnauthorized && len(res.Header.Values("WWW-Authenticate")) == 0 {
			return Mismatchf(hop, "a 401 carries at least one challenge", "401 without WWW-Authenticate")
		}
		return nil
	}
	res, m := probe(h.Upstream())
	if m == nil {
		m = judge(res, report.HopControl)
		if m == nil && res.Status != http.StatusUnauthorized {
			m = Mismatchf(report.HopControl, "401 from the mock", res.Describe())
		}
	}
	h.Control(m)
	res, m = probe(h.Proxy())
	if m != nil {
		h.Verdict(m)
	}
	h.Verdict(judge(res, report.HopClientProxy))
}
