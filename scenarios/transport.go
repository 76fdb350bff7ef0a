package scenarios

import (
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
				return Mismatchf(hop, fmt.Sprintf("session %d opens", i), "initialize failed: "+bad.Describe())
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
			return Mismatchf(t.Hop, "an MCP session opens", "initialize failed: "+bad.Describe())
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
