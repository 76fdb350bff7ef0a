package scenarios

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"

	"github.com/mcpconform/mcpconform/mockserver"
	"github.com/mcpconform/mcpconform/report"
)

// Area 2: transport and session (SHTTP-*, SESS-*, VER-*, HTTP-E2E-005).

func init() {
	Define(Scenario{
		ID:          "HTTP-E2E-005",
		Title:       "path and query reach the upstream unchanged",
		Area:        "transport",
		Level:       MUST,
		Roles:       anyRoles,
		Requirement: "A proxy MUST NOT modify the absolute-path and query parts of the received target URI when forwarding it to the next inbound server.",
		Source:      "RFC 9110 §7.7; MCP 2025-11-25 canonical server URI",
		KnownBugs: []string{
			"(v) a JWT-injecting auth proxy appended a trailing slash (/mcp/ → 404)",
			"open-webui/mcpo#209, #280 (trailing slash)",
		},
		Checks: "initialize with a probe query (percent-escapes, '+', empty value) through the proxy; the upstream must see path /mcp and the query bytes as sent.",
		Run:    checkPathAndQuery,
	})
	Define(Scenario{
		ID:          "SESS-001",
		Revisions:   RevisionRange{Until: Rev20251125},
		Title:       "Mcp-Session-Id is forwarded verbatim both ways, per session",
		Area:        "transport",
		Level:       MUST,
		Roles:       []Role{RoleT, RoleI, RoleK},
		Requirement: "Servers MAY assign a session ID at initialization; it MUST only contain visible ASCII (0x21–0x7E), and clients MUST include it on all subsequent requests.",
		Source:      "MCP 2025-11-25 Session Management §1-2",
		KnownBugs:   []string{"Inspector v1 stripped the client↔proxy mcp-session-id from upstream requests", "session ids cached per proxy instead of per client"},
		Checks:      "Two sessions through the proxy, ids drawn from all of visible ASCII; the client must see each id byte for byte, and the upstream must see each session's own id on its next request.",
		Run:         checkSessionIDs,
	})
	Define(Scenario{
		ID:          "VER-001",
		Revisions:   RevisionRange{Since: Rev20250618},
		Title:       "MCP-Protocol-Version is forwarded",
		Area:        "transport",
		Level:       MUST,
		Roles:       []Role{RoleT, RoleI, RoleK},
		Requirement: "The client MUST include the MCP-Protocol-Version header on all subsequent requests; without it the server SHOULD assume 2025-03-26.",
		Source:      "MCP 2025-06-18+ Protocol Version Header",
		KnownBugs:   []string{"allow-list proxies forwarding only mcp-session-id and authorization"},
		Checks:      "A tools/list inside a session carries MCP-Protocol-Version; the upstream must receive the same value.",
		Run:         checkProtocolVersion,
	})
}

func randomToken() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func checkPathAndQuery(h *H) {
	if h.Bridge() {
		checkUpstreamPathBridge(h)
		return
	}
	probeID := randomToken()
	// Escapes a normalising proxy would decode or re-encode, a '+', an empty
	// value and a tilde that some encoders escape needlessly.
	query := "mcpconform=" + probeID + "&q=a%2Fb+c&empty=&t=%7E"
	probe := func(t Target) (*mockserver.Entry, *Result) {
		mark := h.Mock().Journal.Mark()
		res := h.Send(t, Request{Header: postHeaders(""), Body: rpcRequest(1, "initialize", initializeParams()), Query: query})
		for _, e := range h.Mock().Journal.Since(mark) {
			if strings.Contains(e.RawQuery, probeID) {
				return e, res
			}
		}
		return nil, res
	}
	want := fmt.Sprintf("upstream request for %s?…%s", mockserver.MCPPath, query)
	judge := func(e *mockserver.Entry, res *Result, hop string) *Mismatch {
		if e == nil {
			return Mismatchf(hop, want, "the request never reached the upstream; client got "+res.Describe())
		}
		var d []string
		if e.Path != mockserver.MCPPath {
			d = append(d, fmt.Sprintf("path changed from %q to %q", mockserver.MCPPath, e.Path))
		}
		if !strings.HasSuffix(e.RawQuery, query) && !strings.Contains(e.RawQuery, query+"&") {
			d = append(d, fmt.Sprintf("query changed from %q to %q", query, e.RawQuery))
		}
		if len(d) == 0 {
			return nil
		}
		u := e.Path
		if e.RawQuery != "" {
			u += "?" + e.RawQuery
		}
		return Mismatchf(report.HopProxyUpstream, want, "upstream request for "+u+"; client got "+res.Describe(), d...)
	}
	e, res := probe(h.Upstream())
	h.Control(judge(e, res, report.HopControl))
	e, res = probe(h.Proxy())
	h.Verdict(judge(e, res, report.HopProxyUpstream))
}

