package mockserver

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mcpconform/mcpconform/mockserver/authz"
)

func startGated(t *testing.T, ttl time.Duration) *Mock {
	t.Helper()
	m, err := Start(Options{Addr: "127.0.0.1:0", Authz: true, Gate: true, TokenTTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return m
}

// grant fetches an access token from the mock AS with a new grant family.
func grant(t *testing.T, m *Mock) string {
	t.Helper()
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {m.Authz.MintRefreshToken()}, "resource": {m.MCPURL()}}
	req, _ := http.NewRequest(http.MethodPost, m.Authz.TokenURL(), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(AuthzClientID, m.AuthzClientSecret())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	_, rest, ok := strings.Cut(string(b), `"access_token":"`)
	tok, _, _ := strings.Cut(rest, `"`)
	if !ok || tok == "" {
		t.Fatalf("no access token: %d %s", resp.StatusCode, b)
	}
	return tok
}

func initialize(t *testing.T, m *Mock, path, auth string) *http.Response {
	t.Helper()
	body := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`
	req, _ := http.NewRequest(http.MethodPost, m.BaseURL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func TestGateRejectsAndJournals(t *testing.T) {
	m := startGated(t, 300*time.Millisecond)
	valid := grant(t, m)
	revoked := grant(t, m)
	m.Authz.Revoke(revoked)
	cases := []struct {
		name, auth string
		status     int
		reason     string
	}{
		{"missing", "", 401, "missing"},
		{"garbage", "Bearer not-a-jwt", 401, "malformed token"},
		{"revoked", "Bearer " + revoked, 401, "revoked"},
		{"valid", "Bearer " + valid, 200, ""},
		{"control", "Bearer " + m.ControlToken(), 200, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mark := m.Journal.Mark()
			resp := initialize(t, m, MCPPath, c.auth)
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, c.status)
			}
			if c.status == 401 {
				ch := resp.Header.Get("WWW-Authenticate")
				if !strings.Contains(ch, `error="invalid_token"`) || !strings.Contains(ch, `resource_metadata="`+m.PRMURL()+`"`) {
					t.Errorf("challenge %q", ch)
				}
			}
			e := m.Journal.Since(mark)[0]
			if e.TokenErr != c.reason {
				t.Errorf("journal TokenErr %q, want %q", e.TokenErr, c.reason)
			}
			if c.name == "valid" && e.TokenFP != authz.Fingerprint(valid) {
				t.Errorf("journal TokenFP %q", e.TokenFP)
			}
		})
	}
	// Sub-second expiry is enforced: wait (bounded) for the valid token's
	// exact expiry.
	c, _ := m.Authz.Verify(valid)
	time.Sleep(time.Until(c.ExpiresAt) + 20*time.Millisecond)
	if resp := initialize(t, m, MCPPath, "Bearer "+valid); resp.StatusCode != 401 {
		t.Fatalf("expired token: status %d, want 401", resp.StatusCode)
	}
	// The gate guards the legacy routes too.
	for _, p := range []string{SSEPath, MessagesPath} {
		if resp := initialize(t, m, p, ""); resp.StatusCode != 401 {
			t.Errorf("%s without a token: %d, want 401", p, resp.StatusCode)
		}
	}
	// Off: nothing is enforced, the token is still journaled.
	m.SetGate(false)
	mark := m.Journal.Mark()
	if resp := initialize(t, m, MCPPath, "Bearer x"); resp.StatusCode != 200 {
		t.Fatalf("gate off: status %d", resp.StatusCode)
	}
	if e := m.Journal.Since(mark)[0]; e.TokenFP != authz.Fingerprint("x") {
		t.Errorf("gate off: TokenFP %q", e.TokenFP)
	}
	m.Disarm()
	if !m.GateOn() {
		t.Error("Disarm did not restore the gate default")
	}
}

func TestPRMSwitches(t *testing.T) {
	m := startGated(t, time.Second)
	get := func(p string) int {
		resp, err := http.Get(m.BaseURL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	suffixed := strings.TrimPrefix(m.PRMURL(), m.BaseURL)
	if get(suffixed) != 200 || get(PRMRootPath) != 200 {
		t.Fatal("default: both well-known URLs serve the metadata")
	}
	m.SetPRM(PRMConfig{Root: true, Custom: "/x/prm"})
	if get(suffixed) != 404 || get(PRMRootPath) != 200 || get("/x/prm") != 200 {
		t.Fatal("switches not applied")
	}
	m.SetPRM(PRMConfig{NoChallenge: true})
	if resp := initialize(t, m, MCPPath, ""); resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") != "" {
		t.Fatalf("NoChallenge: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
}
