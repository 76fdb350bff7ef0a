package scenarios

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/mcpconform/mcpconform/mockserver"
	"github.com/mcpconform/mcpconform/report"
	"github.com/mcpconform/mcpconform/scenarios/wwwauth"
)

// Area 6: a proxy guarded by an API key (role K, APIKEY-*).
//
// No IETF or MCP text defines X-API-Key: it is a convention of mcp-proxy
// (punkpeye/mcp-proxy --apiKey, sparfenyuk/mcp-proxy #107). The run declares the
// gate with --role K --api-key, so its defining property (a wrong key does not
// get through) is judged as MUST; the borrowed MUSTs (challenge, OPTIONS,
// header-name case, CORS) keep their level; the key leaking (AUTH-TOK-007
// analogy) and the query-string key are SHOULD.

// browserOrigin is the Origin the CORS probes send: the MCP Inspector's.
const browserOrigin = "http://localhost:6274"

func init() {
	k := []Role{RoleK}
	Define(Scenario{
		ID:            "APIKEY-001",
		StdioUpstream: true,
		Title:         "a missing or wrong key gets 401 on every MCP route and never reaches the upstream",
		Area:          "apikey", Level: MUST, Roles: k,
		Requirement: "A missing or wrong key gets 401 on every MCP route: POST/GET/DELETE /mcp, GET /sse, POST /messages, and the named-server paths.",
		Source:      "convention of mcp-proxy --apiKey (punkpeye/mcp-proxy#35, sparfenyuk/mcp-proxy#107); binding once the run declares role K",
		KnownBugs:   []string{"gates that compare a prefix, or guard /mcp but not /servers/NAME/*"},
		Checks:      "Each MCP route (and /servers/NAME/{mcp,sse} with --named-server) is called with this wrong-key variant; each must get 401 (403 tolerated) and the upstream journal must show nothing arrived.",
		Rows: []Row{
			{ID: "missing", Title: "no key header"},
			{ID: "empty", Title: "empty value"},
			{ID: "prefix", Title: "the right key minus its last byte"},
			{ID: "plus-byte", Title: "the right key plus one byte"},
			{ID: "case", Title: "the right key in another letter case"},
		},
		Run: checkWrongKey,
	})
	Define(Scenario{
		ID:            "APIKEY-002",
		StdioUpstream: true,
		Title:         "the gate's 401 carries its own challenge, distinguishable from the upstream's",
		Area:          "apikey", Level: MUST, Roles: k,
		Requirement: "The server generating a 401 response MUST send a WWW-Authenticate header field containing at least one challenge; the gate must not emit Bearer resource_metadata unless it is the OAuth resource.",
		Source:      "RFC 9110 §15.5.2 (a 401 carries a challenge)",
		KnownBugs:   []string{"sparfenyuk/mcp-proxy: 401 {\"error\":\"Unauthorized\"} without a challenge", "punkpeye/mcp-proxy: a challenge only when OAuth is configured"},
		Checks:      "The upstream is armed with a 401 Bearer resource_metadata challenge (control); initialize without a key through the proxy must get a 401 whose WWW-Authenticate parses, and whose challenges are not the upstream's (no resource_metadata).",
		Run:         checkGateChallenge,
	})
	Define(Scenario{
		ID:            "APIKEY-003",
		StdioUpstream: true,
		Title:         "OPTIONS preflight passes without the key",
		Area:          "apikey", Level: MUST, Roles: k,
		Requirement: "A CORS-preflight request never includes credentials; a preflight must get an ok status, so the key gate must not apply to OPTIONS.",
		Source:      "Fetch, CORS-preflight fetch (a preflight never carries credentials and needs an ok status)",
		KnownBugs:   []string{"gates applied before the CORS middleware answer every preflight 401"},
		Checks:      "OPTIONS /mcp without the key, as a browser sends it (Origin, Access-Control-Request-Headers: content-type, x-api-key): never 401/403; with --cors also 2xx with Access-Control-Allow-Origin and Allow-Headers admitting x-api-key.",
		Run:         checkPreflightExempt,
	})
	Define(Scenario{
		ID:            "APIKEY-004",
		StdioUpstream: true,
		Title:         "declared health routes answer without the key and leak no upstream data",
		Area:          "apikey", Level: SHOULD, Roles: k,
		Requirement: "Health routes (/status, /ping, /health, /ready) are exempt from the key and return no upstream data.",
		Source:      "convention: sparfenyuk/mcp-proxy exempts /status, punkpeye/mcp-proxy /ping (punkpeye/mcp-proxy#58)",
		Checks:      "GET each --exempt route without a key: 2xx, no request reaches the upstream, and the body names nothing of the upstream (server name, session ids).",
		Run:         checkHealthExempt,
	})
	Define(Scenario{
		ID:            "APIKEY-005",
		StdioUpstream: true,
		Title:         "the key header name is matched case-insensitively",
		Area:          "apikey", Level: MUST, Roles: k,
		Requirement: "Field names are case-insensitive: x-api-key, X-API-Key and X-Api-Key all carry the key; the value is compared byte-exactly.",
		Source:      "RFC 9110 §5.1 (field names are case-insensitive)",
		Checks:      "initialize with the right key under this spelling of the header name (sent verbatim on the wire) must pass the gate and reach the upstream.",
		Rows: []Row{
			// The run's default spelling: every gate accepts it (one that
			// did not would refuse every keyed request, and the run stops at
			// the preflight), so no specimen can fail this row alone.
			{ID: "X-API-Key", Title: "X-API-Key", Data: "X-API-Key",
				ProvenBy: "x-api-key: the same request and check under another spelling; X-API-Key is the spelling the run declares by default, which a gate refusing would refuse every keyed request"},
			{ID: "x-api-key", Title: "x-api-key", Data: "x-api-key"},
			{ID: "X-Api-Key", Title: "X-Api-Key", Data: "X-Api-Key"},
		},
		Run: checkHeaderNameCase,
	})
	Define(Scenario{
		ID:            "APIKEY-006",
		StdioUpstream: true,
		Title:         "the key never reaches the upstream and never comes back to the client",
		// A leaked key is a credential in the hands of a party that must
		// never hold it, the class of token passthrough the MCP
		// authorization spec forbids: a security failure, not a warning.
		Area: "apikey", Level: MUST, Roles: k,
		Requirement: "Proxy credentials are consumed, not relayed: the key is never forwarded upstream nor echoed downstream. A leak is a security failure.",
		Source:      "MCP 2025-11-25 security best practices, Token Passthrough (credentials meant for one party never reach another); RFC 9110 §11.7.2 (proxy credentials are consumed by the proxy that expects them)",
		KnownBugs:   []string{"bridges that copy every request header upstream, the API key included"},
		Checks:      "A session with the key (initialize, tools/list, echo_headers) and a 401 with a wrong key: no upstream request carries the key in a header, query or body, and no response to the client carries it.",
		Run:         checkKeyNotLeaked,
	})
	Define(Scenario{
		ID:            "APIKEY-008",
		StdioUpstream: true,
		Title:         "the gate's 401 is readable by browser clients (CORS)",
		Area:          "apikey", Level: MUST, Roles: k,
		Requirement: "The gate's 401 must carry Access-Control-Allow-Origin (and expose WWW-Authenticate), or the browser sees an opaque network error instead of a 401.",
		Source:      "Fetch, CORS check (a response without Access-Control-Allow-Origin is a network error to the page)",
		Checks:      "initialize without a key and with an Origin (as a browser page sends it): the 401 must allow that origin and expose WWW-Authenticate. Not tied to --cors: a gate that answers browser origins at all must make its 401 readable. With --browser: a client page without the key must get the 401 and read its WWW-Authenticate.",
		Run:         corsCheck(checkGateCORS, browserGateCORS),
	})
	Define(Scenario{
		ID:            "APIKEY-009",
		StdioUpstream: true,
		Title:         "a key in the query string is not accepted, and never forwarded",
		Area:          "apikey", Level: SHOULD, Roles: k,
		Requirement: "No key in a query string (?api_key=): URLs end up in logs. If a proxy accepts one, it must at least not forward it upstream.",
		Source:      "OAuth 2.1 §5.1 and MCP Authorization, Token Requirements (no credentials in the query string), by analogy",
		Checks:      "initialize with ?api_key=KEY and no header: accepted → info; accepted and the key appears in the upstream's request URL → warn.",
		Run:         checkQueryKey,
	})
	Define(Scenario{
		ID:    "APIKEY-010",
		Title: "with role I: the key is consumed and the injected token added",
		// Listed under K (the area); the body skips unless the run is I,K
		// too, because AppliesTo treats Roles as "any of".
		Area: "apikey", Level: MUST, Roles: k,
		Requirement: "A proxy that is guarded by a key and injects upstream tokens replaces the client's credential: the upstream sees the proxy's own valid token on every request and never the key (token passthrough is forbidden); the key never comes back to the client.",
		Source:      "MCP 2025-11-25 security best practices, Token Passthrough; MCP Authorization, Token Requirements",
		KnownBugs: []string{
			"an injector that sets Authorization on top of a header-copying bridge: the key goes upstream beside the token",
			"the injector mounted outside the gate: every request without the key makes the proxy fetch (and, after the gate's 401, refresh) its token",
		},
		Checks: fmt.Sprintf("Only in --role I,K runs: a session with the key through the proxy (POST initialize, notifications/initialized, tools/list, GET stream, DELETE); at the upstream every request must carry no field named like the key header (any case), no field value holding the key, and a bearer token the mock AS issued and still accepts (journal TokenFP/TokenErr); no response to the client may carry the key. Then %d initialize requests without the key: together they must cost fewer than %d token requests at the AS (none when the gate refuses them before the injector runs; fewer are tolerated for a proxy that refreshes in the background).", keylessProbes, keylessProbes),
		Run:    checkKeyAndToken,
	})
}