// mintedSession finds the session id the mock issued in answer to the
// initialize journaled after mark.
func (h *H) mintedSession(mark int) string {
	for _, e := range h.Mock().Journal.Since(mark) {
		if e.RPCMethod == "initialize" {
			_, rh, _, _ := e.Response()
			return rh.Get("Mcp-Session-Id")
		}
	}
	return ""
}

// lastUpstreamHeader returns the named header of the last upstream request
// after mark with the given JSON-RPC method.
func (h *H) lastUpstreamHeader(mark int, rpcMethod, name string) (string, bool) {
	var v string
	found := false
	for _, e := range h.Mock().Journal.Since(mark) {
		if e.RPCMethod == rpcMethod {
			v, found = e.Header.Get(name), true
		}
	}
	return v, found
}

func checkSessionIDs(h *H) {
	probe := func(t Target) *Mismatch {
		hop := t.Hop
		for i := 1; i <= 2; i++ {
			mark := h.Mock().Journal.Mark()
			s, bad := h.Open(t)
			if s == nil {
				return Mismatchf(hop, fmt.Sprintf("session %d opens", i), "initialize failed: "+bad.describeAnswer())
			}
			minted := h.mintedSession(mark)
			if minted == "" {
				return Mismatchf(report.HopProxyUpstream, "the upstream minted a session id", "no initialize reached the upstream")
			}
			if s.ID != minted {
				return Mismatchf(hop, fmt.Sprintf("session %d: Mcp-Session-Id %q at the client", i, minted),
					fmt.Sprintf("%q", s.ID), "the session id was changed on the way to the client")
			}
			mark = h.Mock().Journal.Mark()
			if res := s.Call("tools/list", nil, nil); !res.OK() {
				return Mismatchf(hop, fmt.Sprintf("session %d: tools/list succeeds with the session id", i), res.Describe())
			}
			got, ok := h.lastUpstreamHeader(mark, "tools/list", "Mcp-Session-Id")
			if !ok {
				return Mismatchf(report.HopProxyUpstream, "tools/list reaches the upstream", "it never arrived")
			}
			if got != minted {
				return Mismatchf(report.HopProxyUpstream, fmt.Sprintf("session %d: upstream sees Mcp-Session-Id %q", i, minted),
					fmt.Sprintf("%q", got), "the upstream received another session's id or a changed id")
			}
		}
		return nil
	}
	h.Control(probe(h.Upstream()))
	h.Verdict(probe(h.Proxy()))
}

func checkProtocolVersion(h *H) {
	probe := func(t Target) *Mismatch {
		s, bad := h.Open(t)
		if s == nil {
			return Mismatchf(t.Hop, "an MCP session opens", "initialize failed: "+bad.describeAnswer())
		}
		mark := h.Mock().Journal.Mark()
		res := s.Call("tools/list", nil, http.Header{"Mcp-Protocol-Version": {ProtocolVersion}})
		got, ok := h.lastUpstreamHeader(mark, "tools/list", "MCP-Protocol-Version")
		switch {
		case !ok:
			return Mismatchf(report.HopProxyUpstream, "tools/list reaches the upstream", "it never arrived; client got "+res.Describe())
		case got != ProtocolVersion:
			obs := fmt.Sprintf("%q", got)
			if got == "" {
				obs = "header absent"
			}
			return Mismatchf(report.HopProxyUpstream, "MCP-Protocol-Version: "+ProtocolVersion, obs)
		}
		return nil
	}
	h.Control(probe(h.Upstream()))
	h.Verdict(probe(h.Proxy()))
}

