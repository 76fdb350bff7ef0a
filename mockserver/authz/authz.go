// Package authz is the mock OAuth 2.1 authorization server (AS) that
// token-injecting proxies under test fetch access tokens from, plus the token
// verification the mock MCP upstream uses to accept or refuse what the proxy
// injects.
//
// The AS serves RFC 8414 metadata, a token endpoint supporting the
// refresh_token, client_credentials and authorization_code grants, dynamic
// client registration (RFC 7591) and an authorization endpoint that approves
// every request at once (no user, no consent page) after checking what a
// real AS checks: a registered redirect URI, PKCE with S256 (RFC 7636) and a
// known `resource` (RFC 8707). That is what an MCP client's login journey
// needs (code.go). Access tokens are HS256 JWTs
// with deliberately short lifetimes (sub-second capable) so that a proxy which
// never refreshes is caught within seconds. Refresh tokens are opaque, rotate
// on every use, and a replayed (rotated-out) refresh token revokes its whole
// grant family, as OAuth 2.1 §4.3.1 describes. Of N concurrent refreshes
// with one token, exactly one is served first and wins; the rest are replays,
// so the family (the winner's new refresh token included) is revoked. Replay
// revokes refresh tokens only: access tokens already issued stay valid until
// they expire, as RFC 9700 §4.14.2 speaks only of refresh tokens; call
// [Server.RevokeAllAccess] to model an AS that kills those too.
//
// # Sub-second expiry
//
// A JWT "exp" is a NumericDate in whole seconds, and jwt.TimePrecision is a
// process-wide setting that other packages share, so it is never changed here.
// Instead the server keeps the exact expiry of every access token it issued in
// a map keyed by jti, and that record is authoritative: [Server.Verify] rejects
// a token once the server clock reaches its exact expiry. The JWT "exp" claim
// is the exact expiry rounded up to the next whole second, so it is never
// earlier than the real expiry (a proxy that decodes it refreshes no earlier
// than necessary, and an "exp <= iat" token is impossible).
//
// The token response's "expires_in" is the lifetime rounded up to whole
// seconds (minimum 1), because RFC 6749 §5.1 defines it as an integer and 0 is
// read by many clients as "no expiry". The exact lifetime is also sent as the
// non-standard member "expires_in_ms", which RFC 6749 §5.1 lets clients
// ignore. Rounding up overstates the lifetime by under a second; OAuth 2.1
// §3.2.3 says clients MUST NOT rely on the full lifetime, which is exactly the
// behaviour under test.
//
// Waits injected by faults (hang, delay) use the real clock, whatever
// [Config.Now] says, because they hold real HTTP requests.
package authz

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Paths under the issuer. The metadata path follows RFC 8414 §3.1: the
// well-known segment goes between the host and the issuer's path.
const (
	WellKnownPath = "/.well-known/oauth-authorization-server"
	TokenPath     = "/token"
	AuthorizePath = "/authorize"
	RegisterPath  = "/register"
)

// Default values for zero Config fields.
const (
	DefaultAccessTTL = time.Hour // the lifetime of the real-world bug
	DefaultSubject   = "mcpconform-user"
)

// Config describes one mock authorization server. It is copied by New.
type Config struct {
	// Issuer is the AS identifier, e.g. "http://127.0.0.1:7412", used as the
	// JWT "iss" and to derive the endpoint URLs. A trailing slash is dropped.
	Issuer string
	// Resource is the upstream MCP URL: the default JWT "aud", the audience
	// Verify checks, and the `resource` value RequireResource insists on.
	Resource string
	// OtherResources are further resource indicators (RFC 8707) this AS issues
	// tokens for, so two mock upstreams can share one AS and a token meant for
	// one is reported as "wrong audience" at the other (AUTH-TOK-003).
	OtherResources []string
	// ClientID and ClientSecret are the one registered client. An empty
	// ClientSecret makes it a public client (token_endpoint_auth_method
	// "none"): it identifies itself with client_id in the body only.
	ClientID, ClientSecret string
	// Subject is the JWT "sub" for refresh-token grants (the resource owner);
	// default DefaultSubject. client_credentials tokens use ClientID as "sub".
	Subject string
	// AccessTTL is the exact access-token lifetime; default DefaultAccessTTL.
	AccessTTL time.Duration
	// RefreshTTL is each refresh token's lifetime from its issue (so a rotated
	// token gets a fresh one); 0 means refresh tokens do not expire.
	RefreshTTL time.Duration
	// Scopes are the scopes the client may be granted; a grant without a
	// `scope` parameter gets all of them. Empty means scope is not enforced.
	Scopes []string
	// Now is the server clock for issuing and verifying; nil means time.Now.
	Now func() time.Time
}