// keyHeader is the declared header name (default X-API-Key).
func (h *H) keyHeader() string {
	if n := h.Params().APIKeyHeader; n != "" {
		return n
	}
	return "X-API-Key"
}

// withoutKey is t without the run's key header (any spelling), so the probe
// decides exactly what key, if any, is sent.
func (h *H) withoutKey(t Target) Target {
	hdr := http.Header{}
	for k, v := range t.Header {
		if !strings.EqualFold(k, h.keyHeader()) {
			hdr[k] = v
		}
	}
	t.Header = hdr
	return t
}

// keyed adds the header under this exact spelling (the map key is written
// verbatim on the wire; Header.Set would canonicalize it).
func keyed(hdr http.Header, name, value string) http.Header {
	hdr[name] = []string{value}
	return hdr
}

// sendWithin is Send with a shorter bound, for requests that would open a
// stream if the gate let them through.
func (h *H) sendWithin(t Target, req Request, d time.Duration) *Result {
	ctx, cancel := context.WithTimeout(h.ctx, d)
	defer cancel()
	hh := *h
	hh.ctx = ctx
	return hh.Send(t, req)
}

// origin is scheme://host of a target's MCP URL.
func origin(t Target) string {
	u, err := url.Parse(t.MCPURL)
	if err != nil {
		return t.MCPURL
	}
	return u.Scheme + "://" + u.Host
}

