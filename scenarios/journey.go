package scenarios

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/mcpconform/mcpconform/mockserver"
	"github.com/mcpconform/mcpconform/mockserver/authz"
	"github.com/mcpconform/mcpconform/report"
)

// Area: the authorization journey (AUTH-JRN-*). What users report is the
// effect, not a field: "OAuth works directly against the server, but not
// through the proxy". After a 401 an MCP client crosses the proxy several
// times (the challenge, the metadata, perhaps the authorization server, the
// retried request, step-up), and each hop breaks in real deployments. Each
// step is its own scenario, so a report says which step broke and where;
// AUTH-JRN-011 has the official Go SDK walk the whole journey as a user's
// client would.
//
// The mock plays an MCP server deployed correctly behind the proxy: it
// advertises the URL clients use (the proxy's), so a failure is the
// proxy's. The rows of AUTH-JRN-004 show, as info, what happens when the
// server is not configured that way.

const journeyArea = "journey"

// journeyRoles: transparent proxies and bridges walk the whole journey. A
// bridge relays the upstream's challenge and must serve or forward the URLs
// it names (the metadata, an authorization server on the upstream's
// origin), as builtin:bridge does; the steps judge what the client gets,
// so the same probes hold for both.
var journeyRoles = []Role{RoleT, RoleB}

// journeySources are the requirement texts the area draws on.
const (
	srcChallenge = "RFC 9110 §15.5.2, §11.6.1; RFC 6750 §3; RFC 9728 §5.1; MCP 2025-11-25 Authorization §Authorization Server Discovery"
	srcPRM       = "RFC 9728 §3, §3.1, §5.1; MCP 2025-11-25 Authorization §Protected Resource Metadata Discovery Requirements"
)

// resourceRow is a server variant of the resource step: the level of its
// finding (info where the server, not the proxy, is misconfigured).
type resourceRow struct {
	Level Level `json:"levelOfFinding"`
}

// journeyForCase is the mock's configuration for a journey case (without
// its public URL, which is the proxy's MCP URL): the single source for the
// scenarios of the area and their tests.
func journeyForCase(caseID string) (mockserver.Journey, bool) {
	j := mockserver.DefaultJourney("")
	switch strings.ToUpper(caseID) {
	case "AUTH-JRN-001", "AUTH-JRN-002", "AUTH-JRN-003/NAMED", "AUTH-JRN-004/CONFIGURED",
		"AUTH-JRN-009", "AUTH-JRN-010", "AUTH-JRN-011/SEPARATE-AS":
	case "AUTH-JRN-003/PATH-SUFFIXED":
		j.Root, j.ChallengeRM = false, false
	case "AUTH-JRN-003/ROOT":
		j.Suffixed, j.ChallengeRM = false, false
	case "AUTH-JRN-004/FORWARDED":
		j.Resource = mockserver.ResourceForwarded
	case "AUTH-JRN-004/UPSTREAM-URL":
		j.Resource = mockserver.ResourceOwn
	case "AUTH-JRN-005", "AUTH-JRN-006", "AUTH-JRN-007", "AUTH-JRN-008", "AUTH-JRN-011/CO-HOSTED-AS":
		j.CoHosted = true
	default:
		return j, false
	}
	return j, true
}

// caseJourney is the current case's journey configuration.
func (h *H) caseJourney() mockserver.Journey {
	j, ok := journeyForCase(h.c.ID)
	if !ok {
		h.Errorf("no journey configuration for %s (journeyForCase)", h.c.ID)
	}
	return j
}

