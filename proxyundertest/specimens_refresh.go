package proxyundertest

import (
	"net/http"
	"net/http/httputil"
	"sync"
	"time"
)

// Specimens for the token-refresh area: the reference in role I (or T) with
// one token-handling bug each.
func init() {
	roleI := []string{"--role", "I"}
	// withInjector applies f to the reference's injector; the run must
	// declare role I (RunArgs), so the inject feature is installed.
	withInjector := func(f func(*injector)) func(*Reference) {
		return func(r *Reference) {
			if in := injectorOf(r); in != nil {
				f(in)
			}
		}
	}
	Register(Specimen{
		Name:        "static-token",
		Description: "fetches an access token when a session starts and injects it into every request of that session, never refreshing",
		Bug:         "(vii) a local auth proxy put a 1-hour JWT into the MCP session's headers at start and never refreshed it; after ~55 minutes every call got 401 (peakflo/20x#268, apache/gravitino#12530)",
		Guards:      []string{"AUTH-TOK-004"},
		// Same bug seen by the scenarios that keep one session across an
		// expiry or a revocation.
		AlsoFails: []string{"AUTH-REF-004", "AUTH-REF-005", "AUTH-REF-009"},
		RunArgs:   roleI,
		Apply:     withInjector(func(in *injector) { in.static = true }),
	})
	Register(Specimen{
		Name:        "refresh-every-request",
		Description: "refreshes the token before every upstream request (x/oauth2's 10 s default early expiry on 1 s tokens)",
		Bug:         "oauth2.ReuseTokenSource's default expiryDelta (10 s) exceeds a short token's lifetime, so every call refreshes",
		Guards:      []string{"AUTH-REF-009"},
		RunArgs:     roleI,
		Apply:       withInjector(func(in *injector) { in.early = time.Hour }),
	})
	Register(Specimen{
		Name:        "ignore-rotation",
		Description: "always refreshes with the refresh token it was configured with, discarding rotated ones",
		Bug:         "clients that store the refresh token once and ignore the refresh_token in refresh responses: the second refresh is a replay and the AS revokes the grant",
		Guards:      []string{"AUTH-REF-002"},
		// The replay revokes the proxy's whole grant at the AS, so every
		// later case would fail too; run only the guard.
		RunArgs: []string{"--role", "I", "--label-filter", "AUTH-REF-002"},
		Apply:   withInjector(func(in *injector) { in.fixedRT = true }),
	})
	Register(Specimen{
		Name:        "no-retry-on-401",
		Description: "passes the upstream's 401 to the client and keeps injecting the rejected token until it expires",
		Bug:         "(vii) proxies that trust expires_in and never react to a revoked token",
		Guards:      []string{"AUTH-REF-004"},
		// With the AS down it also keeps the revoked token after recovery.
		AlsoFails: []string{"AUTH-REF-005"},
		RunArgs:   roleI,
		Apply:     withInjector(func(in *injector) { in.retries = 0 }),
	})
	Register(Specimen{
		Name:        "retry-loop-on-401",
		Description: "on an upstream 401 refreshes and retries up to 8 times",
		Bug:         "retry loops that hammer the AS and the upstream when a token is refused for a reason a refresh cannot fix",
		Guards:      []string{"AUTH-REF-004"},
		RunArgs:     roleI,
		Apply:       withInjector(func(in *injector) { in.retries = 8 }),
	})
	Register(Specimen{
		Name:        "passthrough-client-token",
		Description: "forwards the client's own Authorization to the upstream when the client sends one",
		Bug:         "token passthrough (MCP security best practices §Token Passthrough): the proxy relays whatever credential the client presented",
		Guards:      []string{"AUTH-TOK-003"},
		RunArgs:     roleI,
		Apply:       withInjector(func(in *injector) { in.passthru = true }),
	})
	Register(Specimen{
		Name:        "no-resource-param",
		Description: "refreshes without the RFC 8707 resource parameter",
		Bug:         "x/oauth2's refresh grant takes no extra parameters, so `resource` silently goes missing on refresh",
		Guards:      []string{"AUTH-TOK-001"},
		RunArgs:     roleI,
		Apply:       withInjector(func(in *injector) { in.rt.resource = "" }),
	})
	Register(Specimen{
		Name:        "guess-well-known",
		Description: "on an upstream 401 looks up resource metadata at the root well-known URL only, ignoring the challenge's resource_metadata",
		Bug:         "(iv) header resource_metadata ignored, root URL guessed (2025-06-18 diagram; ai-ecoverse/slicc#3348, nanobot#348)",
		Guards:      []string{"AUTH-PRM-001", "AUTH-PRM-002"},
		RunArgs:     roleI,
		Apply:       withInjector(func(in *injector) { in.guessWK = true }),
	})
	Register(Specimen{
		Name:        "sticky-client-token",
		Description: "T mode: remembers the first Authorization of each MCP session and sends it on every later request of that session",
		Bug:         "(vii) session-sticky credentials: the token is bound at session start, so a client that refreshes keeps getting 401 (metamcp#142)",
		Guards:      []string{"AUTH-TOK-006"},
		AlsoFails:   []string{"AUTH-JRN-010", "AUTH-JRN-011"},
		Apply:       applySticky,
	})
}

// applySticky binds each session's first Authorization: the initialize
// request's token is stored under the session id the upstream answers with.
func applySticky(r *Reference) {
	var mu sync.Mutex
	first := map[string]string{}
	r.ResponseHooks = append(r.ResponseHooks, func(resp *http.Response) error {
		sid := resp.Header.Get("Mcp-Session-Id")
		if sid == "" || resp.Request == nil {
			return nil
		}
		mu.Lock()
		if _, ok := first[sid]; !ok {
			first[sid] = resp.Request.Header.Get("Authorization")
		}
		mu.Unlock()
		return nil
	})
	r.RequestHooks = append(r.RequestHooks, func(pr *httputil.ProxyRequest) {
		sid := pr.In.Header.Get("Mcp-Session-Id")
		mu.Lock()
		a, ok := first[sid]
		mu.Unlock()
		if ok && a != "" {
			pr.Out.Header.Set("Authorization", a)
		}
	})
}
