package authz

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// The interactive half of the AS: dynamic client registration (RFC 7591),
// the authorization endpoint and the authorization_code grant with PKCE
// (RFC 7636). There is no user: /authorize approves at once, so a harness
// playing the user agent reads the code from the redirect's Location. It
// checks what a real AS checks before approving, so that a client (or a
// proxy on the way) that sends the wrong thing is refused as it would be in
// production, and records every request so a report can say which parameter
// was wrong.

// codeTTL is how long an authorization code may be exchanged (RFC 6749
// §4.1.2 recommends at most 10 minutes; a harness needs seconds).
const codeTTL = time.Minute

// clientRecord is one client the AS knows: the configured one, or one
// registered dynamically.
type clientRecord struct {
	id, secret   string // secret "" = public client
	redirectURIs []string
	authMethod   string // token_endpoint_auth_method
}

// codeRecord is one issued authorization code.
type codeRecord struct {
	client       string
	redirectURI  string
	redirectSent bool // redirect_uri was in the authorization request
	challenge    string
	resource     string
	scopes       []string
	expires      time.Time
	used         bool
}

// Authorization is one request to the authorization endpoint.
type Authorization struct {
	Time         time.Time
	ClientID     string
	RedirectURI  string
	ResponseType string
	Resources    []string // every `resource` parameter, in order
	Scope        string
	// ChallengeMethod is code_challenge_method as sent ("" when absent,
	// which RFC 7636 §4.3 reads as "plain"); Challenge whether a
	// code_challenge was sent at all.
	ChallengeMethod string
	Challenge       bool
	State           bool   // a state parameter was sent
	Outcome         string // OutcomeIssued or the OAuth error code
	Description     string // why, when refused
	Status          int    // 302 for a redirect (code or error), 400 when not redirected
	Code            string // fingerprint of the code issued
}

// Registration is one request to the registration endpoint.
type Registration struct {
	Time         time.Time
	ClientID     string // issued; "" when refused
	RedirectURIs []string
	AuthMethod   string
	Outcome      string // OutcomeIssued or the RFC 7591 §3.2.2 error code
	Description  string
	Status       int
}

// Authorizations returns every authorization request since New or Reset.
func (s *Server) Authorizations() []Authorization {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Authorization, len(s.authorizations))
	for i, a := range s.authorizations {
		a.Resources = append([]string(nil), a.Resources...)
		out[i] = a
	}
	return out
}

// Registrations returns every registration request since New or Reset.
func (s *Server) Registrations() []Registration {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Registration, len(s.registrations))
	for i, r := range s.registrations {
		r.RedirectURIs = append([]string(nil), r.RedirectURIs...)
		out[i] = r
	}
	return out
}

// ----- RFC 7591 dynamic client registration -----