// Server is the mock AS. It is an http.Handler and safe for concurrent use.
type Server struct {
	cfg           Config
	key           []byte
	metaPath      string
	tokenPath     string
	authorizePath string
	registerPath  string
	audiences     map[string]bool

	mu sync.Mutex
	// Fault switches.
	outage          int
	hang, delay     time.Duration
	requireResource bool
	issueRefresh    bool
	// Token state. Kept by Reset so tokens a proxy already holds stay valid.
	access         map[string]*accessRecord  // by jti
	refresh        map[string]*refreshRecord // by the refresh token itself
	families       int
	initialRefresh string
	// Clients: the configured one and every dynamically registered one.
	clients map[string]*clientRecord
	codes   map[string]*codeRecord // authorization codes, by the code itself
	// Observations. Cleared by Reset.
	grants         []Grant
	counts         map[string]int
	requests       []Request
	authorizations []Authorization
	registrations  []Registration
}

type accessRecord struct {
	claims  Claims
	revoked bool
}

// family is one grant lineage: a refresh token and every token rotated from
// it. Replay of any member revokes all of them.
type family struct {
	id       string
	revoked  bool
	resource string   // audience the grant was issued for
	scopes   []string // scope originally granted; refreshes may only narrow
	client   string   // the client it was issued to
}

type refreshRecord struct {
	fam     *family
	expires time.Time // zero: never
	used    bool      // rotated out: presenting it again is replay
	revoked bool      // revoked on its own via Revoke
}

// New returns a server with a fresh random HS256 key and one grant family
// whose refresh token is InitialRefreshToken. It panics if cfg.Issuer is not
// an absolute URL, as that is a harness bug, not a proxy finding.
func New(cfg Config) *Server {
	cfg.Issuer = strings.TrimSuffix(cfg.Issuer, "/")
	u, err := url.Parse(cfg.Issuer)
	if err != nil || u.Scheme == "" || u.Host == "" {
		panic(fmt.Sprintf("authz: Issuer %q is not an absolute URL", cfg.Issuer))
	}
	if cfg.AccessTTL <= 0 {
		cfg.AccessTTL = DefaultAccessTTL
	}
	if cfg.Subject == "" {
		cfg.Subject = DefaultSubject
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.Scopes = append([]string(nil), cfg.Scopes...)
	cfg.OtherResources = append([]string(nil), cfg.OtherResources...)
	s := &Server{
		cfg:           cfg,
		key:           randomBytes(32),
		metaPath:      WellKnownPath + u.Path,
		tokenPath:     u.Path + TokenPath,
		authorizePath: u.Path + AuthorizePath,
		registerPath:  u.Path + RegisterPath,
		audiences:     map[string]bool{cfg.Resource: true},
		issueRefresh:  true,
		access:        map[string]*accessRecord{},
		refresh:       map[string]*refreshRecord{},
		counts:        map[string]int{},
		clients:       map[string]*clientRecord{},
		codes:         map[string]*codeRecord{},
	}
	for _, r := range cfg.OtherResources {
		s.audiences[r] = true
	}
	if cfg.ClientID != "" {
		method := AuthBasic
		if cfg.ClientSecret == "" {
			method = AuthNone
		}
		s.clients[cfg.ClientID] = &clientRecord{id: cfg.ClientID, secret: cfg.ClientSecret, authMethod: method}
	}
	s.initialRefresh = s.MintRefreshToken()
	return s
}

// MetadataURL is where RFC 8414 metadata is served.
func (s *Server) MetadataURL() string { return s.origin() + s.metaPath }

// TokenURL is the token endpoint.
func (s *Server) TokenURL() string { return s.cfg.Issuer + TokenPath }

// AuthorizeURL is the authorization endpoint.
func (s *Server) AuthorizeURL() string { return s.cfg.Issuer + AuthorizePath }

// RegisterURL is the dynamic client registration endpoint (RFC 7591).
func (s *Server) RegisterURL() string { return s.cfg.Issuer + RegisterPath }

// Issuer is the AS identifier (RFC 8414 §2 "issuer").
func (s *Server) Issuer() string { return s.cfg.Issuer }

func (s *Server) origin() string {
	u, _ := url.Parse(s.cfg.Issuer) // validated in New
	return u.Scheme + "://" + u.Host
}

// InitialRefreshToken is a valid refresh token minted by New, for configuring
// a proxy to bootstrap from. It rotates out on first use like any other.
func (s *Server) InitialRefreshToken() string { return s.initialRefresh }

// MintRefreshToken starts a new grant family (as if a user had just
// authorised, for Resource and all Scopes) and returns its refresh token.
// Use it to re-authorise after a family was revoked.
func (s *Server) MintRefreshToken() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.families++
	fam := &family{
		id:       fmt.Sprintf("fam-%d", s.families),
		resource: s.cfg.Resource,
		scopes:   append([]string(nil), s.cfg.Scopes...),
		client:   s.cfg.ClientID,
	}
	return s.newRefreshLocked(fam)
}

