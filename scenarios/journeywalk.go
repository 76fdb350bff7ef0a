package scenarios

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/mcpconform/mcpconform/mockserver"
	"github.com/mcpconform/mcpconform/mockserver/authz"
	"github.com/mcpconform/mcpconform/report"
	"github.com/mcpconform/mcpconform/scenarios/wwwauth"
)

// The spec client of the login journey: the harness walking, one request at
// a time, what the MCP authorization spec tells a client to do after a 401,
// with every request recorded at its hop. Each journey scenario sets the
// mock up (SetJourney), walks the steps before its own out of band where it
// can (straight to the mock, as setup), so that it judges its own step and
// not an earlier one, and then takes its step through the proxy.

// walker is one client's view of a journey on one target.
type walker struct {
	h *H
	// t is where the client speaks MCP (the proxy, or the mock for the
	// control), without any Authorization of its own.
	t  Target
	as *authz.Server
	j  mockserver.Journey
}

// redirectURI is the client's registered redirect URI. Nothing listens
// there: the harness plays the user agent and reads the code from the
// authorization endpoint's Location.
const redirectURI = "http://127.0.0.1/mcpconform/callback"

// journeyOn configures the mock for a journey whose clients use t, and
// returns the walker. The mock advertises t's URL unless j says otherwise.
// It ends the case as a harness error when the mock cannot (no AS).
func (h *H) journeyOn(t Target, j mockserver.Journey) *walker {
	j.PublicURL = t.MCPURL
	as, err := h.Mock().SetJourney(j)
	if err != nil {
		h.Errorf("journey setup: %v", err)
	}
	t.Header = t.Header.Clone()
	if t.Header != nil {
		t.Header.Del("Authorization")
	}
	return &walker{h: h, t: t, as: as, j: j}
}

// direct is the mock reached without the proxy, for setup steps.
func (w *walker) direct() Target {
	return Target{Name: "upstream", MCPURL: w.h.Mock().MCPURL(), Hop: report.HopControl}
}

// authzTarget is the journey's AS when it has its own origin.
func (w *walker) authzTarget() Target {
	return Target{Name: "authz", MCPURL: w.as.Issuer(), Hop: report.HopClientAuthz}
}

// proxied reports whether the walk goes through the proxy.
func (w *walker) proxied() bool { return w.t.Name == "proxy" }

// reach picks the target a client request to u goes to: the MCP target
// for its origin, the AS for its own origin. ok is false for the mock's
// origin during a proxied walk: in a deployment the upstream sits behind
// the proxy and clients cannot reach it.
func (w *walker) reach(u string) (t Target, ok bool) {
	o := originOf(u)
	switch {
	case o == originOf(w.t.MCPURL):
		return w.t, true
	case o == originOf(w.as.Issuer()):
		return w.authzTarget(), true
	case o == w.h.Mock().BaseURL && !w.proxied():
		return w.direct(), true
	}
	return Target{}, false
}

// unreachable is the Result of a request a client could not make.
func unreachable(u, why string) *Result {
	return &Result{Err: fmt.Errorf("%s is not reachable by the client: %s", u, why)}
}

// send makes one client request to u (method GET without body, else POST).
func (w *walker) send(method, u string, hdr http.Header, body []byte) *Result {
	t, ok := w.reach(u)
	if !ok {
		why := "it is on no origin the client knows"
		if originOf(u) == w.h.Mock().BaseURL {
			why = "it is the upstream's origin, which sits behind the proxy"
		}
		return unreachable(u, why)
	}
	return w.h.Send(t, Request{Method: method, URL: u, Header: hdr, Body: body})
}

// initializeAs posts initialize on the MCP URL with an optional token.
// Every initialize of a journey has the same body, as a client's retry does.
func (w *walker) initializeAs(token string) *Result {
	hdr := postHeaders("")
	if token != "" {
		hdr.Set("Authorization", "Bearer "+token)
	}
	return w.h.Send(w.t, Request{Header: hdr, Body: rpcRequest(1, "initialize", initializeParams())})
}