// arrived describes the upstream requests since mark, or "" when none.
func (h *H) arrived(mark int) string {
	var parts []string
	for _, e := range h.Mock().Journal.Since(mark) {
		u := e.Path
		if e.RawQuery != "" {
			u += "?" + e.RawQuery
		}
		parts = append(parts, e.Method+" "+u)
	}
	return strings.Join(parts, ", ")
}

// controlNoKey proves the upstream itself does not ask for a key, so a 401
// at the proxy is the gate's.
func (h *H) controlNoKey() {
	res := h.Send(h.Upstream(), initializeReq())
	if !res.OK() {
		h.Control(Mismatchf(report.HopControl, "2xx for initialize sent to the mock without a key", res.Describe()))
	}
}

// wrongKey is the value an APIKEY-001 row sends, and whether to send one;
// skip says why the row cannot apply to this key, err that the row has no
// check here (a row added to the table and not to this switch).
func wrongKey(row, key string) (value string, send bool, skip string, err error) {
	switch row {
	case "missing":
		return "", false, "", nil
	case "empty":
		return "", true, "", nil
	case "prefix":
		if len(key) < 2 {
			return "", false, "the key is shorter than 2 bytes; no proper prefix to try", nil
		}
		return key[:len(key)-1], true, "", nil
	case "plus-byte":
		return key + "x", true, "", nil
	case "case":
		v := swapCase(key)
		if v == key {
			return "", false, "the key has no letters; no other case to try", nil
		}
		return v, true, "", nil
	default:
		return "", false, "", fmt.Errorf("row %s of APIKEY-001 has no check: wrongKey knows no key to send for it", row)
	}
}

func swapCase(s string) string {
	b := []byte(s)
	for i, c := range b {
		switch {
		case 'a' <= c && c <= 'z':
			b[i] = c - 32
		case 'A' <= c && c <= 'Z':
			b[i] = c + 32
		}
	}
	return string(b)
}

// gateRoute is one guarded route probed by APIKEY-001.
type gateRoute struct {
	name string
	req  Request
}

func (h *H) guardedRoutes(t Target) []gateRoute {
	base := origin(t)
	sse := http.Header{"Accept": {"text/event-stream"}}
	routes := []gateRoute{
		{"POST /mcp", Request{URL: t.MCPURL, Header: postHeaders(""), Body: rpcRequest(1, "initialize", initializeParams())}},
		{"GET /mcp", Request{Method: http.MethodGet, URL: t.MCPURL, Header: sse.Clone()}},
		{"DELETE /mcp", Request{Method: http.MethodDelete, URL: t.MCPURL, Header: http.Header{"Mcp-Session-Id": {"mcpconform-no-such-session"}}}},
		{"GET /sse", Request{Method: http.MethodGet, URL: base + mockserver.SSEPath, Header: sse.Clone()}},
		{"POST /messages/", Request{URL: base + mockserver.MessagesPath + "/", Query: "session_id=mcpconform", Header: postHeaders(""), Body: rpcNotification("notifications/initialized")}},
	}
	if n := h.Params().NamedServer; n != "" {
		p := "/servers/" + url.PathEscape(n)
		routes = append(routes,
			gateRoute{"POST " + p + "/mcp", Request{URL: base + p + "/mcp", Header: postHeaders(""), Body: rpcRequest(1, "initialize", initializeParams())}},
			gateRoute{"GET " + p + "/sse", Request{Method: http.MethodGet, URL: base + p + "/sse", Header: sse.Clone()}},
		)
	}
	return routes
}

