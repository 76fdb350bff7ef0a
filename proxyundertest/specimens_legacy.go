package proxyundertest

import "net/http"

// Specimens for the legacy HTTP+SSE transport (2024-11-05).
func init() {
	Register(Specimen{
		Name:        "legacy-endpoint-not-rewritten",
		Description: "forwards an absolute upstream URL in the legacy `endpoint` event unchanged",
		Bug:         "proxies that pass the upstream's absolute endpoint URI through: SDK clients refuse it (\"Endpoint origin does not match connection origin\") or POST straight to the upstream, around the proxy and its auth",
		Guards:      []string{"LSSE-002"},
		// For a transparent proxy the leak is a SHOULD (the cure is the
		// deployment's); --strict makes the warning gate the run.
		RunArgs: []string{"--strict"},
		Apply: func(r *Reference) {
			r.ResponseHooks = append(r.ResponseHooks, func(resp *http.Response) error {
				unwrapLegacyRewrite(resp)
				return nil
			})
		},
	})
}
