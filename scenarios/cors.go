package scenarios

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/mcpconform/mcpconform/browserprobe"
	"github.com/mcpconform/mcpconform/mockserver"
	"github.com/mcpconform/mcpconform/report"
	"github.com/mcpconform/mcpconform/scenarios/sseread"
)

// Area 3: CORS for browser-facing proxies (CORS-*). The mock does no CORS,
// so the control only proves the mock's answer; the CORS fields are the
// proxy's own.
//
// Each case is judged from the fields (what a browser should allow) and,
// with --browser, by a client page in Chromium (what it does allow); see
// browsercheck.go. Each browser flow judges only failures of the case's own
// requirement: a preflight that fails in CORS-001's flow blocks it (CORS-006
// judges that), it does not fail it.

// corsOrigin is the Inspector UI's origin, a typical allowed browser origin.
const corsOrigin = "http://localhost:6274"

func init() {
	cors := func(s Scenario) {
		s.Area, s.Needs = "cors", "cors"
		if s.Roles == nil {
			s.Roles = []Role{RoleT, RoleB, RoleK}
		}
		Define(s)
	}
	cors(Scenario{
		ID:          "CORS-001",
		Title:       "WWW-Authenticate, Mcp-Session-Id and DPoP-Nonce are exposed to scripts",
		Level:       MUST,
		Requirement: "Only CORS-safelisted response fields and those listed in Access-Control-Expose-Headers are exposed to scripts; WWW-Authenticate and DPoP-Nonce must be listed (RFC 9449 §7.1, §8).",
		Source:      "WHATWG Fetch #cors-safelisted-response-header-name; RFC 9449 §7.1, §8",
		KnownBugs:   []string{"(iii) Inspector v1 exposed only mcp-session-id; punkpeye/mcp-proxy exposedHeaders [Mcp-Session-Id]", "twentyhq/twenty#19836, better-auth#10290"},
		Checks:      "With Origin: a 401 WWWA-20 (challenge + DPoP-Nonce) on initialize and a successful initialize; the 401 must expose WWW-Authenticate and DPoP-Nonce, the 200 Mcp-Session-Id, each with Access-Control-Allow-Origin. With --browser: a client page initializes without and with Authorization and must read WWW-Authenticate and DPoP-Nonce off the 401, Mcp-Session-Id off the 200.",
		Run:         corsCheck(checkCORSExpose, browserCORSExpose),
	})
	cors(Scenario{
		ID:          "CORS-002",
		Title:       "CORS fields are on error responses too",
		Level:       MUST,
		Requirement: "A response to a CORS request can use any status, as long as it includes the CORS headers; Access-Control-Expose-Headers is part of the actual response.",
		Source:      "WHATWG Fetch #http-responses",
		KnownBugs:   []string{"kernel-mcp-server#128: CORS fields only on the OPTIONS reply"},
		Checks:      "With Origin: 401, 403, 404, 405 from the upstream and a 200 SSE stream; each must carry Access-Control-Allow-Origin and an Access-Control-Expose-Headers listing WWW-Authenticate. With --browser: the page's script must get each status, read WWW-Authenticate off the 401 and 403, and read the SSE stream with fetch.",
		Run:         corsCheck(checkCORSOnErrors, browserCORSOnErrors),
	})
	cors(Scenario{
		ID:            "CORS-003",
		StdioUpstream: true,
		Title:         "no wildcard together with credentials",
		Level:         MUST,
		Requirement:   "With credentials, Access-Control-Allow-Origin cannot be *, and * in Expose/Allow-Headers/Methods is literal; Access-Control-Allow-Credentials must be exactly true.",
		Source:        "WHATWG Fetch #cors-protocol-and-credentials",
		KnownBugs:     []string{"punkpeye/mcp-proxy default: origin * with credentials true"},
		Checks:        "A credentialed-looking initialize and a preflight with Origin; flags ACAO * or ACEH/ACAH/ACAM * together with ACAC true, and an ACAC other than exactly true. With --browser: a credentialed initialize and GET stream must work when the proxy sends Access-Control-Allow-Credentials at all (else the browser refusing them is expected).",
		Run:           corsCheck(checkCORSCredentials, browserCORSCredentials),
	})
	cors(Scenario{
		ID:            "CORS-004",
		StdioUpstream: true,
		Title:         "preflight allows the MCP request fields, Authorization explicitly",
		Level:         MUST,
		Requirement:   "Authorization is a CORS non-wildcard request-header name and must be listed explicitly; MCP browser requests preflight authorization, content-type, mcp-session-id, mcp-protocol-version, last-event-id.",
		Source:        "WHATWG Fetch §CORS-preflight fetch, #cors-safelisted-request-header",
		Checks:        "OPTIONS with Access-Control-Request-Headers: authorization,content-type,last-event-id,mcp-protocol-version,mcp-session-id; a 2xx whose Access-Control-Allow-Headers names each, authorization explicitly. With --browser: initialize, an in-session notification and a GET with Last-Event-ID, all with Authorization, must pass their preflights.",
		Run:           corsCheck(checkCORSPreflightHeaders, browserCORSPreflightHeaders),
	})
	cors(Scenario{
		ID:            "CORS-005",
		StdioUpstream: true,
		Title:         "preflight allows DELETE",
		Level:         MUST,
		Requirement:   "DELETE is not a CORS-safelisted method; it must be in Access-Control-Allow-Methods (or * without credentials) or browsers cannot end their session.",
		Source:        "WHATWG Fetch #cors-safelisted-method; MCP Session Management 5",
		KnownBugs:     []string{"punkpeye/mcp-proxy default methods GET, POST, OPTIONS"},
		Checks:        "OPTIONS with Access-Control-Request-Method: DELETE; a 2xx whose Access-Control-Allow-Methods includes DELETE. With --browser: the page must be able to DELETE its session.",
		Run:           corsCheck(checkCORSPreflightDelete, browserCORSPreflightDelete),
	})
	cors(Scenario{
		ID:            "CORS-006",
		StdioUpstream: true,
		Title:         "a preflight succeeds without credentials",
		Level:         MUST,
		Requirement:   "A CORS-preflight request never includes credentials, and passes only with an ok status: auth gates must not apply to it.",
		Source:        "WHATWG Fetch §CORS-preflight fetch, #cors-protocol-and-credentials",
		Checks:        "OPTIONS with Origin and Access-Control-Request-Method: POST and no Authorization or API key; a 2xx with Access-Control-Allow-Origin, not 401. With --browser: a preflighted initialize must get through.",
		Run:           corsCheck(checkCORSPreflightNoCreds, browserCORSPreflightNoCreds),
	})
}

