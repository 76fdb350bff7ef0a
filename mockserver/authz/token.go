package authz

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Grant types the token endpoint supports.
const (
	GrantRefreshToken      = "refresh_token"
	GrantClientCredentials = "client_credentials"
	GrantAuthorizationCode = "authorization_code"
)

// Client authentication methods as recorded in Grant.ClientAuth.
const (
	AuthBasic    = "client_secret_basic"
	AuthPost     = "client_secret_post"
	AuthNone     = "none"     // public client: client_id in the body only
	AuthMultiple = "multiple" // more than one method: invalid_request
)

// Outcomes recorded in Grant.Outcome besides RFC 6749 §5.2 error codes
// ("invalid_grant", "invalid_client", "invalid_request", "invalid_scope",
// "unsupported_grant_type") and RFC 8707 "invalid_target".
const (
	OutcomeIssued    = "issued"
	OutcomeReplay    = "replay"    // a rotated-out refresh token; family revoked
	OutcomeOutage    = "outage"    // SetOutage answered
	OutcomeAbandoned = "abandoned" // the client gave up during SetHang
)

// Grant is one /token call. Tokens appear only as Fingerprints.
type Grant struct {
	Time         time.Time // server clock at arrival
	GrantType    string    // grant_type as sent
	ClientAuth   string    // Auth* constant, "" when no client credentials were sent
	ClientID     string    // as presented
	Resources    []string  // every `resource` parameter, in order
	Scope        string    // `scope` parameter as sent
	RefreshToken string    // fingerprint of the refresh token presented
	Family       string    // grant family of that refresh token, if known
	// Code is the fingerprint of the authorization code presented, PKCE
	// what became of its verifier ("S256 verified", "no code_verifier",
	// "code_verifier does not match"); authorization_code grants only.
	Code    string
	PKCE    string
	Outcome string // Outcome* constant or OAuth error code
	Status  int    // HTTP status answered (0 if abandoned)
	// Set when Outcome is OutcomeIssued.
	AccessToken     string    // fingerprint
	AccessExpiry    time.Time // exact expiry (authoritative, see package doc)
	NewRefreshToken string    // fingerprint; "" when none was issued
}

// tokenError is an OAuth error response (RFC 6749 §5.2).
type tokenError struct {
	status      int
	code        string
	description string
}

// grantResult is what a successful grant hands back to the HTTP layer.
type grantResult struct {
	access   string
	claims   Claims
	refresh  string
	lifetime time.Duration
}

// jwtClaims is the JWT payload, following the RFC 9068 access-token profile.
type jwtClaims struct {
	Scope    string `json:"scope,omitempty"`
	ClientID string `json:"client_id,omitempty"`
	jwt.RegisteredClaims
}

func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	// Parse first so that even faulted calls are recorded with what the
	// proxy sent (e.g. it retried the same refresh token during an outage).
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	parseErr := r.ParseForm()
	form := r.PostForm // RFC 6749 §3.2: parameters in the body, never the query
	g := Grant{
		Time:         s.cfg.Now(),
		GrantType:    form.Get("grant_type"),
		Resources:    form["resource"],
		Scope:        form.Get("scope"),
		RefreshToken: Fingerprint(form.Get("refresh_token")),
	}

	s.mu.Lock()
	hang := s.hang
	s.mu.Unlock()
	if !wait(r, hang) {
		g.Outcome = OutcomeAbandoned
		s.record(g)
		return
	}

	s.mu.Lock()
	outage := s.outage
	s.mu.Unlock()
	if outage != 0 {
		g.Outcome, g.Status = OutcomeOutage, outage
		s.record(g)
		http.Error(w, "mock authorization server outage", outage)
		return
	}

	res, terr := s.grant(r, form, parseErr, &g)
	if terr != nil {
		g.Status = terr.status
		if g.Outcome == "" {
			g.Outcome = terr.code
		}
		s.record(g)
		writeTokenError(w, terr)
		return
	}
	g.Outcome, g.Status = OutcomeIssued, http.StatusOK
	g.AccessToken = Fingerprint(res.access)
	g.AccessExpiry = res.claims.ExpiresAt
	g.NewRefreshToken = Fingerprint(res.refresh)
	s.record(g)

	body := struct {
		AccessToken  string `json:"access_token"`
		TokenType    string `json:"token_type"`
		ExpiresIn    int64  `json:"expires_in"`
		ExpiresInMs  int64  `json:"expires_in_ms"`
		RefreshToken string `json:"refresh_token,omitempty"`
		Scope        string `json:"scope,omitempty"`
	}{
		AccessToken:  res.access,
		TokenType:    "Bearer",
		ExpiresIn:    ceilSeconds(res.lifetime),
		ExpiresInMs:  res.lifetime.Milliseconds(),
		RefreshToken: res.refresh,
		Scope:        res.claims.Scope,
	}
	writeJSON(w, http.StatusOK, body)
}