func init() {
	Define(Scenario{
		ID:          "SHTTP-001",
		Revisions:   RevisionRange{Until: Rev20251125},
		Title:       "POST, GET and DELETE on the MCP endpoint are forwarded",
		Area:        "transport",
		Level:       MUST,
		Roles:       []Role{RoleT},
		Requirement: "The server MUST provide a single HTTP endpoint path that supports both POST and GET methods; clients SHOULD send DELETE to end a session.",
		Source:      "MCP 2025-11-25 Streamable HTTP; Session Management 5",
		Checks:      "In a session: POST tools/list, GET (answered with a short SSE stream) and DELETE; each must reach the upstream with its method and the client must get the upstream's status.",
		Run:         checkMethodsForwarded,
	})
	Define(Scenario{
		ID:          "SHTTP-002",
		Title:       "Accept is forwarded unchanged",
		Area:        "transport",
		Level:       MUST,
		Roles:       []Role{RoleT},
		Requirement: "The client MUST include an Accept header, listing both application/json and text/event-stream as supported content types (GET: text/event-stream).",
		Source:      "MCP 2025-11-25 Sending Messages 2; Listening 1",
		KnownBugs:   []string{"Inspector v1 rewrote Accept per route; SDK servers answer 406 when a token is missing"},
		Checks:      "POST initialize and a GET in the session; the upstream must see the client's Accept byte for byte.",
		Run:         checkAcceptForwarded,
	})
	Define(Scenario{
		ID:            "SHTTP-003",
		StdioUpstream: true,
		Title:         "an accepted notification gets 202 with no body",
		Area:          "transport",
		Level:         MUST,
		Roles:         []Role{RoleT, RoleB},
		Requirement:   "If the input is a JSON-RPC response or notification and the server accepts it, the server MUST return HTTP status code 202 Accepted with no body.",
		Source:        "MCP 2025-11-25 Sending Messages 4",
		Checks:        "A notification inside a session; the client must get 202 and an empty body (not 200 {}).",
		Run:           checkNotification202,
	})
	Define(Scenario{
		ID:          "SHTTP-005",
		Title:       "a GET the server does not offer stays 405",
		Area:        "transport",
		Level:       MUST,
		Roles:       []Role{RoleT, RoleB},
		Requirement: "The server MUST either return Content-Type: text/event-stream in response to this HTTP GET, or else return HTTP 405 Method Not Allowed.",
		Source:      "MCP 2025-11-25 Listening for Messages 3; RFC 9110 §15.5.6",
		Checks:      "The mock answers GET /mcp with 405 Allow: POST; the client must get 405 with Allow, not 404, 500 or an empty 200 stream.",
		Run:         checkGet405,
	})
	Define(Scenario{
		ID:          "SESS-002",
		Revisions:   RevisionRange{Until: Rev20251125},
		Title:       "the session id reaches the upstream on every later request",
		Area:        "transport",
		Level:       MUST,
		Roles:       []Role{RoleT, RoleB},
		Requirement: "Clients MUST include the session id in the MCP-Session-Id header on all of their subsequent HTTP requests.",
		Source:      "MCP 2025-11-25 Session Management 2",
		KnownBugs:   []string{"Inspector v1 stripped the client↔proxy mcp-session-id from upstream requests"},
		Checks:      "After initialize: POST tools/list, GET and DELETE; each must reach the upstream with the minted Mcp-Session-Id.",
		Run:         checkSessionOnEveryRequest,
	})
	Define(Scenario{
		ID:          "SESS-003",
		Revisions:   RevisionRange{Until: Rev20251125},
		Title:       "a dead session's 404 stays 404 and re-initialize works",
		Area:        "transport",
		Level:       MUST,
		Roles:       []Role{RoleT, RoleB},
		Requirement: "The server MUST respond to requests containing a terminated session ID with HTTP 404 Not Found; the client MUST start a new session by sending a new InitializeRequest.",
		Source:      "MCP 2025-11-25 Session Management 3-4",
		Checks:      "The session is terminated at the upstream; the next tools/call must give the client 404, and a new initialize through the proxy must succeed.",
		Run:         checkDeadSession404,
	})
	Define(Scenario{
		ID:          "SESS-004",
		Revisions:   RevisionRange{Until: Rev20251125},
		Title:       "DELETE is forwarded with the session id",
		Area:        "transport",
		Level:       SHOULD,
		Roles:       []Role{RoleT, RoleB},
		Requirement: "Clients that no longer need a session SHOULD send an HTTP DELETE to the MCP endpoint with the MCP-Session-Id header; the server MAY respond 405.",
		Source:      "MCP 2025-11-25 Session Management 5",
		Checks:      "DELETE of an open session; the upstream must receive it with the session id, the client must get the upstream's status, and the session must be gone upstream.",
		Run:         checkDeleteForwarded,
	})
	Define(Scenario{
		ID:            "VER-002",
		StdioUpstream: true,
		Revisions:     RevisionRange{Since: Rev20250618},
		Title:         "a 400 for an unsupported protocol version stays 400",
		Area:          "transport",
		Level:         MUST,
		Roles:         []Role{RoleT, RoleB},
		Requirement:   "If the server receives a request with an invalid or unsupported MCP-Protocol-Version, it MUST respond with 400 Bad Request.",
		Source:        "MCP 2025-06-18+ Protocol Version Header",
		Checks:        "tools/list in a session with MCP-Protocol-Version: 1999-01-01; the client must get the upstream's 400 with its body.",
		Run:           checkBadVersion400,
	})
}