// corsCheck runs a case at header level (header returns nil when it holds)
// and, with --browser, in the browser too.
func corsCheck(header func(*H) *Mismatch, browser func(*H) *browserFlow) func(*H) {
	return func(h *H) {
		m := header(h)
		if !h.browserOn() {
			h.Verdict(m)
			return
		}
		h.Mock().Disarm()
		h.verdictWithBrowser(m, h.runBrowser(browser(h), m != nil))
	}
}

// withOrigin adds the browser's Origin to a request.
func withOrigin(r Request) Request {
	if r.Header == nil {
		r.Header = http.Header{}
	}
	r.Header.Set("Origin", corsOrigin)
	return r
}

// listHas reports whether a comma-separated field lists name
// (case-insensitive token match).
func listHas(values []string, name string) bool {
	for _, v := range values {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), name) {
				return true
			}
		}
	}
	return false
}

// corsActualProblems lists what is missing on an actual response for the
// fields a script must read.
func corsActualProblems(res *Result, expose ...string) []string {
	var d []string
	acao := res.Header.Get("Access-Control-Allow-Origin")
	if acao != corsOrigin && acao != "*" {
		d = append(d, fmt.Sprintf("Access-Control-Allow-Origin is %q, want %q or *", acao, corsOrigin))
	}
	aceh := res.Header.Values("Access-Control-Expose-Headers")
	credentialed := res.Header.Get("Access-Control-Allow-Credentials") == "true"
	for _, name := range expose {
		if !listHas(aceh, name) && (credentialed || !listHas(aceh, "*")) {
			if len(aceh) == 0 {
				d = append(d, fmt.Sprintf("%s not exposed: no Access-Control-Expose-Headers on the %d", name, res.Status))
			} else {
				d = append(d, fmt.Sprintf("%s not exposed: Access-Control-Expose-Headers is %s on the %d", name, quoteLines(aceh), res.Status))
			}
		}
	}
	return d
}