func (s *Server) serveRegister(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	reg := Registration{Time: s.cfg.Now()}
	refuse := func(code, desc string) {
		reg.Outcome, reg.Description, reg.Status = code, desc, http.StatusBadRequest
		s.recordRegistration(reg)
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": code, "error_description": desc})
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		refuse("invalid_client_metadata", "the registration request must be application/json (RFC 7591 §3.1)")
		return
	}
	var meta struct {
		RedirectURIs  []string `json:"redirect_uris"`
		AuthMethod    string   `json:"token_endpoint_auth_method"`
		GrantTypes    []string `json:"grant_types"`
		ResponseTypes []string `json:"response_types"`
		ClientName    string   `json:"client_name"`
		Scope         string   `json:"scope"`
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil || json.Unmarshal(body, &meta) != nil {
		refuse("invalid_client_metadata", "the body is not a JSON object of client metadata")
		return
	}
	reg.RedirectURIs = meta.RedirectURIs
	if meta.AuthMethod == "" {
		meta.AuthMethod = AuthBasic // RFC 7591 §2 default
	}
	reg.AuthMethod = meta.AuthMethod
	if meta.AuthMethod != AuthNone && meta.AuthMethod != AuthBasic && meta.AuthMethod != AuthPost {
		refuse("invalid_client_metadata", "token_endpoint_auth_method must be none, client_secret_basic or client_secret_post")
		return
	}
	if len(meta.GrantTypes) == 0 {
		meta.GrantTypes = []string{GrantAuthorizationCode} // RFC 7591 §2 default
	}
	if len(meta.ResponseTypes) == 0 {
		meta.ResponseTypes = []string{"code"}
	}
	if slices.Contains(meta.GrantTypes, GrantAuthorizationCode) && len(meta.RedirectURIs) == 0 {
		refuse("invalid_redirect_uri", "redirect_uris is required for the authorization_code grant")
		return
	}
	for _, u := range meta.RedirectURIs {
		if why := badRedirectURI(u); why != "" {
			refuse("invalid_redirect_uri", u+": "+why)
			return
		}
	}
	c := &clientRecord{id: "dcr_" + hex.EncodeToString(randomBytes(8)), redirectURIs: meta.RedirectURIs, authMethod: meta.AuthMethod}
	if meta.AuthMethod != AuthNone {
		c.secret = "dcs_" + hex.EncodeToString(randomBytes(16))
	}
	s.mu.Lock()
	s.clients[c.id] = c
	s.mu.Unlock()
	reg.ClientID, reg.Outcome, reg.Status = c.id, OutcomeIssued, http.StatusCreated
	s.recordRegistration(reg)
	resp := map[string]any{
		"client_id":                  c.id,
		"client_id_issued_at":        s.cfg.Now().Unix(),
		"redirect_uris":              meta.RedirectURIs,
		"token_endpoint_auth_method": meta.AuthMethod,
		"grant_types":                meta.GrantTypes,
		"response_types":             meta.ResponseTypes,
	}
	if meta.ClientName != "" {
		resp["client_name"] = meta.ClientName
	}
	if c.secret != "" {
		resp["client_secret"] = c.secret
		resp["client_secret_expires_at"] = 0 // never (RFC 7591 §3.2.1)
	}
	writeJSON(w, http.StatusCreated, resp)
}

func (s *Server) recordRegistration(r Registration) {
	s.mu.Lock()
	s.registrations = append(s.registrations, r)
	s.mu.Unlock()
}

// badRedirectURI says why a redirect URI cannot be registered, or "".
// OAuth 2.1 §2.3.1 and RFC 8252: absolute, no fragment; plain http only on
// loopback (native apps); private-use schemes are fine.
func badRedirectURI(raw string) string {
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Scheme == "":
		return "not an absolute URI"
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return "has a fragment"
	case u.Scheme == "http" && !isLoopbackHost(u.Hostname()):
		return "http is allowed for loopback redirect URIs only"
	}
	return ""
}

func isLoopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// redirectMatches compares a requested redirect URI with a registered one:
// exactly, except that a loopback URI may use any port (RFC 8252 §7.3).
func redirectMatches(registered, requested string) bool {
	if registered == requested {
		return true
	}
	a, err1 := url.Parse(registered)
	b, err2 := url.Parse(requested)
	if err1 != nil || err2 != nil || a.Scheme != "http" || !isLoopbackHost(a.Hostname()) {
		return false
	}
	return a.Scheme == b.Scheme && a.Hostname() == b.Hostname() && a.Path == b.Path && a.RawQuery == b.RawQuery
}

// ----- the authorization endpoint -----

// serveAuthorize approves every well-formed request at once. Errors about
// the client or the redirect URI are answered 400 without redirecting (RFC
// 6749 §4.1.2.1: never redirect to an unverified URI); every other error
// is sent to the redirect URI.
func (s *Server) serveAuthorize(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	_ = r.ParseForm()
	q := r.Form
	a := Authorization{
		Time:            s.cfg.Now(),
		ClientID:        q.Get("client_id"),
		RedirectURI:     q.Get("redirect_uri"),
		ResponseType:    q.Get("response_type"),
		Resources:       q["resource"],
		Scope:           q.Get("scope"),
		ChallengeMethod: q.Get("code_challenge_method"),
		Challenge:       q.Get("code_challenge") != "",
		State:           q.Has("state"),
	}
	noRedirect := func(code, desc string) {
		a.Outcome, a.Description, a.Status = code, desc, http.StatusBadRequest
		s.recordAuthorization(a)
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": code, "error_description": desc})
	}
	c := s.clientByID(a.ClientID, false)
	if c == nil {
		noRedirect("invalid_request", fmt.Sprintf("unknown client_id %q", a.ClientID))
		return
	}
	redirect := a.RedirectURI
	switch {
	case redirect == "" && len(c.redirectURIs) == 1:
		redirect = c.redirectURIs[0]
	case redirect == "":
		noRedirect("invalid_request", "redirect_uri is required: the client registered none or several")
		return
	case !slices.ContainsFunc(c.redirectURIs, func(reg string) bool { return redirectMatches(reg, redirect) }):
		noRedirect("invalid_request", fmt.Sprintf("redirect_uri %q is not registered for this client", redirect))
		return
	}
	back := func(params url.Values) {
		u, _ := url.Parse(redirect) // registered, so it parses
		v := u.Query()
		for k, vs := range params {
			v[k] = vs
		}
		if q.Has("state") {
			v.Set("state", q.Get("state"))
		}
		u.RawQuery = v.Encode()
		http.Redirect(w, r, u.String(), http.StatusFound)
	}
	refuse := func(code, desc string) {
		a.Outcome, a.Description, a.Status = code, desc, http.StatusFound
		s.recordAuthorization(a)
		back(url.Values{"error": {code}, "error_description": {desc}})
	}
	if a.ResponseType != "code" {
		refuse("unsupported_response_type", "only response_type=code is supported")
		return
	}
	if !a.Challenge {
		refuse("invalid_request", "code_challenge is required (PKCE, RFC 7636; OAuth 2.1 §4.1.1)")
		return
	}
	if a.ChallengeMethod != "S256" {
		refuse("invalid_request", fmt.Sprintf("code_challenge_method %q is not supported: use S256", a.ChallengeMethod))
		return
	}
	s.mu.Lock()
	audience, terr := s.audienceLocked(a.Resources)
	s.mu.Unlock()
	if terr != nil {
		refuse(terr.code, terr.description)
		return
	}
	scopes, terr := narrow(s.cfg.Scopes, strings.Fields(a.Scope), len(s.cfg.Scopes) == 0)
	if terr != nil {
		refuse(terr.code, terr.description)
		return
	}
	code := "ac_" + hex.EncodeToString(randomBytes(16))
	s.mu.Lock()
	s.codes[code] = &codeRecord{
		client: c.id, redirectURI: redirect, redirectSent: a.RedirectURI != "",
		challenge: q.Get("code_challenge"), resource: audience, scopes: scopes,
		expires: s.cfg.Now().Add(codeTTL),
	}
	s.mu.Unlock()
	a.Outcome, a.Status, a.Code = OutcomeIssued, http.StatusFound, Fingerprint(code)
	s.recordAuthorization(a)
	back(url.Values{"code": {code}})
}