// bearerChallenge is the Bearer challenge of a response, if any.
func bearerChallenge(r *Result) (wwwauth.Challenge, bool) {
	if r == nil || r.Err != nil {
		return wwwauth.Challenge{}, false
	}
	chs, _ := wwwauth.Parse(r.Header.Values("WWW-Authenticate")...)
	return wwwauth.Find(chs, "Bearer")
}

// upstreamAnswer is what the mock answered to the last request since mark
// on path (its status and WWW-Authenticate), for "what the proxy got" texts.
func (w *walker) upstreamAnswer(mark int, path string) (*mockserver.Entry, int, http.Header) {
	var last *mockserver.Entry
	for _, e := range w.h.Mock().Journal.Since(mark) {
		if e.Path == path {
			last = e
		}
	}
	if last == nil {
		return nil, 0, nil
	}
	st, hdr, _, _ := last.Response()
	return last, st, hdr
}

// ----- metadata -----

// prmDoc is the part of an RFC 9728 document the journey reads.
type prmDoc struct {
	Resource    string   `json:"resource"`
	AuthServers []string `json:"authorization_servers"`
	Scopes      []string `json:"scopes_supported"`
}

// fetchJSON GETs u as a client and decodes a 200 application/json object.
// It returns the result and, when it is not such a document, why not.
func (w *walker) fetchJSON(u string, into any) (*Result, string) {
	r := w.send(http.MethodGet, u, http.Header{"Accept": {"application/json"}}, nil)
	switch {
	case r.Err != nil:
		return r, r.Err.Error()
	case r.Status != http.StatusOK:
		return r, r.Describe()
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		return r, fmt.Sprintf("200 with Content-Type %q, not application/json (RFC 9728 §3.2, RFC 8414 §3.2)", r.Header.Get("Content-Type"))
	}
	if err := json.Unmarshal(r.Body, into); err != nil {
		return r, "200 but the body is not a JSON object: " + shorten(string(r.Body), 120)
	}
	return r, ""
}

// metadataURLs are the URLs a client tries for the metadata of the MCP URL
// it uses, in the spec's order: the challenge's resource_metadata when
// there is one, else the path-suffixed well-known URL, then the root one.
func metadataURLs(mcpURL, fromChallenge string) []string {
	if fromChallenge != "" {
		return []string{fromChallenge}
	}
	suffixed, root := mockserver.JourneyMetadataURLs(mcpURL)
	return []string{suffixed, root}
}

// attempt is one metadata URL tried, for failure details.
type attempt struct {
	url  string
	got  string // "" when a document was found
	path string // the request path the upstream would see
}

// discover tries urls in order and returns the first document found, the
// URL it came from, and every attempt.
func (w *walker) discover(urls []string) (*prmDoc, string, []attempt) {
	var tries []attempt
	for _, u := range urls {
		var doc prmDoc
		_, why := w.fetchJSON(u, &doc)
		tries = append(tries, attempt{url: u, got: why, path: pathOf(u)})
		if why == "" {
			return &doc, u, tries
		}
	}
	return nil, "", tries
}

// expectedResource is what RFC 9728 §3.3 requires the document's resource
// to be: the URL the client used, or, for the root well-known URL, the
// origin that the well-known path was inserted into.
func expectedResource(mcpURL, fetchedFrom string) string {
	if _, root := mockserver.JourneyMetadataURLs(mcpURL); fetchedFrom == root {
		return originOf(mcpURL)
	}
	return mcpURL
}

// asMetaDoc is the part of RFC 8414 metadata the journey reads.
type asMetaDoc struct {
	Issuer        string   `json:"issuer"`
	AuthEndpoint  string   `json:"authorization_endpoint"`
	TokenEndpoint string   `json:"token_endpoint"`
	RegEndpoint   string   `json:"registration_endpoint"`
	PKCEMethods   []string `json:"code_challenge_methods_supported"`
}