func checkCORSExpose(h *H) *Mismatch {
	w20, _ := mockserver.ChallengeByID("WWWA-20")
	probe := func(t Target) (*Result, *Result) {
		h.Mock().Arm(protected(w20.Fault(h.Mock(), matchInitialize)))
		r401 := h.Send(t, withOrigin(initializeReq()))
		h.Mock().Disarm()
		ok := h.Send(t, withOrigin(initializeReq()))
		return r401, ok
	}
	r401, ok := probe(h.Upstream())
	if r401.Err != nil || r401.Status != 401 || !ok.OK() {
		h.Control(Mismatchf(report.HopControl, "401 then 200 from the mock", r401.Describe()+", "+ok.Describe()))
	}
	r401, ok = probe(h.Proxy())
	var d []string
	if r401.Err != nil || r401.Status != 401 {
		d = append(d, "the 401 did not arrive: "+r401.Describe())
	} else {
		d = append(d, corsActualProblems(r401, "WWW-Authenticate", "DPoP-Nonce")...)
	}
	if !ok.OK() {
		d = append(d, "initialize failed: "+ok.Describe())
	} else {
		d = append(d, corsActualProblems(ok, "Mcp-Session-Id")...)
	}
	if len(d) > 0 {
		return Mismatchf(report.HopClientProxy, "CORS exposes WWW-Authenticate and DPoP-Nonce on the 401, Mcp-Session-Id on the 200", "a field is hidden from scripts", d...)
	}
	return nil
}

// corsErrorFault is the upstream's error answer of CORS-002 on a leg: a
// challenge with the 401 and 403, a JSON error body.
func corsErrorFault(h *H, status int, leg string) mockserver.Fault {
	fields := []mockserver.Field{{Name: "Content-Type", Value: "application/json"}}
	if status == http.StatusUnauthorized || status == http.StatusForbidden {
		fields = append(fields, mockserver.Field{Name: "WWW-Authenticate", Value: `Bearer resource_metadata="` + h.Mock().PRMURL() + `"`})
	}
	f := mockserver.Fault{Name: fmt.Sprintf("cors-%d", status), Match: legMatch(leg), Status: status, Fields: fields, Body: mockserver.ErrorBody(status)}
	if status == http.StatusUnauthorized {
		f = protected(f)
	}
	return f
}

// corsErrorLegs are CORS-002's upstream errors and where they come back.
var corsErrorLegs = []struct {
	status int
	leg    string
}{{401, legInitialize}, {403, legMid}, {404, legMid}, {405, legStream}}

