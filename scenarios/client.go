package scenarios

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/mcpconform/mcpconform/mockserver"
	"github.com/mcpconform/mcpconform/report"
)

// Target is one end the harness can talk to: the proxy, or the mock directly
// (the control).
type Target struct {
	Name   string // "proxy" or "upstream"
	MCPURL string
	// SSEURL is the legacy HTTP+SSE endpoint, "" when unknown.
	SSEURL string
	Hop    string
	// Header is added to every request (e.g. --header for a proxy's own token).
	Header http.Header
}

// Request is what the harness sends.
type Request struct {
	Method string
	// URL overrides Target.MCPURL.
	URL string
	// Query is appended raw ("a=1&b=%2F").
	Query  string
	Header http.Header
	Body   []byte
}

// Result is what came back, with the exchange as evidence.
type Result struct {
	Status   int
	Header   http.Header
	Body     []byte
	Exchange report.Exchange
	// Err is a transport-level failure: no (complete) HTTP response.
	Err error
	// Messages are the JSON-RPC messages in a JSON body or SSE data fields.
	Messages []json.RawMessage
}

// OK reports whether a complete response with a 2xx status arrived.
func (r *Result) OK() bool { return r.Err == nil && r.Status/100 == 2 }

// Describe is a short account of the response for "observed" texts.
func (r *Result) Describe() string {
	if r.Err != nil {
		return "no HTTP response: " + r.Err.Error()
	}
	return fmt.Sprintf("%d %s", r.Status, http.StatusText(r.Status))
}

// describeAnswer is Describe for a request that wanted a JSON-RPC answer:
// a 2xx whose body carries none says so, with how the body ended (a stream
// cut after its priming event looks like success by status alone).
func (r *Result) describeAnswer() string {
	if r.OK() && len(r.Messages) == 0 {
		return fmt.Sprintf("%s, but the body (%d bytes, %q) carries no JSON-RPC answer", r.Describe(), len(r.Body), shorten(string(r.Body), 80))
	}
	return r.Describe()
}

// maxResponseHeaderBytes bounds a response head: what a Go server accepts
// for a request head (http.DefaultMaxHeaderBytes), far above anything an MCP
// response carries. A proxy sending more gets a clear transport error
// ("server response headers exceeded …"), not an allocation without bound.
const maxResponseHeaderBytes = 1 << 20

// Evidence caps: what one exchange may keep in the report. The judges see
// the whole (--max-body bounded) body; the report keeps a prefix and says so
// (BodyTruncated, Case.Truncated), so a flooding proxy cannot bloat it.
const (
	maxEvidenceBody        = 64 << 10
	maxEvidenceHeaderValue = 8 << 10
	maxEvidenceHeaders     = 200
	maxEvidenceSSE         = 500
)

// capExchange cuts an exchange down to the evidence caps and reports whether
// its evidence is incomplete (cut here, or a body already cut when read).
func capExchange(e *report.Exchange) bool {
	cut := false
	capBody := func(body *string, flag *bool) {
		if len(*body) > maxEvidenceBody {
			*body = (*body)[:maxEvidenceBody]
			*flag, cut = true, true
		}
	}
	capHeaders := func(hs []report.Header) []report.Header {
		if len(hs) > maxEvidenceHeaders {
			n := len(hs) - maxEvidenceHeaders
			hs = append(hs[:maxEvidenceHeaders:maxEvidenceHeaders], report.Header{
				Name: "…", Value: fmt.Sprintf("[%d more header fields not kept in the report]", n),
			})
			cut = true
		}
		for i := range hs {
			if len(hs[i].Value) > maxEvidenceHeaderValue {
				hs[i].Value = fmt.Sprintf("%s…[truncated: %d bytes in all]", hs[i].Value[:maxEvidenceHeaderValue], len(hs[i].Value))
				cut = true
			}
		}
		return hs
	}
	capBody(&e.Request.Body, &e.Request.BodyTruncated)
	e.Request.Headers = capHeaders(e.Request.Headers)
	cut = cut || e.Request.BodyTruncated
	if e.Response != nil {
		capBody(&e.Response.Body, &e.Response.BodyTruncated)
		e.Response.Headers = capHeaders(e.Response.Headers)
		// Already cut when read (--max-body, or the evidence cap in do).
		cut = cut || e.Response.BodyTruncated
	}
	if len(e.SSE) > maxEvidenceSSE {
		e.SSE = e.SSE[:maxEvidenceSSE:maxEvidenceSSE]
		cut = true
	}
	for i := range e.SSE {
		if len(e.SSE[i].Data) > maxEvidenceBody {
			e.SSE[i].Data = e.SSE[i].Data[:maxEvidenceBody]
			cut = true
		}
	}
	return cut
}

