package proxyundertest

import (
	"io"
	"net/http"
	"net/http/httputil"
	"strings"
)

// Specimens for header fields, statuses and the Streamable HTTP transport.
// Each is the reference plus one bug seen in real proxies and bridges.
func init() {
	Register(Specimen{
		Name:        "drop-allow",
		Description: "drops the Allow field from responses",
		Bug:         "proxies that forward an allow-list of response headers without Allow; clients then cannot tell which methods the endpoint offers (RFC 9110 §15.5.6)",
		Guards:      []string{"HTTP-E2E-007", "SHTTP-005"},
		AlsoFails:   []string{"HTTP-HOP-005"},
		Apply: func(r *Reference) {
			r.ResponseHooks = append(r.ResponseHooks, func(resp *http.Response) error {
				resp.Header.Del("Allow")
				return nil
			})
		},
	})
	Register(Specimen{
		Name:        "strip-session-id",
		Description: "does not forward Mcp-Session-Id on requests to the upstream",
		Bug:         "MCP Inspector v1 stripped the client↔proxy mcp-session-id from upstream requests",
		Guards:      []string{"SESS-001", "SESS-002", "SESS-004"},
		// HTTP-HOP-005 sends an Mcp-Session-Id among its probe fields.
		AlsoFails: []string{"HTTP-HOP-005", "SESS-003", "SSE-STREAM-001", "AUTH-JRN-010", "AUTH-JRN-011"},
		Apply: func(r *Reference) {
			r.RequestHooks = append(r.RequestHooks, func(pr *httputil.ProxyRequest) {
				pr.Out.Header.Del("Mcp-Session-Id")
			})
		},
	})
	Register(Specimen{
		Name:        "copy-all-headers",
		Description: "copies every inbound request header to the upstream request, Connection-named fields included",
		Bug:         "hand-written proxies that loop over req.headers and copy them all (RFC 9110 §7.6.1 requires removing the fields Connection names)",
		Guards:      []string{"HTTP-HOP-001"},
		AlsoFails:   []string{"HTTP-HOP-002"},
		Apply: func(r *Reference) {
			r.RequestHooks = append(r.RequestHooks, func(pr *httputil.ProxyRequest) {
				for k, vs := range pr.In.Header {
					if _, ok := pr.Out.Header[k]; !ok && !strings.EqualFold(k, "Connection") {
						pr.Out.Header[k] = append([]string(nil), vs...)
					}
				}
			})
		},
	})
	Register(Specimen{
		Name:        "post-only",
		Description: "exposes only POST on the MCP endpoint: answers GET and DELETE itself with 405",
		Bug:         "bridges that mount only a POST route, so no GET stream and no session DELETE reach the upstream",
		Guards:      []string{"SHTTP-001", "SESS-004"},
		// Its own 405 carries Allow: POST, so SHTTP-005 passes; the
		// upstream's answers on GET and DELETE never arrive.
		// Every GET-stream scenario of the SSE area fails with it.
		AlsoFails: []string{"SESS-002", "SHTTP-002", "HTTP-E2E-007", "HTTP-E2E-010", "AUTH-HDR-001",
			"HTTP-E2E-006", "HTTP-HOP-003", "RES-001", "RES-002", "RES-003", "RES-004",
			"SSE-PARSE-001", "SSE-PARSE-003", "SSE-PARSE-004", "SSE-PARSE-005", "SSE-STREAM-001", "SSE-STREAM-002", "SSE-STREAM-003", "AUTH-HDR-012", "LSSE-001", "LSSE-002", "LSSE-003", "LSSE-004", "AUTH-JRN-003", "AUTH-JRN-005", "AUTH-JRN-007", "AUTH-JRN-011"},
		Apply: func(r *Reference) {
			r.Middleware = append(r.Middleware, func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
					if req.Method == http.MethodGet || req.Method == http.MethodDelete {
						w.Header().Set("Allow", "POST")
						http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
						return
					}
					next.ServeHTTP(w, req)
				})
			})
		},
	})
	Register(Specimen{
		Name:        "rewrite-accept",
		Description: "sends its own Accept: application/json upstream",
		Bug:         "MCP Inspector v1 rewrote Accept per route; SDK servers then answer 406",
		Guards:      []string{"SHTTP-002"},
		Apply: func(r *Reference) {
			r.RequestHooks = append(r.RequestHooks, func(pr *httputil.ProxyRequest) {
				if pr.Out.Method == http.MethodGet {
					pr.Out.Header.Set("Accept", "text/event-stream, application/json")
				} else {
					pr.Out.Header.Set("Accept", "application/json, text/event-stream, */*")
				}
			})
		},
	})
	Register(Specimen{
		Name:        "ack-200",
		Description: "answers 200 {} where the upstream answered 202 with no body",
		Bug:         "bridges that always re-encode a JSON body; MCP requires 202 with no body for accepted notifications",
		Guards:      []string{"SHTTP-003"},
		AlsoFails:   []string{"HTTP-E2E-010", "LSSE-004"},
		Apply: func(r *Reference) {
			r.ResponseHooks = append(r.ResponseHooks, func(resp *http.Response) error {
				if resp.StatusCode == http.StatusAccepted {
					setStatus(resp, http.StatusOK)
					resp.Header.Set("Content-Type", "application/json")
					replaceBody(resp, `{}`)
				}
				return nil
			})
		},
	})
	Register(Specimen{
		Name:        "mask-404",
		Description: "turns an upstream 404 into 502 Bad Gateway",
		Bug:         "gateways that treat any upstream 404 as a backend failure; the client never learns its session died and never re-initializes",
		Guards:      []string{"SESS-003"},
		AlsoFails:   []string{"HTTP-E2E-010"},
		Apply: func(r *Reference) {
			r.ResponseHooks = append(r.ResponseHooks, func(resp *http.Response) error {
				if resp.StatusCode == http.StatusNotFound {
					setStatus(resp, http.StatusBadGateway)
					resp.Header.Set("Content-Type", "application/json")
					replaceBody(resp, `{"error":"bad gateway"}`)
				}
				return nil
			})
		},
	})
	Register(Specimen{
		Name:        "json-to-sse",
		Description: "wraps every 200 application/json answer into a one-event text/event-stream",
		Bug:         "bridges that always answer POSTs as SSE; a T proxy must keep the upstream's Content-Type and body form (MCP Sending Messages 5)",
		Guards:      []string{"SHTTP-004"},
		AlsoFails:   []string{"HTTP-E2E-010", "AUTH-JRN-003", "AUTH-JRN-005", "AUTH-JRN-008", "AUTH-JRN-011"},
		Apply: func(r *Reference) {
			r.ResponseHooks = append(r.ResponseHooks, func(resp *http.Response) error {
				if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
					return nil
				}
				body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
				if err != nil {
					return err
				}
				resp.Header.Set("Content-Type", "text/event-stream")
				replaceBody(resp, "event: message\ndata: "+strings.TrimSpace(string(body))+"\n\n")
				return nil
			})
		},
	})
}