func checkCORSOnErrors(h *H) *Mismatch {
	var d []string
	for _, l := range corsErrorLegs {
		f := corsErrorFault(h, l.status, l.leg)
		// Sessions are opened with Origin too, as a browser would.
		res, m := h.sendOnLegWithOrigin(h.Upstream(), l.leg, f)
		h.Mock().Disarm()
		if m == nil && (res.Err != nil || res.Status != l.status) {
			m = Mismatchf(report.HopControl, fmt.Sprintf("%d from the mock", l.status), res.Describe())
		}
		h.Control(m)
		res, m = h.sendOnLegWithOrigin(h.Proxy(), l.leg, f)
		h.Mock().Disarm()
		if m != nil {
			return m
		}
		if h.Bridge() && l.leg == legStream && res.Err == nil {
			// A bridge may serve its own GET stream although its upstream
			// offers none: whatever it answers must carry the CORS fields.
		} else if res.Err != nil || res.Status != l.status {
			d = append(d, fmt.Sprintf("expected the upstream's %d, got %s", l.status, res.Describe()))
			continue
		}
		d = append(d, corsActualProblems(res, "WWW-Authenticate")...)
	}
	// A successful SSE stream (GET answered with a short stream).
	s, bad := h.Open(h.Proxy())
	if s == nil {
		return Mismatchf(report.HopClientProxy, "an MCP session opens", bad.Describe())
	}
	h.Mock().Arm(shortStream("cors-sse"))
	// The head is what is judged: stop at the first block (a bridge's own
	// GET stream never ends by itself).
	res := h.Stream(h.Proxy(), withOrigin(Request{Method: http.MethodGet, Header: getHeaders(s.ID)}),
		StreamOptions{MaxWait: legStreamWait, OnEvent: func(sseread.Event) bool { return false }}).asResult()
	if !res.OK() {
		d = append(d, "the SSE GET failed: "+res.Describe())
	} else {
		d = append(d, corsActualProblems(res, "WWW-Authenticate")...)
	}
	if len(d) > 0 {
		return Mismatchf(report.HopClientProxy, "Access-Control-Allow-Origin and -Expose-Headers on 401, 403, 404, 405 and the SSE 200", "missing on some responses", d...)
	}
	return nil
}

// sendOnLegWithOrigin is sendOnLeg with Origin on every request of the leg.
func (h *H) sendOnLegWithOrigin(t Target, leg string, f mockserver.Fault) (*Result, *Mismatch) {
	t.Header = t.Header.Clone()
	if t.Header == nil {
		t.Header = http.Header{}
	}
	t.Header.Set("Origin", corsOrigin)
	return h.sendOnLeg(t, leg, f)
}

// preflight sends an OPTIONS as a browser would: no credentials, Origin,
// the method and the lowercase sorted header names.
func (h *H) preflight(method, headers string) *Result {
	t := h.Proxy()
	t.Header = nil // a preflight never carries credentials (--header is one)
	hdr := http.Header{}
	hdr.Set("Origin", corsOrigin)
	hdr.Set("Access-Control-Request-Method", method)
	if headers != "" {
		hdr.Set("Access-Control-Request-Headers", headers)
	}
	return h.Send(t, Request{Method: http.MethodOptions, Header: hdr})
}

func checkCORSCredentials(h *H) *Mismatch {
	var d []string
	// A request that got no answer leaves nothing to judge: it is the
	// finding (it was a pass: "no wildcard seen").
	var unanswered []string
	check := func(what string, res *Result) {
		if res.Err != nil {
			unanswered = append(unanswered, what+": "+res.Describe())
			return
		}
		acac := res.Header.Values("Access-Control-Allow-Credentials")
		if len(acac) == 0 {
			return
		}
		if len(acac) != 1 || acac[0] != "true" {
			d = append(d, fmt.Sprintf("%s: Access-Control-Allow-Credentials is %s; only exactly \"true\" counts", what, quoteLines(acac)))
			return
		}
		if res.Header.Get("Access-Control-Allow-Origin") == "*" {
			d = append(d, what+": Access-Control-Allow-Origin * with credentials: browsers reject the response")
		}
		for _, f := range []string{"Access-Control-Expose-Headers", "Access-Control-Allow-Headers", "Access-Control-Allow-Methods"} {
			if listHas(res.Header.Values(f), "*") {
				d = append(d, fmt.Sprintf("%s: %s * with credentials is a literal name, not a wildcard", what, f))
			}
		}
	}
	res := h.Send(h.Proxy(), withOrigin(initializeReq()))
	check("initialize", res)
	check("preflight", h.preflight(http.MethodPost, "content-type,mcp-protocol-version"))
	if len(unanswered) > 0 {
		return Mismatchf(report.HopClientProxy, "answers to an initialize and a preflight with Origin, to judge their CORS fields", "no answer", unanswered...)
	}
	if len(d) > 0 {
		return Mismatchf(report.HopClientProxy, "no wildcard together with Access-Control-Allow-Credentials: true", "a combination browsers reject", d...)
	}
	return nil
}