// evidenceBody is the prefix of body the report keeps.
func evidenceBody(body []byte) (string, bool) {
	if len(body) > maxEvidenceBody {
		return string(body[:maxEvidenceBody]), true
	}
	return string(body), false
}

// resolve gives the URL and method a request goes out with: the target's
// MCP endpoint unless the request names another URL, the raw query
// appended, POST unless said otherwise.
func (req Request) resolve(t Target) (u, method string) {
	u = req.URL
	if u == "" {
		u = t.MCPURL
	}
	if req.Query != "" {
		sep := "?"
		if strings.Contains(u, "?") {
			sep = "&"
		}
		u += sep + req.Query
	}
	method = req.Method
	if method == "" {
		method = http.MethodPost
	}
	return u, method
}

// client is the harness's HTTP client. It never follows redirects (a proxy's
// 307 is evidence), never decompresses (compression is evidence), and bounds
// every body it reads.
type client struct {
	http    *http.Client
	maxBody int64
}

func newClient(maxBody int64) *client {
	tr := &http.Transport{
		Proxy:                  nil, // never route the harness through an environment proxy
		DialContext:            (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		DisableCompression:     true,
		MaxIdleConnsPerHost:    4,
		IdleConnTimeout:        30 * time.Second,
		MaxResponseHeaderBytes: maxResponseHeaderBytes,
		ForceAttemptHTTP2:      false,
	}
	return &client{
		http: &http.Client{
			Transport:     tr,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		maxBody: maxBody,
	}
}

func (c *client) close() { c.http.CloseIdleConnections() }

// do sends req to t and reads the whole (bounded) response.
func (c *client) do(ctx context.Context, t Target, req Request) *Result {
	u, method := req.resolve(t)
	start := time.Now()
	res := &Result{Exchange: report.Exchange{Hop: t.Hop, Started: start}}
	hr, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(req.Body))
	if err != nil {
		res.Err = err
		res.Exchange.Error = err.Error()
		return res
	}
	if req.Body == nil {
		hr.Body = nil
		hr.ContentLength = 0
	}
	for k, vs := range t.Header {
		hr.Header[k] = append([]string(nil), vs...)
	}
	for k, vs := range req.Header {
		hr.Header[k] = append([]string(nil), vs...)
	}
	reqBody, reqCut := evidenceBody(req.Body)
	res.Exchange.Request = report.Request{
		Method:        method,
		URL:           u,
		Proto:         "HTTP/1.1",
		Headers:       headerList(hr.Header),
		Body:          reqBody,
		BodyTruncated: reqCut,
	}
	resp, err := c.http.Do(hr)
	if err != nil {
		res.Err = describeErr(ctx, err)
		res.Exchange.Error = res.Err.Error()
		res.Exchange.DurationMS = ms(time.Since(start))
		return res
	}
	defer resp.Body.Close()
	res.Status = resp.StatusCode
	res.Header = resp.Header
	body, rerr := io.ReadAll(io.LimitReader(resp.Body, c.maxBody+1))
	truncated := int64(len(body)) > c.maxBody
	if truncated {
		body = body[:c.maxBody]
	}
	res.Body = body
	res.Exchange.DurationMS = ms(time.Since(start))
	evBody, evCut := evidenceBody(body)
	res.Exchange.Response = &report.Response{
		Status:        resp.StatusCode,
		StatusText:    http.StatusText(resp.StatusCode),
		Proto:         resp.Proto,
		Headers:       headerList(resp.Header),
		Body:          evBody,
		BodyTruncated: truncated || evCut,
	}
	if rerr != nil {
		res.Err = fmt.Errorf("response body: %w", describeErr(ctx, rerr))
		res.Exchange.Error = res.Err.Error()
	} else if truncated {
		res.Err = fmt.Errorf("response body larger than %d bytes (--max-body)", c.maxBody)
		res.Exchange.Error = res.Err.Error()
	}
	res.Messages = jsonRPCMessages(resp.Header.Get("Content-Type"), body)
	return res
}

// describeErr turns context errors into words a report reader understands.
func describeErr(ctx context.Context, err error) error {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("timed out waiting (scenario timeout): %w", err)
	}
	return err
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// jsonRPCMessages extracts JSON-RPC messages from a JSON body or from the data
// fields of an SSE body.
func jsonRPCMessages(contentType string, body []byte) []json.RawMessage {
	var out []json.RawMessage
	add := func(b []byte) {
		b = bytes.TrimSpace(b)
		if len(b) == 0 {
			return
		}
		if b[0] == '[' {
			var batch []json.RawMessage
			if json.Unmarshal(b, &batch) == nil {
				out = append(out, batch...)
			}
			return
		}
		if json.Valid(b) {
			out = append(out, json.RawMessage(b))
		}
	}
	if strings.HasPrefix(strings.ToLower(contentType), "text/event-stream") {
		var data []byte
		sc := bufio.NewScanner(bytes.NewReader(body))
		sc.Buffer(make([]byte, 64<<10), len(body)+1)
		for sc.Scan() {
			line := strings.TrimSuffix(sc.Text(), "\r")
			switch {
			case line == "":
				add(data)
				data = nil
			case strings.HasPrefix(line, "data:"):
				if data != nil {
					data = append(data, '\n')
				}
				data = append(data, strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " ")...)
			}
		}
		add(data)
		return out
	}
	add(body)
	return out
}

