// Package proxyundertest says how to reach the proxy under test: a URL the user
// gives, or a built-in proxy (`builtin:NAME`). The built-ins are the reference
// proxy, which passes every scenario, and the faulty specimens, each the
// reference plus one known bug, which prove that the scenarios can fail.
package proxyundertest

import (
	"bytes"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sort"
	"strconv"
)

// Reference is the built-in T (transparent) proxy: an httputil.ReverseProxy
// that forwards the request path and query verbatim to the upstream origin.
// Specimens reuse it and change one thing through the hook lists.
type Reference struct {
	Upstream *url.URL
	Proxy    *httputil.ReverseProxy
	// Opt is what the run declared (roles, credentials, API key).
	Opt Options

	// RequestHooks run on every outbound request after the reference rewrite.
	RequestHooks []func(*httputil.ProxyRequest)
	// ResponseHooks run on every upstream response before it is copied out.
	ResponseHooks []func(*http.Response) error
	// Middleware wraps the whole proxy handler, outermost last appended.
	Middleware []func(http.Handler) http.Handler
	// Server, when set, adjusts the built-in's HTTP server before it serves
	// and returns the listener to serve on: for specimens that must see the
	// raw request bytes (header-name spelling, which net/http canonicalizes).
	Server func(srv *http.Server, ln net.Listener) net.Listener
}

// Feature is a capability of the reference proxy that an area adds (CORS,
// token injection, the API-key gate). Install looks at r.Opt and adds hooks
// or middleware when the run asks for it.
type Feature struct {
	Name string
	// Order sorts installation: features installed later wrap the earlier
	// ones' middleware, so the highest Order is the outermost layer (CORS
	// must sit outside the API-key gate so the gate's 401 is readable).
	Order   int
	Install func(r *Reference)
}

var features []Feature

// RegisterFeature adds a reference capability; area files call it from init.
func RegisterFeature(f Feature) {
	regMu.Lock()
	defer regMu.Unlock()
	features = append(features, f)
	sort.SliceStable(features, func(i, j int) bool { return features[i].Order < features[j].Order })
}

// NewReference builds the reference proxy for an upstream origin (scheme and
// host; any path on it is ignored because paths are forwarded as received),
// with every registered feature installed for opt.
func NewReference(upstream *url.URL, opt Options) *Reference {
	r := &Reference{Upstream: upstream, Opt: opt}
	r.Proxy = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			// Not SetURL: it joins paths, which is how Go proxies end up
			// sending /mcp/ for /mcp (bug [v]). Swap only scheme and host.
			pr.Out.URL.Scheme = upstream.Scheme
			pr.Out.URL.Host = upstream.Host
			pr.Out.Host = upstream.Host
			pr.SetXForwarded()
			for _, h := range r.RequestHooks {
				h(pr)
			}
		},
		ModifyResponse: func(resp *http.Response) error {
			for _, h := range r.ResponseHooks {
				if err := h(resp); err != nil {
					return err
				}
			}
			return nil
		},
		// Upstream cuts are scripted on purpose (SSE-PARSE-005); the
		// client sees them, the user's terminal need not.
		ErrorLog: log.New(io.Discard, "", 0),
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadGateway)
			fmt.Fprintf(w, `{"error":"bad gateway","detail":%q}`, err.Error())
		},
	}
	regMu.Lock()
	fs := append([]Feature(nil), features...)
	regMu.Unlock()
	for _, f := range fs {
		f.Install(r)
	}
	return r
}

// Handler returns the proxy with its middleware applied.
func (r *Reference) Handler() http.Handler {
	var h http.Handler = r.Proxy
	for _, m := range r.Middleware {
		h = m(h)
	}
	return h
}

// replaceBody swaps a response body and fixes the framing fields, as a proxy
// that rewrites bodies would.
func replaceBody(resp *http.Response, body string) {
	if resp.Body != nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
	}
	resp.Body = io.NopCloser(bytes.NewReader([]byte(body)))
	resp.ContentLength = int64(len(body))
	resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
	resp.Header.Del("Transfer-Encoding")
	resp.TransferEncoding = nil
}

// setStatus changes a response's status code and line.
func setStatus(resp *http.Response, code int) {
	resp.StatusCode = code
	resp.Status = fmt.Sprintf("%d %s", code, http.StatusText(code))
}