func checkCORSPreflightHeaders(h *H) *Mismatch {
	const asked = "authorization,content-type,last-event-id,mcp-protocol-version,mcp-session-id"
	res := h.preflight(http.MethodPost, asked)
	want := "2xx with Access-Control-Allow-Headers naming " + asked
	if res.Err != nil || res.Status/100 != 2 {
		return Mismatchf(report.HopClientProxy, want, res.Describe(), "the preflight failed, so browsers send nothing")
	}
	acah := res.Header.Values("Access-Control-Allow-Headers")
	wild := listHas(acah, "*") && res.Header.Get("Access-Control-Allow-Credentials") != "true"
	var d []string
	for _, n := range strings.Split(asked, ",") {
		if listHas(acah, n) || (wild && n != "authorization") {
			continue
		}
		if n == "authorization" && wild {
			d = append(d, "authorization is not listed; * never covers Authorization")
		} else {
			d = append(d, n+" is not allowed")
		}
	}
	if res.Header.Get("Access-Control-Allow-Origin") == "" {
		d = append(d, "no Access-Control-Allow-Origin on the preflight")
	}
	if len(d) > 0 {
		return Mismatchf(report.HopClientProxy, want, fmt.Sprintf("%d, Access-Control-Allow-Headers %s", res.Status, quoteLines(acah)), d...)
	}
	return nil
}

func checkCORSPreflightDelete(h *H) *Mismatch {
	res := h.preflight(http.MethodDelete, "mcp-protocol-version,mcp-session-id")
	want := "2xx with Access-Control-Allow-Methods including DELETE"
	if res.Err != nil || res.Status/100 != 2 {
		return Mismatchf(report.HopClientProxy, want, res.Describe())
	}
	acam := res.Header.Values("Access-Control-Allow-Methods")
	wild := listHas(acam, "*") && res.Header.Get("Access-Control-Allow-Credentials") != "true"
	if !listHas(acam, "DELETE") && !wild {
		return Mismatchf(report.HopClientProxy, want, "Access-Control-Allow-Methods "+quoteLines(acam), "DELETE is not allowed: browser clients cannot end their session")
	}
	return nil
}

func checkCORSPreflightNoCreds(h *H) *Mismatch {
	res := h.preflight(http.MethodPost, "content-type")
	want := "2xx with Access-Control-Allow-Origin, without credentials"
	switch {
	case res.Err != nil:
		return Mismatchf(report.HopClientProxy, want, res.Describe())
	case res.Status/100 != 2:
		return Mismatchf(report.HopClientProxy, want, res.Describe(), fmt.Sprintf("the preflight got %d; an auth gate must not apply to OPTIONS", res.Status))
	case res.Header.Get("Access-Control-Allow-Origin") == "":
		return Mismatchf(report.HopClientProxy, want, res.Describe()+" without Access-Control-Allow-Origin")
	}
	return nil
}

// The browser flows: each case's requests as the client page sends them.
// A flow names the failures that are its case's own (concern); anything
// else that stops it blocks the browser's verdict instead.

// Requests of the client page: initialize, a tools/call only the upstream
// answers (upstreamOnlyCall), a notification.
var (
	browserInitialize  = rpcJSON(rpcRequest(1, "initialize", initializeParams()))
	browserCall        = rpcJSON(rpcRequest(2, "tools/call", upstreamOnlyCall()))
	browserInitialized = rpcJSON(rpcNotification("notifications/initialized"))
)