func init() {
	Define(Scenario{
		ID: "AUTH-JRN-001", Title: "the 401 reaches the client with a Bearer challenge",
		Area: journeyArea, Level: MUST, Roles: journeyRoles,
		Requirement: "A 401 MUST carry a challenge and a proxy MUST NOT modify WWW-Authenticate: it is how an MCP client learns that it must log in, and where the server's metadata is.",
		Source:      srcChallenge,
		KnownBugs:   []string{"(i) proxies that keep the 401 but rebuild the response without WWW-Authenticate (MCP Inspector v1 proxy, inspector#168)"},
		Checks:      "An initialize without a token: the client gets 401 with a Bearer challenge.",
		Run:         checkJourneyChallenge,
	})
	Define(Scenario{
		ID: "AUTH-JRN-002", Title: "the challenge's resource_metadata names a URL the client can reach",
		Revisions: RevisionRange{Since: Rev20250618},
		Area:      journeyArea, Level: MUST, Roles: journeyRoles,
		Requirement: "Clients MUST use the resource_metadata URL of the challenge when present; behind a proxy that URL must be one the client reaches (the proxy's origin), never the upstream's.",
		Source:      srcPRM,
		Checks:      "The server names its metadata on the proxy's origin: the challenge the client gets must still name a URL on an origin the client can reach, not the upstream's (which sits behind the proxy). Skipped when no challenge reaches the client (AUTH-JRN-001).",
		Run:         checkJourneyMetadataURL,
	})
	Define(Scenario{
		ID: "AUTH-JRN-003", Title: "the protected-resource metadata is served through the proxy",
		Revisions: RevisionRange{Since: Rev20250618},
		Area:      journeyArea, Level: MUST, Roles: journeyRoles,
		Requirement: "Clients fetch the metadata at the URL the challenge names, or at /.well-known/oauth-protected-resource/<path> and then the root one, on the origin of the MCP URL they use: behind a proxy, the proxy must forward those paths.",
		Source:      srcPRM,
		KnownBugs:   []string{"proxies and gateways that route only /mcp: the metadata 404s and the client cannot discover the authorization server"},
		Rows: []Row{
			{ID: "named", Title: "the URL named in the challenge the client gets"},
			// Well-known discovery without a named URL is in the spec from
			// 2025-11-25; before, servers had to name it in the challenge.
			{ID: "path-suffixed", Title: "a server with only the path-suffixed well-known URL, none named", Revisions: RevisionRange{Since: Rev20251125}},
			{ID: "root", Title: "a server with only the root well-known URL, none named", Revisions: RevisionRange{Since: Rev20251125}},
		},
		Checks: "GET the metadata URL(s) a client would use, through the proxy: named, the resource_metadata of the challenge the client got on initialize; otherwise the well-known URLs in the spec's order. A 200 application/json document must come back.",
		Run:    checkJourneyMetadataServed,
	})
	Define(Scenario{
		ID: "AUTH-JRN-004", Title: "the metadata's resource is the URL the client used",
		Revisions: RevisionRange{Since: Rev20250618},
		Area:      journeyArea, Level: MUST, Roles: journeyRoles,
		Requirement: "The resource in protected-resource metadata MUST be identical to the URL the client used (for the root well-known URL: that URL's origin); otherwise the client MUST NOT use it. Behind a proxy the server must advertise the public URL, or the proxy must make it do so.",
		Source:      "RFC 9728 §3.3; MCP 2025-11-25 Authorization §Canonical Server URI",
		KnownBugs:   []string{"\"OAuth works against the server but not through the proxy\": the server advertises its own internal URL, SDK clients refuse the mismatch"},
		Rows: []Row{
			{ID: "configured", Title: "a server configured with its public URL", Data: resourceRow{Level: MUST}},
			// These two rows report what a server not configured for the
			// proxy makes clients do: info, never fail (upstream-url is info
			// through any proxy that does not rewrite the document).
			{ID: "forwarded", Title: "a server that derives its URL from Forwarded / X-Forwarded-Host / Host", Data: resourceRow{Level: CONVENTION}},
			{ID: "upstream-url", Title: "a server that advertises its own URL (not configured for the proxy)", Data: resourceRow{Level: CONVENTION}},
		},
		Checks: "The path-suffixed metadata through the proxy: its resource must equal the proxy's MCP URL. configured fails when the proxy changes the document; forwarded and upstream-url are info and say how to configure the deployment. Skipped when the metadata is not reachable (AUTH-JRN-003).",
		Run:    checkJourneyResource,
	})
	Define(Scenario{
		ID: "AUTH-JRN-005", Title: "an authorization server on the server's origin: its metadata is reachable through the proxy",
		Revisions: RevisionRange{Since: Rev20250618},
		Area:      journeyArea, Level: MUST, Roles: journeyRoles,
		Requirement: "Clients fetch the authorization server's metadata at /.well-known/oauth-authorization-server (then OpenID discovery) of its issuer; when the MCP server is its own authorization server, that is on the proxy's origin.",
		Source:      "RFC 8414 §3, §3.3; OpenID Connect Discovery 1.0 §4; MCP 2025-11-25 Authorization §Authorization Server Metadata Discovery",
		Checks:      "The AS is co-hosted (issuer = the proxy's origin): its metadata must come back through the proxy, with the issuer the client asked for.",
		Run:         checkJourneyASMetadata,
	})
	Define(Scenario{
		ID: "AUTH-JRN-006", Title: "an authorization server on the server's origin: dynamic client registration works through the proxy",
		Revisions: RevisionRange{Since: Rev20250618},
		Area:      journeyArea, Level: MUST, Roles: journeyRoles,
		Requirement: "Clients without a client id register dynamically at the AS's registration endpoint; when the AS is co-hosted, through the proxy.",
		Source:      "RFC 7591 §3; MCP 2025-11-25 Authorization §Dynamic Client Registration",
		Checks:      "POST the client metadata to the co-hosted /register through the proxy: 201 with a client_id.",
		Run:         checkJourneyRegistration,
	})
	Define(Scenario{
		ID: "AUTH-JRN-007", Title: "an authorization server on the server's origin: the authorization request with PKCE and resource comes back as a redirect with the code",
		Revisions: RevisionRange{Since: Rev20250618},
		Area:      journeyArea, Level: MUST, Roles: journeyRoles,
		Requirement: "The authorization request carries code_challenge (S256) and resource; the AS answers with a redirect to the client's redirect URI carrying the code and state. A proxy must pass the query intact and the redirect unfollowed.",
		Source:      "RFC 6749 §4.1.1-4.1.2; RFC 7636 §4.3; RFC 8707 §2; MCP 2025-11-25 Authorization §Resource Parameter Implementation",
		Checks:      "The client registered directly (setup); the authorization request goes through the proxy: a 302 to the redirect URI with code and state must come back, and the AS must have received resource = the proxy's MCP URL and an S256 challenge.",
		Run:         checkJourneyAuthorization,
	})
	Define(Scenario{
		ID: "AUTH-JRN-008", Title: "an authorization server on the server's origin: the token request is answered with a token",
		Revisions: RevisionRange{Since: Rev20250618},
		Area:      journeyArea, Level: MUST, Roles: journeyRoles,
		Requirement: "The token request carries the code, the PKCE code_verifier and resource; the AS verifies the verifier and issues a token for that resource.",
		Source:      "RFC 6749 §4.1.3; RFC 7636 §4.5-4.6; RFC 8707 §2; MCP 2025-11-25 Authorization §Resource Parameter Implementation",
		Checks:      "Registration and authorization directly (setup); the token request through the proxy: 200 with an access token, the AS having verified the S256 verifier and seen resource = the proxy's MCP URL. An invalid_target answer names the resource that was refused.",
		Run:         checkJourneyToken,
	})
	Define(Scenario{
		ID: "AUTH-JRN-009", Title: "the retried initialize carries the token to the upstream and the session works",
		Revisions: RevisionRange{Since: Rev20250618},
		Area:      journeyArea, Level: MUST, Roles: journeyRoles,
		Requirement: "After login the client retries with Authorization: Bearer; the proxy must forward it on every request (it is in every request, even within a session) and must not answer from a 401 it saw before.",
		Source:      "RFC 6750 §2.1; RFC 9111 §3.5; MCP 2025-11-25 Authorization §Token Requirements",
		KnownBugs:   []string{"proxies that forward only an allowlist of headers, without Authorization", "caches keyed on method, path and body that answer the retry with the earlier 401"},
		Checks:      "An initialize without a token (401), a token from the AS (setup), then the same initialize with it through the proxy: the upstream must receive it with the token, and the session must open and answer tools/list.",
		Run:         checkJourneyRetry,
	})
	Define(Scenario{
		ID: "AUTH-JRN-010", Title: "step-up: 403 insufficient_scope reaches the client with its scope, and the re-authorized call succeeds",
		Revisions: RevisionRange{Since: Rev20251125},
		Area:      journeyArea, Level: MUST, Roles: journeyRoles,
		Requirement: "A token without the scope an operation needs gets 403 with error=\"insufficient_scope\" and the scope needed; the client re-authorizes with it and retries. A proxy must pass the 403 and its challenge intact.",
		Source:      "RFC 6750 §3.1; RFC 9110 §11.6.1; MCP 2025-11-25 Authorization §Step-Up Authorization Flow, §Scope Selection Strategy",
		KnownBugs:   []string{"(ii) WWW-Authenticate copied on 401 only, or rebuilt with resource_metadata only: the client loses the scope it must ask for"},
		Checks:      "A session with a mcp:read token; calling echo_headers (which needs mcp:write) must give the client 403 with a Bearer challenge, error=insufficient_scope and a scope that includes mcp:write; with a token for that scope (setup) the same call must succeed.",
		Run:         checkJourneyStepUp,
	})
}

