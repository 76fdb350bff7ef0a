package proxyundertest

import (
	"net/http"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strings"
	"sync"

	"github.com/mcpconform/mcpconform/scenarios/wwwauth"
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
		AlsoFails:   []string{"HTTP-E2E-001", "AUTH-HDR-012", "LSSE-004", "AUTH-JRN-001", "AUTH-JRN-011"},
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
		AlsoFails:   []string{"HTTP-E2E-010", "HTTP-E2E-001", "AUTH-HDR-012", "LSSE-004", "HTTP-E2E-003", "HTTP-E2E-004", "AUTH-JRN-001"},
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
		AlsoFails:   []string{"HTTP-E2E-001", "HTTP-HOP-005", "AUTH-HDR-012", "LSSE-004", "HTTP-E2E-003", "HTTP-E2E-004", "AUTH-JRN-010"},
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
		AlsoFails: []string{"AUTH-HDR-001", "HTTP-E2E-001", "HTTP-E2E-007", "HTTP-E2E-008", "HTTP-E2E-010", "HTTP-HOP-001", "HTTP-HOP-005",
			"SESS-001", "SESS-002", "SESS-003", "SESS-004", "SHTTP-001", "SHTTP-002", "SHTTP-003", "SHTTP-005", "VER-001", "VER-002",
			"HTTP-E2E-006", "HTTP-HOP-003", "RES-001", "RES-002", "RES-003", "RES-004",
			"SSE-PARSE-001", "SSE-PARSE-003", "SSE-PARSE-004", "SSE-PARSE-005", "SSE-STREAM-001", "SSE-STREAM-002", "SSE-STREAM-003", "AUTH-HDR-012", "LSSE-001", "LSSE-002", "LSSE-003", "LSSE-004", "HTTP-E2E-002", "HTTP-E2E-003", "HTTP-E2E-004", "HTTP-HOP-002", "SHTTP-004", "AUTH-JRN-001", "AUTH-JRN-003", "AUTH-JRN-005", "AUTH-JRN-006", "AUTH-JRN-007", "AUTH-JRN-008", "AUTH-JRN-009", "AUTH-JRN-011"},
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
		// Once the first session is deleted, every later session is sent
		// the dead id and gets 404; HTTP-HOP-005's probe id is replaced.
		AlsoFails: []string{"HTTP-HOP-005", "SESS-002", "SESS-003", "SESS-004", "SHTTP-001", "SHTTP-002", "SHTTP-003", "SHTTP-005", "SSE-STREAM-001", "VER-001", "VER-002", "AUTH-JRN-011"},
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
		Guards:      []string{"VER-001", "VER-002"},
		AlsoFails:   []string{"HTTP-HOP-005"},
		Apply: func(r *Reference) {
			r.RequestHooks = append(r.RequestHooks, func(pr *httputil.ProxyRequest) {
				pr.Out.Header.Del("MCP-Protocol-Version")
			})
		},
	})
	registerChallengeSpecimens()
}

// rewriteChallenges installs a response hook that replaces the
// WWW-Authenticate lines of every response by fn(lines).
func rewriteChallenges(r *Reference, fn func(lines []string) []string) {
	r.ResponseHooks = append(r.ResponseHooks, func(resp *http.Response) error {
		lines := resp.Header.Values("WWW-Authenticate")
		if len(lines) == 0 {
			return nil
		}
		out := fn(lines)
		resp.Header.Del("WWW-Authenticate")
		for _, l := range out {
			resp.Header.Add("WWW-Authenticate", l)
		}
		return nil
	})
}