func checkWrongKey(h *H) {
	if h.stdioUpstream() {
		h.Note("the upstream is a stdio server (--upstream-stdio): what reached it could not be observed; the client side was judged")
	}
	key := h.Params().APIKey
	value, send, skip, err := wrongKey(h.Row.ID, key)
	switch {
	case err != nil:
		h.Errorf("%v", err)
	case skip != "":
		h.Skip(skip)
	}
	h.controlNoKey()
	t := h.withoutKey(h.Proxy())
	var details []string
	for _, rt := range h.guardedRoutes(t) {
		if rt.req.Header == nil {
			rt.req.Header = http.Header{}
		}
		if send {
			keyed(rt.req.Header, h.keyHeader(), value)
		}
		mark := h.Mock().Journal.Mark()
		// A route the gate lets through may open a stream: 1.5s is enough to
		// see its status, and the gate's own 401 comes at once.
		res := h.sendWithin(t, rt.req, 1500*time.Millisecond)
		got := fmt.Sprintf("%d", res.Status)
		if res.Status == 0 {
			got = res.Describe()
		}
		switch {
		case res.Status == 0:
			details = append(details, fmt.Sprintf("%s: %s", rt.name, got))
		case res.Status != http.StatusUnauthorized && res.Status != http.StatusForbidden:
			details = append(details, fmt.Sprintf("%s: %s instead of 401", rt.name, res.Describe()))
		}
		if up := h.arrived(mark); up != "" {
			details = append(details, fmt.Sprintf("%s: reached the upstream (%s)", rt.name, up))
		}
	}
	if len(details) > 0 {
		h.Verdict(Mismatchf(report.HopClientProxy,
			"401 on every MCP route for "+h.Row.Title+", nothing forwarded upstream",
			fmt.Sprintf("%d of the routes let the request through or answered otherwise", len(details)), details...))
	}
}

// upstreamChallenge is the OAuth challenge the mock answers with, so the
// gate's can be told apart from it.
func upstreamChallenge(m *mockserver.Mock) string {
	return `Bearer realm="mcp", resource_metadata="` + m.PRMURL() + `"`
}

func checkGateChallenge(h *H) {
	ch := upstreamChallenge(h.Mock())
	arm := func() {
		h.Mock().Arm(mockserver.Fault{Name: "upstream-401", Match: matchInitialize, Status: http.StatusUnauthorized,
			Fields: []mockserver.Field{{Name: "WWW-Authenticate", Value: ch}, {Name: "Content-Type", Value: "application/json"}},
			Body:   mockserver.ErrorBody(401)})
	}
	arm()
	ctl := h.Send(h.Upstream(), initializeReq())
	if ctl.Status != http.StatusUnauthorized || ctl.Header.Get("WWW-Authenticate") != ch {
		h.Control(Mismatchf(report.HopControl, "401 with the upstream's challenge «"+ch+"»", ctl.Describe()))
	}
	h.Mock().Disarm()
	arm()
	mark := h.Mock().Journal.Mark()
	res := h.Send(h.withoutKey(h.Proxy()), initializeReq())
	want := "401 (or 403) with a WWW-Authenticate naming the gate, not the upstream's Bearer resource_metadata"
	if res.Err != nil {
		h.Verdict(Mismatchf(report.HopClientProxy, want, res.Describe()))
	}
	lines := res.Header.Values("WWW-Authenticate")
	observed := fmt.Sprintf("%d with WWW-Authenticate %s", res.Status, quoteLines(lines))
	var d []string
	if up := h.arrived(mark); up != "" {
		d = append(d, "the keyless request reached the upstream ("+up+"): the 401 is the upstream's, not the gate's")
	}
	switch {
	case res.Status != http.StatusUnauthorized && res.Status != http.StatusForbidden:
		d = append(d, fmt.Sprintf("status %d, not 401", res.Status))
	case len(lines) == 0 && res.Status == http.StatusUnauthorized:
		d = append(d, "401 without WWW-Authenticate (RFC 9110 §15.5.2: at least one challenge)")
	case len(lines) > 0:
		chs, problems := wwwauth.Parse(lines...)
		if len(chs) == 0 {
			d = append(d, "WWW-Authenticate holds no parsable challenge: "+strings.Join(problems, "; "))
		}
		for _, c := range chs {
			if _, ok := c.Get("resource_metadata"); ok {
				d = append(d, fmt.Sprintf("challenge %q carries resource_metadata: MCP clients would start OAuth discovery against the proxy", c.Scheme))
			}
		}
		if wwwauth.Equivalent(wwwauth.B2, []string{ch}, lines) {
			d = append(d, "the challenge is the upstream's, not the gate's own")
		}
	}
	if len(d) > 0 {
		h.Verdict(Mismatchf(report.HopClientProxy, want, observed, d...))
	}
	if res.Status == http.StatusForbidden {
		h.Note("info: the gate answers 403, not 401")
	}
	if chs, _ := wwwauth.Parse(lines...); len(chs) > 0 {
		if _, ok := wwwauth.Find(chs, "Bearer"); ok {
			h.Note("info: the gate challenges with the Bearer scheme for an API key; OAuth-capable MCP clients may take it for the resource's OAuth challenge and start discovery")
		}
	}
}