// asMetadataURLs are the URLs a client tries for an issuer (MCP
// 2025-11-25 §Authorization Server Metadata Discovery): RFC 8414 then OIDC
// discovery, with path insertion when the issuer has a path.
func asMetadataURLs(issuer string) []string {
	u, err := url.Parse(issuer)
	if err != nil {
		return nil
	}
	o := u.Scheme + "://" + u.Host
	p := strings.TrimSuffix(u.EscapedPath(), "/")
	if p == "" {
		return []string{o + "/.well-known/oauth-authorization-server", o + "/.well-known/openid-configuration"}
	}
	return []string{o + "/.well-known/oauth-authorization-server" + p, o + "/.well-known/openid-configuration" + p, o + p + "/.well-known/openid-configuration"}
}

// asMetadata fetches the issuer's metadata in the spec's order; why is
// empty when a usable document was found.
func (w *walker) asMetadata(issuer string) (*asMetaDoc, []attempt) {
	var tries []attempt
	for _, u := range asMetadataURLs(issuer) {
		var doc asMetaDoc
		_, why := w.fetchJSON(u, &doc)
		switch {
		case why != "":
		case doc.Issuer != issuer:
			why = fmt.Sprintf("issuer %q, not %q (RFC 8414 §3.3: the client must not use it)", doc.Issuer, issuer)
		case doc.AuthEndpoint == "" || doc.TokenEndpoint == "":
			why = "no authorization_endpoint or token_endpoint"
		case !slices.Contains(doc.PKCEMethods, "S256"):
			why = "code_challenge_methods_supported lacks S256: MCP clients must refuse an AS without PKCE"
		}
		tries = append(tries, attempt{url: u, got: why, path: pathOf(u)})
		if why == "" {
			return &doc, tries
		}
	}
	return nil, tries
}

// ----- registration, authorization, token -----

// register registers a public client (RFC 7591) at endpoint as a client;
// it returns the client id, or why not.
func (w *walker) register(endpoint string) (string, *Result, string) {
	body, _ := json.Marshal(map[string]any{
		"redirect_uris": []string{redirectURI}, "token_endpoint_auth_method": "none",
		"grant_types": []string{"authorization_code", "refresh_token"}, "response_types": []string{"code"},
		"client_name": "mcpconform journey",
	})
	r := w.send(http.MethodPost, endpoint, http.Header{"Content-Type": {"application/json"}, "Accept": {"application/json"}}, body)
	if r.Err != nil {
		return "", r, r.Err.Error()
	}
	var reg struct {
		ClientID string `json:"client_id"`
	}
	if r.Status != http.StatusCreated && r.Status != http.StatusOK {
		return "", r, r.Describe() + " " + shorten(string(r.Body), 160)
	}
	if json.Unmarshal(r.Body, &reg) != nil || reg.ClientID == "" {
		return "", r, "no client_id in " + shorten(string(r.Body), 160)
	}
	return reg.ClientID, r, ""
}

// pkce is one authorization attempt's secrets.
type pkce struct{ verifier, state string }

func newPKCE() pkce {
	return pkce{verifier: randomURLSafe(32), state: randomURLSafe(12)}
}

