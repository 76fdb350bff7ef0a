package scenarios

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"

	"github.com/mcpconform/mcpconform/mockserver"
	"github.com/mcpconform/mcpconform/report"
)

// Request Authorization, response Content-Type and the fixed hop-by-hop
// fields (HTTP-E2E-009, SHTTP-004, HTTP-HOP-002).

func init() {
	Define(Scenario{
		ID:          "HTTP-E2E-009",
		Title:       "the client's Authorization reaches the upstream unchanged",
		Area:        "bridging",
		Level:       MUST,
		Roles:       []Role{RoleT},
		Requirement: "A proxy forwarding a request MUST NOT modify any Authorization header fields in that request.",
		Source:      "RFC 9110 §11.6.2",
		KnownBugs:   []string{"proxies that parse and re-emit credentials (scheme case, spacing)"},
		Checks:      "initialize with each Authorization value (Bearer token68 with every token68 character; lowercase scheme with two spaces before the token); the upstream must receive the value byte for byte.",
		Rows: []Row{
			{ID: "bearer", Title: "Bearer with every token68 character", Data: "Bearer aZ09-._~+/.eyJzdWIiOiJtY3AifQ=="},
			{ID: "spelling", Title: "lowercase scheme, two spaces", Data: "bearer  mcpconform.Token-68=="},
		},
		Run: checkAuthorizationForwarded,
	})
	Define(Scenario{
		ID:          "SHTTP-004",
		Title:       "the response Content-Type and body form are preserved",
		Area:        "transport",
		Level:       MUST,
		Roles:       []Role{RoleT},
		Requirement: "The server MUST either return Content-Type: text/event-stream, to initiate an SSE stream, or Content-Type: application/json, to return one JSON object. The client MUST support both these cases.",
		Source:      "MCP 2025-11-25 Sending Messages 5",
		Checks:      "The mock answers initialize as one JSON object (row json) or as an SSE stream with one message event (row sse); the client must get the same Content-Type and the same body bytes.",
		Rows: []Row{
			{ID: "json", Title: "application/json", Data: "application/json"},
			{ID: "sse", Title: "text/event-stream", Data: "text/event-stream"},
		},
		Run: checkContentTypePreserved,
	})
	Define(Scenario{
		ID:          "HTTP-HOP-002",
		Title:       "Proxy-Connection, Keep-Alive, TE and Upgrade are not forwarded",
		Area:        "bridging",
		Level:       SHOULD,
		Roles:       anyRoles,
		Requirement: "Intermediaries SHOULD remove Proxy-Connection, Keep-Alive, TE, Transfer-Encoding and Upgrade after applying those fields' semantics, even when Connection does not name them.",
		Source:      "RFC 9110 §7.6.1",
		Checks:      "initialize carries Proxy-Connection, Keep-Alive, TE (without trailers) and Upgrade, none named by Connection; the mock answers with Proxy-Connection, Keep-Alive and Upgrade. None of the values may cross the proxy (a proxy may send its own TE: trailers).",
		Run:         checkFixedHopFields,
	})
}

func checkAuthorizationForwarded(h *H) {
	value := h.Row.Data.(string)
	probe := func(t Target) *Mismatch {
		req := initializeReq()
		req.Header.Set("Authorization", value)
		mark := h.Mock().Journal.Mark()
		res := h.Send(t, req)
		var e *mockserver.Entry
		for _, x := range h.Mock().Journal.Since(mark) {
			if x.RPCMethod == "initialize" {
				e = x
			}
		}
		want := fmt.Sprintf("Authorization: %q at the upstream", value)
		switch {
		case e == nil:
			return Mismatchf(report.HopProxyUpstream, want, "the initialize never reached the upstream; client got "+res.Describe())
		case strings.Join(e.Header.Values("Authorization"), ", ") != value:
			got := e.Header.Values("Authorization")
			obs := "Authorization absent"
			if len(got) > 0 {
				obs = "Authorization: " + quoteLines(got)
			}
			return Mismatchf(report.HopProxyUpstream, want, obs, "the credentials were modified on the way")
		}
		return nil
	}
	h.Control(probe(h.Upstream()))
	h.Verdict(probe(h.Proxy()))
}