// shortStream answers a GET with a priming event and ends, so a GET leg
// finishes without waiting on a long-lived stream.
func shortStream(name string) mockserver.Fault {
	return mockserver.Fault{Name: name, Match: legMatch(legStream), Status: http.StatusOK,
		Fields: []mockserver.Field{{Name: "Content-Type", Value: "text/event-stream"}, {Name: "Cache-Control", Value: "no-cache"}},
		Body:   "id: mcpconform-0\ndata:\n\n"}
}

// getHeaders are the headers of a GET stream request in a session.
func getHeaders(sessionID string) http.Header {
	hdr := postHeaders(sessionID)
	hdr.Set("Accept", "text/event-stream")
	hdr.Del("Content-Type")
	return hdr
}

// legRequests sends tools/list, a GET and a DELETE in s and returns, per
// method, the upstream entry and the client's result.
type legResult struct {
	Method string
	Res    *Result
	Entry  *mockserver.Entry
}

func (h *H) threeLegs(s *Session) []legResult {
	var out []legResult
	find := func(mark int, method string) *mockserver.Entry {
		var e *mockserver.Entry
		for _, x := range h.Mock().Journal.Since(mark) {
			if x.Method == method {
				e = x
			}
		}
		return e
	}
	mark := h.Mock().Journal.Mark()
	res := s.Call("tools/list", nil, nil)
	out = append(out, legResult{http.MethodPost, res, find(mark, http.MethodPost)})
	mark = h.Mock().Journal.Mark()
	h.Mock().Arm(shortStream("get-stream"))
	res = h.Send(s.T, Request{Method: http.MethodGet, Header: getHeaders(s.ID)})
	out = append(out, legResult{http.MethodGet, res, find(mark, http.MethodGet)})
	mark = h.Mock().Journal.Mark()
	res = s.Close()
	out = append(out, legResult{http.MethodDelete, res, find(mark, http.MethodDelete)})
	return out
}

