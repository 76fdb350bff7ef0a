package mockserver

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func startJourney(t *testing.T) *Mock {
	t.Helper()
	m, err := Start(Options{Addr: "127.0.0.1:0", Authz: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return m
}

func getJSON(t *testing.T, u string, h http.Header) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&doc)
	return resp.StatusCode, doc
}

// The metadata advertises the public URL at both well-known URLs (the root
// one with the origin as its resource), the challenge names it, and the
// knobs switch each URL off.
func TestJourneyMetadata(t *testing.T) {
	m := startJourney(t)
	const public = "http://127.0.0.1:1/mcp"
	cases := []struct {
		name         string
		edit         func(*Journey)
		suffixed     int
		root         int
		challengeRM  string
		resourceWant string // of the path-suffixed document
	}{
		{"default", func(*Journey) {}, 200, 200, "http://127.0.0.1:1/.well-known/oauth-protected-resource/mcp", public},
		{"suffixed only", func(j *Journey) { j.Root = false }, 200, 404, "http://127.0.0.1:1/.well-known/oauth-protected-resource/mcp", public},
		{"root only", func(j *Journey) { j.Suffixed = false }, 404, 200, "http://127.0.0.1:1/.well-known/oauth-protected-resource", ""},
		{"no resource_metadata", func(j *Journey) { j.ChallengeRM = false }, 200, 200, "", public},
		{"own URL", func(j *Journey) { j.Resource = ResourceOwn }, 200, 200, m.PRMURL(), m.MCPURL()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			j := DefaultJourney(public)
			tc.edit(&j)
			as, err := m.SetJourney(j)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Disarm()
			st, doc := getJSON(t, m.BaseURL+"/.well-known/oauth-protected-resource/mcp", nil)
			if st != tc.suffixed || (st == 200 && doc["resource"] != tc.resourceWant) {
				t.Errorf("suffixed: %d %v", st, doc)
			}
			if st == 200 {
				if l, _ := doc["authorization_servers"].([]any); len(l) != 1 || l[0] != as.Issuer() {
					t.Errorf("authorization_servers %v, want %s", doc["authorization_servers"], as.Issuer())
				}
			}
			rootWant := originOf(public)
			if tc.resourceWant != "" {
				rootWant = originOf(tc.resourceWant)
			}
			st, doc = getJSON(t, m.BaseURL+"/.well-known/oauth-protected-resource", nil)
			if st != tc.root || (st == 200 && doc["resource"] != rootWant) {
				t.Errorf("root: %d %v", st, doc)
			}
			resp := initialize(t, m, MCPPath, "")
			ch := resp.Header.Get("WWW-Authenticate")
			if resp.StatusCode != 401 || strings.Contains(ch, "error=") || !strings.Contains(ch, `scope="mcp:read"`) {
				t.Errorf("401: %d %q", resp.StatusCode, ch)
			}
			if got := challengeParam(ch, "resource_metadata"); got != tc.challengeRM {
				t.Errorf("resource_metadata %q, want %q", got, tc.challengeRM)
			}
		})
	}
}

func challengeParam(ch, name string) string {
	_, rest, ok := strings.Cut(ch, name+`="`)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, `"`)
	return v
}

// ResourceForwarded builds the URL from the forwarding fields, in order.
func TestForwardedOrigin(t *testing.T) {
	cases := []struct {
		h    http.Header
		want string
	}{
		{http.Header{}, "http://up:1"},
		{http.Header{"X-Forwarded-Host": {"pub:8080"}}, "http://pub:8080"},
		{http.Header{"X-Forwarded-Host": {"pub:8080, other"}, "X-Forwarded-Proto": {"https"}}, "https://pub:8080"},
		{http.Header{"Forwarded": {`for=1.2.3.4;proto=https;host="pub:9", for=x`}, "X-Forwarded-Host": {"ignored"}}, "https://pub:9"},
	}
	for _, tc := range cases {
		if got := ForwardedOrigin(tc.h, "up:1"); got != tc.want {
			t.Errorf("%v: %s, want %s", tc.h, got, tc.want)
		}
	}
}