func browserCORSExpose(h *H) *browserFlow {
	return &browserFlow{concern: isOneOf(failActual, failHidden, failStatus, failNetwork), flow: func(f *browserFlow) {
		w20, _ := mockserver.ChallengeByID("WWWA-20")
		challenge := protected(w20.Fault(h.Mock(), matchInitialize))
		f.step(bstep{arm: &challenge, status: http.StatusUnauthorized, must: []string{"WWW-Authenticate", "DPoP-Nonce"}, Step: browserprobe.Step{
			Label: "initialize without Authorization, answered 401", Method: http.MethodPost, RPC: browserInitialize,
			Read: []string{"WWW-Authenticate", "DPoP-Nonce"}}})
		f.step(bstep{must: []string{"Mcp-Session-Id"}, Step: browserprobe.Step{
			Label: "initialize with Authorization", Method: http.MethodPost, RPC: browserInitialize, Auth: true,
			Read: []string{"Mcp-Session-Id"}}})
	}}
}

func browserCORSOnErrors(h *H) *browserFlow {
	return &browserFlow{concern: isOneOf(failActual, failHidden, failStatus, failStream, failNetwork), flow: func(f *browserFlow) {
		first := corsErrorFault(h, corsErrorLegs[0].status, corsErrorLegs[0].leg)
		f.step(bstep{arm: &first, status: first.Status, must: []string{"WWW-Authenticate"}, Step: browserprobe.Step{
			Label: "initialize, answered 401", Method: http.MethodPost, RPC: browserInitialize, Read: []string{"WWW-Authenticate"}}})
		sid := f.openSession(false)
		inSession := func(label string, s browserprobe.Step) browserprobe.Step {
			s.Label, s.Session, s.SessionID, s.Version, s.ProtocolVersion = label, true, sid, true, ProtocolVersion
			return s
		}
		for _, l := range corsErrorLegs[1:] {
			fault := corsErrorFault(h, l.status, l.leg)
			st := bstep{arm: &fault, status: l.status}
			if h.Bridge() {
				// As the header-level probe does for a bridge: a session of
				// its own per leg (it ends the client's session after an
				// upstream 404), a GET leg's answer armed before the
				// session opens (its upstream GET stream opens with it).
				if l.leg == legStream {
					h.Mock().Arm(protected(fault))
					st.arm = nil
				}
				sid = f.openSession(false)
			}
			if l.leg == legStream {
				st.Step = inSession(fmt.Sprintf("GET stream, answered %d", l.status), browserprobe.Step{Method: http.MethodGet, Stream: true})
				if h.Bridge() {
					st.status = -1 // the bridge's own stream or its refusal, as above
				}
			} else {
				st.Step = inSession(fmt.Sprintf("tools/call, answered %d", l.status), browserprobe.Step{Method: http.MethodPost, RPC: browserCall})
			}
			if l.status == http.StatusForbidden { // the one with a challenge
				st.must, st.Read = []string{"WWW-Authenticate"}, []string{"WWW-Authenticate"}
			}
			f.step(st)
			h.Mock().Disarm()
		}
		sse := shortStream("cors-sse")
		events := 1
		if h.Bridge() {
			// The bridge's own GET stream: its head is what is judged.
			sid, events = f.openSession(false), 0
		}
		f.step(bstep{arm: &sse, status: http.StatusOK, events: events, Step: inSession("GET stream (fetch, reading the body incrementally)",
			browserprobe.Step{Method: http.MethodGet, Stream: true})})
	}}
}