// ----- AUTH-JRN-001 -----

func checkJourneyChallenge(h *H) {
	probe := func(t Target) *Mismatch {
		w := h.journeyOn(t, h.caseJourney())
		mark := h.Mock().Journal.Mark()
		r := w.initializeAs("")
		_, _, uh := w.upstreamAnswer(mark, mockserver.MCPPath)
		if r.Err != nil || r.Status != http.StatusUnauthorized {
			return Mismatchf(t.Hop, "401 Unauthorized with a Bearer challenge", r.Describe(), w.upstreamSeen(mark))
		}
		if _, ok := bearerChallenge(r); !ok {
			return Mismatchf(t.Hop, "401 with a Bearer challenge", "401 without a Bearer challenge: WWW-Authenticate "+quotedOrNone(r.Header.Values("WWW-Authenticate")),
				"the upstream sent WWW-Authenticate "+quotedOrNone(uh.Values("WWW-Authenticate")),
				"without it the client cannot tell that it must log in, nor where the server's metadata is")
		}
		return nil
	}
	h.Control(probe(h.Upstream()))
	h.Verdict(probe(h.Proxy()))
}

func quotedOrNone(vs []string) string {
	if len(vs) == 0 {
		return "(none)"
	}
	q := make([]string, len(vs))
	for i, v := range vs {
		q[i] = fmt.Sprintf("%q", v)
	}
	return strings.Join(q, ", ")
}

