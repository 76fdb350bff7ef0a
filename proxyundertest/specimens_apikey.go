package proxyundertest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/subtle"
	"net"
	"net/http"
	"net/textproto"
	"strings"
	"sync"
)

// Specimens for the API-key gate (role K): the reference gate with one bug.
func init() {
	k := []string{"--role", "K"}
	// SHOULD-level scenarios only warn; --strict makes the run exit 1 on them.
	kStrict := []string{"--role", "K", "--strict"}
	Register(Specimen{
		Name:        "apikey-case-sensitive-name",
		Description: "accepts the key only under the header spelling it was configured with (X-API-Key)",
		Bug:         "gates that look the header up by its exact spelling, e.g. a raw header map; RFC 9110 §5.1 makes names case-insensitive",
		Guards:      []string{"APIKEY-005"},
		// RES-002's SSE client (r3labs/sse) canonicalizes header names
		// (X-Api-Key), as Go clients do: a case-sensitive gate rejects it.
		AlsoFails: []string{"RES-002"},
		RunArgs:   k,
		Apply: func(r *Reference) {
			g := gateOf(r)
			r.Server = recordRawHeaders
			g.lookup = func(req *http.Request) (string, bool) {
				for _, f := range rawFields(req) {
					if f.name == g.header { // the bug: byte comparison of the name
						return f.value, true
					}
				}
				return "", false
			}
		},
	})
	Register(Specimen{
		Name:        "apikey-forwarded-upstream",
		Description: "checks the key, then forwards it upstream with every other header",
		Bug:         "bridges that copy every request header to the upstream, the API key included",
		Guards:      []string{"APIKEY-006"},
		RunArgs:     k,
		Apply:       func(r *Reference) { gateOf(r).strip = false },
	})
	Register(Specimen{
		Name:        "apikey-forwarded-with-token",
		Description: "role I,K: injects its own upstream token but forwards the client's API key beside it",
		Bug:         "token injection added as one more header on top of a bridge that copies every request header: the upstream receives the proxy's key (token passthrough)",
		Guards:      []string{"APIKEY-010"},
		// APIKEY-006 sees the same leak at SHOULD level (a warning).
		AlsoFails: []string{"APIKEY-006"},
		RunArgs:   []string{"--role", "I,K"},
		Apply:     func(r *Reference) { gateOf(r).strip = false },
	})
	Register(Specimen{
		Name:        "apikey-inject-before-gate",
		Description: "role I,K: the token injector runs outside the API-key gate, so a request without the key gets a token fetched, and after the gate's 401 a refresh and a metadata lookup at the upstream",
		Bug:         "auth layers mounted in the wrong order: credential injection before client authentication; unauthenticated clients drive the proxy's token requests and its discovery fetches",
		Guards:      []string{"APIKEY-010"},
		// The injector takes the gate's 401 for the upstream rejecting its
		// token and looks up the upstream's resource metadata: keyless
		// requests reach the upstream.
		AlsoFails: []string{"APIKEY-001", "APIKEY-002"},
		RunArgs:   []string{"--role", "I,K"},
		Apply: func(r *Reference) {
			if injectorOf(r) == nil {
				panic("proxyundertest: apikey-inject-before-gate needs --role I,K")
			}
			// Move the gate innermost: every other layer, the injector
			// included, now runs before it.
			g := gateOf(r)
			mw := append([]func(http.Handler) http.Handler{r.Middleware[g.mw]}, r.Middleware[:g.mw]...)
			r.Middleware = append(mw, r.Middleware[g.mw+1:]...)
		},
	})
	Register(Specimen{
		Name:        "apikey-guards-options",
		Description: "applies the key check to OPTIONS too, so every CORS preflight gets 401",
		Bug:         "auth middleware mounted before the CORS handler: a preflight never carries the key (Fetch, CORS-preflight fetch)",
		Guards:      []string{"APIKEY-003"},
		RunArgs:     k,
		Apply:       func(r *Reference) { gateOf(r).guardOptions = true },
	})
	Register(Specimen{
		Name:        "apikey-unguarded-named-server",
		Description: "guards /mcp and /sse but serves /servers/NAME/{mcp,sse} without the key",
		Bug:         "named-server routes mounted beside the guarded ones and missed by the gate",
		Guards:      []string{"APIKEY-001"},
		RunArgs:     []string{"--role", "K", "--named-server", "alpha"},
		Apply:       func(r *Reference) { gateOf(r).guardNamed = false },
	})
	Register(Specimen{
		Name:        "apikey-prefix-match",
		Description: "compares only the shorter of the two lengths, so a prefix of the key, or the key plus anything, passes",
		Bug:         "a hand-rolled constant-time compare over min(len(sent), len(key)) bytes",
		Guards:      []string{"APIKEY-001"},
		RunArgs:     k,
		Apply: func(r *Reference) {
			g := gateOf(r)
			g.accept = func(got string) bool {
				n := min(len(got), len(g.key))
				return got != "" && subtle.ConstantTimeCompare([]byte(got[:n]), []byte(g.key[:n])) == 1
			}
		},
	})
	Register(Specimen{
		Name:        "apikey-401-without-challenge",
		Description: "rejects a missing key with 401 {\"error\":\"Unauthorized\"} and no WWW-Authenticate",
		Bug:         "sparfenyuk/mcp-proxy auth.py: 401 {\"error\":\"Unauthorized\"} without a challenge (RFC 9110 §15.5.2)",
		Guards:      []string{"APIKEY-002"},
		RunArgs:     k,
		Apply: func(r *Reference) {
			gateOf(r).reject = func(w http.ResponseWriter, req *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				gateCORS(w.Header(), req)
				w.WriteHeader(http.StatusUnauthorized)
				_, _ = w.Write([]byte(`{"error":"Unauthorized"}`))
			}
		},
	})
	Register(Specimen{
		Name:        "apikey-guards-status",
		Description: "guards every route, the declared health route /status included",
		Bug:         "punkpeye/mcp-proxy before #58/#59: authentication ran before /health and /ready",
		Guards:      []string{"APIKEY-004"},
		RunArgs:     kStrict,
		Apply: func(r *Reference) {
			g := gateOf(r)
			g.exempt = nil
			// Everything but OPTIONS is now guarded, /status included.
			r.Middleware = append(r.Middleware, func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
					if req.Method != http.MethodOptions {
						if got, ok := g.lookup(req); !ok || !g.accept(got) {
							g.reject(w, req)
							return
						}
					}
					next.ServeHTTP(w, req)
				})
			})
		},
	})
	Register(Specimen{
		Name:        "apikey-401-without-cors",
		Description: "the gate's 401 carries no CORS headers (the CORS layer sits inside the gate)",
		Bug:         "gate mounted outside the CORS middleware: browsers see a network error instead of the 401",
		Guards:      []string{"APIKEY-008"},
		RunArgs:     k,
		Apply: func(r *Reference) {
			g := gateOf(r)
			g.reject = func(w http.ResponseWriter, req *http.Request) {
				// Whatever CORS headers an outer layer set, this 401 drops.
				for k := range w.Header() {
					if strings.HasPrefix(k, "Access-Control-") {
						w.Header().Del(k)
					}
				}
				w.Header().Set("WWW-Authenticate", `ApiKey realm="`+GateRealm+`", header="`+g.header+`"`)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				_, _ = w.Write([]byte(`{"error":"Unauthorized"}`))
			}
		},
	})
	Register(Specimen{
		Name:        "apikey-cors-lacks-key-header",
		Description: "answers preflights, but its Access-Control-Allow-Headers does not list X-API-Key",
		Bug:         "punkpeye/mcp-proxy's default CORS allow-list lacks x-api-key (needs --corsAddAllowedHeader X-API-Key)",
		Guards:      []string{"APIKEY-003"},
		RunArgs:     []string{"--role", "K", "--cors"},
		Apply: func(r *Reference) {
			gateOf(r)
			r.Middleware = append(r.Middleware, func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
					if req.Method == http.MethodOptions {
						w = &dropAllowedHeader{ResponseWriter: w, name: gateOf(r).header}
					}
					next.ServeHTTP(w, req)
				})
			})
		},
	})
	Register(Specimen{
		Name:        "apikey-query-key",
		Description: "also accepts ?api_key=KEY and forwards the query verbatim to the upstream",
		Bug:         "gates that read the key from the query string for EventSource clients, leaking it into upstream logs",
		Guards:      []string{"APIKEY-009"},
		RunArgs:     kStrict,
		Apply: func(r *Reference) {
			g := gateOf(r)
			header := g.lookup
			g.lookup = func(req *http.Request) (string, bool) {
				if v, ok := header(req); ok {
					return v, true
				}
				if v := req.URL.Query().Get("api_key"); v != "" {
					return v, true
				}
				return "", false
			}
		},
	})
}

