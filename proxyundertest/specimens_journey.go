package proxyundertest

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httputil"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Specimens of the authorization journey (scenarios/journey.go): each is the
// reference plus one way real deployments break an MCP client's login.
func init() {
	Register(Specimen{
		Name:        "journey-mcp-only",
		Description: "routes only the MCP endpoints (/mcp, /sse, /messages) to the upstream and answers every other path 404 itself",
		Bug:         "gateways and path-routed reverse proxies (location /mcp { … }) that forward only the MCP endpoint: the protected-resource metadata and a co-hosted authorization server 404",
		Guards:      []string{"AUTH-JRN-003", "AUTH-JRN-005", "AUTH-JRN-006", "AUTH-JRN-007", "AUTH-JRN-008"},
		AlsoFails:   []string{"AUTH-JRN-011"},
		Apply: func(r *Reference) {
			r.Middleware = append(r.Middleware, func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
					switch req.URL.Path {
					case "/mcp", "/sse", "/messages", "/messages/":
						next.ServeHTTP(w, req)
					default:
						http.NotFound(w, req)
					}
				})
			})
		},
	})
	Register(Specimen{
		Name:        "journey-strip-challenge-keep-status",
		Description: "passes the upstream's 401 status and body but drops its WWW-Authenticate",
		Bug:         "(i) error handlers that copy status and body of an upstream error but not its headers: the client gets a 401 it cannot act on",
		Guards:      []string{"AUTH-JRN-001"},
		AlsoFails:   []string{"AUTH-HDR-001", "AUTH-HDR-012", "HTTP-E2E-001", "HTTP-E2E-003", "HTTP-E2E-004", "HTTP-E2E-008", "LSSE-004"},
		Apply: func(r *Reference) {
			r.ResponseHooks = append(r.ResponseHooks, func(resp *http.Response) error {
				if resp.StatusCode == http.StatusUnauthorized {
					resp.Header.Del("WWW-Authenticate")
				}
				return nil
			})
		},
	})
	Register(Specimen{
		Name:        "journey-rewrite-metadata-url",
		Description: "rewrites the challenge's resource_metadata to the upstream's origin",
		Bug:         "proxies that build the challenge from their upstream configuration: the metadata URL names an origin the client can only reach through the proxy",
		Guards:      []string{"AUTH-JRN-002"},
		AlsoFails:   []string{"AUTH-HDR-001"},
		Apply: func(r *Reference) {
			rm := regexp.MustCompile(`(resource_metadata="?)(https?://[^/"\s,]+)`)
			origin := r.Upstream.Scheme + "://" + r.Upstream.Host
			rewriteChallenges(r, func(lines []string) []string {
				out := make([]string, len(lines))
				for i, l := range lines {
					out[i] = rm.ReplaceAllString(l, "${1}"+origin)
				}
				return out
			})
		},
	})
	Register(Specimen{
		Name:        "journey-metadata-url-unserved",
		Description: "rewrites a challenge's resource_metadata on the client-facing origin to a path there that serves nothing",
		Bug:         "proxies that rebuild the challenge with a metadata path of their own making: a client that follows the spec fetches the named URL, gets 404 and cannot log in (one that guesses the well-known URLs may still get through)",
		Guards:      []string{"AUTH-JRN-003"},
		AlsoFails:   []string{"AUTH-HDR-001"},
		Apply: func(r *Reference) {
			rm := regexp.MustCompile(`(resource_metadata="?)(https?://[^/"\s,]+)[^"\s,]*`)
			upstream := r.Upstream.Scheme + "://" + r.Upstream.Host
			rewriteChallenges(r, func(lines []string) []string {
				out := make([]string, len(lines))
				for i, l := range lines {
					out[i] = rm.ReplaceAllStringFunc(l, func(m string) string {
						sub := rm.FindStringSubmatch(m)
						if sub[2] == upstream {
							return m // what names the upstream's own origin stays
						}
						return sub[1] + sub[2] + "/.well-known/oauth-protected-resource/not-served"
					})
				}
				return out
			})
		},
	})
	Register(Specimen{
		Name:        "journey-metadata-upstream-resource",
		Description: "answers the protected-resource metadata URLs itself, advertising the upstream URL it was configured with as the resource",
		Bug:         "gateways that synthesize RFC 9728 metadata from their own configuration: the resource is the internal upstream URL, and SDK clients refuse it",
		Guards:      []string{"AUTH-JRN-004"},
		AlsoFails:   []string{"AUTH-JRN-011"},
		Apply: func(r *Reference) {
			up := r.Upstream.Scheme + "://" + r.Upstream.Host
			r.ResponseHooks = append(r.ResponseHooks, func(resp *http.Response) error {
				if resp.Request == nil || resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Request.URL.Path, "/.well-known/oauth-protected-resource") {
					return nil
				}
				body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
				resp.Body.Close()
				if err != nil {
					return err
				}
				var doc map[string]any
				if json.Unmarshal(body, &doc) == nil {
					doc["resource"] = up + strings.TrimPrefix(resp.Request.URL.Path, "/.well-known/oauth-protected-resource")
					body, _ = json.Marshal(doc)
				}
				replaceBody(resp, string(body))
				return nil
			})
		},
	})
	Register(Specimen{
		Name:        "journey-drop-retry-auth",
		Description: "forwards an allow-list of request headers that lacks Authorization",
		Bug:         "header allow-lists written for an unauthenticated upstream: the client logs in, but its retried request reaches the upstream without the token and gets 401 again",
		Guards:      []string{"AUTH-JRN-009"},
		AlsoFails:   []string{"AUTH-JRN-011", "AUTH-TOK-006", "HTTP-E2E-009", "HTTP-HOP-005"},
		Apply: func(r *Reference) {
			r.RequestHooks = append(r.RequestHooks, func(pr *httputil.ProxyRequest) {
				pr.Out.Header.Del("Authorization")
			})
		},
	})
	Register(Specimen{
		Name:        "journey-cache-401",
		Description: "caches 401 answers to POST requests keyed on path and body, ignoring Authorization, and replays them for 30 s",
		Bug:         "response caches whose key omits Authorization (RFC 9111 §3.5): the retry after login has the same body as the first attempt and gets the stored 401",
		Guards:      []string{"AUTH-JRN-009"},
		AlsoFails:   []string{"AUTH-JRN-011"},
		// The stored 401s would answer every later case that sends the
		// same initialize: run the journey only.
		RunArgs: []string{"--label-filter", "journey"},
		Apply:   applyCache401,
	})
	Register(Specimen{
		Name:        "journey-i-trust-any-metadata",
		Description: "role I: uses the authorization server of any protected-resource metadata it fetches, whatever its resource",
		Bug:         "clients that skip the RFC 9728 §3.3 resource check: metadata for another resource redirects their credentials to another authorization server",
		Guards:      []string{"AUTH-JRN-101"},
		RunArgs:     []string{"--role", "I"},
		Apply: func(r *Reference) {
			if in := injectorOf(r); in != nil {
				in.trustAnyPRM = true
			}
		},
	})
	Register(Specimen{
		Name:        "journey-i-as-at-upstream-origin",
		Description: "role I: after fetching the metadata, looks the authorization server up at the upstream's origin instead of the issuer the metadata names",
		Bug:         "clients still discovering the 2025-03-26 way (the MCP server's origin is the authorization server), which the Go SDK also falls back to",
		Guards:      []string{"AUTH-JRN-101"},
		RunArgs:     []string{"--role", "I"},
		Apply: func(r *Reference) {
			if in := injectorOf(r); in != nil {
				in.asAtOrigin = true
			}
		},
	})
	Register(Specimen{
		Name:        "journey-challenge-on-401-only",
		Description: "copies WWW-Authenticate to the client on 401 only, dropping it from 403 answers",
		Bug:         "proxies that treat WWW-Authenticate as a 401 matter: RFC 6750 §3 puts it on 403 insufficient_scope too, and MCP step-up depends on it",
		Guards:      []string{"AUTH-JRN-010"},
		AlsoFails:   []string{"AUTH-HDR-001", "AUTH-JRN-011"},
		Apply: func(r *Reference) {
			r.ResponseHooks = append(r.ResponseHooks, func(resp *http.Response) error {
				if resp.StatusCode == http.StatusForbidden {
					resp.Header.Del("WWW-Authenticate")
				}
				return nil
			})
		},
	})
}

