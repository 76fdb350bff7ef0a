package proxyundertest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/mcpconform/mcpconform/scenarios/wwwauth"
)

// Role I of the reference: token injection. The fix for the bug this area
// exists for (a JWT put into the session's headers at start and never
// refreshed) is a proxy that asks its token source for a current token on
// every upstream request. The source is golang.org/x/oauth2's refresh-token
// source behind ReuseTokenSourceWithExpiry, so tokens are reused until just
// before they expire and refreshed by one caller at a time.

const (
	// injectEarly is how long before its expiry a token is refreshed. The
	// oauth2 default (10 s) would refresh a 1 s token on every call; 150 ms
	// covers the latency between the AS issuing and the proxy receiving.
	injectEarly = 150 * time.Millisecond
	// asTimeout bounds one token request, so an AS that hangs turns into a
	// prompt answer to the client rather than a stuck request.
	asTimeout = 3 * time.Second
	// maxRetryBody is the largest request body buffered for the one retry
	// after an upstream 401; larger bodies are streamed and not retried.
	maxRetryBody = 4 << 20
)

func init() {
	RegisterFeature(Feature{Name: "inject", Order: 30, Install: func(r *Reference) {
		if r.Opt.HasRole("I") {
			installInject(r)
		}
	}})
	ReferenceModes["I"] = []string{"--role", "I"}
}

// injector holds the token state of one reference proxy. Specimens change
// its knobs in Apply (before any request is served).
type injector struct {
	cfg      *oauth2.Config
	ctx      context.Context // carries the AS HTTP client
	initial  string          // the refresh token configured at start
	early    time.Duration
	retries  int  // retries after an upstream 401 (reference: 1)
	static   bool // specimen static-token: never refresh after the first fetch
	fixedRT  bool // specimen ignore-rotation: always refresh with the initial token
	passthru bool // specimen passthrough-client-token
	guessWK  bool // specimen guess-well-known: root metadata URL, header ignored
	// trustAnyPRM is specimen journey-i-trust-any-metadata: uses metadata
	// whatever its resource.
	trustAnyPRM bool
	// asAtOrigin is specimen journey-i-as-at-upstream-origin: looks the
	// AS up at the upstream's origin (the 2025-03-26 rule), whatever the
	// metadata names.
	asAtOrigin bool
	resource   string // the upstream's resource identifier (Options.Resource)
	upstream   *url.URL
	rt         *resourceTransport

	mu       sync.Mutex
	inner    oauth2.TokenSource // refreshes whenever asked (see newInner)
	src      oauth2.TokenSource // the reuse layer in front of inner
	sessions map[string]string  // static-token: the token bound to each session
}

var (
	injMu     sync.Mutex
	injectors = map[*Reference]*injector{}
)

// injectorOf returns the injector installed on r, or nil.
func injectorOf(r *Reference) *injector {
	injMu.Lock()
	defer injMu.Unlock()
	return injectors[r]
}

func installInject(r *Reference) {
	o := r.Opt
	resource := o.Resource
	// x/oauth2's refresh grant takes no extra parameters, so `resource`
	// (RFC 8707, required on every grant by MCP) is added by the transport
	// of the AS client, to every token request.
	rt := &resourceTransport{resource: resource, base: http.DefaultTransport}
	hc := &http.Client{Timeout: asTimeout, Transport: rt}
	in := &injector{
		cfg: &oauth2.Config{
			ClientID: o.ClientID, ClientSecret: o.ClientSecret,
			Endpoint: oauth2.Endpoint{TokenURL: o.TokenURL, AuthStyle: oauth2.AuthStyleInHeader},
		},
		ctx:      context.WithValue(context.Background(), oauth2.HTTPClient, hc),
		initial:  o.RefreshToken,
		early:    injectEarly,
		retries:  1,
		rt:       rt,
		upstream: r.Upstream,
		resource: resource,
	}
	injMu.Lock()
	injectors[r] = in
	injMu.Unlock()
	r.Middleware = append(r.Middleware, in.middleware)
}

// newInner is the refreshing source. cfg.TokenSource keeps the refresh token
// the AS rotates to (AUTH-REF-002) and, with its 10 s default early expiry,
// refreshes on every call for short tokens; the outer reuse layer decides
// when to call it.
func (in *injector) newInner(refreshToken string) oauth2.TokenSource {
	if in.fixedRT {
		return fixedRefresh{in}
	}
	return msExpiry{in.cfg.TokenSource(in.ctx, &oauth2.Token{RefreshToken: refreshToken})}
}