// ----- AUTH-JRN-002 -----

func checkJourneyMetadataURL(h *H) {
	probe := func(t Target) *Mismatch {
		w := h.journeyOn(t, h.caseJourney())
		mark := h.Mock().Journal.Mark()
		r := w.initializeAs("")
		_, _, uh := w.upstreamAnswer(mark, mockserver.MCPPath)
		ch, ok := bearerChallenge(r)
		if !ok || r.Status != http.StatusUnauthorized {
			if w.proxied() {
				h.Skip("no 401 with a Bearer challenge reached the client (" + r.Describe() + "); AUTH-JRN-001 judges that")
			}
			return Mismatchf(t.Hop, "401 with a Bearer challenge", r.Describe())
		}
		sent := ""
		if uch, ok := bearerChallenge(&Result{Header: uh}); ok {
			sent, _ = uch.Get("resource_metadata")
		}
		got, has := ch.Get("resource_metadata")
		switch {
		case !has:
			return Mismatchf(t.Hop, "resource_metadata="+sent, "the challenge has no resource_metadata",
				"the upstream named "+sent+"; without it the client must guess the well-known URLs")
		case originOf(got) == "" || !strings.HasPrefix(got, "http"):
			return Mismatchf(t.Hop, "resource_metadata="+sent, "resource_metadata="+got+", not an absolute http(s) URL")
		}
		if _, reachable := w.reach(got); !reachable {
			why := "an origin the client has no reason to know"
			if originOf(got) == h.Mock().BaseURL {
				why = "the upstream's origin, which a client reaches only through the proxy"
			}
			return Mismatchf(t.Hop, "resource_metadata on the proxy's origin: "+sent, "resource_metadata="+got,
				"it points at "+why, "the upstream named "+sent)
		}
		if got != sent {
			h.Note("the proxy rewrote resource_metadata from %s to %s (AUTH-JRN-003 judges whether it is served)", sent, got)
		}
		return nil
	}
	h.Control(probe(h.Upstream()))
	h.Verdict(probe(h.Proxy()))
}