func checkContentTypePreserved(h *H) {
	ct := h.Row.Data.(string)
	result := `{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"` + ProtocolVersion + `","capabilities":{},"serverInfo":{"name":"mcpconform-ct","version":"1"}}}`
	body := result
	if ct == "text/event-stream" {
		body = "event: message\ndata: " + result + "\n\n"
	}
	fault := mockserver.Fault{Name: "content-type-" + h.Row.ID, Match: matchInitialize, Status: http.StatusOK,
		Fields: []mockserver.Field{{Name: "Content-Type", Value: ct}, {Name: "Cache-Control", Value: "no-cache"}}, Body: body}
	want := fmt.Sprintf("200, Content-Type %s, body %q", ct, shorten(body, 120))
	judge := func(res *Result, hop string) *Mismatch {
		if res.Err != nil {
			return Mismatchf(hop, want, res.Describe())
		}
		var d []string
		if res.Status != http.StatusOK {
			d = append(d, fmt.Sprintf("status changed from 200 to %d", res.Status))
		}
		if got := res.Header.Get("Content-Type"); got != ct {
			d = append(d, fmt.Sprintf("Content-Type changed from %q to %q", ct, got))
		}
		if !bytes.Equal(res.Body, []byte(body)) {
			d = append(d, fmt.Sprintf("body changed to %q", shorten(string(res.Body), 200)))
		}
		if len(d) == 0 {
			return nil
		}
		return Mismatchf(hop, want, fmt.Sprintf("%d, Content-Type %q", res.Status, res.Header.Get("Content-Type")), d...)
	}
	h.Mock().Arm(fault)
	h.Control(judge(h.Send(h.Upstream(), initializeReq()), report.HopControl))
	h.Mock().Arm(fault)
	h.Verdict(judge(h.Send(h.Proxy(), initializeReq()), report.HopClientProxy))
}

// fixedHopFields are the hop-by-hop fields RFC 9110 §7.6.1 lists by name,
// with probe values. TE carries no "trailers", which a proxy may send on its
// own account; Transfer-Encoding is framing and judged by HTTP-HOP-003.
var fixedHopRequest = []mockserver.Field{
	{Name: "Proxy-Connection", Value: "keep-alive"},
	{Name: "Keep-Alive", Value: "timeout=5, max=1000"},
	{Name: "Te", Value: "deflate;q=0.5"},
	{Name: "Upgrade", Value: "mcpconform-probe/1"},
}

var fixedHopResponse = []mockserver.Field{
	{Name: "Proxy-Connection", Value: "keep-alive"},
	{Name: "Keep-Alive", Value: "timeout=7, max=77"},
	{Name: "Upgrade", Value: "mcpconform-probe/1"},
}

func checkFixedHopFields(h *H) {
	// The mock's own initialize answer carries the fields, so a bridge can
	// open its upstream session through the probe.
	fault := mockserver.Fault{Name: "fixed-hop", Match: matchInitialize, Decorate: fixedHopResponse}
	send := func(t Target) (*Result, *mockserver.Entry) {
		req := initializeReq()
		for _, f := range fixedHopRequest {
			req.Header.Set(f.Name, f.Value)
		}
		return h.SendArmed(t, fault, req)
	}
	// The control shows every probe field crosses a direct connection, so
	// a missing one through the proxy is the proxy's doing.
	res, e := send(h.Upstream())
	if res.Err != nil || e == nil {
		h.Control(Mismatchf(report.HopControl, "the mock answers the probe", res.Describe()))
	}
	var missing []string
	for _, f := range fixedHopRequest {
		if e.Header.Get(f.Name) != f.Value {
			missing = append(missing, "request "+f.Name)
		}
	}
	for _, f := range fixedHopResponse {
		if res.Header.Get(f.Name) != f.Value {
			missing = append(missing, "response "+f.Name)
		}
	}
	if len(missing) > 0 {
		h.Control(Mismatchf(report.HopControl, "every probe field crosses without a proxy", "missing: "+strings.Join(missing, ", ")))
	}

	res, e = send(h.Proxy())
	if e == nil {
		h.Verdict(Mismatchf(report.HopProxyUpstream, "the initialize reaches the upstream", "it never arrived; client got "+res.Describe()))
	}
	var d []string
	for _, f := range fixedHopRequest {
		if v := e.Header.Get(f.Name); strings.Contains(v, f.Value) {
			d = append(d, fmt.Sprintf("request field %s: %s reached the upstream", f.Name, f.Value))
		}
	}
	if res.Err == nil {
		for _, f := range fixedHopResponse {
			if v := res.Header.Get(f.Name); strings.Contains(v, f.Value) {
				d = append(d, fmt.Sprintf("response field %s: %s reached the client", f.Name, f.Value))
			}
		}
	}
	if len(d) > 0 {
		h.Verdict(Mismatchf(report.HopClientProxy+" / "+report.HopProxyUpstream, "hop-by-hop fields removed in both directions", "they were forwarded", d...))
	}
}