// record appends g to the log, counting successes.
func (s *Server) record(g Grant) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.grants = append(s.grants, g)
	if g.Outcome == OutcomeIssued {
		s.counts[g.GrantType]++
	}
}

// grant validates the request and issues tokens. It fills g's client and
// family fields as it learns them. The state checks and the rotation happen
// under one lock so that of N concurrent refreshes with one token exactly one
// wins and the rest are replays.
func (s *Server) grant(r *http.Request, form url.Values, parseErr error, g *Grant) (*grantResult, *tokenError) {
	if parseErr != nil {
		return nil, &tokenError{http.StatusBadRequest, "invalid_request", "unparsable body: " + parseErr.Error()}
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		return nil, &tokenError{http.StatusBadRequest, "invalid_request", "body must be application/x-www-form-urlencoded"}
	}
	for k, v := range form {
		if len(v) > 1 && k != "resource" { // RFC 8707 alone allows repeats
			return nil, &tokenError{http.StatusBadRequest, "invalid_request", "parameter " + k + " repeated"}
		}
	}
	cl, terr := s.authenticate(r, form, g)
	if terr != nil {
		return nil, terr
	}
	if g.GrantType == "" {
		return nil, &tokenError{http.StatusBadRequest, "invalid_request", "missing grant_type"}
	}
	if g.GrantType == GrantAuthorizationCode {
		return s.codeGrant(cl, form, g)
	}
	if g.GrantType != GrantRefreshToken && g.GrantType != GrantClientCredentials {
		return nil, &tokenError{http.StatusBadRequest, "unsupported_grant_type", "supported: authorization_code, refresh_token, client_credentials"}
	}
	if cl.id != s.cfg.ClientID && g.GrantType == GrantClientCredentials {
		// Registered clients are public authorization-code clients.
		return nil, &tokenError{http.StatusBadRequest, "unauthorized_client", "client_credentials is for the configured client only"}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.cfg.Now()

	audience, terr := s.audienceLocked(g.Resources)
	if terr != nil {
		return nil, terr
	}
	requested := strings.Fields(g.Scope)

	if g.GrantType == GrantClientCredentials {
		if audience == "" {
			audience = s.cfg.Resource
		}
		scopes, terr := narrow(s.cfg.Scopes, requested, len(s.cfg.Scopes) == 0)
		if terr != nil {
			return nil, terr
		}
		// RFC 6749 §4.4.3: no refresh token for client credentials.
		return s.issueLocked(now, s.cfg.ClientID, audience, scopes, ""), nil
	}

	presented := form.Get("refresh_token")
	if presented == "" {
		return nil, &tokenError{http.StatusBadRequest, "invalid_request", "missing refresh_token"}
	}
	rec := s.refresh[presented]
	if rec == nil {
		return nil, &tokenError{http.StatusBadRequest, "invalid_grant", "unknown refresh token"}
	}
	g.Family = rec.fam.id
	switch {
	case rec.fam.client != cl.id:
		return nil, &tokenError{http.StatusBadRequest, "invalid_grant", "refresh token was issued to another client"}
	case rec.used:
		// OAuth 2.1 §4.3.1: the AS cannot tell the legitimate client from an
		// attacker, so it revokes the whole lineage.
		rec.fam.revoked = true
		g.Outcome = OutcomeReplay
		return nil, &tokenError{http.StatusBadRequest, "invalid_grant", "refresh token reuse detected; grant revoked"}
	case rec.fam.revoked:
		return nil, &tokenError{http.StatusBadRequest, "invalid_grant", "grant revoked"}
	case rec.revoked:
		return nil, &tokenError{http.StatusBadRequest, "invalid_grant", "refresh token revoked"}
	case !rec.expires.IsZero() && !now.Before(rec.expires):
		return nil, &tokenError{http.StatusBadRequest, "invalid_grant", "refresh token expired"}
	}
	if audience == "" {
		audience = rec.fam.resource
	}
	// RFC 6749 §6: a refresh may narrow the scope but never widen it.
	scopes, terr := narrow(rec.fam.scopes, requested, false)
	if terr != nil {
		return nil, terr
	}
	next := ""
	if s.issueRefresh {
		rec.used = true
		next = s.newRefreshLocked(rec.fam)
	}
	return s.issueForLocked(now, s.cfg.Subject, rec.fam.client, audience, scopes, next), nil
}

// authenticate checks client credentials (RFC 6749 §2.3) against the
// configured client and every registered one, and returns the client.
// Failures are 401 invalid_client with a Basic challenge (RFC 6749 §5.2).
func (s *Server) authenticate(r *http.Request, form url.Values, g *Grant) (*clientRecord, *tokenError) {
	basicID, basicSecret, hasBasic := r.BasicAuth()
	_, hasPost := form["client_secret"]
	fail := &tokenError{http.StatusUnauthorized, "invalid_client", "client authentication failed"}
	switch {
	case hasBasic && hasPost:
		g.ClientAuth = AuthMultiple
		// RFC 6749 §2.3: "MUST NOT use more than one authentication method".
		return nil, &tokenError{http.StatusBadRequest, "invalid_request", "more than one client authentication method"}
	case hasBasic:
		g.ClientAuth, g.ClientID = AuthBasic, basicID
		if c := s.clientByID(basicID, true); c != nil && c.secret != "" && credMatch(basicSecret, c.secret) {
			return c, nil
		}
	case hasPost:
		g.ClientAuth, g.ClientID = AuthPost, form.Get("client_id")
		if c := s.clientByID(g.ClientID, false); c != nil && c.secret != "" &&
			subtle.ConstantTimeCompare([]byte(form.Get("client_secret")), []byte(c.secret)) == 1 {
			return c, nil
		}
	default:
		g.ClientID = form.Get("client_id")
		if g.ClientID != "" {
			g.ClientAuth = AuthNone
		}
		if c := s.clientByID(g.ClientID, false); c != nil && c.secret == "" {
			return c, nil
		}
	}
	return nil, fail
}

// clientByID finds a client; basic allows the form-urlencoded spelling of
// the id that RFC 6749 §2.3.1 prescribes for Basic credentials.
func (s *Server) clientByID(id string, basic bool) *clientRecord {
	if id == "" {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.clients[id]; c != nil {
		return c
	}
	if basic {
		if dec, err := url.QueryUnescape(id); err == nil {
			return s.clients[dec]
		}
	}
	return nil
}

// credMatch compares a Basic credential with the registered value. RFC 6749
// §2.3.1 has clients form-urlencode id and secret before base64, which many
// skip, so either form is accepted.
func credMatch(got, want string) bool {
	if subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1 {
		return true
	}
	dec, err := url.QueryUnescape(got)
	return err == nil && subtle.ConstantTimeCompare([]byte(dec), []byte(want)) == 1
}

// audienceLocked picks the token audience from the `resource` parameters: ""
// when none were sent (the caller picks a default).
func (s *Server) audienceLocked(resources []string) (string, *tokenError) {
	if len(resources) == 0 {
		if s.requireResource {
			return "", &tokenError{http.StatusBadRequest, "invalid_target", "resource parameter required (RFC 8707)"}
		}
		return "", nil
	}
	for _, r := range resources[1:] {
		if r != resources[0] {
			return "", &tokenError{http.StatusBadRequest, "invalid_target", "this AS issues single-audience tokens"}
		}
	}
	if !s.audiences[resources[0]] {
		return "", &tokenError{http.StatusBadRequest, "invalid_target", "unknown resource " + resources[0]}
	}
	return resources[0], nil
}

// narrow returns the scopes to grant: all of allowed when none were requested,
// else the request if it is a subset of allowed (or anything if open).
func narrow(allowed, requested []string, open bool) ([]string, *tokenError) {
	if len(requested) == 0 {
		return allowed, nil
	}
	if !open {
		for _, sc := range requested {
			if !slices.Contains(allowed, sc) {
				return nil, &tokenError{http.StatusBadRequest, "invalid_scope", "scope " + sc + " not granted"}
			}
		}
	}
	return requested, nil
}

// issueLocked mints an access token and stores its exact expiry by jti.
// Caller holds s.mu.
func (s *Server) issueLocked(now time.Time, sub, audience string, scopes []string, refresh string) *grantResult {
	return s.issueForLocked(now, sub, s.cfg.ClientID, audience, scopes, refresh)
}

// issueForLocked is issueLocked for a given client_id claim.
func (s *Server) issueForLocked(now time.Time, sub, clientID, audience string, scopes []string, refresh string) *grantResult {
	exp := now.Add(s.cfg.AccessTTL)
	c := Claims{
		Issuer:    s.cfg.Issuer,
		Subject:   sub,
		Audience:  audience,
		ClientID:  clientID,
		Scope:     strings.Join(scopes, " "),
		ID:        fmt.Sprintf("at-%x", randomBytes(8)),
		IssuedAt:  now,
		ExpiresAt: exp,
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, jwtClaims{
		Scope:    c.Scope,
		ClientID: c.ClientID,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:   c.Issuer,
			Subject:  c.Subject,
			Audience: jwt.ClaimStrings{c.Audience},
			IssuedAt: jwt.NewNumericDate(now), // truncated to seconds
			// Rounded up so exp is never before the authoritative expiry.
			// Built from whole seconds so jwt.TimePrecision cannot alter it.
			ExpiresAt: jwt.NewNumericDate(time.Unix(ceilUnix(exp), 0)),
			ID:        c.ID,
		},
	})
	tok.Header["typ"] = "at+jwt" // RFC 9068 §2.1
	signed, err := tok.SignedString(s.key)
	if err != nil {
		panic("authz: HS256 signing failed: " + err.Error()) // only on a nil key
	}
	s.access[c.ID] = &accessRecord{claims: c}
	return &grantResult{access: signed, claims: c, refresh: refresh, lifetime: s.cfg.AccessTTL}
}

// ceilSeconds is d in whole seconds rounded up, at least 1 (see package doc).
func ceilSeconds(d time.Duration) int64 {
	n := int64((d + time.Second - 1) / time.Second)
	return max(n, 1)
}

// ceilUnix is t as Unix seconds, rounded up.
func ceilUnix(t time.Time) int64 {
	sec := t.Unix()
	if t.Nanosecond() > 0 {
		sec++
	}
	return sec
}

func writeTokenError(w http.ResponseWriter, e *tokenError) {
	if e.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="mcpconform-authz"`)
	}
	writeJSON(w, e.status, map[string]string{"error": e.code, "error_description": e.description})
}

// writeJSON sends a token-endpoint answer. OAuth 2.1 §3.2.3 requires
// no-store; Pragma is for HTTP/1.0 caches as RFC 6749 §5.1 shows.
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
