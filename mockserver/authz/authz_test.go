package authz

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const (
	testResource = "http://127.0.0.1:7411/mcp"
	otherRes     = "http://127.0.0.1:7413/mcp"
	testID       = "proxy-client"
	testSecret   = "s3cret+/="
)

// clock is an injectable server clock, so expiry is tested without sleeping.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type fixture struct {
	s     *Server
	srv   *httptest.Server
	clock *clock
}

// start runs a Server on 127.0.0.1. The listener is opened first so the
// Issuer (which must be known at New) carries the real port.
func start(t *testing.T, mod func(*Config)) *fixture {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ck := newClock()
	cfg := Config{
		Issuer:         "http://" + ln.Addr().String(),
		Resource:       testResource,
		OtherResources: []string{otherRes},
		ClientID:       testID,
		ClientSecret:   testSecret,
		AccessTTL:      200 * time.Millisecond,
		Scopes:         []string{"mcp:read", "mcp:write"},
		Now:            ck.Now,
	}
	if mod != nil {
		mod(&cfg)
	}
	s := New(cfg)
	srv := httptest.NewUnstartedServer(s)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return &fixture{s: s, srv: srv, clock: ck}
}

type reply struct {
	status int
	header http.Header
	body   map[string]any
}

func (r reply) str(k string) string { s, _ := r.body[k].(string); return s }

type authMode int

const (
	basic authMode = iota
	post
	noAuth
)

// token posts form to the token endpoint with the given client auth.
func (f *fixture) token(t *testing.T, mode authMode, form url.Values) reply {
	t.Helper()
	r, err := f.post(mode, form)
	if err != nil {
		t.Fatalf("token request: %v", err)
	}
	return r
}

// post is token without the testing.T, for use off the test goroutine. Every
// request is bounded by a 10 s timeout.
func (f *fixture) post(mode authMode, form url.Values) (reply, error) {
	form = cloneForm(form)
	if mode == post {
		form.Set("client_id", testID)
		form.Set("client_secret", testSecret)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.s.TokenURL(), strings.NewReader(form.Encode()))
	if err != nil {
		return reply{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if mode == basic {
		req.SetBasicAuth(url.QueryEscape(testID), url.QueryEscape(testSecret))
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	r := reply{status: resp.StatusCode, header: resp.Header}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.NewDecoder(resp.Body).Decode(&r.body); err != nil {
			return r, err
		}
	}
	return r, nil
}

func cloneForm(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

func refreshForm(rt string) url.Values {
	return url.Values{"grant_type": {GrantRefreshToken}, "refresh_token": {rt}, "resource": {testResource}}
}

func ccForm() url.Values {
	return url.Values{"grant_type": {GrantClientCredentials}, "resource": {testResource}}
}

func wantIssued(t *testing.T, r reply) {
	t.Helper()
	if r.status != http.StatusOK || r.str("access_token") == "" {
		t.Fatalf("want issued, got %d %v", r.status, r.body)
	}
}

func wantError(t *testing.T, r reply, status int, code string) {
	t.Helper()
	if r.status != status || r.str("error") != code {
		t.Fatalf("want %d %s, got %d %v", status, code, r.status, r.body)
	}
}

func TestMetadata(t *testing.T) {
	f := start(t, nil)
	resp, err := f.srv.Client().Get(f.s.MetadataURL())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if doc["issuer"] != f.srv.URL || doc["token_endpoint"] != f.srv.URL+"/token" {
		t.Errorf("issuer/token_endpoint: %v", doc)
	}
	for _, k := range []string{"grant_types_supported", "token_endpoint_auth_methods_supported", "scopes_supported", "response_types_supported"} {
		if l, _ := doc[k].([]any); len(l) == 0 {
			t.Errorf("%s missing or empty: %v", k, doc[k])
		}
	}
	if got := f.s.Requests(); len(got) != 1 || got[0].Path != WellKnownPath {
		t.Errorf("Requests = %+v", got)
	}
}

// An issuer with a path gets the RFC 8414 §3.1 insertion-form metadata URL.
func TestMetadataIssuerPath(t *testing.T) {
	s := New(Config{Issuer: "http://127.0.0.1:1/tenant1/", Resource: testResource, ClientID: testID})
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/.well-known/oauth-authorization-server/tenant1", nil))
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"token_endpoint":"http://127.0.0.1:1/tenant1/token"`) {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/.well-known/oauth-authorization-server", nil))
	if rec.Code != http.StatusNotFound {
		t.Fatalf("root metadata should 404 for a path issuer, got %d", rec.Code)
	}
	// A public client advertises "none".
	if !strings.Contains(string(s.metadata()), `"token_endpoint_auth_methods_supported":["none"]`) {
		t.Errorf("public client metadata: %s", s.metadata())
	}
}

func TestGrantsAndClientAuth(t *testing.T) {
	for _, mode := range []authMode{basic, post} {
		name := map[authMode]string{basic: AuthBasic, post: AuthPost}[mode]
		t.Run(name, func(t *testing.T) {
			f := start(t, nil)

			r := f.token(t, mode, refreshForm(f.s.InitialRefreshToken()))
			wantIssued(t, r)
			rt1 := r.str("refresh_token")
			if r.header.Get("Cache-Control") != "no-store" || r.header.Get("Pragma") != "no-cache" {
				t.Errorf("cache headers: %v", r.header)
			}
			if r.str("token_type") != "Bearer" || r.str("scope") != "mcp:read mcp:write" || r.str("refresh_token") == "" {
				t.Errorf("refresh response: %v", r.body)
			}
			c, err := f.s.Verify(r.str("access_token"))
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if c.Subject != DefaultSubject || c.Audience != testResource || c.Issuer != f.srv.URL {
				t.Errorf("claims: %+v", c)
			}

			r = f.token(t, mode, ccForm())
			wantIssued(t, r)
			if _, ok := r.body["refresh_token"]; ok {
				t.Errorf("client_credentials must not return a refresh token: %v", r.body)
			}
			if c, err := f.s.Verify(r.str("access_token")); err != nil || c.Subject != testID {
				t.Errorf("cc Verify: %+v %v", c, err)
			}

			gs := f.s.Grants()
			if len(gs) != 2 {
				t.Fatalf("Grants: %+v", gs)
			}
			for _, g := range gs {
				if g.ClientAuth != name || g.ClientID != testID || g.Outcome != OutcomeIssued ||
					g.Status != 200 || g.AccessToken == "" || len(g.Resources) != 1 {
					t.Errorf("grant: %+v", g)
				}
			}
			if gs[0].GrantType != GrantRefreshToken || gs[0].RefreshToken != Fingerprint(f.s.InitialRefreshToken()) ||
				gs[0].NewRefreshToken != Fingerprint(rt1) || gs[0].Family != "fam-1" {
				t.Errorf("refresh grant: %+v", gs[0])
			}
			if got := f.s.Counts(); got[GrantRefreshToken] != 1 || got[GrantClientCredentials] != 1 {
				t.Errorf("Counts: %v", got)
			}
		})
	}
}

func TestClientAuthFailures(t *testing.T) {
	f := start(t, nil)
	form := ccForm()

	bad := cloneForm(form)
	bad.Set("client_id", testID)
	bad.Set("client_secret", "wrong")
	r := f.token(t, noAuth, bad)
	wantError(t, r, 401, "invalid_client")
	if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Basic realm=") {
		t.Errorf("WWW-Authenticate: %q", r.header.Get("WWW-Authenticate"))
	}

	wantError(t, f.token(t, noAuth, form), 401, "invalid_client") // none at all

	// Wrong Basic secret.
	req, _ := http.NewRequest(http.MethodPost, f.s.TokenURL(), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(testID, "wrong")
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("wrong basic: %d %v", resp.StatusCode, resp.Header)
	}

	// Two methods at once (RFC 6749 §2.3).
	both := cloneForm(form)
	both.Set("client_secret", testSecret)
	wantError(t, f.token(t, basic, both), 400, "invalid_request")

	unknown := url.Values{"grant_type": {"password"}, "username": {"x"}}
	wantError(t, f.token(t, basic, unknown), 400, "unsupported_grant_type")

	gs := f.s.Grants()
	want := []string{"invalid_client", "invalid_client", "invalid_client", "invalid_request", "unsupported_grant_type"}
	if len(gs) != len(want) {
		t.Fatalf("Grants: %+v", gs)
	}
	for i, g := range gs {
		if g.Outcome != want[i] {
			t.Errorf("grant %d outcome %q, want %q", i, g.Outcome, want[i])
		}
	}
	if gs[3].ClientAuth != AuthMultiple || len(f.s.Counts()) != 0 {
		t.Errorf("multiple auth: %+v counts %v", gs[3], f.s.Counts())
	}
}

func TestPublicClient(t *testing.T) {
	f := start(t, func(c *Config) { c.ClientSecret = "" })
	form := refreshForm(f.s.InitialRefreshToken())
	form.Set("client_id", testID)
	wantIssued(t, f.token(t, noAuth, form))
	if g := f.s.Grants()[0]; g.ClientAuth != AuthNone {
		t.Errorf("ClientAuth %q", g.ClientAuth)
	}
	form.Set("client_id", "someone-else")
	wantError(t, f.token(t, noAuth, form), 401, "invalid_client")
}

// Expiry is judged on the injected clock at millisecond precision, though
// the JWT exp and expires_in can only say whole seconds.
func TestSubSecondExpiry(t *testing.T) {
	f := start(t, nil)
	f.clock.Advance(700 * time.Millisecond) // so exp is not on a second boundary
	issuedAt := f.clock.Now()
	r := f.token(t, basic, ccForm())
	wantIssued(t, r)
	if r.body["expires_in"] != float64(1) || r.body["expires_in_ms"] != float64(200) {
		t.Errorf("expires_in %v, expires_in_ms %v", r.body["expires_in"], r.body["expires_in_ms"])
	}
	at := r.str("access_token")

	// The JWT exp is the exact expiry rounded up to the next second.
	var jc jwtClaims
	if _, _, err := jwt.NewParser().ParseUnverified(at, &jc); err != nil {
		t.Fatal(err)
	}
	exact := issuedAt.Add(200 * time.Millisecond)
	if jc.ExpiresAt.Unix() != exact.Truncate(time.Second).Unix()+1 {
		t.Errorf("JWT exp %v, exact %v", jc.ExpiresAt.Time, exact)
	}
	if g := f.s.Grants()[0]; !g.AccessExpiry.Equal(exact) {
		t.Errorf("Grant.AccessExpiry %v, want %v", g.AccessExpiry, exact)
	}

	f.clock.Advance(199 * time.Millisecond)
	if c, err := f.s.Verify(at); err != nil || !c.ExpiresAt.Equal(exact) {
		t.Fatalf("at +199ms: %+v %v", c, err)
	}
	f.clock.Advance(time.Millisecond)
	if _, err := f.s.Verify(at); !errors.Is(err, ErrExpired) || Reason(err) != "expired" {
		t.Fatalf("at +200ms: %v", err)
	}
}

func TestExpiresInRounding(t *testing.T) {
	for d, want := range map[time.Duration]int64{
		time.Millisecond: 1, time.Second: 1, 1001 * time.Millisecond: 2, time.Hour: 3600,
	} {
		if got := ceilSeconds(d); got != want {
			t.Errorf("ceilSeconds(%v) = %d, want %d", d, got, want)
		}
	}
}

func TestVerifyErrors(t *testing.T) {
	f := start(t, nil)
	issue := func(form url.Values) string {
		r := f.token(t, basic, form)
		wantIssued(t, r)
		return r.str("access_token")
	}
	good := issue(ccForm())
	if _, err := f.s.Verify(good); err != nil {
		t.Fatal(err)
	}

	other := ccForm()
	other.Set("resource", otherRes)
	forOther := issue(other)

	revoked := issue(ccForm())
	if !f.s.Revoke(revoked) {
		t.Fatal("Revoke reported unknown token")
	}

	parts := strings.Split(good, ".")
	tampered := parts[0] + "." + parts[1] + ".AAAA" + parts[2][4:]

	// Well signed, but by a different server's key.
	foreign := start(t, nil)
	r := foreign.token(t, basic, ccForm())
	wantIssued(t, r)

	// Signed with this key but a different issuer: only the test can do this.
	wrongIss, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{
		Issuer: "http://elsewhere", Audience: jwt.ClaimStrings{testResource},
	}).SignedString(f.s.key)
	if err != nil {
		t.Fatal(err)
	}
	// A "none" token must not pass.
	none, err := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.RegisteredClaims{Issuer: f.srv.URL}).
		SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name, token string
		want        error
	}{
		{"wrong audience", forOther, ErrWrongAudience},
		{"revoked", revoked, ErrRevoked},
		{"bad signature (tampered)", tampered, ErrBadSignature},
		{"bad signature (foreign key)", r.str("access_token"), ErrBadSignature},
		{"bad signature (alg none)", none, ErrBadSignature},
		{"wrong issuer", wrongIss, ErrWrongIssuer},
		{"malformed", "not-a-jwt", ErrMalformed},
		{"malformed (empty)", "", ErrMalformed},
	} {
		_, err := f.s.Verify(tc.token)
		if !errors.Is(err, tc.want) || Reason(err) != tc.want.Error() {
			t.Errorf("%s: got %v (reason %q)", tc.name, err, Reason(err))
		}
	}

	// The other upstream accepts its own token and refuses ours.
	if _, err := f.s.VerifyFor(forOther, otherRes); err != nil {
		t.Errorf("VerifyFor other: %v", err)
	}
	if _, err := f.s.VerifyFor(good, otherRes); !errors.Is(err, ErrWrongAudience) {
		t.Errorf("VerifyFor other with ours: %v", err)
	}

	// Revoked takes precedence over expired.
	f.clock.Advance(time.Hour)
	if _, err := f.s.Verify(revoked); !errors.Is(err, ErrRevoked) {
		t.Errorf("revoked+expired: %v", err)
	}
	if _, err := f.s.Verify(good); !errors.Is(err, ErrExpired) {
		t.Errorf("expired: %v", err)
	}
	if Reason(nil) != "" || Reason(errors.New("x")) != "invalid" {
		t.Error("Reason fallbacks")
	}
}

func TestRevokeAllAccess(t *testing.T) {
	f := start(t, nil)
	r := f.token(t, basic, ccForm())
	wantIssued(t, r)
	f.s.RevokeAllAccess()
	if _, err := f.s.Verify(r.str("access_token")); !errors.Is(err, ErrRevoked) {
		t.Fatalf("got %v", err)
	}
}

func TestRotationAndReplay(t *testing.T) {
	f := start(t, nil)
	rt0 := f.s.InitialRefreshToken()
	r := f.token(t, basic, refreshForm(rt0))
	wantIssued(t, r)
	rt1 := r.str("refresh_token")
	r = f.token(t, basic, refreshForm(rt1))
	wantIssued(t, r)
	rt2 := r.str("refresh_token")
	if rt1 == rt0 || rt2 == rt1 {
		t.Fatal("refresh token did not rotate")
	}
	access2 := r.str("access_token")

	// Replay of rt1 revokes the family: rt2, never used, dies with it.
	r = f.token(t, basic, refreshForm(rt1))
	wantError(t, r, 400, "invalid_grant")
	if r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("error response cache headers: %v", r.header)
	}
	wantError(t, f.token(t, basic, refreshForm(rt2)), 400, "invalid_grant")
	// Access tokens already issued are not revoked (see package doc).
	if _, err := f.s.Verify(access2); err != nil {
		t.Errorf("access token after family revocation: %v", err)
	}

	gs := f.s.Grants()
	outcomes := []string{}
	for _, g := range gs {
		outcomes = append(outcomes, g.Outcome)
		if g.Family != "fam-1" {
			t.Errorf("family %q", g.Family)
		}
	}
	if strings.Join(outcomes, ",") != "issued,issued,replay,invalid_grant" {
		t.Errorf("outcomes %v", outcomes)
	}
	if gs[2].RefreshToken != Fingerprint(rt1) || gs[1].NewRefreshToken != Fingerprint(rt2) {
		t.Errorf("fingerprints: %+v", gs)
	}

	// Re-authorisation starts a new, working family.
	fresh := f.s.MintRefreshToken()
	wantIssued(t, f.token(t, basic, refreshForm(fresh)))
	if g := f.s.Grants()[4]; g.Family != "fam-2" {
		t.Errorf("new family %q", g.Family)
	}

	wantError(t, f.token(t, basic, refreshForm("rt_unknown")), 400, "invalid_grant")
	wantError(t, f.token(t, basic, url.Values{"grant_type": {GrantRefreshToken}}), 400, "invalid_request")
}

func TestRevokeRefreshToken(t *testing.T) {
	f := start(t, nil)
	rt := f.s.InitialRefreshToken()
	if !f.s.Revoke(rt) || f.s.Revoke("nonsense") {
		t.Fatal("Revoke results")
	}
	wantError(t, f.token(t, basic, refreshForm(rt)), 400, "invalid_grant")
}

func TestRefreshTTL(t *testing.T) {
	f := start(t, func(c *Config) { c.RefreshTTL = 500 * time.Millisecond })
	f.clock.Advance(499 * time.Millisecond)
	r := f.token(t, basic, refreshForm(f.s.InitialRefreshToken()))
	wantIssued(t, r)
	f.clock.Advance(500 * time.Millisecond) // the rotated token's own TTL
	r = f.token(t, basic, refreshForm(r.str("refresh_token")))
	wantError(t, r, 400, "invalid_grant")
	if !strings.Contains(r.str("error_description"), "expired") {
		t.Errorf("description %q", r.str("error_description"))
	}
}

func TestScope(t *testing.T) {
	f := start(t, nil)
	form := refreshForm(f.s.InitialRefreshToken())
	form.Set("scope", "mcp:read")
	r := f.token(t, basic, form)
	wantIssued(t, r)
	if r.str("scope") != "mcp:read" {
		t.Errorf("narrowed scope %q", r.str("scope"))
	}
	// The new refresh token keeps the original grant, so widening back works
	// but asking beyond it does not (RFC 6749 §6).
	form = refreshForm(r.str("refresh_token"))
	form.Set("scope", "mcp:read mcp:write mcp:admin")
	wantError(t, f.token(t, basic, form), 400, "invalid_scope")

	cc := ccForm()
	cc.Set("scope", "mcp:admin")
	wantError(t, f.token(t, basic, cc), 400, "invalid_scope")
}

func TestOutage(t *testing.T) {
	f := start(t, nil)
	f.s.SetOutage(503)
	rt := f.s.InitialRefreshToken()
	if r := f.token(t, basic, refreshForm(rt)); r.status != 503 {
		t.Fatalf("status %d", r.status)
	}
	g := f.s.Grants()[0]
	if g.Outcome != OutcomeOutage || g.Status != 503 || g.RefreshToken != Fingerprint(rt) {
		t.Errorf("grant %+v", g)
	}
	// The outage consumed nothing: the same token works afterwards.
	f.s.SetOutage(0)
	wantIssued(t, f.token(t, basic, refreshForm(rt)))
}

// A hang must end when the client gives up, leaving no handler behind.
func TestHangEndsWithClient(t *testing.T) {
	f := start(t, nil)
	f.s.SetHang(time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, f.s.TokenURL(), strings.NewReader(ccForm().Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(testID, testSecret)
	if resp, err := f.srv.Client().Do(req); err == nil {
		resp.Body.Close()
		t.Fatal("request during hang answered")
	}
	// httptest.Server.Close waits for outstanding handlers; bound that wait.
	done := make(chan struct{})
	go func() { f.srv.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("hung handler did not end with the request context")
	}
	if g := f.s.Grants(); len(g) != 1 || g[0].Outcome != OutcomeAbandoned || g[0].Status != 0 {
		t.Errorf("Grants: %+v", g)
	}
}

func TestHangThenAnswers(t *testing.T) {
	f := start(t, nil)
	f.s.SetHang(50 * time.Millisecond)
	t0 := time.Now()
	wantIssued(t, f.token(t, basic, ccForm()))
	if el := time.Since(t0); el < 50*time.Millisecond {
		t.Errorf("answered after %v", el)
	}
}

func TestDelay(t *testing.T) {
	f := start(t, nil)
	f.s.SetDelay(50 * time.Millisecond)
	t0 := time.Now()
	resp, err := f.srv.Client().Get(f.s.MetadataURL())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	wantIssued(t, f.token(t, post, ccForm()))
	if el := time.Since(t0); el < 100*time.Millisecond {
		t.Errorf("two delayed requests took %v", el)
	}
}

func TestRequireResource(t *testing.T) {
	f := start(t, nil)
	noRes := url.Values{"grant_type": {GrantClientCredentials}}
	wantIssued(t, f.token(t, basic, noRes)) // off by default
	f.s.SetRequireResource(true)
	wantError(t, f.token(t, basic, noRes), 400, "invalid_target")
	wantIssued(t, f.token(t, basic, ccForm()))

	f.s.SetRequireResource(false)
	bad := ccForm()
	bad.Set("resource", "http://127.0.0.1:9/unknown")
	wantError(t, f.token(t, basic, bad), 400, "invalid_target")
	two := ccForm()
	two.Add("resource", otherRes)
	wantError(t, f.token(t, basic, two), 400, "invalid_target")

	outcomes := []string{}
	for _, g := range f.s.Grants() {
		outcomes = append(outcomes, g.Outcome)
	}
	if strings.Join(outcomes, ",") != "issued,invalid_target,issued,invalid_target,invalid_target" {
		t.Errorf("outcomes %v", outcomes)
	}
}

func TestNoRefreshTokens(t *testing.T) {
	f := start(t, nil)
	f.s.SetIssueRefreshTokens(false)
	rt := f.s.InitialRefreshToken()
	for i := 0; i < 2; i++ { // no rotation: the same token keeps working
		r := f.token(t, basic, refreshForm(rt))
		wantIssued(t, r)
		if _, ok := r.body["refresh_token"]; ok {
			t.Fatalf("refresh_token present: %v", r.body)
		}
	}
	if g := f.s.Grants()[1]; g.NewRefreshToken != "" || g.Outcome != OutcomeIssued {
		t.Errorf("grant %+v", g)
	}
}

// Twenty simultaneous refreshes with one token: the first to reach the state
// lock rotates it, the other nineteen are replays, and the replay revokes the
// family, including the winner's new refresh token.
func TestConcurrentRefreshBurst(t *testing.T) {
	f := start(t, nil)
	rt := f.s.InitialRefreshToken()
	const n = 20
	var wg sync.WaitGroup
	gate := make(chan struct{})
	replies := make([]reply, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			var err error
			if replies[i], err = f.post(basic, refreshForm(rt)); err != nil {
				t.Errorf("request %d: %v", i, err)
			}
		}()
	}
	close(gate)
	wg.Wait()

	var winner string
	issued, replays := 0, 0
	for _, r := range replies {
		switch {
		case r.status == 200:
			issued++
			winner = r.str("refresh_token")
		case r.str("error") == "invalid_grant":
			replays++
		}
	}
	if issued != 1 || replays != n-1 {
		t.Fatalf("issued %d, invalid_grant %d", issued, replays)
	}
	counts := map[string]int{}
	for _, g := range f.s.Grants() {
		counts[g.Outcome]++
	}
	if counts[OutcomeIssued] != 1 || counts[OutcomeReplay] != n-1 {
		t.Errorf("grant outcomes %v", counts)
	}
	if c := f.s.Counts(); c[GrantRefreshToken] != 1 {
		t.Errorf("Counts %v", c)
	}
	wantError(t, f.token(t, basic, refreshForm(winner)), 400, "invalid_grant")
}

func TestReset(t *testing.T) {
	f := start(t, nil)
	r := f.token(t, basic, refreshForm(f.s.InitialRefreshToken()))
	wantIssued(t, r)
	f.s.SetOutage(500)
	f.s.SetRequireResource(true)
	f.s.SetIssueRefreshTokens(false)
	f.s.SetHang(time.Hour)
	f.s.SetDelay(time.Hour)
	f.s.Reset()
	if len(f.s.Grants()) != 0 || len(f.s.Counts()) != 0 || len(f.s.Requests()) != 0 {
		t.Fatal("observations not cleared")
	}
	// Token state survives: the rotated token and the access token still work.
	if _, err := f.s.Verify(r.str("access_token")); err != nil {
		t.Errorf("access token after Reset: %v", err)
	}
	r2 := f.token(t, basic, url.Values{"grant_type": {GrantRefreshToken}, "refresh_token": {r.str("refresh_token")}})
	wantIssued(t, r2)
	if r2.str("refresh_token") == "" {
		t.Error("Reset did not re-enable refresh tokens")
	}
}

func TestTokenEndpointRequestShape(t *testing.T) {
	f := start(t, nil)
	resp, err := f.srv.Client().Get(f.s.TokenURL())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "POST" {
		t.Errorf("GET /token: %d", resp.StatusCode)
	}
	req, _ := http.NewRequest(http.MethodPost, f.s.TokenURL(), strings.NewReader(`{"grant_type":"client_credentials"}`))
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(testID, testSecret)
	resp, err = f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("JSON body: %d", resp.StatusCode)
	}
	dup := ccForm()
	dup.Add("grant_type", GrantClientCredentials)
	wantError(t, f.token(t, basic, dup), 400, "invalid_request")
}

func TestProtectedResourceMetadata(t *testing.T) {
	got := string(ProtectedResourceMetadata(testResource, []string{"http://127.0.0.1:7412"}, nil))
	want := `{"resource":"http://127.0.0.1:7411/mcp","authorization_servers":["http://127.0.0.1:7412"],"bearer_methods_supported":["header"]}`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if !strings.Contains(string(ProtectedResourceMetadata(testResource, nil, []string{"a"})), `"scopes_supported":["a"]`) {
		t.Error("scopes_supported missing")
	}
}

func TestFingerprint(t *testing.T) {
	a, b := Fingerprint("x"), Fingerprint("y")
	if a == b || a != Fingerprint("x") || !strings.HasPrefix(a, "tok#") || len(a) != 12 || Fingerprint("") != "" {
		t.Errorf("%q %q", a, b)
	}
}