// ----- AUTH-JRN-003 -----

func checkJourneyMetadataServed(h *H) {
	probe := func(t Target) *Mismatch {
		w := h.journeyOn(t, h.caseJourney())
		urls := metadataURLs(t.MCPURL, "")
		if h.Row.ID == "named" {
			// The URL the client was given, as a spec-following client
			// uses it: the challenge that reached it names it.
			named, skip := w.namedMetadataURL()
			if skip != "" {
				if w.proxied() {
					h.Skip(skip)
				}
				return Mismatchf(t.Hop, "a 401 whose Bearer challenge names resource_metadata on a reachable origin", skip)
			}
			urls = []string{named}
		}
		mark := h.Mock().Journal.Mark()
		doc, _, tries := w.discover(urls)
		if doc == nil {
			d := append(describeTries(tries), w.upstreamSeen(mark))
			return Mismatchf(t.Hop, "protected-resource metadata (200, application/json) at "+strings.Join(urls, ", then "), "no metadata document", d...)
		}
		return nil
	}
	h.Control(probe(h.Upstream()))
	h.Verdict(probe(h.Proxy()))
}

// namedMetadataURL is the resource_metadata of the challenge a client gets
// on initialize without a token, or why there is none it could fetch
// (AUTH-JRN-001 and 002 judge those).
func (w *walker) namedMetadataURL() (u, why string) {
	r := w.initializeAs("")
	ch, ok := bearerChallenge(r)
	if !ok || r.Status != http.StatusUnauthorized {
		return "", "no 401 with a Bearer challenge reached the client (" + r.Describe() + "); AUTH-JRN-001 judges that"
	}
	u, has := ch.Get("resource_metadata")
	if !has {
		return "", "the challenge that reached the client names no resource_metadata; AUTH-JRN-002 judges that"
	}
	if _, reachable := w.reach(u); !reachable {
		return "", "the challenge names resource_metadata=" + u + ", on an origin the client cannot reach; AUTH-JRN-002 judges that"
	}
	return u, ""
}

// ----- AUTH-JRN-004 -----

func checkJourneyResource(h *H) {
	row := h.Row.Data.(resourceRow)
	probe := func(t Target) *Mismatch {
		w := h.journeyOn(t, h.caseJourney())
		suffixed, _ := mockserver.JourneyMetadataURLs(t.MCPURL)
		mark := h.Mock().Journal.Mark()
		doc, from, tries := w.discover([]string{suffixed})
		if doc == nil {
			if w.proxied() {
				h.Skip("the metadata is not reachable through the proxy (" + strings.Join(describeTries(tries), "; ") + "); AUTH-JRN-003 judges that")
			}
			return Mismatchf(t.Hop, "protected-resource metadata at "+suffixed, "none", describeTries(tries)...)
		}
		want := expectedResource(t.MCPURL, from)
		if doc.Resource == want {
			return nil
		}
		e, _, _ := w.upstreamAnswer(mark, pathOf(suffixed))
		m := resourceMismatch(h, want, doc.Resource, e)
		m.Level = row.Level
		return m
	}
	h.Control(probe(h.Upstream()))
	h.Verdict(probe(h.Proxy()))
}