func browserCORSCredentials(h *H) *browserFlow {
	f := &browserFlow{concern: isOneOf(failCredentials, failNetwork)}
	// A proxy that never sends Access-Control-Allow-Credentials offers no
	// credentialed access: the browser refusing it is then what it must do.
	f.expected = func(s *judgedStep) string {
		if s.class != failCredentials {
			return ""
		}
		for _, o := range f.steps {
			for _, w := range o.r.Responses {
				if w.Header.Get("Access-Control-Allow-Credentials") != "" {
					return ""
				}
			}
		}
		return "the proxy offers no credentialed access (it never sends Access-Control-Allow-Credentials), so the browser refuses a credentialed request"
	}
	f.flow = func(f *browserFlow) {
		r := f.step(bstep{Step: browserprobe.Step{Label: "initialize, credentialed (withCredentials)", Method: http.MethodPost,
			RPC: browserInitialize, Credentials: true, Read: []string{"Mcp-Session-Id"}}})
		sse := shortStream("cors-sse-credentials")
		f.step(bstep{arm: &sse, status: http.StatusOK, Step: browserprobe.Step{Label: "GET stream, credentialed (fetch, credentials: include)",
			Method: http.MethodGet, Stream: true, Credentials: true, Session: true, SessionID: sessionFallback(r), Version: true, ProtocolVersion: ProtocolVersion}})
	}
	return f
}

func browserCORSPreflightHeaders(h *H) *browserFlow {
	return &browserFlow{concern: isOneOf(failPreflight, failPreflightHeader, failNetwork),
		// Chromium still lets Authorization through a wildcard, with this.
		warnOn: []string{"DeprecationIssue AuthorizationCoveredByWildcard"},
		flow: func(f *browserFlow) {
			r := f.step(bstep{setup: true, Step: browserprobe.Step{Label: "initialize with Authorization", Method: http.MethodPost,
				RPC: browserInitialize, Auth: true, Read: []string{"Mcp-Session-Id"}}})
			sid := sessionFallback(r)
			// Any response reaching the script shows the preflight allowed
			// the fields, which is all this case asks of these two.
			f.step(bstep{status: -1, Step: browserprobe.Step{Label: "notifications/initialized with Authorization, Mcp-Session-Id, MCP-Protocol-Version",
				Method: http.MethodPost, RPC: browserInitialized, Auth: true, Session: true, SessionID: sid, Version: true, ProtocolVersion: ProtocolVersion}})
			sse := shortStream("cors-sse-resume")
			f.step(bstep{arm: &sse, status: -1, Step: browserprobe.Step{Label: "GET stream with Authorization and Last-Event-ID",
				Method: http.MethodGet, Stream: true, Auth: true, Session: true, SessionID: sid, Version: true, ProtocolVersion: ProtocolVersion,
				LastEventID: "mcpconform-0"}})
		}}
}

func browserCORSPreflightDelete(h *H) *browserFlow {
	return &browserFlow{concern: isOneOf(failPreflight, failPreflightMethod, failNetwork), flow: func(f *browserFlow) {
		sid := f.openSession(false)
		f.step(bstep{status: -1, Step: browserprobe.Step{Label: "DELETE the session", Method: http.MethodDelete,
			Session: true, SessionID: sid, Version: true, ProtocolVersion: ProtocolVersion}})
	}}
}

func browserCORSPreflightNoCreds(h *H) *browserFlow {
	return &browserFlow{concern: isOneOf(failPreflight, failNetwork), flow: func(f *browserFlow) {
		f.step(bstep{Step: browserprobe.Step{Label: "initialize (Content-Type application/json: preflighted, never with credentials)",
			Method: http.MethodPost, RPC: browserInitialize, Read: []string{"Mcp-Session-Id"}}})
	}}
}

// browserGateCORS is APIKEY-008 in the browser: the page calls without the
// key, as a client that has none yet, and must see the gate's 401 and read
// its challenge. A preflight the gate refuses blocks it (APIKEY-003).
func browserGateCORS(h *H) *browserFlow {
	return &browserFlow{concern: isOneOf(failActual, failHidden, failStatus, failNetwork),
		header: h.withoutKey(h.Proxy()).Header,
		flow: func(f *browserFlow) {
			f.step(bstep{status: -1, mustIfSent: []string{"WWW-Authenticate"}, Step: browserprobe.Step{
				Label: "initialize without the key", Method: http.MethodPost, RPC: browserInitialize, Read: []string{"WWW-Authenticate"}}})
		}}
}