// cacheTTL is how long journey-cache-401 replays a stored 401.
const cacheTTL = 30 * time.Second

// applyCache401 stores 401 answers to POSTs by path and body hash and
// answers later identical POSTs from the store, whatever their
// Authorization, as a cache keyed without it would.
func applyCache401(r *Reference) {
	type stored struct {
		header http.Header
		body   []byte
		until  time.Time
	}
	var mu sync.Mutex
	cache := map[string]stored{}
	key := func(path string, body []byte) string {
		sum := sha256.Sum256(body)
		return path + " " + string(sum[:])
	}
	r.Middleware = append(r.Middleware, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if req.Method != http.MethodPost || req.Body == nil {
				next.ServeHTTP(w, req)
				return
			}
			body, err := io.ReadAll(io.LimitReader(req.Body, 4<<20))
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			req.Body = io.NopCloser(bytes.NewReader(body))
			k := key(req.URL.Path, body)
			mu.Lock()
			s, hit := cache[k]
			mu.Unlock()
			if hit && time.Now().Before(s.until) {
				for name, vs := range s.header {
					w.Header()[name] = vs
				}
				w.WriteHeader(http.StatusUnauthorized)
				_, _ = w.Write(s.body)
				return
			}
			rec := &recordingWriter{ResponseWriter: w}
			next.ServeHTTP(rec, req)
			if rec.status == http.StatusUnauthorized {
				mu.Lock()
				cache[k] = stored{header: w.Header().Clone(), body: rec.body.Bytes(), until: time.Now().Add(cacheTTL)}
				mu.Unlock()
			}
		})
	})
}

// recordingWriter keeps the status and a copy of the body it passes on.
type recordingWriter struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (w *recordingWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recordingWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.body.Len() < 1<<20 {
		w.body.Write(p)
	}
	return w.ResponseWriter.Write(p)
}

func (w *recordingWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