// MockInitializeAnswer reports whether a response body (JSON, or an event
// stream) carries the mock's initialize result, named by its serverInfo:
// the preflight's proof that the proxy reached the mock (HTTP or stdio).
func MockInitializeAnswer(contentType string, body []byte) bool {
	return mockInitializeResult(jsonRPCMessages(contentType, body))
}

func mockInitializeResult(msgs []json.RawMessage) bool {
	for _, m := range msgs {
		var msg struct {
			Result struct {
				ServerInfo struct {
					Name string `json:"name"`
				} `json:"serverInfo"`
			} `json:"result"`
		}
		if json.Unmarshal(m, &msg) == nil && msg.Result.ServerInfo.Name == mockserver.ServerName {
			return true
		}
	}
	return false
}

// headerList flattens headers in a stable order for evidence.
func headerList(h http.Header) []report.Header {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []report.Header
	for _, k := range keys {
		for _, v := range h[k] {
			out = append(out, report.Header{Name: k, Value: v})
		}
	}
	return out
}

// upstreamOnlyCall is the params of a tools/call only the upstream can
// answer (echo_headers: what it received), for probes whose request must
// reach it: a gateway may answer tools/list from a cached tool list.
func upstreamOnlyCall() map[string]any {
	return map[string]any{"name": mockserver.ToolEchoHeaders, "arguments": map[string]any{}}
}

// rpcRequest builds a JSON-RPC request body.
func rpcRequest(id int, method string, params any) []byte {
	m := map[string]any{"jsonrpc": "2.0", "id": id, "method": method}
	if params != nil {
		m["params"] = params
	}
	b, _ := json.Marshal(m)
	return b
}

// rpcNotification builds a JSON-RPC notification body.
func rpcNotification(method string) []byte {
	b, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "method": method})
	return b
}

// harnessClientName is the clientInfo name of the harness's initialize: a
// different name at the upstream means the proxy initialized on its own.
const harnessClientName = "mcpconform"

func initializeParams() map[string]any {
	return map[string]any{
		"protocolVersion": ProtocolVersion,
		"capabilities":    map[string]any{},
		"clientInfo":      map[string]any{"name": harnessClientName, "version": "1"},
	}
}

// postHeaders are the headers every MCP POST carries (spec: Accept lists both).
func postHeaders(sessionID string) http.Header {
	h := http.Header{}
	h.Set("Accept", "application/json, text/event-stream")
	h.Set("Content-Type", "application/json")
	if sessionID != "" {
		h.Set("Mcp-Session-Id", sessionID)
		if ProtocolVersion >= Rev20250618 { // the header exists from 2025-06-18
			h.Set("MCP-Protocol-Version", ProtocolVersion)
		}
	}
	return h
}