// resourceMismatch explains a metadata resource that is not the URL the
// client used: who produced it (the upstream, or the proxy changing the
// document) and how a deployment fixes it.
func resourceMismatch(h *H, want, got string, e *mockserver.Entry) *Mismatch {
	upstreamSaid := ""
	if e != nil {
		_, _, body, _ := e.Response()
		var doc prmDoc
		if json.Unmarshal(body, &doc) == nil {
			upstreamSaid = doc.Resource
		}
	}
	d := []string{
		"the client used " + want + " and the metadata says " + got + ": RFC 9728 §3.3 forbids using it, so the client stops here " +
			"(the MCP Go SDK: `got metadata resource \"" + got + "\", want \"" + want + "\"`, then it falls back to treating the MCP origin as the authorization server)",
	}
	hop := report.HopProxyUpstream
	switch {
	case upstreamSaid == want:
		hop = report.HopClientProxy
		d = append(d, "the upstream served resource "+want+"; the proxy changed the document on the way")
	case h.Row.ID == "forwarded" && e != nil:
		d = append(d, fmt.Sprintf("the upstream derives its URL from the forwarding fields it received: Forwarded %s, X-Forwarded-Host %s, X-Forwarded-Proto %s, Host %q",
			quotedOrNone(e.Header.Values("Forwarded")), quotedOrNone(e.Header.Values("X-Forwarded-Host")), quotedOrNone(e.Header.Values("X-Forwarded-Proto")), e.Host),
			"fix: have the proxy pass the public host and scheme (nginx: proxy_set_header X-Forwarded-Host $http_host; proxy_set_header X-Forwarded-Proto $scheme; Caddy sends both by default), or configure the server with its public URL")
	case h.Row.ID == "upstream-url":
		d = append(d, "the upstream advertises its own URL: configure the server with the URL clients use ("+want+"), e.g. its resource/base-URL setting, or derive it from X-Forwarded-Host (see the forwarded row)")
	}
	return Mismatchf(hop, "resource "+want, "resource "+got, d...)
}

// ----- AUTH-JRN-005 .. 008: a co-hosted authorization server -----

// setupClient registers a client with the co-hosted AS directly (not
// through the proxy), for the steps after registration.
func (w *walker) setupClient() string {
	setup := &walker{h: w.h, t: w.direct(), as: w.as, j: w.j}
	client, _, why := setup.register(w.h.Mock().BaseURL + authz.RegisterPath)
	if why != "" {
		w.h.Errorf("journey setup: registration at the mock directly failed: %s", why)
	}
	return client
}

// setupCode gets an authorization code from the co-hosted AS directly.
func (w *walker) setupCode(client string, p pkce) string {
	setup := &walker{h: w.h, t: w.direct(), as: w.as, j: w.j}
	code, _, why := setup.authorize(w.h.Mock().BaseURL+authz.AuthorizePath, client, w.t.MCPURL, mockserver.ScopeRead, p)
	if why != "" {
		w.h.Errorf("journey setup: authorization at the mock directly failed: %s", why)
	}
	return code
}

func checkJourneyASMetadata(h *H) {
	probe := func(t Target) *Mismatch {
		w := h.journeyOn(t, h.caseJourney())
		mark := h.Mock().Journal.Mark()
		if doc, tries := w.asMetadata(w.as.Issuer()); doc == nil {
			d := append(describeTries(tries), w.upstreamSeen(mark))
			return Mismatchf(t.Hop, "authorization server metadata of issuer "+w.as.Issuer(), "none usable", d...)
		}
		return nil
	}
	h.Control(probe(h.Upstream()))
	h.Verdict(probe(h.Proxy()))
}

func checkJourneyRegistration(h *H) {
	probe := func(t Target) *Mismatch {
		w := h.journeyOn(t, h.caseJourney())
		mark := h.Mock().Journal.Mark()
		if _, _, why := w.register(w.as.RegisterURL()); why != "" {
			return Mismatchf(t.Hop, "201 with a client_id from POST "+w.as.RegisterURL(), why, w.upstreamSeen(mark))
		}
		return nil
	}
	h.Control(probe(h.Upstream()))
	h.Verdict(probe(h.Proxy()))
}