func randomURLSafe(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (p pkce) challenge() string {
	sum := sha256.Sum256([]byte(p.verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// authorize sends the authorization request for resource and scope (the
// user agent's GET) and returns the code from the redirect, or why none.
func (w *walker) authorize(endpoint, clientID, resource, scope string, p pkce) (string, *Result, string) {
	q := url.Values{
		"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {redirectURI},
		"code_challenge": {p.challenge()}, "code_challenge_method": {"S256"},
		"state": {p.state}, "resource": {resource},
	}
	if scope != "" {
		q.Set("scope", scope)
	}
	r := w.send(http.MethodGet, endpoint+"?"+q.Encode(), nil, nil)
	if r.Err != nil {
		return "", r, r.Err.Error()
	}
	loc := r.Header.Get("Location")
	if r.Status/100 != 3 || loc == "" {
		return "", r, r.Describe() + ", not a redirect to the client's redirect URI " + shorten(string(r.Body), 160)
	}
	lu, err := url.Parse(loc)
	switch {
	case err != nil:
		return "", r, "unparsable Location " + loc
	case !strings.HasPrefix(loc, redirectURI):
		return "", r, "redirect to " + loc + ", not the registered " + redirectURI
	case lu.Query().Get("error") != "":
		return "", r, "the AS refused: " + lu.Query().Get("error") + " " + lu.Query().Get("error_description")
	case lu.Query().Get("state") != p.state:
		return "", r, "the redirect's state differs from the request's"
	case lu.Query().Get("code") == "":
		return "", r, "no code in the redirect " + loc
	}
	return lu.Query().Get("code"), r, ""
}

// token exchanges a code (RFC 6749 §4.1.3 with the PKCE verifier and
// `resource`) and returns the access token, or why none.
func (w *walker) token(endpoint, clientID, code, resource string, p pkce) (string, *Result, string) {
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURI},
		"client_id": {clientID}, "code_verifier": {p.verifier}, "resource": {resource}}
	r := w.send(http.MethodPost, endpoint, http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Accept": {"application/json"}}, []byte(form.Encode()))
	if r.Err != nil {
		return "", r, r.Err.Error()
	}
	var tr struct {
		Access string `json:"access_token"`
		Error  string `json:"error"`
		Desc   string `json:"error_description"`
	}
	_ = json.Unmarshal(r.Body, &tr)
	switch {
	case r.Status != http.StatusOK && tr.Error == "invalid_target":
		return "", r, fmt.Sprintf("%s invalid_target: the AS refused resource=%s (%s)", r.Describe(), resource, tr.Desc)
	case r.Status != http.StatusOK:
		return "", r, r.Describe() + " " + shorten(string(r.Body), 160)
	case tr.Access == "":
		return "", r, "200 without access_token"
	}
	return tr.Access, r, ""
}

// login gets a token for resource and scope from the journey's AS without
// the proxy (setup for the steps after the token request): registration,
// authorization and token straight at the AS, recorded as control hops.
func (w *walker) login(resource, scope string) string {
	setup := &walker{h: w.h, t: w.direct(), as: w.as, j: w.j}
	client, _, why := setup.register(w.as.RegisterURL())
	p := newPKCE()
	code := ""
	if why == "" {
		code, _, why = setup.authorize(w.as.AuthorizeURL(), client, resource, scope, p)
	}
	tok := ""
	if why == "" {
		tok, _, why = setup.token(w.as.TokenURL(), client, code, resource, p)
	}
	if why != "" {
		w.h.Errorf("journey setup: the harness could not log in at the mock AS directly: %s", why)
	}
	return tok
}

// pathOf is the path of an absolute URL, or "".
func pathOf(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return ""
	}
	return p.Path
}

// originOf is scheme://host of an absolute URL, or "".
func originOf(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.Host == "" {
		return ""
	}
	return p.Scheme + "://" + p.Host
}

// describeTries lists the URLs tried and what each gave.
func describeTries(tries []attempt) []string {
	var d []string
	for _, a := range tries {
		got := a.got
		if got == "" {
			got = "a document"
		}
		d = append(d, fmt.Sprintf("GET %s → %s", a.url, got))
	}
	return d
}

// upstreamSeen says what reached the upstream since mark (each request's
// method, path and answer), or that nothing did: what a proxy author needs
// to tell "not forwarded" from "forwarded wrongly".
func (w *walker) upstreamSeen(mark int) string {
	var seen []string
	for _, e := range w.h.Mock().Journal.Since(mark) {
		st, _, _, _ := e.Response()
		seen = append(seen, fmt.Sprintf("%s %s → %d", e.Method, e.Path, st))
	}
	if len(seen) == 0 {
		return "nothing reached the upstream: the proxy answered by itself"
	}
	return "the upstream received " + strings.Join(firstN(seen, 6), ", ")
}