// dropAllowedHeader removes one name from Access-Control-Allow-Headers as
// the response header is written.
type dropAllowedHeader struct {
	http.ResponseWriter
	name string
}

func (d *dropAllowedHeader) WriteHeader(code int) {
	h := d.Header()
	var keep []string
	for _, l := range h.Values("Access-Control-Allow-Headers") {
		for _, item := range strings.Split(l, ",") {
			if item = strings.TrimSpace(item); item != "" && !strings.EqualFold(item, d.name) {
				keep = append(keep, item)
			}
		}
	}
	if len(keep) > 0 {
		h.Set("Access-Control-Allow-Headers", strings.Join(keep, ", "))
	}
	d.ResponseWriter.WriteHeader(code)
}

func (d *dropAllowedHeader) Write(b []byte) (int, error) { return d.ResponseWriter.Write(b) }

// rawField is one header line as it came off the wire.
type rawField struct{ name, value string }

type rawConnKey struct{}

// recordRawHeaders makes the server keep the bytes each connection reads,
// so a specimen can see header names before net/http canonicalizes them.
func recordRawHeaders(srv *http.Server, ln net.Listener) net.Listener {
	srv.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		if rc, ok := c.(*recordingConn); ok {
			return context.WithValue(ctx, rawConnKey{}, rc)
		}
		return ctx
	}
	return recordingListener{ln}
}