func checkJourneyAuthorization(h *H) {
	probe := func(t Target) *Mismatch {
		w := h.journeyOn(t, h.caseJourney())
		client := w.setupClient()
		mark := h.Mock().Journal.Mark()
		p := newPKCE()
		_, _, why := w.authorize(w.as.AuthorizeURL(), client, t.MCPURL, mockserver.ScopeRead, p)
		var d []string
		if why != "" {
			d = append(d, why)
		}
		as := w.as.Authorizations()
		if len(as) == 0 {
			d = append(d, "the authorization server received no authorization request")
		} else if a := as[len(as)-1]; !slices.Equal(a.Resources, []string{t.MCPURL}) || a.ChallengeMethod != "S256" || !a.Challenge {
			d = append(d, fmt.Sprintf("the authorization server received resource %q, code_challenge_method %q (challenge sent: %v); the client sent %s and S256", a.Resources, a.ChallengeMethod, a.Challenge, t.MCPURL))
		}
		if len(d) > 0 {
			d = append(d, w.upstreamSeen(mark))
			return Mismatchf(t.Hop, "302 to "+redirectURI+" with code and state; the AS saw resource and an S256 challenge", "see details", d...)
		}
		return nil
	}
	h.Control(probe(h.Upstream()))
	h.Verdict(probe(h.Proxy()))
}

func checkJourneyToken(h *H) {
	probe := func(t Target) *Mismatch {
		w := h.journeyOn(t, h.caseJourney())
		client := w.setupClient()
		p := newPKCE()
		code := w.setupCode(client, p)
		mark := h.Mock().Journal.Mark()
		_, _, why := w.token(w.as.TokenURL(), client, code, t.MCPURL, p)
		var d []string
		if why != "" {
			d = append(d, why)
		}
		var g *authz.Grant
		for _, x := range w.as.Grants() {
			if x.GrantType == authz.GrantAuthorizationCode {
				g = &x
			}
		}
		switch {
		case g == nil:
			d = append(d, "the authorization server received no authorization_code grant")
		case !slices.Equal(g.Resources, []string{t.MCPURL}) || g.PKCE != "S256 verified":
			d = append(d, fmt.Sprintf("the authorization server received resource %q (the client sent %s); PKCE: %s", g.Resources, t.MCPURL, g.PKCE))
		}
		if len(d) > 0 {
			d = append(d, w.upstreamSeen(mark))
			return Mismatchf(t.Hop, "200 with an access token for "+t.MCPURL, "see details", d...)
		}
		return nil
	}
	h.Control(probe(h.Upstream()))
	h.Verdict(probe(h.Proxy()))
}

// ----- AUTH-JRN-009 -----

func checkJourneyRetry(h *H) {
	probe := func(t Target) *Mismatch {
		w := h.journeyOn(t, h.caseJourney())
		first := w.initializeAs("")
		if first.Status != http.StatusUnauthorized && w.proxied() {
			h.Note("the first initialize without a token got %s, not 401 (AUTH-JRN-001 judges that)", first.Describe())
		}
		tok := w.login(t.MCPURL, mockserver.ScopeRead)
		fp := authz.Fingerprint(tok)
		mark := h.Mock().Journal.Mark()
		r := w.initializeAs(tok)
		var initE *mockserver.Entry
		for _, e := range h.Mock().Journal.Since(mark) {
			if e.RPCMethod == "initialize" {
				initE = e
			}
		}
		switch {
		case initE == nil:
			return Mismatchf(t.Hop, "the retried initialize reaches the upstream with Authorization ("+fp+")",
				"the upstream never received it; the client got "+r.Describe(),
				"the proxy answered the retry by itself: a 401 it had seen for the same request before (cached), or a refusal of its own")
		case initE.TokenFP != fp:
			got := initE.TokenFP
			if got == "" {
				got = "no Authorization"
			}
			return Mismatchf(report.HopProxyUpstream, "the retried initialize carries Bearer "+fp, "the upstream received "+got,
				"the client sent Authorization: Bearer "+fp+"; the proxy did not forward it, so the upstream answered "+fmt.Sprint(statusOf(initE)))
		case !r.OK():
			return Mismatchf(t.Hop, "the session opens", "the retried initialize got "+r.Describe()+" "+shorten(string(r.Body), 160), w.upstreamSeen(mark))
		}
		hdr := postHeaders(r.Header.Get("Mcp-Session-Id"))
		hdr.Set("Authorization", "Bearer "+tok)
		if n := h.Send(w.t, Request{Header: hdr, Body: rpcNotification("notifications/initialized")}); n.Err != nil || n.Status/100 != 2 {
			return Mismatchf(t.Hop, "notifications/initialized accepted", n.Describe(), w.upstreamSeen(mark))
		}
		if l := h.Send(w.t, Request{Header: hdr, Body: rpcRequest(2, "tools/list", nil)}); !l.OK() || len(l.Messages) == 0 {
			return Mismatchf(t.Hop, "tools/list answered in the session", l.Describe(), w.upstreamSeen(mark))
		}
		return nil
	}
	h.Control(probe(h.Upstream()))
	h.Verdict(probe(h.Proxy()))
}