func checkMethodsForwarded(h *H) {
	probe := func(t Target) *Mismatch {
		s, bad := h.Open(t)
		if s == nil {
			return Mismatchf(t.Hop, "an MCP session opens", "initialize failed: "+bad.describeAnswer())
		}
		var d []string
		for _, l := range h.threeLegs(s) {
			switch {
			case l.Entry == nil:
				d = append(d, fmt.Sprintf("%s never reached the upstream; the client got %s", l.Method, l.Res.Describe()))
			case l.Res.Err != nil:
				d = append(d, fmt.Sprintf("%s: %s", l.Method, l.Res.Describe()))
			default:
				if st, _, _, _ := l.Entry.Response(); st != 0 && st != l.Res.Status {
					d = append(d, fmt.Sprintf("%s: upstream answered %d, client got %d", l.Method, st, l.Res.Status))
				}
			}
		}
		if len(d) == 0 {
			return nil
		}
		return Mismatchf(t.Hop, "POST, GET and DELETE forwarded with their answers", "a method was not forwarded", d...)
	}
	h.Control(probe(h.Upstream()))
	h.Verdict(probe(h.Proxy()))
}

func checkAcceptForwarded(h *H) {
	const postAccept, getAccept = "application/json, text/event-stream", "text/event-stream"
	probe := func(t Target) *Mismatch {
		mark := h.Mock().Journal.Mark()
		s, bad := h.Open(t)
		var d []string
		if got, ok := h.lastUpstreamHeader(mark, "initialize", "Accept"); !ok {
			return Mismatchf(report.HopProxyUpstream, "initialize reaches the upstream", "it never arrived; client got "+bad.Describe())
		} else if got != postAccept {
			d = append(d, fmt.Sprintf("POST Accept changed from %q to %q", postAccept, got))
		}
		if s == nil {
			return Mismatchf(t.Hop, "an MCP session opens", "initialize failed: "+bad.describeAnswer(), d...)
		}
		mark = h.Mock().Journal.Mark()
		h.Mock().Arm(shortStream("get-accept"))
		res := h.Send(t, Request{Method: http.MethodGet, Header: getHeaders(s.ID)})
		var got *string
		for _, e := range h.Mock().Journal.Since(mark) {
			if e.Method == http.MethodGet {
				v := e.Header.Get("Accept")
				got = &v
			}
		}
		switch {
		case got == nil:
			d = append(d, "the GET never reached the upstream; client got "+res.Describe())
		case *got != getAccept:
			d = append(d, fmt.Sprintf("GET Accept changed from %q to %q", getAccept, *got))
		}
		s.Close()
		if len(d) == 0 {
			return nil
		}
		return Mismatchf(report.HopProxyUpstream, "Accept forwarded as the client sent it", "Accept changed", d...)
	}
	h.Control(probe(h.Upstream()))
	h.Verdict(probe(h.Proxy()))
}

func checkNotification202(h *H) {
	probe := func(t Target) *Mismatch {
		s, bad := h.Open(t)
		if s == nil {
			return Mismatchf(t.Hop, "an MCP session opens", "initialize failed: "+bad.describeAnswer())
		}
		defer s.Close()
		res := s.Notify("notifications/roots/list_changed")
		switch {
		case res.Err != nil:
			return Mismatchf(t.Hop, "202 Accepted with no body", res.Describe())
		case res.Status != http.StatusAccepted:
			return Mismatchf(t.Hop, "202 Accepted with no body", fmt.Sprintf("%d with body %q", res.Status, shorten(string(res.Body), 120)), fmt.Sprintf("status changed from 202 to %d", res.Status))
		case len(bytes.TrimSpace(res.Body)) > 0:
			return Mismatchf(t.Hop, "202 Accepted with no body", fmt.Sprintf("202 with body %q", shorten(string(res.Body), 120)), "a body was added")
		}
		return nil
	}
	h.Control(probe(h.Upstream()))
	h.Verdict(probe(h.Proxy()))
}