// Specimens of challenge handling bugs: each rewrites WWW-Authenticate in one
// wrong way a real proxy or bridge did.
func registerChallengeSpecimens() {
	Register(Specimen{
		Name:        "status-rewrite",
		Description: "turns an upstream 401 into 200 with a JSON-RPC error body and no challenge",
		Bug:         "(i) bridges that re-encode every upstream answer as a JSON-RPC message: the client never sees the 401 (inspector#168)",
		Guards:      []string{"AUTH-HDR-001", "HTTP-E2E-010"},
		AlsoFails:   []string{"HTTP-E2E-001", "AUTH-HDR-012", "LSSE-004", "HTTP-E2E-003", "HTTP-E2E-004", "AUTH-JRN-001", "AUTH-JRN-011"},
		Apply: func(r *Reference) {
			r.ResponseHooks = append(r.ResponseHooks, func(resp *http.Response) error {
				if resp.StatusCode == http.StatusUnauthorized {
					setStatus(resp, http.StatusOK)
					resp.Header.Del("WWW-Authenticate")
					resp.Header.Set("Content-Type", "application/json")
					replaceBody(resp, `{"jsonrpc":"2.0","id":null,"error":{"code":-32001,"message":"Unauthorized"}}`)
				}
				return nil
			})
		},
	})
	Register(Specimen{
		Name:        "first-challenge-only",
		Description: "keeps only the first challenge of WWW-Authenticate",
		Bug:         "clients and proxies that read only the first challenge (TS SDK extractWWWAuthenticateParams); Basic-first loses Bearer",
		Guards:      []string{"AUTH-HDR-001", "HTTP-E2E-001"},
		Apply: func(r *Reference) {
			rewriteChallenges(r, func(lines []string) []string {
				chs, _ := wwwauth.Parse(lines...)
				if len(chs) == 0 {
					return lines
				}
				return []string{wwwauth.Format(chs[:1])}
			})
		},
	})
	Register(Specimen{
		Name:        "split-on-comma",
		Description: "parses WWW-Authenticate by splitting on every comma and keeps only the pieces that look like name=value",
		Bug:         "naive header parsers that split on ',' without honouring quoted-strings (quoted commas in error_description break)",
		Guards:      []string{"AUTH-HDR-001"},
		Apply: func(r *Reference) {
			rewriteChallenges(r, func(lines []string) []string {
				out := make([]string, 0, len(lines))
				for _, l := range lines {
					pieces := strings.Split(l, ",")
					kept := []string{strings.TrimSpace(pieces[0])}
					for _, p := range pieces[1:] {
						// The bug: a piece without '=' is taken for
						// junk, though it is the rest of a quoted value.
						if p = strings.TrimSpace(p); strings.Contains(p, "=") {
							kept = append(kept, p)
						}
					}
					out = append(out, strings.Join(kept, ", "))
				}
				return out
			})
		},
	})
	Register(Specimen{
		Name:        "rebuild-allowlist",
		Description: "re-emits the Bearer challenge with only the parameters it knows (realm, scope, error, error_description, resource_metadata)",
		Bug:         "(ii) proxies that rebuild the challenge from an allow-list drop unknown and extension params (RFC 9449 §7.1, RFC 9470); punkpeye/mcp-proxy#44",
		Guards:      []string{"AUTH-HDR-001"},
		Apply: func(r *Reference) {
			known := map[string]bool{"realm": true, "scope": true, "error": true, "error_description": true, "resource_metadata": true}
			rewriteChallenges(r, func(lines []string) []string {
				chs, _ := wwwauth.Parse(lines...)
				for i := range chs {
					var ps []wwwauth.Param
					for _, p := range chs[i].Params {
						if known[strings.ToLower(p.Name)] {
							ps = append(ps, p)
						}
					}
					chs[i].Params = ps
				}
				return []string{wwwauth.Format(chs)}
			})
		},
	})
	Register(Specimen{
		Name:        "lowercase-params",
		Description: "lower-cases the parameter names of WWW-Authenticate (scheme and values untouched)",
		Bug:         "proxies that normalise header content: names are matched case-insensitively, but RFC 9110 §11.6.1 forbids changing them",
		Guards:      []string{"AUTH-HDR-001"},
		Apply: func(r *Reference) {
			rewriteChallenges(r, func(lines []string) []string {
				out := make([]string, len(lines))
				for i, l := range lines {
					out[i] = l
					chs, _ := wwwauth.Parse(l)
					changed := false
					for j := range chs {
						for k, p := range chs[j].Params {
							if lc := strings.ToLower(p.Name); lc != p.Name {
								chs[j].Params[k].Name, changed = lc, true
							}
						}
					}
					if changed {
						out[i] = wwwauth.Format(chs)
					}
				}
				return out
			})
		},
	})
	Register(Specimen{
		Name:        "sse-open-swallows-401",
		Description: "answers a GET stream whose upstream said 401 with 200 text/event-stream and an empty, closed body",
		Bug:         "(vii) bridges that open the client's SSE stream before the upstream answered (or reconnect behind it): the client sees a stream that ends at once and never learns it must re-authenticate",
		Guards:      []string{"AUTH-HDR-012"},
		AlsoFails:   []string{"AUTH-HDR-001", "HTTP-E2E-010", "LSSE-004"},
		Apply: func(r *Reference) {
			r.ResponseHooks = append(r.ResponseHooks, func(resp *http.Response) error {
				if resp.Request != nil && resp.Request.Method == http.MethodGet && resp.StatusCode == http.StatusUnauthorized {
					setStatus(resp, http.StatusOK)
					resp.Header.Del("WWW-Authenticate")
					resp.Header.Set("Content-Type", "text/event-stream")
					replaceBody(resp, "")
				}
				return nil
			})
		},
	})
	Register(Specimen{
		Name:        "rewrite-authorization",
		Description: "re-emits the client's Authorization as \"Bearer <token>\" (scheme case and spacing normalised)",
		Bug:         "proxies that parse credentials and rebuild the field; RFC 9110 §11.6.2 forbids modifying Authorization",
		Guards:      []string{"HTTP-E2E-009"},
		Apply: func(r *Reference) {
			r.RequestHooks = append(r.RequestHooks, func(pr *httputil.ProxyRequest) {
				f := strings.Fields(pr.Out.Header.Get("Authorization"))
				if len(f) == 2 && strings.EqualFold(f[0], "bearer") {
					pr.Out.Header.Set("Authorization", "Bearer "+f[1])
				}
			})
		},
	})
	Register(Specimen{
		Name:        "unescape-authorization",
		Description: "decodes the client's Authorization as if it were a query value: '+' becomes a space, %XX a byte",
		Bug:         "proxies that move credentials through URL or form decoding (token68 allows '+', '/' and '='); RFC 9110 §11.6.2 forbids modifying Authorization",
		Guards:      []string{"HTTP-E2E-009"},
		Apply: func(r *Reference) {
			r.RequestHooks = append(r.RequestHooks, func(pr *httputil.ProxyRequest) {
				if v := pr.Out.Header.Get("Authorization"); v != "" {
					if d, err := url.QueryUnescape(v); err == nil {
						pr.Out.Header.Set("Authorization", d)
					}
				}
			})
		},
	})
}