// token returns a current token. bad, when set, is an access token the
// upstream just rejected: if the source still holds it, a refresh is forced.
// The lock makes the refresh single-flight across concurrent requests.
func (in *injector) token(bad string) (*oauth2.Token, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.src == nil {
		in.inner = in.newInner(in.initial)
		in.src = oauth2.ReuseTokenSourceWithExpiry(nil, in.inner, in.early)
	}
	t, err := in.src.Token()
	if err == nil && bad != "" && t.AccessToken == bad {
		// ReuseTokenSource cannot be told a token is bad: start new layers
		// from the current (possibly rotated) refresh token, so the next
		// call refreshes whatever the token's lifetime.
		in.inner = in.newInner(t.RefreshToken)
		in.src = oauth2.ReuseTokenSourceWithExpiry(nil, in.inner, in.early)
		t, err = in.src.Token()
	}
	return t, err
}

func (in *injector) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if in.passthru && req.Header.Get("Authorization") != "" {
			next.ServeHTTP(w, req) // the bug: the client's token goes upstream
			return
		}
		if in.static {
			in.serveStatic(w, req, next)
			return
		}
		// The client's Authorization is for the proxy, never the upstream.
		req.Header.Del("Authorization")
		var body []byte
		canRetry := true
		if req.Body != nil && req.Body != http.NoBody {
			b, err := io.ReadAll(io.LimitReader(req.Body, maxRetryBody+1))
			if err != nil {
				http.Error(w, "reading request body: "+err.Error(), http.StatusBadRequest)
				return
			}
			body = b
			if len(b) > maxRetryBody {
				canRetry = false
				req.Body = struct {
					io.Reader
					io.Closer
				}{io.MultiReader(bytes.NewReader(b), req.Body), req.Body}
			}
		}
		bad := ""
		for attempt := 0; ; attempt++ {
			tok, err := in.token(bad)
			if err != nil {
				asFailure(w, err)
				return
			}
			out := req.Clone(req.Context())
			if body != nil && canRetry {
				out.Body = io.NopCloser(bytes.NewReader(body))
				out.ContentLength = int64(len(body))
			}
			out.Header.Set("Authorization", "Bearer "+tok.AccessToken)
			last := attempt >= in.retries || !canRetry
			if last {
				next.ServeHTTP(w, out)
				return
			}
			cw := &catch401{w: w, h: http.Header{}}
			next.ServeHTTP(cw, out)
			if !cw.caught {
				return
			}
			bad = tok.AccessToken
			in.discover(cw.h.Values("WWW-Authenticate"), req.URL.Path)
		}
	})
}

// serveStatic is the static-token bug: a token is fetched when a session
// starts (initialize, no Mcp-Session-Id) and injected into every request of
// that session, never refreshed.
func (in *injector) serveStatic(w http.ResponseWriter, req *http.Request, next http.Handler) {
	req.Header.Del("Authorization")
	sid := req.Header.Get("Mcp-Session-Id")
	in.mu.Lock()
	if in.sessions == nil {
		in.sessions = map[string]string{}
	}
	tok, ok := in.sessions[sid]
	if !ok || sid == "" {
		if in.inner == nil {
			in.inner = in.newInner(in.initial)
		}
		t, err := in.inner.Token()
		if err != nil {
			in.mu.Unlock()
			asFailure(w, err)
			return
		}
		tok = t.AccessToken
		if sid != "" {
			in.sessions[sid] = tok
		}
	}
	in.mu.Unlock()
	req.Header.Set("Authorization", "Bearer "+tok)
	next.ServeHTTP(w, req)
	if minted := w.Header().Get("Mcp-Session-Id"); sid == "" && minted != "" {
		in.mu.Lock()
		in.sessions[minted] = tok
		in.mu.Unlock()
	}
}

// discover looks up the upstream's protected-resource metadata after a 401,
// as a proxy that finds its authorization server itself must (AUTH-PRM-001/
// 002): the challenge's resource_metadata URL when there is one, else the
// path-suffixed well-known URL, then the root one (RFC 9728 §3.1, §5.1).
// A document whose resource is not the upstream the proxy serves is not used
// (RFC 9728 §3.3); otherwise the first authorization server it names is
// looked up (RFC 8414 §3, AUTH-JRN-101). The reference is configured with
// its token URL, so the documents are only fetched; the order of the
// fetches and what is trusted are what is under test.
func (in *injector) discover(challenges []string, path string) {
	var urls []string
	if chs, _ := wwwauth.Parse(challenges...); len(chs) > 0 {
		if b, ok := wwwauth.Find(chs, "Bearer"); ok {
			if rm, ok := b.Get("resource_metadata"); ok && rm != "" && !in.guessWK {
				urls = append(urls, rm)
			}
		}
	}
	origin := in.upstream.Scheme + "://" + in.upstream.Host
	const wk = "/.well-known/oauth-protected-resource"
	if in.guessWK {
		urls = append(urls, origin+wk) // the bug: root only, header ignored
	} else if len(urls) == 0 {
		if p := strings.TrimSuffix(path, "/"); p != "" {
			urls = append(urls, origin+wk+p)
		}
		urls = append(urls, origin+wk)
	}
	c := &http.Client{Timeout: asTimeout}
	for _, u := range urls {
		resp, err := c.Get(u)
		if err != nil {
			continue
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			continue
		}
		var doc struct {
			Resource    string   `json:"resource"`
			AuthServers []string `json:"authorization_servers"`
		}
		if json.Unmarshal(body, &doc) != nil || len(doc.AuthServers) == 0 {
			return
		}
		if doc.Resource != in.resource && !in.trustAnyPRM {
			return // RFC 9728 §3.3: MUST NOT be used
		}
		issuer := doc.AuthServers[0]
		if in.asAtOrigin {
			issuer = origin
		}
		iss, err := url.Parse(issuer)
		if err != nil {
			return
		}
		iss.Path = "/.well-known/oauth-authorization-server" + strings.TrimSuffix(iss.Path, "/") // RFC 8414 §3.1 insertion
		if meta, err := c.Get(iss.String()); err == nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(meta.Body, 1<<20))
			meta.Body.Close()
		}
		return
	}
}