func checkGet405(h *H) {
	if h.Bridge() {
		h.Skip("a bridge decides on its own whether it offers its client a GET stream: the upstream's 405 on its own GET need not reach the client")
	}
	fault := mockserver.Fault{Name: "get-405", Match: legMatch(legStream), Status: http.StatusMethodNotAllowed,
		Fields: []mockserver.Field{{Name: "Allow", Value: "POST"}, {Name: "Content-Type", Value: "application/json"}}, Body: mockserver.ErrorBody(405)}
	judge := func(res *Result, hop string) *Mismatch {
		want := "405 Method Not Allowed with Allow: POST"
		if res.Err != nil {
			return Mismatchf(hop, want, res.Describe())
		}
		var d []string
		if res.Status != http.StatusMethodNotAllowed {
			d = append(d, fmt.Sprintf("status changed from 405 to %d", res.Status))
		}
		if got := res.Header.Get("Allow"); got != "POST" {
			d = append(d, fmt.Sprintf("Allow changed from \"POST\" to %q", got))
		}
		if len(d) == 0 {
			return nil
		}
		return Mismatchf(hop, want, fmt.Sprintf("%d, Allow %q", res.Status, res.Header.Get("Allow")), d...)
	}
	h.judgeOnLeg(legStream, fault, judge)
}

func checkSessionOnEveryRequest(h *H) {
	if h.Bridge() {
		checkUpstreamSessionBridge(h)
		return
	}
	probe := func(t Target) *Mismatch {
		mark := h.Mock().Journal.Mark()
		s, bad := h.Open(t)
		if s == nil {
			return Mismatchf(t.Hop, "an MCP session opens", "initialize failed: "+bad.describeAnswer())
		}
		minted := h.mintedSession(mark)
		var d []string
		for _, l := range h.threeLegs(s) {
			switch {
			case l.Entry == nil:
				d = append(d, fmt.Sprintf("%s never reached the upstream; client got %s", l.Method, l.Res.Describe()))
			case l.Entry.Header.Get("Mcp-Session-Id") != minted:
				got := l.Entry.Header.Get("Mcp-Session-Id")
				if got == "" {
					d = append(d, fmt.Sprintf("%s reached the upstream without Mcp-Session-Id", l.Method))
				} else {
					d = append(d, fmt.Sprintf("%s reached the upstream with Mcp-Session-Id %q instead of %q", l.Method, got, minted))
				}
			}
		}
		if len(d) == 0 {
			return nil
		}
		return Mismatchf(report.HopProxyUpstream, fmt.Sprintf("Mcp-Session-Id %q on POST, GET and DELETE", minted), "the session id was lost or changed", d...)
	}
	h.Control(probe(h.Upstream()))
	h.Verdict(probe(h.Proxy()))
}

func checkDeadSession404(h *H) {
	probe := func(t Target) *Mismatch {
		mark := h.Mock().Journal.Mark()
		s, bad := h.Open(t)
		if s == nil {
			return Mismatchf(t.Hop, "an MCP session opens", "initialize failed: "+bad.describeAnswer())
		}
		// End the session at the upstream itself, as an expiry would.
		minted := h.mintedSession(mark)
		kill := h.Send(h.Upstream(), Request{Method: http.MethodDelete, Header: postHeaders(minted)})
		if kill.Err != nil || kill.Status/100 != 2 {
			return Mismatchf(report.HopControl, "the mock ends the session on DELETE", kill.Describe())
		}
		callMark := h.Mock().Journal.Mark()
		res := s.Call("tools/call", upstreamOnlyCall(), nil)
		if h.Bridge() && t.Name == "proxy" && res.OK() && h.mintedSession(callMark) != "" {
			// The bridge opened a new upstream session on its own and
			// answered the call: the client's session lives on, which is
			// as good as a 404 and a re-initialize.
			h.Note("the bridge re-initialized its upstream session transparently after the upstream's 404")
		} else if res.Err != nil || res.Status != http.StatusNotFound {
			d := []string{"a client re-initializes only on 404"}
			if res.Err == nil {
				d = append([]string{fmt.Sprintf("status changed from 404 to %d", res.Status)}, d...)
			}
			return Mismatchf(t.Hop, "404 Not Found for the terminated session", res.Describe(), d...)
		}
		again, bad := h.Open(t)
		if again == nil {
			return Mismatchf(t.Hop, "a new initialize succeeds after the 404", bad.Describe())
		}
		again.Close()
		return nil
	}
	h.Control(probe(h.Upstream()))
	h.Verdict(probe(h.Proxy()))
}