func (s *Server) recordAuthorization(a Authorization) {
	s.mu.Lock()
	s.authorizations = append(s.authorizations, a)
	s.mu.Unlock()
}

// ----- the authorization_code grant -----

// codeGrant exchanges an authorization code (RFC 6749 §4.1.3) after the
// PKCE check (RFC 7636 §4.6). The audience is the `resource` of the token
// request, which must be the one authorized (RFC 8707 §2.2), else the
// authorized one.
func (s *Server) codeGrant(cl *clientRecord, form url.Values, g *Grant) (*grantResult, *tokenError) {
	code := form.Get("code")
	g.Code = Fingerprint(code)
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.cfg.Now()
	rec := s.codes[code]
	switch {
	case code == "":
		return nil, &tokenError{http.StatusBadRequest, "invalid_request", "missing code"}
	case rec == nil:
		return nil, &tokenError{http.StatusBadRequest, "invalid_grant", "unknown authorization code"}
	case rec.client != cl.id:
		return nil, &tokenError{http.StatusBadRequest, "invalid_grant", "the code was issued to another client"}
	case rec.used:
		return nil, &tokenError{http.StatusBadRequest, "invalid_grant", "the code was already used"}
	case !now.Before(rec.expires):
		return nil, &tokenError{http.StatusBadRequest, "invalid_grant", "the code expired"}
	case rec.redirectSent && form.Get("redirect_uri") != rec.redirectURI:
		return nil, &tokenError{http.StatusBadRequest, "invalid_grant", "redirect_uri differs from the authorization request's"}
	}
	verifier := form.Get("code_verifier")
	if verifier == "" {
		g.PKCE = "no code_verifier"
		return nil, &tokenError{http.StatusBadRequest, "invalid_grant", "code_verifier is required (PKCE)"}
	}
	sum := sha256.Sum256([]byte(verifier))
	if subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(rec.challenge)) != 1 {
		g.PKCE = "code_verifier does not match"
		return nil, &tokenError{http.StatusBadRequest, "invalid_grant", "code_verifier does not match the code_challenge (PKCE S256)"}
	}
	g.PKCE = "S256 verified"
	audience, terr := s.audienceLocked(g.Resources)
	if terr != nil {
		return nil, terr
	}
	switch {
	case audience == "":
		audience = rec.resource
	case rec.resource != "" && audience != rec.resource:
		return nil, &tokenError{http.StatusBadRequest, "invalid_target", fmt.Sprintf("resource %s was not the one authorized (%s)", audience, rec.resource)}
	}
	if audience == "" {
		audience = s.cfg.Resource
	}
	rec.used = true
	s.families++
	fam := &family{id: fmt.Sprintf("fam-%d", s.families), resource: audience, scopes: rec.scopes, client: cl.id}
	next := ""
	if s.issueRefresh {
		next = s.newRefreshLocked(fam)
	}
	return s.issueForLocked(now, s.cfg.Subject, cl.id, audience, rec.scopes, next), nil
}