// preflight is OPTIONS as a browser sends it before a POST with the key.
func preflight(url string) Request {
	return Request{Method: http.MethodOptions, URL: url, Header: http.Header{
		"Origin":                         {browserOrigin},
		"Access-Control-Request-Method":  {"POST"},
		"Access-Control-Request-Headers": {"content-type, mcp-protocol-version, x-api-key"},
	}}
}

func checkPreflightExempt(h *H) {
	t := h.withoutKey(h.Proxy())
	res := h.Send(t, preflight(t.MCPURL))
	cors := h.run.cfg.Capabilities["cors"]
	want := "OPTIONS without the key is not subject to the gate (never 401/403)"
	if cors {
		want = "2xx with Access-Control-Allow-Origin and Allow-Headers admitting x-api-key, without the key"
	}
	if res.Err != nil {
		h.Verdict(Mismatchf(report.HopClientProxy, want, res.Describe()))
	}
	observed := fmt.Sprintf("%d, Allow-Origin %q, Allow-Headers %q", res.Status,
		res.Header.Get("Access-Control-Allow-Origin"), strings.Join(res.Header.Values("Access-Control-Allow-Headers"), ", "))
	var d []string
	if res.Status == http.StatusUnauthorized || res.Status == http.StatusForbidden {
		d = append(d, fmt.Sprintf("the gate answered the preflight %d: a preflight never carries credentials, so browsers can never call the proxy", res.Status))
	}
	if cors && len(d) == 0 {
		if res.Status/100 != 2 {
			d = append(d, fmt.Sprintf("status %d: a preflight needs an ok status", res.Status))
		}
		if ao := res.Header.Get("Access-Control-Allow-Origin"); ao != browserOrigin && ao != "*" {
			d = append(d, fmt.Sprintf("Access-Control-Allow-Origin %q does not admit %s", ao, browserOrigin))
		}
		if !listAdmits(res.Header.Values("Access-Control-Allow-Headers"), h.keyHeader()) {
			d = append(d, "Access-Control-Allow-Headers does not admit "+strings.ToLower(h.keyHeader()))
		}
	}
	if len(d) > 0 {
		h.Verdict(Mismatchf(report.HopClientProxy, want, observed, d...))
	}
}

// listAdmits reports whether a comma-separated header list names v (any
// case) or is the wildcard.
func listAdmits(lines []string, v string) bool {
	for _, l := range lines {
		for _, item := range strings.Split(l, ",") {
			item = strings.TrimSpace(item)
			if item == "*" || strings.EqualFold(item, v) {
				return true
			}
		}
	}
	return false
}