func statusOf(e *mockserver.Entry) int {
	st, _, _, _ := e.Response()
	return st
}

// ----- AUTH-JRN-010 -----

func checkJourneyStepUp(h *H) {
	call := func(w *walker, sid, tok string) *Result {
		hdr := postHeaders(sid)
		hdr.Set("Authorization", "Bearer "+tok)
		return h.Send(w.t, Request{Header: hdr, Body: rpcRequest(3, "tools/call", map[string]any{"name": mockserver.StepUpTool, "arguments": map[string]any{}})})
	}
	probe := func(t Target) *Mismatch {
		w := h.journeyOn(t, h.caseJourney())
		tok := w.login(t.MCPURL, mockserver.ScopeRead)
		r := w.initializeAs(tok)
		sid := r.Header.Get("Mcp-Session-Id")
		if !r.OK() {
			if w.proxied() {
				h.Skip("no session opens with a token through the proxy (" + r.Describe() + "); AUTH-JRN-009 judges that")
			}
			return Mismatchf(t.Hop, "a session opens with a token", r.Describe())
		}
		hdr := postHeaders(sid)
		hdr.Set("Authorization", "Bearer "+tok)
		h.Send(w.t, Request{Header: hdr, Body: rpcNotification("notifications/initialized")})
		mark := h.Mock().Journal.Mark()
		denied := call(w, sid, tok)
		_, _, uh := w.upstreamAnswer(mark, mockserver.MCPPath)
		upstreamSent := "the upstream sent WWW-Authenticate " + quotedOrNone(uh.Values("WWW-Authenticate"))
		ch, ok := bearerChallenge(denied)
		errCode, _ := ch.Get("error")
		scope, _ := ch.Get("scope")
		switch {
		case denied.Err != nil || denied.Status != http.StatusForbidden:
			return Mismatchf(t.Hop, "403 Forbidden with error=\"insufficient_scope\"", denied.Describe(), upstreamSent)
		case !ok || errCode != "insufficient_scope":
			return Mismatchf(t.Hop, "a Bearer challenge with error=\"insufficient_scope\"", "WWW-Authenticate "+quotedOrNone(denied.Header.Values("WWW-Authenticate")),
				upstreamSent, "the client cannot tell that it must step up")
		case !slices.Contains(strings.Fields(scope), mockserver.ScopeWrite):
			return Mismatchf(t.Hop, "scope naming "+mockserver.ScopeWrite, fmt.Sprintf("scope %q", scope), upstreamSent,
				"the client does not learn which scope to ask for: the step-up asks for the wrong scope and the call keeps failing")
		}
		union := strings.Fields(mockserver.ScopeRead)
		for _, s := range strings.Fields(scope) {
			if !slices.Contains(union, s) {
				union = append(union, s)
			}
		}
		tok2 := w.login(t.MCPURL, strings.Join(union, " "))
		again := call(w, sid, tok2)
		if !again.OK() || len(again.Messages) == 0 || strings.Contains(string(again.Messages[0]), `"error"`) {
			return Mismatchf(t.Hop, "the call succeeds with the stepped-up token", again.Describe()+" "+shorten(string(again.Body), 160), w.upstreamSeen(mark))
		}
		return nil
	}
	h.Control(probe(h.Upstream()))
	h.Verdict(probe(h.Proxy()))
}
