package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/mcpconform/mcpconform/mockserver"
	"github.com/mcpconform/mcpconform/proxyundertest"
	"github.com/mcpconform/mcpconform/scenarios"
)

// mockOptions starts the mock AS for every run (it is cheap) and turns the
// upstream's token gate on when the proxy injects tokens (role I).
func (o *runOptions) mockOptions(roles []scenarios.Role) mockserver.Options {
	gate := false
	for _, r := range roles {
		gate = gate || r == scenarios.RoleI
	}
	return mockserver.Options{Addr: o.upstream, Authz: true, Gate: gate, TokenTTL: o.tokenTTL, AllowNonLoopback: o.listenAny, Revision: o.specVersion}
}

// authzCredentials fills what an injecting proxy needs from the mock AS,
// prints it, and writes it as credentials.env into out when set. The
// same values feed the {token_url} {client_id} {client_secret}
// {refresh_token} {resource} launch placeholders.
func authzCredentials(w io.Writer, m *mockserver.Mock, popt *proxyundertest.Options, out string) error {
	if m.Authz == nil {
		return nil
	}
	popt.TokenURL = m.Authz.TokenURL()
	popt.ClientID = mockserver.AuthzClientID
	popt.ClientSecret = m.AuthzClientSecret()
	popt.RefreshToken = m.Authz.InitialRefreshToken()
	popt.Resource = m.MCPURL()
	env := fmt.Sprintf("MCPCONFORM_TOKEN_URL=%s\nMCPCONFORM_CLIENT_ID=%s\nMCPCONFORM_CLIENT_SECRET=%s\nMCPCONFORM_REFRESH_TOKEN=%s\nMCPCONFORM_RESOURCE=%s\n",
		popt.TokenURL, popt.ClientID, popt.ClientSecret, popt.RefreshToken, popt.Resource)
	fmt.Fprintf(w, "authorization   %s  (token URL %s, client %s, resource %s)\n", m.AuthzURL, popt.TokenURL, popt.ClientID, popt.Resource)
	if out == "" {
		fmt.Fprintf(w, "proxy credentials (role I):\n%s", env)
		return nil
	}
	path := filepath.Join(out, "credentials.env")
	if err := os.WriteFile(path, []byte(env), 0o600); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	fmt.Fprintf(w, "proxy credentials (role I) written to %s\n", path)
	return nil
}
