package proxyundertest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpconform/mcpconform/mockserver"
	"github.com/mcpconform/mcpconform/mockserver/authz"
)

// injectingProxy starts a gated mock and the reference in role I in front of
// it, with apply (a specimen's bug) installed when non-nil.
func injectingProxy(t *testing.T, apply func(*Reference)) (*mockserver.Mock, string) {
	t.Helper()
	m, err := mockserver.Start(mockserver.Options{Addr: "127.0.0.1:0", Authz: true, Gate: true, TokenTTL: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	up, _ := url.Parse(m.BaseURL)
	ref := NewReference(up, Options{Roles: []string{"I"}, TokenURL: m.Authz.TokenURL(), ClientID: mockserver.AuthzClientID,
		ClientSecret: m.AuthzClientSecret(), RefreshToken: m.Authz.InitialRefreshToken(), Resource: m.MCPURL()})
	if apply != nil {
		apply(ref)
	}
	srv := httptest.NewServer(ref.Handler())
	t.Cleanup(srv.Close)
	return m, srv.URL + mockserver.MCPPath
}

func post(t *testing.T, u, auth string) (*http.Response, string) {
	t.Helper()
	body := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

func TestInjectReplacesClientToken(t *testing.T) {
	m, u := injectingProxy(t, nil)
	mark := m.Journal.Mark()
	if resp, body := post(t, u, "Bearer client-token"); resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	e := m.Journal.Since(mark)[0]
	if e.TokenErr != "" || e.TokenFP == authz.Fingerprint("client-token") {
		t.Fatalf("upstream got %s (%s)", e.TokenFP, e.TokenErr)
	}
	for _, g := range m.Authz.Grants() {
		if len(g.Resources) != 1 || g.Resources[0] != m.MCPURL() {
			t.Errorf("grant without resource: %+v", g.Resources)
		}
	}
}

func TestInjectRetriesOnceAfterRevocation(t *testing.T) {
	m, u := injectingProxy(t, nil)
	post(t, u, "")
	m.Authz.RevokeAllAccess()
	mark := m.Journal.Mark()
	if resp, body := post(t, u, ""); resp.StatusCode != 200 {
		t.Fatalf("after revocation: %d %s", resp.StatusCode, body)
	}
	es := m.Journal.Since(mark)
	var mcp []*mockserver.Entry
	for _, e := range es {
		if e.Path == mockserver.MCPPath {
			mcp = append(mcp, e)
		}
	}
	if len(mcp) != 2 || mcp[0].TokenErr != "revoked" || mcp[1].TokenErr != "" {
		t.Fatalf("want the revoked try then one valid retry, got %d requests", len(mcp))
	}
}

func TestInjectASDownAnswers503(t *testing.T) {
	m, u := injectingProxy(t, nil)
	post(t, u, "")
	m.Authz.SetOutage(http.StatusServiceUnavailable)
	m.Authz.RevokeAllAccess()
	resp, body := post(t, u, "")
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "authorization server") {
		t.Fatalf("AS down: %d %s", resp.StatusCode, body)
	}
	m.Authz.SetOutage(0)
	if resp, body := post(t, u, ""); resp.StatusCode != 200 {
		t.Fatalf("after recovery: %d %s", resp.StatusCode, body)
	}
}

func TestInjectSingleFlight(t *testing.T) {
	m, u := injectingProxy(t, nil)
	post(t, u, "")
	m.Authz.Reset()
	m.Authz.RevokeAllAccess() // every concurrent request now needs a new token
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() { defer wg.Done(); post(t, u, "") }()
	}
	wg.Wait()
	if n := len(m.Authz.Grants()); n > 2 {
		t.Fatalf("%d grants for one burst, want at most 2", n)
	}
	for _, g := range m.Authz.Grants() {
		if g.Outcome != authz.OutcomeIssued {
			t.Fatalf("grant outcome %s", g.Outcome)
		}
	}
}

func TestStaticTokenSpecimenExpires(t *testing.T) {
	s, _ := Lookup("static-token")
	m, u := injectingProxy(t, s.Apply)
	resp, _ := post(t, u, "")
	sid := resp.Header.Get("Mcp-Session-Id")
	if sid == "" {
		t.Fatal("no session")
	}
	c := m.Journal.Since(0)
	exp := c[len(c)-1].TokenExp
	time.Sleep(time.Until(exp) + 20*time.Millisecond)
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(`{"jsonrpc":"2.0","id":2,"method":"tools/list"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Mcp-Session-Id", sid)
	req.Header.Set("MCP-Protocol-Version", "2025-11-25")
	r2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if r2.StatusCode != http.StatusUnauthorized {
		t.Fatalf("static token after expiry: %d, want the upstream's 401", r2.StatusCode)
	}
}
