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
	// Errors receives the proxy's ErrorLog: its own account of failures on
	// the upstream hop.
	Errors *ErrorLog

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
	r := &Reference{Upstream: upstream, Opt: opt, Errors: &ErrorLog{}}
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
		// Kept per proxy, not printed: upstream cuts are scripted on
		// purpose (SSE-PARSE-005) and the terminal need not see them; a
		// failing case shows what was logged while it ran.
		ErrorLog: log.New(r.Errors, "", 0),
		ErrorHandler: func(w http.ResponseWriter, req *http.Request, err error) {
			r.Proxy.ErrorLog.Printf("%s %s: proxy error: %v", req.Method, req.URL.Path, err)
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
	// Outermost, on the server's own ResponseWriter: the middleware's
	// wrappers need not forward the call.
	return fullDuplex(h)
}

// fullDuplex lets the proxy write the response while its transport is still
// reading the request body. ReverseProxy hands the inbound body to the
// transport, which reads it once more after Content-Length bytes (to see
// nothing follows); by default an HTTP/1 net/http server drains and closes an
// unfinished request body when the response head is written. When the
// upstream answers quickly (an SSE stream's first event) and that last read
// is scheduled late (a loaded machine), it fails with "invalid Read on closed
// Body", the transport tears down the upstream connection, and the stream is
// cut mid-body ("unexpected EOF" at the client; golang/go#40747, which
// ReverseProxy leaves to its caller). A client sending its body slowly would
// likewise get no response head until the body is complete.
func fullDuplex(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		// Not supported on HTTP/2, where reads and writes never conflict.
		_ = http.NewResponseController(w).EnableFullDuplex()
		// In full-duplex mode a body the handler never read to its end
		// (a middleware answering on its own) is drained by the server
		// after it stopped watching the connection, and the next request
		// on it panics with "invalid concurrent Body.Read call"
		// (golang/go#68560). Closing the body here drains it (bounded, as
		// the server would) while the handler still runs; after
		// ReverseProxy, which closes it itself, this is a no-op.
		defer req.Body.Close()
		h.ServeHTTP(w, req)
	})
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
