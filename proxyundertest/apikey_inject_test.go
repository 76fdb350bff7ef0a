package proxyundertest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mcpconform/mcpconform/mockserver"
)

const ikKey = "ik-test-key-0123456789"

// ikProxy is the reference in roles I and K in front of a gated mock, with
// a specimen's Apply installed when non-nil.
func ikProxy(t *testing.T, apply func(*Reference)) (*mockserver.Mock, string) {
	t.Helper()
	m, err := mockserver.Start(mockserver.Options{Addr: "127.0.0.1:0", Authz: true, Gate: true, TokenTTL: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	up, _ := url.Parse(m.BaseURL)
	ref := NewReference(up, Options{Roles: []string{"I", "K"}, APIKey: ikKey, TokenURL: m.Authz.TokenURL(), ClientID: mockserver.AuthzClientID,
		ClientSecret: m.AuthzClientSecret(), RefreshToken: m.Authz.InitialRefreshToken(), Resource: m.MCPURL()})
	if apply != nil {
		apply(ref)
	}
	srv := httptest.NewServer(ref.Handler())
	t.Cleanup(srv.Close)
	return m, srv.URL + mockserver.MCPPath
}

func postKey(t *testing.T, u, key string) int {
	t.Helper()
	body := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if key != "" {
		req.Header.Set("X-API-Key", key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// With both roles the key is consumed and the proxy's own token added; a
// request without the key stops at the gate before the injector.
func TestReferenceIKConsumesKeyAndInjects(t *testing.T) {
	m, u := ikProxy(t, nil)
	mark := m.Journal.Mark()
	if st := postKey(t, u, ikKey); st != http.StatusOK {
		t.Fatalf("with the key: status %d", st)
	}
	es := m.Journal.Since(mark)
	if len(es) != 1 {
		t.Fatalf("%d upstream requests, want 1", len(es))
	}
	if e := es[0]; e.TokenErr != "" || e.TokenFP == "" || e.Header.Get("X-API-Key") != "" {
		t.Errorf("upstream got token %q (%s), X-API-Key %q", e.TokenFP, e.TokenErr, e.Header.Get("X-API-Key"))
	}
	grants, mark := len(m.Authz.Grants()), m.Journal.Mark()
	for range 3 {
		if st := postKey(t, u, ""); st != http.StatusUnauthorized {
			t.Errorf("without the key: status %d, want 401", st)
		}
	}
	if n := len(m.Authz.Grants()) - grants; n != 0 {
		t.Errorf("requests without the key caused %d token requests", n)
	}
	if n := len(m.Journal.Since(mark)); n != 0 {
		t.Errorf("requests without the key caused %d upstream requests", n)
	}
}

// The inject-before-gate specimen spends a token request per keyless
// request (the refresh after the gate's 401), which APIKEY-010 counts.
func TestInjectBeforeGateSpendsTokens(t *testing.T) {
	s, ok := Lookup("apikey-inject-before-gate")
	if !ok {
		t.Fatal("specimen not registered")
	}
	m, u := ikProxy(t, s.Apply)
	if st := postKey(t, u, ikKey); st != http.StatusOK {
		t.Fatalf("with the key: status %d", st)
	}
	grants := len(m.Authz.Grants())
	for range 3 {
		if st := postKey(t, u, ""); st != http.StatusUnauthorized {
			t.Errorf("without the key: status %d, want 401", st)
		}
	}
	if n := len(m.Authz.Grants()) - grants; n < 3 {
		t.Errorf("requests without the key caused %d token requests, want ≥ 3", n)
	}
}