// newRefreshLocked issues a refresh token in fam. Caller holds s.mu.
func (s *Server) newRefreshLocked(fam *family) string {
	tok := "rt_" + hex.EncodeToString(randomBytes(24))
	rec := &refreshRecord{fam: fam}
	if s.cfg.RefreshTTL > 0 {
		rec.expires = s.cfg.Now().Add(s.cfg.RefreshTTL)
	}
	s.refresh[tok] = rec
	return tok
}

// Fingerprint is a short, stable, non-secret name for a token, for reports
// and logs: "tok#" and the first 8 hex digits of its SHA-256. An empty token
// gives "".
func Fingerprint(token string) string {
	if token == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(token))
	return "tok#" + hex.EncodeToString(sum[:4])
}

// Fingerprint is the package-level Fingerprint, as a method for convenience.
func (s *Server) Fingerprint(token string) string { return Fingerprint(token) }

// ServeHTTP routes the metadata, token, authorization and registration
// endpoints; anything else is 404.
// Every request is logged (see Requests) so discovery order can be checked.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests = append(s.requests, Request{Time: s.cfg.Now(), Method: r.Method, Path: r.URL.Path})
	delay := s.delay
	s.mu.Unlock()
	if !wait(r, delay) {
		return
	}
	switch r.URL.Path {
	case s.metaPath:
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(s.metadata())
	case s.tokenPath:
		s.serveToken(w, r)
	case s.authorizePath:
		s.serveAuthorize(w, r)
	case s.registerPath:
		s.serveRegister(w, r)
	default:
		http.NotFound(w, r)
	}
}

