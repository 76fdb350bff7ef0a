package proxyundertest

import (
	"crypto/subtle"
	"net/http"
	"net/http/httputil"
	"strings"
	"sync"
)

// The reference's API-key gate (role K), modelled on the stdio→HTTP bridges
// that gained `--api-key`: clients send the key in a header (X-API-Key by
// default, name matched case-insensitively, value byte-exactly), the MCP
// routes are guarded, OPTIONS and the declared health routes are not, and the
// key is consumed at the proxy (never forwarded upstream).

// GateRealm names the gate in its challenge, so a client can tell the
// proxy's 401 from the upstream's OAuth challenge.
const GateRealm = "mcpconform-proxy"

func init() {
	RegisterFeature(Feature{Name: "apikey", Order: 50, Install: installAPIKeyGate})
	// --cors too: the gate must let the CORS layer's preflight through and
	// its 401 must stay readable, which only a browser-facing run checks.
	ReferenceModes["K"] = []string{"--role", "K", "--named-server", "alpha", "--cors"}
	// Both roles at once (issue 6): the gate consumes the key, the injector
	// adds the token; APIKEY-010 passes only here.
	ReferenceModes["IK"] = []string{"--role", "I,K", "--named-server", "alpha", "--cors"}
}

// apiKeyGate is the gate's behaviour; specimens change one field each.
type apiKeyGate struct {
	key, header string
	exempt      []string
	named       string

	// lookup reads the key the client sent; ok is false when it sent none.
	lookup func(r *http.Request) (value string, ok bool)
	// accept compares the sent value with the key.
	accept func(got string) bool
	// guardOptions makes OPTIONS subject to the key (a bug: CORS-006).
	guardOptions bool
	// guardNamed guards the /servers/NAME/ routes.
	guardNamed bool
	// strip removes the key header before forwarding.
	strip bool
	// reject writes the 401.
	reject func(w http.ResponseWriter, r *http.Request)
	// mw is the gate's index in Reference.Middleware, for specimens that
	// move it.
	mw int
}

var (
	gatesMu sync.Mutex
	// gates lets a specimen's Apply find the gate installed on its reference.
	gates = map[*Reference]*apiKeyGate{}
)

func gateOf(r *Reference) *apiKeyGate {
	gatesMu.Lock()
	defer gatesMu.Unlock()
	g := gates[r]
	if g == nil {
		panic("proxyundertest: no API-key gate installed (the specimen needs --role K)")
	}
	return g
}

func installAPIKeyGate(r *Reference) {
	g := newAPIKeyGate(r.Opt)
	if g == nil {
		return
	}
	gatesMu.Lock()
	gates[r] = g
	gatesMu.Unlock()
	g.mw = len(r.Middleware)
	r.Middleware = append(r.Middleware, g.middleware)
	r.RequestHooks = append(r.RequestHooks, func(pr *httputil.ProxyRequest) {
		if g.strip {
			pr.Out.Header.Del(g.header)
		}
	})
}

// newAPIKeyGate builds the gate the run declared, or nil without role K.
// The reference installs it as middleware (above); the reference bridge
// puts the same gate in front of its handler.
func newAPIKeyGate(opt Options) *apiKeyGate {
	if !opt.HasRole("K") {
		return nil
	}
	g := &apiKeyGate{
		key:          opt.APIKey,
		header:       opt.APIKeyHeader,
		exempt:       opt.Exempt,
		named:        opt.NamedServer,
		guardNamed:   true,
		strip:        true,
		guardOptions: false,
	}
	if g.header == "" {
		g.header = "X-API-Key"
	}
	g.lookup = func(req *http.Request) (string, bool) {
		// http.Header canonicalizes names on both sides: the lookup is
		// case-insensitive, as RFC 9110 §5.1 requires.
		vs := req.Header.Values(g.header)
		if len(vs) == 0 {
			return "", false
		}
		return vs[0], true
	}
	g.accept = func(got string) bool {
		// Constant time, and byte-exact: a prefix, a suffix or another case
		// of the value is a different key.
		return g.key != "" && subtle.ConstantTimeCompare([]byte(got), []byte(g.key)) == 1
	}
	g.reject = g.challenge401
	return g
}

// guarded reports whether a path is an MCP route behind the gate, and the
// upstream path it maps to (named-server routes map onto the one upstream).
func (g *apiKeyGate) route(path string) (guarded bool, upstreamPath string) {
	switch {
	case path == "/mcp" || path == "/sse" || path == "/messages" || strings.HasPrefix(path, "/messages/"):
		return true, path
	case g.named != "" && path == "/servers/"+g.named+"/mcp":
		return g.guardNamed, "/mcp"
	case g.named != "" && path == "/servers/"+g.named+"/sse":
		return g.guardNamed, "/sse"
	}
	return false, path
}

func (g *apiKeyGate) isExempt(path string) bool {
	for _, e := range g.exempt {
		if e != "" && path == e {
			return true
		}
	}
	return false
}

func (g *apiKeyGate) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if g.isExempt(r.URL.Path) && r.Method != http.MethodOptions {
			// A health route answers itself: no upstream call, nothing of
			// the upstream's in the body.
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "no-store")
			_, _ = w.Write([]byte(`{"status":"ok"}` + "\n"))
			return
		}
		guarded, up := g.route(r.URL.Path)
		if up != r.URL.Path {
			r = r.Clone(r.Context())
			r.URL.Path, r.URL.RawPath = up, ""
		}
		// A CORS preflight never carries credentials (Fetch): OPTIONS is
		// never subject to the key.
		if guarded && (r.Method != http.MethodOptions || g.guardOptions) {
			got, ok := g.lookup(r)
			if !ok || !g.accept(got) {
				g.reject(w, r)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// challenge401 is the gate's own 401: a challenge that names the gate and the
// header (RFC 9110 §15.5.2 wants one), never `Bearer resource_metadata`,
// which would send MCP clients into OAuth discovery against the proxy.
func (g *apiKeyGate) challenge401(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("WWW-Authenticate", `ApiKey realm="`+GateRealm+`", header="`+g.header+`"`)
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	gateCORS(h, r)
	w.WriteHeader(http.StatusUnauthorized)
	_, _ = w.Write([]byte(`{"jsonrpc":"2.0","id":null,"error":{"code":-32001,"message":"Unauthorized: missing or invalid API key"}}` + "\n"))
}

// gateCORS lets a browser read the gate's 401 (APIKEY-008): without
// Access-Control-Allow-Origin the page sees an opaque network error, without
// Expose-Headers it cannot read the challenge. The CORS feature, when
// installed outside the gate, may have set them already.
func gateCORS(h http.Header, r *http.Request) {
	origin := r.Header.Get("Origin")
	if origin == "" || h.Get("Access-Control-Allow-Origin") != "" {
		return
	}
	h.Set("Access-Control-Allow-Origin", origin)
	h.Add("Vary", "Origin")
	h.Set("Access-Control-Expose-Headers", "WWW-Authenticate, Mcp-Session-Id")
}
