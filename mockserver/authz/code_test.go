package authz

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

const testRedirect = "http://127.0.0.1:5555/callback"

// noFollow is an HTTP client that returns redirects instead of following
// them, as the harness's user agent does.
func (f *fixture) noFollow() *http.Client {
	c := *f.srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

// register posts client metadata and returns the decoded answer.
func (f *fixture) register(t *testing.T, meta map[string]any) (int, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(meta)
	resp, err := f.srv.Client().Post(f.s.RegisterURL(), "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// publicClient registers a public client with testRedirect.
func (f *fixture) publicClient(t *testing.T) string {
	t.Helper()
	st, out := f.register(t, map[string]any{"redirect_uris": []string{testRedirect}, "token_endpoint_auth_method": "none", "client_name": "t"})
	if st != http.StatusCreated || out["client_id"] == "" || out["client_secret"] != nil {
		t.Fatalf("register: %d %v", st, out)
	}
	return out["client_id"].(string)
}

func challengeOf(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// authorize sends an authorization request and returns the status and the
// parsed Location (nil when not redirected).
func (f *fixture) authorize(t *testing.T, q url.Values) (int, url.Values) {
	t.Helper()
	resp, err := f.noFollow().Get(f.s.AuthorizeURL() + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if loc == "" {
		return resp.StatusCode, nil
	}
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(loc, testRedirect) {
		t.Errorf("redirected to %s, not the registered URI", loc)
	}
	return resp.StatusCode, u.Query()
}

func authzQuery(client, verifier string) url.Values {
	return url.Values{
		"response_type": {"code"}, "client_id": {client}, "redirect_uri": {testRedirect},
		"code_challenge": {challengeOf(verifier)}, "code_challenge_method": {"S256"},
		"state": {"st-1"}, "resource": {testResource}, "scope": {"mcp:read"},
	}
}

func codeForm(client, code, verifier string) url.Values {
	return url.Values{"grant_type": {GrantAuthorizationCode}, "client_id": {client}, "code": {code},
		"redirect_uri": {testRedirect}, "code_verifier": {verifier}, "resource": {testResource}}
}

func TestMetadataAdvertisesCodeFlow(t *testing.T) {
	f := start(t, nil)
	var doc map[string]any
	resp, err := f.srv.Client().Get(f.s.MetadataURL())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_ = json.NewDecoder(resp.Body).Decode(&doc)
	if doc["authorization_endpoint"] != f.srv.URL+"/authorize" || doc["registration_endpoint"] != f.srv.URL+"/register" {
		t.Errorf("endpoints: %v", doc)
	}
	if !strings.Contains(mustJSON(doc["grant_types_supported"]), GrantAuthorizationCode) {
		t.Errorf("grant_types_supported: %v", doc["grant_types_supported"])
	}
}

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

func TestCodeFlow(t *testing.T) {
	f := start(t, nil)
	client := f.publicClient(t)
	const verifier = "verifier-0123456789-0123456789-0123456789-abcdef"
	st, back := f.authorize(t, authzQuery(client, verifier))
	if st != http.StatusFound || back.Get("code") == "" || back.Get("state") != "st-1" {
		t.Fatalf("authorize: %d %v", st, back)
	}
	r := f.token(t, noAuth, codeForm(client, back.Get("code"), verifier))
	wantIssued(t, r)
	if r.str("scope") != "mcp:read" || r.str("refresh_token") == "" {
		t.Errorf("token response: %v", r.body)
	}
	c, err := f.s.Verify(r.str("access_token"))
	if err != nil || c.ClientID != client || c.Audience != testResource || c.Scope != "mcp:read" {
		t.Errorf("claims %+v %v", c, err)
	}
	// The code is single-use.
	wantError(t, f.token(t, noAuth, codeForm(client, back.Get("code"), verifier)), 400, "invalid_grant")
	// The refresh token belongs to the registered client, and only to it.
	rf := url.Values{"grant_type": {GrantRefreshToken}, "refresh_token": {r.str("refresh_token")}, "client_id": {client}}
	wantIssued(t, f.token(t, noAuth, rf))
	other := f.publicClient(t)
	rf2 := url.Values{"grant_type": {GrantRefreshToken}, "refresh_token": {f.s.MintRefreshToken()}, "client_id": {other}}
	wantError(t, f.token(t, noAuth, rf2), 400, "invalid_grant")

	as := f.s.Authorizations()
	if len(as) != 1 || as[0].Outcome != OutcomeIssued || as[0].ChallengeMethod != "S256" || len(as[0].Resources) != 1 || !as[0].State {
		t.Errorf("Authorizations: %+v", as)
	}
	gs := f.s.Grants()
	if gs[0].GrantType != GrantAuthorizationCode || gs[0].PKCE != "S256 verified" || gs[0].Code != as[0].Code || gs[1].Outcome != "invalid_grant" {
		t.Errorf("Grants: %+v", gs)
	}
	if rs := f.s.Registrations(); len(rs) != 2 || rs[0].Outcome != OutcomeIssued || rs[0].AuthMethod != AuthNone {
		t.Errorf("Registrations: %+v", rs)
	}
}

// A loopback redirect URI may come back on another port (RFC 8252 §7.3).
func TestLoopbackRedirectAnyPort(t *testing.T) {
	f := start(t, nil)
	client := f.publicClient(t)
	q := authzQuery(client, "v-0123456789012345678901234567890123456789")
	q.Set("redirect_uri", "http://127.0.0.1:6666/callback")
	resp, err := f.noFollow().Get(f.s.AuthorizeURL() + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, "http://127.0.0.1:6666/callback?code=") {
		t.Fatalf("%d %s", resp.StatusCode, loc)
	}
}

func TestAuthorizeRefusals(t *testing.T) {
	f := start(t, nil)
	client := f.publicClient(t)
	const v = "v-0123456789012345678901234567890123456789"
	cases := []struct {
		name     string
		edit     func(url.Values)
		status   int    // 302 (error redirected) or 400 (not redirected)
		outcome  string // recorded and, when redirected, the error parameter
		describe string
	}{
		{"unknown client", func(q url.Values) { q.Set("client_id", "nobody") }, 400, "invalid_request", "unknown client_id"},
		{"unregistered redirect", func(q url.Values) { q.Set("redirect_uri", "http://127.0.0.1:1/other") }, 400, "invalid_request", "not registered"},
		{"no PKCE", func(q url.Values) { q.Del("code_challenge"); q.Del("code_challenge_method") }, 302, "invalid_request", "code_challenge is required"},
		{"plain PKCE", func(q url.Values) { q.Set("code_challenge_method", "plain") }, 302, "invalid_request", "use S256"},
		{"unknown resource", func(q url.Values) { q.Set("resource", "http://127.0.0.1:9/mcp") }, 302, "invalid_target", "unknown resource"},
		{"scope not offered", func(q url.Values) { q.Set("scope", "admin") }, 302, "invalid_scope", "admin"},
		{"token response type", func(q url.Values) { q.Set("response_type", "token") }, 302, "unsupported_response_type", "response_type=code"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			q := authzQuery(client, v)
			tc.edit(q)
			before := len(f.s.Authorizations())
			st, back := f.authorize(t, q)
			if st != tc.status {
				t.Fatalf("status %d, want %d", st, tc.status)
			}
			if tc.status == http.StatusFound && (back.Get("error") != tc.outcome || back.Get("code") != "" || back.Get("state") != "st-1") {
				t.Errorf("redirect params %v", back)
			}
			as := f.s.Authorizations()
			if len(as) != before+1 || as[before].Outcome != tc.outcome || !strings.Contains(as[before].Description, tc.describe) {
				t.Errorf("recorded %+v", as[before:])
			}
		})
	}
}

func TestCodeGrantRefusals(t *testing.T) {
	f := start(t, nil)
	client := f.publicClient(t)
	const v = "v-0123456789012345678901234567890123456789"
	code := func() string {
		_, back := f.authorize(t, authzQuery(client, v))
		return back.Get("code")
	}
	cases := []struct {
		name    string
		edit    func(url.Values)
		outcome string
		pkce    string
	}{
		{"no verifier", func(q url.Values) { q.Del("code_verifier") }, "invalid_grant", "no code_verifier"},
		{"wrong verifier", func(q url.Values) { q.Set("code_verifier", v+"x") }, "invalid_grant", "code_verifier does not match"},
		{"other resource", func(q url.Values) { q.Set("resource", otherRes) }, "invalid_target", "S256 verified"},
		{"other redirect", func(q url.Values) { q.Set("redirect_uri", "http://127.0.0.1:5555/x") }, "invalid_grant", ""},
		{"other client", func(q url.Values) { q.Set("client_id", f.publicClient(t)) }, "invalid_grant", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			form := codeForm(client, code(), v)
			tc.edit(form)
			before := len(f.s.Grants())
			wantError(t, f.token(t, noAuth, form), 400, tc.outcome)
			g := f.s.Grants()[before]
			if g.Outcome != tc.outcome || g.PKCE != tc.pkce || g.GrantType != GrantAuthorizationCode {
				t.Errorf("grant %+v", g)
			}
		})
	}
	// Without `resource` at the token endpoint, the authorized one applies.
	form := codeForm(client, code(), v)
	form.Del("resource")
	r := f.token(t, noAuth, form)
	wantIssued(t, r)
	if c, err := f.s.Verify(r.str("access_token")); err != nil || c.Audience != testResource {
		t.Errorf("claims %+v %v", c, err)
	}
}

func TestRegisterRefusals(t *testing.T) {
	f := start(t, nil)
	cases := []struct {
		name string
		meta map[string]any
		code string
	}{
		{"no redirect", map[string]any{"token_endpoint_auth_method": "none"}, "invalid_redirect_uri"},
		{"http non-loopback", map[string]any{"redirect_uris": []string{"http://example.com/cb"}}, "invalid_redirect_uri"},
		{"fragment", map[string]any{"redirect_uris": []string{"https://example.com/cb#x"}}, "invalid_redirect_uri"},
		{"odd auth method", map[string]any{"redirect_uris": []string{testRedirect}, "token_endpoint_auth_method": "private_key_jwt"}, "invalid_client_metadata"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, out := f.register(t, tc.meta)
			if st != http.StatusBadRequest || out["error"] != tc.code {
				t.Errorf("%d %v", st, out)
			}
		})
	}
	// A confidential client gets a secret and authenticates with it.
	st, out := f.register(t, map[string]any{"redirect_uris": []string{testRedirect}})
	if st != http.StatusCreated || out["client_secret"] == nil || out["token_endpoint_auth_method"] != AuthBasic {
		t.Fatalf("%d %v", st, out)
	}
	id, secret := out["client_id"].(string), out["client_secret"].(string)
	const v = "v-0123456789012345678901234567890123456789"
	_, back := f.authorize(t, authzQuery(id, v))
	form := codeForm(id, back.Get("code"), v)
	form.Del("client_id")
	req, _ := http.NewRequest(http.MethodPost, f.s.TokenURL(), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, secret)
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("confidential code grant: %d", resp.StatusCode)
	}
}