func checkHealthExempt(h *H) {
	if h.stdioUpstream() {
		h.Note("the upstream is a stdio server (--upstream-stdio): what reached it could not be observed; the client side was judged")
	}
	routes := h.Params().Exempt
	if len(routes) == 0 {
		h.Skip("no health route declared (--exempt)")
	}
	// A live session gives the upstream data a leaky status page would show.
	s, bad := h.Open(h.Proxy())
	if s == nil {
		h.Verdict(Mismatchf(report.HopClientProxy, "an MCP session opens with the key", "initialize failed: "+bad.describeAnswer()))
	}
	defer s.Close()
	t := h.withoutKey(h.Proxy())
	var d []string
	for _, p := range routes {
		mark := h.Mock().Journal.Mark()
		res := h.sendWithin(t, Request{Method: http.MethodGet, URL: origin(t) + p}, 3*time.Second)
		switch {
		case res.Err != nil:
			d = append(d, fmt.Sprintf("GET %s: %s", p, res.Describe()))
		case res.Status/100 != 2:
			d = append(d, fmt.Sprintf("GET %s without the key: %s", p, res.Describe()))
		}
		if up := h.arrived(mark); up != "" {
			d = append(d, fmt.Sprintf("GET %s called the upstream (%s)", p, up))
		}
		for _, secret := range []string{mockserver.ServerName, s.ID} {
			if secret != "" && bytes.Contains(res.Body, []byte(secret)) {
				d = append(d, fmt.Sprintf("GET %s body shows upstream data %q", p, secret))
			}
		}
	}
	if len(d) > 0 {
		h.Verdict(Mismatchf(report.HopClientProxy, "2xx without the key, no upstream call, no upstream data, on "+strings.Join(routes, ", "),
			fmt.Sprintf("%d problem(s)", len(d)), d...))
	}
}

func checkHeaderNameCase(h *H) {
	name, _ := h.Row.Data.(string)
	if name == "" {
		h.Errorf("row %s of %s has no check: its Data names no header spelling to send the key under", h.Row.ID, h.sc.ID)
	}
	h.controlNoKey()
	t := h.withoutKey(h.Proxy())
	req := initializeReq()
	keyed(req.Header, name, h.Params().APIKey)
	res := h.Send(t, req)
	want := fmt.Sprintf("2xx: the right key under %q passes the gate and the mock answers initialize", name)
	var d []string
	if !res.OK() {
		d = append(d, fmt.Sprintf("the key sent as %q: %s", name, res.Describe()))
	} else if !answeredByMock(res) {
		// The server name, not the journal: behind a stdio bridge the mock
		// in the loop is `mcpconform mock --stdio`, which has no journal.
		d = append(d, "the answer is not the mock's initialize result (serverInfo.name "+mockserver.ServerName+")")
	}
	if len(d) > 0 {
		h.Verdict(Mismatchf(report.HopClientProxy, want, res.Describe(), d...))
	}
}

// answeredByMock reports whether an initialize result came from the mock
// (HTTP or stdio): its serverInfo names it.
func answeredByMock(res *Result) bool { return mockInitializeResult(res.Messages) }

// leaks lists where the key appears in what the upstream received since mark.
func (h *H) upstreamLeaks(mark int, key string) []string {
	var out []string
	for _, e := range h.Mock().Journal.Since(mark) {
		where := e.Method + " " + e.Path
		for name, vs := range e.Header {
			for _, v := range vs {
				if strings.Contains(v, key) {
					out = append(out, fmt.Sprintf("%s: the upstream received header %s carrying the key", where, name))
				}
			}
		}
		if strings.Contains(e.RawQuery, key) || strings.Contains(e.RawQuery, url.QueryEscape(key)) {
			out = append(out, where+": the key is in the upstream's query string")
		}
		if bytes.Contains(e.Body, []byte(key)) {
			out = append(out, where+": the key is in the body the upstream received")
		}
	}
	return out
}

// downstreamLeaks lists where the key appears in a response to the client.
func downstreamLeaks(res *Result, key, what string) []string {
	var out []string
	for name, vs := range res.Header {
		for _, v := range vs {
			if strings.Contains(v, key) {
				out = append(out, fmt.Sprintf("%s: response header %s carries the key", what, name))
			}
		}
	}
	if bytes.Contains(res.Body, []byte(key)) {
		out = append(out, what+": the response body carries the key")
	}
	return out
}