func checkDeleteForwarded(h *H) {
	probe := func(t Target) *Mismatch {
		mark := h.Mock().Journal.Mark()
		s, bad := h.Open(t)
		if s == nil {
			return Mismatchf(t.Hop, "an MCP session opens", "initialize failed: "+bad.describeAnswer())
		}
		minted := h.mintedSession(mark)
		mark = h.Mock().Journal.Mark()
		res := s.Close()
		var e *mockserver.Entry
		for _, x := range h.Mock().Journal.Since(mark) {
			if x.Method == http.MethodDelete {
				e = x
			}
		}
		want := fmt.Sprintf("DELETE with Mcp-Session-Id %q at the upstream", minted)
		switch {
		case e == nil:
			return Mismatchf(report.HopProxyUpstream, want, "no DELETE reached the upstream; client got "+res.Describe())
		case e.Header.Get("Mcp-Session-Id") != minted:
			return Mismatchf(report.HopProxyUpstream, want, fmt.Sprintf("DELETE with Mcp-Session-Id %q", e.Header.Get("Mcp-Session-Id")))
		}
		if st, _, _, _ := e.Response(); res.Err != nil || (st != res.Status && !(h.Bridge() && res.Status/100 == 2 && st/100 == 2)) {
			return Mismatchf(t.Hop, fmt.Sprintf("the upstream's %d for DELETE", st), res.Describe())
		}
		return nil
	}
	h.Control(probe(h.Upstream()))
	h.Verdict(probe(h.Proxy()))
}

func checkBadVersion400(h *H) {
	probe := func(t Target) (*Result, *Mismatch) {
		s, bad := h.Open(t)
		if s == nil {
			return nil, Mismatchf(t.Hop, "an MCP session opens", "initialize failed: "+bad.describeAnswer())
		}
		defer s.Close()
		return s.Call("tools/list", nil, http.Header{"Mcp-Protocol-Version": {"1999-01-01"}}), nil
	}
	ctl, m := probe(h.Upstream())
	if m == nil && (ctl.Err != nil || ctl.Status != http.StatusBadRequest) {
		m = Mismatchf(report.HopControl, "400 from the mock for MCP-Protocol-Version 1999-01-01", ctl.Describe())
	}
	h.Control(m)
	res, m := probe(h.Proxy())
	h.Verdict(m)
	want := fmt.Sprintf("400 with body %q", shorten(string(bytes.TrimSpace(ctl.Body)), 120))
	switch {
	case res.Err != nil:
		h.Verdict(Mismatchf(report.HopClientProxy, want, res.Describe()))
	case res.Status != http.StatusBadRequest:
		h.Verdict(Mismatchf(report.HopClientProxy, want, res.Describe(), fmt.Sprintf("status changed from 400 to %d", res.Status)))
	case h.Bridge():
		// The bridge checks the version itself and words its own error:
		// the status is what clients branch on.
	case !bytes.Equal(bytes.TrimSpace(res.Body), bytes.TrimSpace(ctl.Body)):
		h.Verdict(Mismatchf(report.HopClientProxy, want, fmt.Sprintf("400 with body %q", shorten(string(res.Body), 120)), "the error body was changed"))
	}
}

