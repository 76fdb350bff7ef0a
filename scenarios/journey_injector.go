package scenarios

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/mcpconform/mcpconform/mockserver"
	"github.com/mcpconform/mcpconform/mockserver/authz"
	"github.com/mcpconform/mcpconform/report"
)

// The journey of a proxy that logs in itself (role I): after the upstream's
// 401 it discovers the metadata (AUTH-PRM-001/002 judge the order), must not
// use metadata that describes another resource (RFC 9728 §3.3), looks up
// the authorization server the metadata names, and sends `resource` on
// every grant (AUTH-TOK-001).

func init() {
	Define(Scenario{
		ID: "AUTH-JRN-101", Title: "an injecting proxy's own login follows the metadata: the named authorization server, never one from metadata for another resource",
		Revisions: RevisionRange{Since: Rev20250618},
		Area:      journeyArea, Level: MUST, Roles: []Role{RoleI},
		Requirement: "A client that discovers its authorization server uses the one the protected-resource metadata names, and MUST NOT use metadata whose resource is not the resource it is accessing.",
		Source:      "RFC 9728 §3.3, §7.3; RFC 8414 §3; MCP 2025-11-25 Authorization §Authorization Server Discovery",
		KnownBugs:   []string{"clients that take authorization_servers from any metadata document: a server (or an attacker on its path) sends the proxy's credentials to an authorization server of its choosing"},
		Rows: []Row{
			{ID: "named-as", Title: "the metadata names the mock authorization server"},
			{ID: "foreign-resource", Title: "the challenge names metadata for another resource, with another authorization server"},
		},
		Checks: "The proxy's token is revoked so its next request draws the upstream's 401. named-as: after the metadata, the proxy's authorization-server lookup goes to the issuer named. foreign-resource: the named metadata's resource is another URL and names a decoy AS; the proxy must send the decoy nothing. Skipped when the proxy looks up no authorization server at all (a configured token endpoint).",
		Run:    checkInjectorDiscovery,
	})
}

// foreignPRMPath serves the metadata of another resource (foreign-resource).
const foreignPRMPath = "/meta/prm-foreign.json"

func checkInjectorDiscovery(h *H) {
	as := h.authzServer()
	defer h.drainRevoked(h.Mock().Journal.Mark())
	m := h.Mock()
	m.SetPRM(mockserver.PRMConfig{Suffixed: true, Root: true})
	if r := h.Send(h.Upstream(), Request{Method: http.MethodGet, URL: m.PRMURL()}); r.Status != http.StatusOK {
		h.Control(Mismatchf(report.HopControl, "protected-resource metadata at "+m.PRMURL(), r.Describe()))
	}
	// trigger makes the proxy discover: it holds a token, the token is
	// revoked, and its next request draws the upstream's 401.
	trigger := func() {
		h.Send(h.Proxy(), initializeReq())
		as.RevokeAllAccess()
		h.Send(h.Proxy(), initializeReq())
	}
	as.Reset()
	mark := m.Journal.Mark()
	trigger()
	fetchedPRM := false
	var elsewhere []string
	for _, e := range m.Journal.Since(mark) {
		fetchedPRM = fetchedPRM || strings.HasPrefix(e.Path, mockserver.PRMRootPath)
		if strings.HasPrefix(e.Path, "/.well-known/oauth-authorization-server") || strings.HasPrefix(e.Path, "/.well-known/openid-configuration") {
			elsewhere = append(elsewhere, e.Method+" "+m.BaseURL+e.Path)
		}
	}
	lookedUp := authzRequests(as, authz.WellKnownPath)
	h.proxyAuthzEvidence(as)
	switch {
	case len(lookedUp) == 0 && len(elsewhere) > 0:
		h.Verdict(Mismatchf(report.HopProxyUpstream, "authorization server metadata of the issuer the metadata names ("+as.Issuer()+")",
			"looked up at the upstream's origin: "+strings.Join(elsewhere, ", "), "the metadata names "+as.Issuer()+"; the upstream's origin is not an authorization server"))
	case !fetchedPRM:
		h.Skip("the proxy fetched no protected-resource metadata after the upstream's 401 (AUTH-PRM-001/002 judge discovery)")
	case len(lookedUp) == 0:
		h.Skip("the proxy looks up no authorization server after fetching the metadata (it uses a configured token endpoint): nothing to judge")
	}
	if h.Row.ID == "named-as" {
		return
	}

	decoy, stop := startDecoyAS(h)
	defer stop()
	foreign := m.BaseURL + "/other/mcp"
	m.Handle(foreignPRMPath, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(authz.ProtectedResourceMetadata(foreign, []string{decoy.Issuer()}, nil))
	}))
	defer m.Handle(foreignPRMPath, nil)
	m.SetPRM(mockserver.PRMConfig{Suffixed: true, Root: true, ChallengeRM: m.BaseURL + foreignPRMPath})
	if r := h.Send(h.Upstream(), Request{Method: http.MethodGet, URL: m.BaseURL + foreignPRMPath}); r.Status != http.StatusOK {
		h.Control(Mismatchf(report.HopControl, "the foreign metadata at "+foreignPRMPath, r.Describe()))
	}
	trigger()
	h.proxyAuthzEvidence(decoy)
	if reqs := decoy.Requests(); len(reqs) > 0 {
		var d []string
		for _, r := range firstN(describeAuthzRequests(reqs), 5) {
			d = append(d, "the proxy sent the decoy authorization server "+r)
		}
		var doc prmDoc
		_ = json.Unmarshal(authz.ProtectedResourceMetadata(foreign, []string{decoy.Issuer()}, nil), &doc)
		d = append(d, fmt.Sprintf("the metadata at %s says resource %s; the proxy's upstream is %s", m.BaseURL+foreignPRMPath, doc.Resource, m.MCPURL()))
		h.Verdict(Mismatchf(report.HopProxyAuthz, "no request to the authorization server named by metadata for another resource", fmt.Sprintf("%d request(s) to %s", len(reqs), decoy.Issuer()), d...))
	}
}

// authzRequests lists the requests an AS received on path.
func authzRequests(as *authz.Server, path string) []authz.Request {
	var out []authz.Request
	for _, r := range as.Requests() {
		if r.Path == path {
			out = append(out, r)
		}
	}
	return out
}

func describeAuthzRequests(reqs []authz.Request) []string {
	out := make([]string, len(reqs))
	for i, r := range reqs {
		out[i] = r.Method + " " + r.Path
	}
	return out
}

// proxyAuthzEvidence records what the proxy asked an AS (method and path;
// the AS keeps no more) as proxy→authorization server exchanges.
func (h *H) proxyAuthzEvidence(as *authz.Server) {
	for _, r := range as.Requests() {
		h.Evidence(report.Exchange{Hop: report.HopProxyAuthz, Started: r.Time, Request: report.Request{Method: r.Method, URL: as.Issuer() + r.Path}})
	}
}

// startDecoyAS runs a second authorization server on its own loopback
// origin for the duration of the case.
func startDecoyAS(h *H) (*authz.Server, func()) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		h.Errorf("decoy authorization server cannot listen: %v", err)
	}
	decoy := authz.New(authz.Config{Issuer: "http://" + ln.Addr().String(), Resource: h.Mock().BaseURL + "/other/mcp", ClientID: mockserver.AuthzClientID})
	srv := &http.Server{Handler: decoy, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return decoy, func() { _ = srv.Close() }
}