func checkKeyNotLeaked(h *H) {
	if h.stdioUpstream() {
		h.Note("the upstream is a stdio server (--upstream-stdio): what reached it could not be observed; the client side was judged")
	}
	key := h.Params().APIKey
	if len(key) < 4 {
		h.Skip("the key is shorter than 4 bytes; searching for it would match unrelated bytes")
	}
	mark := h.Mock().Journal.Mark()
	s, bad := h.Open(h.Proxy())
	if s == nil {
		h.Verdict(Mismatchf(report.HopClientProxy, "an MCP session opens with the key", "initialize failed: "+bad.describeAnswer()))
	}
	d := downstreamLeaks(s.Init, key, "initialize")
	list := s.Call("tools/list", nil, nil)
	d = append(d, downstreamLeaks(list, key, "tools/list")...)
	// The lowercase spelling too (alone: two spellings would be two fields,
	// which a proxy may join into "k, k"): a gate may strip only the
	// spelling it knows.
	lower := *s
	lower.T = h.withoutKey(s.T)
	echo := lower.Call("tools/call", upstreamOnlyCall(),
		keyed(http.Header{}, strings.ToLower(h.keyHeader()), key))
	s.nextID = lower.nextID
	if echo.Status == http.StatusUnauthorized || echo.Status == http.StatusForbidden {
		// That is APIKEY-005's finding, not a leak: echo with the declared
		// spelling instead.
		h.Note("the gate refused the key under %q (APIKEY-005); echo_headers repeated under %q", strings.ToLower(h.keyHeader()), h.keyHeader())
		echo = s.Call("tools/call", upstreamOnlyCall(), nil)
	}
	d = append(d, downstreamLeaks(echo, key, "tools/call echo_headers")...)
	s.Close()
	wrong := initializeReq()
	keyed(wrong.Header, h.keyHeader(), key+"-wrong")
	rej := h.Send(h.withoutKey(h.Proxy()), wrong)
	d = append(d, downstreamLeaks(rej, key, "the 401 for a wrong key")...)
	d = append(d, h.upstreamLeaks(mark, key)...)
	if !echo.OK() {
		h.Verdict(Mismatchf(report.HopClientProxy, "tools/call echo_headers succeeds with the key", echo.Describe()))
	}
	if len(d) > 0 {
		h.Verdict(Mismatchf(report.HopProxyUpstream, "the key stays at the proxy: absent from every upstream request and every response",
			fmt.Sprintf("security finding: the key leaked %d time(s); whoever holds it can pass the gate", len(d)), d...))
	}
}

func checkGateCORS(h *H) *Mismatch {
	t := h.withoutKey(h.Proxy())
	req := initializeReq()
	req.Header.Set("Origin", browserOrigin)
	res := h.Send(t, req)
	want := "401 with Access-Control-Allow-Origin admitting " + browserOrigin + " and Access-Control-Expose-Headers naming WWW-Authenticate"
	if res.Err != nil {
		return Mismatchf(report.HopClientProxy, want, res.Describe())
	}
	observed := fmt.Sprintf("%d, Allow-Origin %q, Expose-Headers %q", res.Status,
		res.Header.Get("Access-Control-Allow-Origin"), strings.Join(res.Header.Values("Access-Control-Expose-Headers"), ", "))
	var d []string
	if res.Status != http.StatusUnauthorized && res.Status != http.StatusForbidden {
		d = append(d, fmt.Sprintf("status %d: the keyless request was not rejected", res.Status))
	}
	if ao := res.Header.Get("Access-Control-Allow-Origin"); ao != browserOrigin && ao != "*" {
		d = append(d, fmt.Sprintf("Access-Control-Allow-Origin %q: the browser sees a network error, not the 401", ao))
	}
	if len(res.Header.Values("WWW-Authenticate")) > 0 && !listAdmits(res.Header.Values("Access-Control-Expose-Headers"), "WWW-Authenticate") {
		d = append(d, "WWW-Authenticate is not exposed: scripts cannot read the challenge")
	}
	if len(d) > 0 {
		return Mismatchf(report.HopClientProxy, want, observed, d...)
	}
	return nil
}

func checkQueryKey(h *H) {
	key := h.Params().APIKey
	t := h.withoutKey(h.Proxy())
	mark := h.Mock().Journal.Mark()
	req := initializeReq()
	req.Query = "api_key=" + url.QueryEscape(key)
	res := h.Send(t, req)
	if res.OK() {
		h.Note("info: the proxy accepts the key in the query string (?api_key=); URLs end up in access logs and browser history")
	}
	var d []string
	for _, e := range h.Mock().Journal.Since(mark) {
		if strings.Contains(e.RawQuery, key) || strings.Contains(e.RawQuery, url.QueryEscape(key)) {
			d = append(d, fmt.Sprintf("%s %s?%s reached the upstream with the key in its query", e.Method, e.Path, e.RawQuery))
		}
	}
	if len(d) > 0 {
		h.Verdict(Mismatchf(report.HopProxyUpstream, "a key in the query string is refused, or at least consumed at the proxy",
			res.Describe()+", and the upstream received the key", d...))
	}
}

