package proxyundertest

import (
	"net/http"
	"net/http/httputil"
	"regexp"
	"strings"
	"sync"
)

// Specimens for header bridging and the first transport checks. Each is the
// reference plus one bug seen in a real proxy.
func init() {
	Register(Specimen{
		Name:        "reference",
		Description: "httputil.ReverseProxy forwarding paths verbatim; passes every scenario",
	})
	Register(Specimen{
		Name:        "drop-challenge",
		Description: "turns an upstream 401 into a 500 without WWW-Authenticate",
		Bug:         "(i) MCP Inspector v1 proxy: errors other than its own 401 became res.status(500) (inspector#168)",
		Guards:      []string{"AUTH-HDR-001", "HTTP-E2E-010"},
		Apply: func(r *Reference) {
			r.ResponseHooks = append(r.ResponseHooks, func(resp *http.Response) error {
				if resp.StatusCode == http.StatusUnauthorized {
					setStatus(resp, http.StatusInternalServerError)
					resp.Header.Del("WWW-Authenticate")
					resp.Header.Set("Content-Type", "application/json")
					replaceBody(resp, `{"error":"Internal Server Error"}`)
				}
				return nil
			})
		},
	})
	Register(Specimen{
		Name:        "bare-401",
		Description: "keeps the 401 but drops WWW-Authenticate and replaces the body",
		Bug:         "(i) MCP Inspector v1 proxy relayed upstream 401s as res.status(401).json(error), no challenge",
		Guards:      []string{"HTTP-E2E-008", "AUTH-HDR-001"},
		AlsoFails:   []string{"HTTP-E2E-010"},
		Apply: func(r *Reference) {
			r.ResponseHooks = append(r.ResponseHooks, func(resp *http.Response) error {
				if resp.StatusCode == http.StatusUnauthorized {
					resp.Header.Del("WWW-Authenticate")
					resp.Header.Set("Content-Type", "application/json")
					replaceBody(resp, `{"error":"Unauthorized"}`)
				}
				return nil
			})
		},
	})
	Register(Specimen{
		Name:        "strip-auth-params",
		Description: "re-emits WWW-Authenticate with only resource_metadata",
		Bug:         "(ii) mcp-proxy 5.10.0 (npm) forwarded only resource_metadata, stripping realm, scope, error, error_description (punkpeye/mcp-proxy#44)",
		Guards:      []string{"AUTH-HDR-001"},
		Apply: func(r *Reference) {
			// The regex is the bug: it looks for one parameter and rebuilds
			// the header from it, as the buggy proxy did.
			rm := regexp.MustCompile(`resource_metadata="?([^",\s]+)"?`)
			r.ResponseHooks = append(r.ResponseHooks, func(resp *http.Response) error {
				lines := resp.Header.Values("WWW-Authenticate")
				if len(lines) == 0 {
					return nil
				}
				resp.Header.Del("WWW-Authenticate")
				if m := rm.FindStringSubmatch(strings.Join(lines, ", ")); m != nil {
					resp.Header.Set("WWW-Authenticate", `Bearer resource_metadata="`+m[1]+`"`)
				}
				return nil
			})
		},
	})
	Register(Specimen{
		Name:        "trailing-slash",
		Description: "appends / to the upstream path",
		Bug:         "(v) a JWT-injecting auth proxy joined paths and sent /mcp/ (404); open-webui/mcpo#209",
		Guards:      []string{"HTTP-E2E-005"},
		// Every request then misses the upstream's /mcp route and gets 404.
		AlsoFails: []string{"AUTH-HDR-001", "HTTP-E2E-008", "HTTP-E2E-010", "SESS-001", "VER-001"},
		Apply: func(r *Reference) {
			r.RequestHooks = append(r.RequestHooks, func(pr *httputil.ProxyRequest) {
				if !strings.HasSuffix(pr.Out.URL.Path, "/") {
					pr.Out.URL.Path += "/"
					pr.Out.URL.RawPath = ""
				}
			})
		},
	})
	Register(Specimen{
		Name:        "sticky-session-header",
		Description: "remembers the first Mcp-Session-Id it saw and sends it upstream for every session",
		Bug:         "session ids cached per proxy instead of per client (session mixing across clients)",
		Guards:      []string{"SESS-001"},
		Apply: func(r *Reference) {
			var mu sync.Mutex
			var first string
			r.ResponseHooks = append(r.ResponseHooks, func(resp *http.Response) error {
				mu.Lock()
				defer mu.Unlock()
				if id := resp.Header.Get("Mcp-Session-Id"); id != "" && first == "" {
					first = id
				}
				return nil
			})
			r.RequestHooks = append(r.RequestHooks, func(pr *httputil.ProxyRequest) {
				mu.Lock()
				defer mu.Unlock()
				if first != "" && pr.Out.Header.Get("Mcp-Session-Id") != "" {
					pr.Out.Header.Set("Mcp-Session-Id", first)
				}
			})
		},
	})
	Register(Specimen{
		Name:        "drop-protocol-version",
		Description: "forwards only an allow-list of request headers that lacks MCP-Protocol-Version",
		Bug:         "allow-list proxies that forward only mcp-session-id and authorization (spec §VER-001)",
		Guards:      []string{"VER-001"},
		Apply: func(r *Reference) {
			r.RequestHooks = append(r.RequestHooks, func(pr *httputil.ProxyRequest) {
				pr.Out.Header.Del("MCP-Protocol-Version")
			})
		},
	})
}