type recordingListener struct{ net.Listener }

func (l recordingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &recordingConn{Conn: c}, nil
}

// recordingConn keeps the most recent bytes read (bounded).
type recordingConn struct {
	net.Conn
	mu  sync.Mutex
	buf []byte
}

const maxRecorded = 256 << 10

func (c *recordingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.mu.Lock()
		c.buf = append(c.buf, p[:n]...)
		if len(c.buf) > maxRecorded {
			c.buf = append([]byte(nil), c.buf[len(c.buf)-maxRecorded:]...)
		}
		c.mu.Unlock()
	}
	return n, err
}

// rawFields returns the header lines of req as sent: the last request line
// matching req in what its connection read, and the fields after it.
func rawFields(req *http.Request) []rawField {
	rc, _ := req.Context().Value(rawConnKey{}).(*recordingConn)
	if rc == nil {
		return nil
	}
	rc.mu.Lock()
	buf := append([]byte(nil), rc.buf...)
	rc.mu.Unlock()
	line := []byte(req.Method + " " + req.RequestURI + " ")
	i := bytes.LastIndex(buf, line)
	if i < 0 {
		return nil
	}
	tp := textproto.NewReader(bufio.NewReader(bytes.NewReader(buf[i:])))
	if _, err := tp.ReadLine(); err != nil {
		return nil
	}
	var out []rawField
	for {
		l, err := tp.ReadLine()
		if err != nil || l == "" {
			return out
		}
		name, value, ok := strings.Cut(l, ":")
		if ok {
			out = append(out, rawField{name: name, value: strings.TrimSpace(value)})
		}
	}
}