// The whole journey against the mock directly: registration, authorization
// with PKCE, token, a session, then step-up for the tool that needs it.
func TestJourneyLoginAndStepUp(t *testing.T) {
	for _, coHosted := range []bool{false, true} {
		t.Run(map[bool]string{false: "separate AS", true: "co-hosted AS"}[coHosted], func(t *testing.T) {
			m := startJourney(t)
			j := DefaultJourney("")
			j.CoHosted = coHosted
			as, err := m.SetJourney(j)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Disarm()
			if coHosted != (as.Issuer() == m.BaseURL) {
				t.Fatalf("issuer %s (mock %s)", as.Issuer(), m.BaseURL)
			}
			st, meta := getJSON(t, as.MetadataURL(), nil)
			if st != 200 || meta["authorization_endpoint"] != as.AuthorizeURL() {
				t.Fatalf("AS metadata: %d %v", st, meta)
			}
			tok := login(t, as, m.MCPURL(), ScopeRead)
			if r := initialize(t, m, MCPPath, "Bearer "+tok); r.StatusCode != 200 {
				t.Fatalf("initialize with token: %d", r.StatusCode)
			}
			e := m.Journal.Since(0)
			if last := e[len(e)-1]; last.TokenErr != "" || last.TokenFP == "" {
				t.Errorf("journal: %+v", last)
			}
			sid := sessionOf(t, m, tok)
			if st, ch := call(t, m, tok, sid, StepUpTool); st != 403 || !strings.Contains(ch, `error="insufficient_scope"`) || !strings.Contains(ch, `scope="mcp:read mcp:write"`) {
				t.Errorf("step-up: %d %q", st, ch)
			}
			tok2 := login(t, as, m.MCPURL(), ScopeRead+" "+ScopeWrite)
			if st, _ := call(t, m, tok2, sessionOf(t, m, tok2), StepUpTool); st != 200 {
				t.Errorf("after step-up: %d", st)
			}
			// A token for another audience is refused.
			other := login(t, as, m.BaseURL, ScopeRead)
			if r := initialize(t, m, MCPPath, "Bearer "+other); r.StatusCode != 200 {
				t.Errorf("origin audience (root metadata identifier) refused: %d", r.StatusCode)
			}
		})
	}
}

// login registers a public client and walks /authorize and /token.
func login(t *testing.T, as interface {
	RegisterURL() string
	AuthorizeURL() string
	TokenURL() string
}, resource, scope string) string {
	t.Helper()
	reg := `{"redirect_uris":["http://127.0.0.1/cb"],"token_endpoint_auth_method":"none"}`
	resp, err := http.Post(as.RegisterURL(), "application/json", strings.NewReader(reg))
	if err != nil {
		t.Fatal(err)
	}
	var client struct {
		ID string `json:"client_id"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&client)
	resp.Body.Close()
	verifier := "journey-test-verifier-0123456789012345678901234"
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{"response_type": {"code"}, "client_id": {client.ID}, "redirect_uri": {"http://127.0.0.1/cb"},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
		"resource": {resource}, "scope": {scope}, "state": {"s"}}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err = noFollow.Get(as.AuthorizeURL() + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	code := loc.Query().Get("code")
	if code == "" {
		t.Fatalf("no code: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	form := url.Values{"grant_type": {"authorization_code"}, "client_id": {client.ID}, "code": {code},
		"redirect_uri": {"http://127.0.0.1/cb"}, "code_verifier": {verifier}, "resource": {resource}}
	resp, err = http.PostForm(as.TokenURL(), form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tr struct {
		Access string `json:"access_token"`
	}
	b, _ := io.ReadAll(resp.Body)
	if json.Unmarshal(b, &tr) != nil || tr.Access == "" {
		t.Fatalf("token: %d %s", resp.StatusCode, b)
	}
	return tr.Access
}

// sessionOf opens a session with tok and returns its id.
func sessionOf(t *testing.T, m *Mock, tok string) string {
	t.Helper()
	body := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`
	req, _ := http.NewRequest(http.MethodPost, m.MCPURL(), strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	sid := resp.Header.Get("Mcp-Session-Id")
	if sid == "" {
		t.Fatalf("no session: %d", resp.StatusCode)
	}
	return sid
}

// call sends tools/call name in the session and returns status and challenge.
func call(t *testing.T, m *Mock, tok, sid, name string) (int, string) {
	t.Helper()
	body := `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"` + name + `","arguments":{}}}`
	req, _ := http.NewRequest(http.MethodPost, m.MCPURL(), strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Mcp-Session-Id", sid)
	req.Header.Set("MCP-Protocol-Version", "2025-11-25")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("WWW-Authenticate")
}
