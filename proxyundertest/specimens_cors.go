package proxyundertest

// CORS specimens: the reference's CORS layer with one policy fault each,
// replacing the correct layer. They run with --cors.
func init() {
	cors := func(p corsPolicy) func(*Reference) {
		return func(r *Reference) {
			if !r.Opt.CORS || len(r.Middleware) == 0 {
				return // not browser-facing (no --cors): nothing to break
			}
			// The last middleware is the reference's CORS layer (Order 90,
			// outermost); swap it for the faulty one.
			r.Middleware[len(r.Middleware)-1] = corsMiddleware(p)
		}
	}
	ReferenceModes["cors"] = []string{"--cors"}
	Register(Specimen{
		Name:        "no-expose-headers",
		Description: "CORS without Access-Control-Expose-Headers: scripts cannot read WWW-Authenticate or Mcp-Session-Id",
		Bug:         "(iii) proxies whose CORS layer exposes nothing beyond the safelisted fields (twentyhq/twenty#19836, better-auth#10290)",
		Guards:      []string{"CORS-001", "CORS-002"},
		RunArgs:     []string{"--cors"},
		Apply:       cors(corsPolicy{NoExpose: true}),
	})
	Register(Specimen{
		Name:        "expose-on-success-only",
		Description: "sends Access-Control-Expose-Headers only on 2xx responses, not on 401/403/404/405",
		Bug:         "(iii) CORS fields set on the success path only (kernel-mcp-server#128): the browser client cannot read the 401 challenge",
		Guards:      []string{"CORS-001", "CORS-002"},
		RunArgs:     []string{"--cors"},
		Apply:       cors(corsPolicy{ExposeOnSuccessOnly: true}),
	})
	Register(Specimen{
		Name:        "wildcard-credentials",
		Description: "Access-Control-Allow-Origin: * together with Access-Control-Allow-Credentials: true",
		Bug:         "punkpeye/mcp-proxy default CORS options (origin *, credentials true): browsers reject every credentialed response",
		Guards:      []string{"CORS-003"},
		RunArgs:     []string{"--cors"},
		Apply:       cors(corsPolicy{WildcardCredentials: true}),
	})
	Register(Specimen{
		Name:        "allow-headers-wildcard",
		Description: "answers preflights with Access-Control-Allow-Headers: *, which never covers Authorization",
		Bug:         "Fetch: Authorization is a non-wildcard request-header name and must be listed explicitly",
		Guards:      []string{"CORS-004"},
		RunArgs:     []string{"--cors"},
		Apply:       cors(corsPolicy{AllowHeadersWildcard: true}),
	})
	Register(Specimen{
		Name:        "no-delete-method",
		Description: "allows only GET, POST, OPTIONS in preflights",
		Bug:         "punkpeye/mcp-proxy default methods: browser clients cannot DELETE their session",
		Guards:      []string{"CORS-005"},
		RunArgs:     []string{"--cors"},
		Apply:       cors(corsPolicy{Methods: "GET, POST, OPTIONS"}),
	})
	Register(Specimen{
		Name:        "401-without-cors",
		Description: "answers preflights, but its 401s (the API-key gate's and the upstream's) carry no CORS fields",
		Bug:         "the bug this project started from: an auth layer outside the CORS layer; the browser client gets a network error instead of the 401 and never starts OAuth (kernel-mcp-server#128)",
		Guards:      []string{"APIKEY-008", "CORS-001"},
		AlsoFails:   []string{"CORS-002"},
		RunArgs:     []string{"--role", "K", "--cors"},
		Apply:       cors(corsPolicy{UnauthorizedBare: true}),
	})
	Register(Specimen{
		Name:        "preflight-needs-auth",
		Description: "answers a preflight without Authorization with 401",
		Bug:         "auth gates placed before the CORS layer; a preflight never carries credentials (Fetch)",
		Guards:      []string{"CORS-006"},
		AlsoFails:   []string{"CORS-004", "CORS-005"},
		RunArgs:     []string{"--cors"},
		Apply:       cors(corsPolicy{PreflightNeedsAuth: true}),
	})
}