// checkUpstreamSessionBridge is SESS-002 through a bridge: the bridge keeps
// its own session with its client and sends the upstream's session id (the
// one the mock minted for the bridge's initialize) on every later upstream
// request of that session.
func checkUpstreamSessionBridge(h *H) {
	probe := func(t Target) *Mismatch {
		older := h.knownSessions()
		mark := h.Mock().Journal.Mark()
		s, bad := h.Open(t)
		if s == nil {
			return Mismatchf(t.Hop, "an MCP session opens", "initialize failed: "+bad.describeAnswer())
		}
		minted := h.mintedSession(mark)
		if minted == "" {
			return Mismatchf(report.HopProxyUpstream, "the upstream minted a session id for the bridge's initialize", "no initialize reached the upstream")
		}
		callMark := h.Mock().Journal.Mark()
		if res := s.Call("tools/call", upstreamOnlyCall(), nil); !res.OK() {
			return Mismatchf(t.Hop, "tools/call echo_headers succeeds in the session", res.Describe())
		}
		if _, ok := h.lastUpstreamHeader(callMark, "tools/call", "Mcp-Session-Id"); !ok {
			return Mismatchf(report.HopProxyUpstream, "tools/call echo_headers reaches the upstream", "it never arrived")
		}
		s.Close()
		var d []string
		for _, e := range ownTraffic(h.Mock().Journal.Since(mark), older) {
			if e.RPCMethod == "initialize" || e.Path != mockserver.MCPPath {
				continue
			}
			if got := e.Header.Get("Mcp-Session-Id"); got != minted {
				what := e.Method
				if e.RPCMethod != "" {
					what += " " + e.RPCMethod
				}
				d = append(d, fmt.Sprintf("%s reached the upstream with Mcp-Session-Id %q", what, got))
			}
		}
		if len(d) > 0 {
			return Mismatchf(report.HopProxyUpstream, fmt.Sprintf("Mcp-Session-Id %q on every upstream request after initialize", minted), "the upstream session id was lost or changed", d...)
		}
		return nil
	}
	h.Control(probe(h.Upstream()))
	h.Verdict(probe(h.Proxy()))
}

// checkUpstreamPathBridge is HTTP-E2E-005 through a bridge: a bridge talks
// to the upstream URL it was configured with, not to the client's path, and
// must use that URL's path and query exactly (a trailing slash added to it
// makes servers mounted at /mcp answer 404: bug [v]).
func checkUpstreamPathBridge(h *H) {
	probe := func(t Target) *Mismatch {
		mark := h.Mock().Journal.Mark()
		s, bad := h.Open(t)
		if s == nil {
			return Mismatchf(t.Hop, "an MCP session opens", "initialize failed: "+bad.describeAnswer()+upstreamPaths(h.Mock().Journal.Since(mark)))
		}
		s.Call("tools/list", nil, nil)
		s.Close()
		var d []string
		for _, e := range h.Mock().Journal.Since(mark) {
			if e.Path != mockserver.MCPPath || e.RawQuery != "" {
				d = append(d, fmt.Sprintf("%s %s", e.Method, e.Path+queryPart(e.RawQuery)))
			}
		}
		if len(d) > 0 {
			return Mismatchf(report.HopProxyUpstream, "every upstream request at the configured upstream path "+mockserver.MCPPath, fmt.Sprintf("%d request(s) elsewhere", len(d)), d...)
		}
		return nil
	}
	h.Control(probe(h.Upstream()))
	h.Verdict(probe(h.Proxy()))
}

func queryPart(q string) string {
	if q == "" {
		return ""
	}
	return "?" + q
}

// upstreamPaths lists where requests went, for an "initialize failed" text.
func upstreamPaths(es []*mockserver.Entry) string {
	var out []string
	for _, e := range es {
		out = append(out, fmt.Sprintf("%s %s → %d", e.Method, e.Path+queryPart(e.RawQuery), entryStatus(e)))
	}
	if len(out) == 0 {
		return "; nothing reached the upstream"
	}
	return "; upstream requests: " + strings.Join(out, ", ")
}

func entryStatus(e *mockserver.Entry) int {
	st, _, _, _ := e.Response()
	return st
}