// checkKeyAndToken is APIKEY-010: in an I,K proxy the gate consumes the key
// and the injector adds the proxy's own token, on every request of a session.
func checkKeyAndToken(h *H) {
	if !h.HasRole(RoleI) || !h.HasRole(RoleK) {
		h.Skip("needs a proxy that is both API-key guarded and token injecting (--role I,K)")
	}
	key := h.Params().APIKey
	if len(key) < 4 {
		h.Skip("the key is shorter than 4 bytes; searching for it would match unrelated bytes")
	}
	if !h.Mock().GateOn() {
		h.Errorf("role I run without the upstream token gate: the harness cannot judge the injected tokens")
	}
	// The control proves the harness reaches the mock at all (with its
	// control token, which no proxy holds).
	if s, bad := h.Open(h.Upstream()); s == nil {
		h.Control(Mismatchf(report.HopControl, "an MCP session opens on the mock", "initialize failed: "+bad.describeAnswer()))
	} else {
		s.Close()
	}
	mark := h.Mock().Journal.Mark()
	t0 := time.Now()
	s, bad := h.Open(h.Proxy())
	if s == nil {
		var d []string
		for _, e := range h.Mock().Journal.Since(mark) {
			d = append(d, describeTokenEntry(e, t0))
		}
		h.Verdict(Mismatchf(report.HopClientProxy, "an MCP session opens with the key", "initialize failed: "+bad.describeAnswer(), d...))
	}
	d := downstreamLeaks(s.Init, key, "initialize")
	for _, l := range h.threeLegs(s) {
		d = append(d, downstreamLeaks(l.Res, key, l.Method)...)
		if l.Res.Err != nil || l.Res.Status/100 != 2 {
			d = append(d, fmt.Sprintf("%s through the proxy: %s", l.Method, l.Res.Describe()))
		}
	}
	d = append(d, h.keyAndTokenAtUpstream(mark, key, t0)...)
	d = append(d, h.keylessSpendsNoToken()...)
	if len(d) > 0 {
		h.Verdict(Mismatchf(report.HopProxyUpstream,
			"every upstream request carries the proxy's valid token and no trace of the key; no response carries the key; requests without the key cost no token requests",
			fmt.Sprintf("%d problem(s)", len(d)), firstN(d, 12)...))
	}
}

// keyAndTokenAtUpstream judges every upstream request on the MCP routes
// since mark: no key header under any spelling, the key in no field value,
// a valid bearer token the harness did not send; and it checks that each
// leg of the session (POST, GET, DELETE) arrived at all.
func (h *H) keyAndTokenAtUpstream(mark int, key string, t0 time.Time) []string {
	var d []string
	seen := map[string]bool{}
	for _, e := range h.Mock().Journal.Since(mark) {
		if e.Path != mockserver.MCPPath && e.Path != mockserver.SSEPath && e.Path != mockserver.MessagesPath {
			continue
		}
		seen[e.Method] = true
		what := fmt.Sprintf("upstream request #%d %s %s", e.Seq, e.Method, e.Path)
		if e.RPCMethod != "" {
			what += " " + e.RPCMethod
		}
		for name, vs := range e.Header {
			if strings.EqualFold(name, h.keyHeader()) {
				d = append(d, fmt.Sprintf("%s carries the key header %s", what, name))
				continue
			}
			for _, v := range vs {
				if strings.Contains(v, key) {
					d = append(d, fmt.Sprintf("%s carries the key in field %s", what, name))
				}
			}
		}
		switch {
		case e.TokenFP == "control":
			d = append(d, what+" carries the harness's control token, which the proxy was never given")
		case e.TokenErr != "":
			d = append(d, describeTokenEntry(e, t0)+" (want the proxy's own valid token)")
		}
	}
	for _, m := range []string{http.MethodPost, http.MethodGet, http.MethodDelete} {
		if !seen[m] {
			d = append(d, m+" of the session never reached the upstream")
		}
	}
	return d
}

// keylessProbes is how many requests without the key APIKEY-010 sends to see
// whether they reach the injector.
const keylessProbes = 3

// keylessSpendsNoToken sends requests without the key and counts the token
// requests they cause at the mock AS. Behind a gate that runs first there
// are none; an injector mounted outside the gate fetches a token for each,
// and refreshes it when the gate's 401 looks like the upstream rejecting it:
// unauthenticated clients then drive the proxy's credentials (AS load, and
// with rotating refresh tokens, replays that revoke the grant). A request
// the gate lets through is APIKEY-001's finding, not counted here.
func (h *H) keylessSpendsNoToken() []string {
	as := h.Mock().Authz
	if as == nil {
		h.Errorf("the mock authorization server is not running (mockserver.Options.Authz)")
	}
	before := len(as.Grants())
	t := h.withoutKey(h.Proxy())
	var statuses []string
	for i := 0; i < keylessProbes; i++ {
		res := h.sendWithin(t, initializeReq(), 3*time.Second)
		statuses = append(statuses, fmt.Sprint(res.Status))
	}
	spent := len(as.Grants()) - before
	switch {
	case spent >= keylessProbes:
		return []string{fmt.Sprintf("%d initialize requests without the key (answered %s) made the proxy send %d token requests to the AS: the injector runs before the gate, so clients without the key spend the proxy's credentials",
			keylessProbes, strings.Join(statuses, ", "), spent)}
	case spent > 0:
		h.Note("%d token request(s) at the AS while %d requests without the key were refused (a background refresh, or the injector runs before the gate)", spent, keylessProbes)
	}
	return nil
}