// asFailure answers the client when no token can be had: 503 with a JSON
// body naming the cause, so the client knows the upstream was never asked.
func asFailure(w http.ResponseWriter, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Retry-After", "1")
	w.WriteHeader(http.StatusServiceUnavailable)
	fmt.Fprintf(w, `{"error":"upstream_token_unavailable","error_description":%q}`,
		"the proxy could not obtain an access token from the authorization server: "+err.Error())
}

// catch401 passes a response through unless it is a 401, which it swallows
// so the request can be retried with a fresh token.
type catch401 struct {
	w      http.ResponseWriter
	h      http.Header
	caught bool
	passed bool
}

func (c *catch401) Header() http.Header { return c.h }

func (c *catch401) WriteHeader(code int) {
	if c.caught || c.passed {
		return
	}
	if code >= 100 && code < 200 { // informational: not the final answer
		for k, v := range c.h {
			c.w.Header()[k] = v
		}
		c.w.WriteHeader(code)
		return
	}
	if code == http.StatusUnauthorized {
		c.caught = true
		return
	}
	c.passed = true
	for k, v := range c.h {
		c.w.Header()[k] = v
	}
	c.w.WriteHeader(code)
}

func (c *catch401) Write(p []byte) (int, error) {
	if !c.caught && !c.passed {
		c.WriteHeader(http.StatusOK)
	}
	if c.caught {
		return len(p), nil
	}
	return c.w.Write(p)
}

func (c *catch401) Flush() {
	if c.passed {
		if f, ok := c.w.(http.Flusher); ok {
			f.Flush()
		}
	}
}

// resourceTransport appends `resource` to every token-request form.
type resourceTransport struct {
	resource string
	base     http.RoundTripper
}

func (t *resourceTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.resource == "" || req.Body == nil || !strings.HasPrefix(req.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		return t.base.RoundTrip(req)
	}
	b, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return nil, err
	}
	form, err := url.ParseQuery(string(b))
	if err != nil {
		return nil, err
	}
	if !form.Has("resource") {
		form.Set("resource", t.resource)
	}
	nb := form.Encode()
	r2 := req.Clone(req.Context())
	r2.Body = io.NopCloser(strings.NewReader(nb))
	r2.ContentLength = int64(len(nb))
	r2.Header.Set("Content-Length", strconv.Itoa(len(nb)))
	return t.base.RoundTrip(r2)
}

// msExpiry corrects a token's expiry with the AS's exact lifetime
// ("expires_in_ms"), because expires_in is rounded up to whole seconds and a
// 1.5 s token announced as 2 s would be used after it expired.
type msExpiry struct{ src oauth2.TokenSource }

func (s msExpiry) Token() (*oauth2.Token, error) {
	t, err := s.src.Token()
	if err != nil {
		return nil, err
	}
	var ms float64
	switch v := t.Extra("expires_in_ms").(type) {
	case float64:
		ms = v
	case string:
		ms, _ = strconv.ParseFloat(v, 64)
	}
	if ms > 0 {
		if exact := time.Now().Add(time.Duration(ms) * time.Millisecond); exact.Before(t.Expiry) {
			c := *t
			c.Expiry = exact
			return &c, nil
		}
	}
	return t, nil
}

// fixedRefresh is the ignore-rotation bug: every refresh presents the
// refresh token configured at start, discarding the rotated one.
type fixedRefresh struct{ in *injector }

func (f fixedRefresh) Token() (*oauth2.Token, error) {
	return f.in.cfg.TokenSource(f.in.ctx, &oauth2.Token{RefreshToken: f.in.initial}).Token()
}