// wait blocks for d or until the request's context ends, whichever is first,
// and reports whether the caller should still answer.
func wait(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return r.Context().Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

// metadata is the RFC 8414 §2 document. S256 is the only PKCE method
// (OAuth 2.1 and MCP require it; SDK clients such as the MCP Go SDK refuse
// metadata without code_challenge_methods_supported).
func (s *Server) metadata() []byte {
	auth := []string{"client_secret_basic", "client_secret_post"}
	if s.cfg.ClientSecret == "" {
		auth = []string{"none"}
	}
	doc := struct {
		Issuer            string   `json:"issuer"`
		AuthorizationEP   string   `json:"authorization_endpoint"`
		TokenEndpoint     string   `json:"token_endpoint"`
		RegistrationEP    string   `json:"registration_endpoint"`
		GrantTypes        []string `json:"grant_types_supported"`
		AuthMethods       []string `json:"token_endpoint_auth_methods_supported"`
		Scopes            []string `json:"scopes_supported,omitempty"`
		ResponseTypes     []string `json:"response_types_supported"`
		CodeChallengeMeth []string `json:"code_challenge_methods_supported"`
	}{
		Issuer:            s.cfg.Issuer,
		AuthorizationEP:   s.AuthorizeURL(),
		TokenEndpoint:     s.TokenURL(),
		RegistrationEP:    s.RegisterURL(),
		GrantTypes:        []string{GrantAuthorizationCode, GrantRefreshToken, GrantClientCredentials},
		AuthMethods:       auth,
		Scopes:            s.cfg.Scopes,
		ResponseTypes:     []string{"code"},
		CodeChallengeMeth: []string{"S256"},
	}
	b, _ := json.Marshal(doc) // cannot fail: strings only
	return b
}

// ProtectedResourceMetadata is an RFC 9728 §2 document for a mock upstream to
// serve: resource, authorization_servers, scopes_supported and
// bearer_methods_supported ["header"] (tokens in queries or bodies are not
// accepted, AUTH-TOK-005). Empty fields are omitted (RFC 9728 §3.2).
func ProtectedResourceMetadata(resource string, authServers []string, scopes []string) []byte {
	doc := struct {
		Resource      string   `json:"resource,omitempty"`
		AuthServers   []string `json:"authorization_servers,omitempty"`
		Scopes        []string `json:"scopes_supported,omitempty"`
		BearerMethods []string `json:"bearer_methods_supported"`
	}{resource, authServers, scopes, []string{"header"}}
	b, _ := json.Marshal(doc) // cannot fail: strings only
	return b
}

// SetOutage makes /token answer with status (e.g. 500, 503) before any other
// processing; 0 turns it off.
func (s *Server) SetOutage(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outage = status
}

// SetHang makes /token wait d before answering normally, or give up silently
// when the request's context ends first (recorded as OutcomeAbandoned); 0
// turns it off. Use a d longer than the proxy's timeout to test that it has
// one.
func (s *Server) SetHang(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hang = d
}

// SetDelay makes every route (metadata and token) wait d before answering;
// 0 turns it off. Unlike SetHang it models a slow but working AS.
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// SetRequireResource makes grants without a `resource` parameter fail with
// invalid_target (RFC 8707 §2), to test AUTH-TOK-001. A `resource` naming an
// audience the AS does not know fails with invalid_target regardless.
func (s *Server) SetRequireResource(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requireResource = on
}

// SetIssueRefreshTokens(false) makes token responses carry no refresh_token
// (AUTH-REF-006). Refresh tokens then do not rotate: the presented one stays
// valid, since RFC 6749 §6 has the client keep it when no new one is issued.
// The default is true.
func (s *Server) SetIssueRefreshTokens(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.issueRefresh = on
}

// Reset turns every fault off (refresh tokens issued again) and clears
// Grants, Counts, Requests, Authorizations and Registrations. Token state is
// kept: grant families, refresh tokens, access tokens, revocations,
// registered clients and unused authorization codes survive, so a proxy that is already
// running keeps working across scenarios. Use a new Server for a clean slate.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outage, s.hang, s.delay = 0, 0, 0
	s.requireResource = false
	s.issueRefresh = true
	s.grants = nil
	s.counts = map[string]int{}
	s.requests = nil
	s.authorizations = nil
	s.registrations = nil
}

// Request is one HTTP request the AS received, on any path.
type Request struct {
	Time   time.Time // server clock
	Method string
	Path   string
}

// Requests returns every request received since New or Reset, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Grants returns every /token call since New or Reset, in completion order.
func (s *Server) Grants() []Grant {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Grant, len(s.grants))
	for i, g := range s.grants {
		g.Resources = append([]string(nil), g.Resources...)
		out[i] = g
	}
	return out
}

// Counts returns the number of successful grants by grant type since New or
// Reset.
func (s *Server) Counts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.counts))
	for k, v := range s.counts {
		out[k] = v
	}
	return out
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return b
}
