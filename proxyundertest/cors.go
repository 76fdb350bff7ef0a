package proxyundertest

import (
	"net/http"
	"strings"
)

// CORS for a browser-facing proxy (WHATWG Fetch, the CORS protocol). The reference answers
// preflights itself, before any auth gate (a preflight never carries
// credentials), and puts the CORS fields on every actual response, error
// statuses included, exposing the fields an MCP browser client must read.

// corsExpose are the response fields a browser MCP client reads.
var corsExpose = []string{"WWW-Authenticate", "Mcp-Session-Id", "MCP-Protocol-Version", "DPoP-Nonce", "Retry-After", "Allow"}

// corsAllowHeaders are the request fields MCP browser clients send; the
// preflight lists them explicitly ("*" never covers Authorization).
var corsAllowHeaders = []string{"Authorization", "Content-Type", "Accept", "Mcp-Session-Id", "MCP-Protocol-Version", "Last-Event-ID",
	"Mcp-Method", "Mcp-Name", "X-API-Key", "DPoP"}

const corsAllowMethods = "GET, POST, DELETE, OPTIONS"

func init() {
	RegisterFeature(Feature{Name: "cors", Order: 90, Install: func(r *Reference) {
		if r.Opt.CORS {
			r.Middleware = append(r.Middleware, corsMiddleware(corsPolicy{}))
		}
	}})
}

// corsPolicy lets specimens install the same middleware with one fault.
type corsPolicy struct {
	// ExposeOnSuccessOnly: expose fields only on 2xx (kernel-mcp-server#128).
	ExposeOnSuccessOnly bool
	// NoExpose: never send Access-Control-Expose-Headers.
	NoExpose bool
	// WildcardCredentials: ACAO "*" with ACAC "true" (punkpeye default).
	WildcardCredentials bool
	// AllowHeadersWildcard: ACAH "*", which never covers Authorization.
	AllowHeadersWildcard bool
	// Methods overrides the allowed methods (punkpeye: GET, POST, OPTIONS).
	Methods string
	// PreflightNeedsAuth answers a preflight without Authorization with 401.
	PreflightNeedsAuth bool
	// UnauthorizedBare sends no CORS fields on a 401 (an auth layer that
	// answers before, or around, the CORS layer).
	UnauthorizedBare bool
	// Expose, when set, replaces the exposed fields (mcp-proxy and the MCP
	// Inspector's proxy expose only Mcp-Session-Id).
	Expose []string
}

func corsMiddleware(p corsPolicy) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			origin := req.Header.Get("Origin")
			if origin == "" {
				next.ServeHTTP(w, req)
				return
			}
			if req.Method == http.MethodOptions && req.Header.Get("Access-Control-Request-Method") != "" {
				if p.PreflightNeedsAuth && req.Header.Get("Authorization") == "" {
					w.Header().Set("WWW-Authenticate", `Bearer realm="proxy"`)
					http.Error(w, "unauthorized", http.StatusUnauthorized)
					return
				}
				h := w.Header()
				p.origin(h, origin)
				methods := corsAllowMethods
				if p.Methods != "" {
					methods = p.Methods
				}
				h.Set("Access-Control-Allow-Methods", methods)
				if p.AllowHeadersWildcard {
					h.Set("Access-Control-Allow-Headers", "*")
				} else {
					h.Set("Access-Control-Allow-Headers", strings.Join(corsAllowHeaders, ", "))
				}
				h.Set("Access-Control-Max-Age", "600")
				w.WriteHeader(http.StatusNoContent)
				return
			}
			next.ServeHTTP(&corsWriter{ResponseWriter: w, p: p, origin: origin}, req)
		})
	}
}

func (p corsPolicy) origin(h http.Header, origin string) {
	h.Add("Vary", "Origin")
	if p.WildcardCredentials {
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Access-Control-Allow-Credentials", "true")
		return
	}
	h.Set("Access-Control-Allow-Origin", origin)
}

// corsWriter sets the CORS fields when the status is known, replacing any
// the upstream sent, so error responses carry them too.
type corsWriter struct {
	http.ResponseWriter
	p      corsPolicy
	origin string
	wrote  bool
}

func (c *corsWriter) WriteHeader(code int) {
	if !c.wrote {
		c.wrote = true
		h := c.Header()
		for k := range h {
			if strings.HasPrefix(strings.ToLower(k), "access-control-") {
				delete(h, k)
			}
		}
		if c.p.UnauthorizedBare && code == http.StatusUnauthorized {
			c.ResponseWriter.WriteHeader(code)
			return
		}
		c.p.origin(h, c.origin)
		if !c.p.NoExpose && (!c.p.ExposeOnSuccessOnly || code/100 == 2) {
			expose := corsExpose
			if c.p.Expose != nil {
				expose = c.p.Expose
			}
			h.Set("Access-Control-Expose-Headers", strings.Join(expose, ", "))
		}
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *corsWriter) Write(b []byte) (int, error) {
	if !c.wrote {
		c.WriteHeader(http.StatusOK)
	}
	return c.ResponseWriter.Write(b)
}

// Flush keeps SSE streaming through the wrapper.
func (c *corsWriter) Flush() {
	if !c.wrote {
		c.WriteHeader(http.StatusOK)
	}
	http.NewResponseController(c.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (c *corsWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }
