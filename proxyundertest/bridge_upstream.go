package proxyundertest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// The bridge's upstream side: the SDK client session talks HTTP through
// upstreamTransport, which sets each request's credentials and keeps what
// the upstream refused, so the downstream side can relay it.

// maxAnswerBody caps how much of an upstream refusal's body is kept.
const maxAnswerBody = 64 << 10

// upstreamAnswer is a non-2xx answer of the upstream.
type upstreamAnswer struct {
	Status        int
	Header        http.Header
	Body          []byte
	ContentLength int64
	// RPC is the JSON-RPC error its body carried, if any.
	RPC *jsonrpc.Error
}

// challenged reports whether the refusal is one a client answers by
// authenticating: every 401, and a 403 or 400 that carries a challenge
// (step-up scope, invalid_request).
func (a *upstreamAnswer) challenged() bool {
	return a.Status == http.StatusUnauthorized ||
		(a.Status == http.StatusForbidden || a.Status == http.StatusBadRequest) && len(a.Header.Values("WWW-Authenticate")) > 0
}

// describe is "401 Unauthorized: <the upstream's message>".
func (a *upstreamAnswer) describe() string {
	s := statusText(a.Status)
	if a.RPC != nil && a.RPC.Message != "" {
		s += ": " + a.RPC.Message
	}
	return s
}

// readAnswer reads a refusal (body capped) and decodes its JSON-RPC error.
func readAnswer(resp *http.Response) *upstreamAnswer {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBody))
	_ = resp.Body.Close()
	a := &upstreamAnswer{Status: resp.StatusCode, Header: resp.Header.Clone(), Body: body, ContentLength: resp.ContentLength}
	// Not jsonrpc.DecodeMessage: an HTTP-level refusal answers no request
	// in particular and usually says "id": null, which it rejects.
	var env struct {
		Error *jsonrpc.Error `json:"error"`
	}
	if json.Unmarshal(body, &env) == nil && env.Error != nil {
		a.RPC = env.Error
	}
	return a
}

// httpClient is the upstream HTTP client of one session. No overall
// timeout: its responses are streams.
func (s *bridgeSession) httpClient() *http.Client {
	return &http.Client{Transport: &upstreamTransport{s: s}}
}

type upstreamTransport struct{ s *bridgeSession }

func (t *upstreamTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	s, b := t.s, t.s.b
	// The SDK passes a call's context to the request it causes; it also
	// keeps the initialize's context values for its own later requests
	// (the standalone GET, the DELETE), which no client request caused.
	ex := exchangeFrom(req.Context())
	if ex != nil && (req.Method != http.MethodPost || !ex.active()) {
		ex = nil
	}
	out := req.Clone(req.Context())
	out.Header.Del("Authorization")
	s.mu.Lock()
	choice := CredentialChoice{Method: req.Method, Latest: s.latest, Initial: s.initial}
	s.mu.Unlock()
	if ex != nil {
		choice.Caused, choice.Request = true, ex.auth
	}
	creds := b.Credentials
	if creds == nil {
		creds = DefaultCredentials
	}
	for _, v := range creds(choice) {
		out.Header.Add("Authorization", v)
	}
	if s.fwdHost != "" {
		out.Header.Set("X-Forwarded-Host", s.fwdHost)
		out.Header.Set("X-Forwarded-Proto", s.fwdProto)
	}
	for _, h := range b.UpstreamRequestHooks {
		h(out)
	}
	base := b.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	resp, err := base.RoundTrip(out)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		a := readAnswer(resp)
		resp.Body = io.NopCloser(bytes.NewReader(a.Body))
		s.mu.Lock()
		switch req.Method {
		case http.MethodGet:
			s.getAnswer = a
		case http.MethodDelete:
			s.deleteAnswer = a
		}
		s.mu.Unlock()
		if req.Method == http.MethodPost {
			if ex != nil {
				ex.recordFailure(a)
			}
			sdkBody(resp, a)
		}
		return resp, nil
	}
	switch req.Method {
	case http.MethodPost:
		// The call is accepted: its stream may flow to the client now.
		// An initialize is decided when the whole session has opened.
		if ex != nil {
			ex.recordAdvisory(resp.Header)
			if ex.method != "initialize" {
				ex.decide(nil)
			}
		}
	case http.MethodGet:
		s.mu.Lock()
		s.getAnswer = nil
		s.mu.Unlock()
	}
	switch baseMediaType(resp.Header.Get("Content-Type")) {
	case "text/event-stream":
		resp.Body = &sseWatch{ReadCloser: resp.Body, s: s}
	case "application/json":
		if req.Method == http.MethodPost {
			answerTheCall(req, resp)
		}
	}
	return resp, nil
}

// answerTheCall makes sure a JSON answer to a POSTed call answers that call.
// An upstream that answers with a response to another id (or with no
// response at all) would leave the SDK waiting for ever, and the client
// with it; the bridge ends the call with an error instead, inventing no
// result.
func answerTheCall(req *http.Request, resp *http.Response) {
	if req.GetBody == nil {
		return
	}
	rb, err := req.GetBody()
	if err != nil {
		return
	}
	var call struct {
		ID     json.RawMessage `json:"id"`
		Method string          `json:"method"`
	}
	if json.NewDecoder(rb).Decode(&call) != nil || call.Method == "" || len(call.ID) == 0 {
		return // a notification or a response: no answer expected
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBridgeBody+1))
	_ = resp.Body.Close()
	var got struct {
		ID json.RawMessage `json:"id"`
	}
	if err == nil && json.Unmarshal(body, &got) == nil && bytes.Equal(got.ID, call.ID) {
		resp.Body = io.NopCloser(bytes.NewReader(body))
		return
	}
	msg := "bridge: the upstream's JSON answer does not answer this request"
	if len(got.ID) > 0 {
		msg += " (it answers id " + string(got.ID) + ")"
	}
	body, _ = json.Marshal(map[string]any{"jsonrpc": "2.0", "id": call.ID,
		"error": &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: msg}})
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
}

// sdkBody shapes the body of a refused POST for the SDK client. A JSON-RPC
// error response makes the SDK fail only that call; anything else (no body,
// text, or the common "id": null, which its decoder rejects) makes it fail
// the whole upstream session, and a client that refreshes its token after a
// 401 would find the session dead. So a 4xx gets an error response the SDK
// accepts (the id is irrelevant to it), carrying the upstream's error. A 404
// gets an empty body, which the SDK reads as "session gone" (it then sends
// no DELETE to a session that no longer exists).
func sdkBody(resp *http.Response, a *upstreamAnswer) {
	var body []byte
	switch {
	case a.Status == http.StatusNotFound:
		body = nil
	case a.Status/100 == 4:
		rpc := a.RPC
		if rpc == nil {
			rpc = &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: "upstream answered " + statusText(a.Status)}
		}
		body, _ = json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 0, "error": rpc})
		resp.Header.Set("Content-Type", "application/json")
	default:
		return
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
}

func baseMediaType(v string) string {
	mt, _, _ := bytes.Cut([]byte(v), []byte(";"))
	return string(bytes.ToLower(bytes.TrimSpace(mt)))
}

// maxWatchedEvent caps the data the watcher keeps of one event: progress
// notifications are small, and a large event (a 1 MiB result) need not be
// kept twice.
const maxWatchedEvent = 16 << 10

// sseWatch passes an upstream SSE body through unchanged and counts the
// progress notifications in it as they are read, before the SDK sees their
// bytes: so a call knows, when its result arrives, how many progress
// notifications came before it (awaitProgress).
type sseWatch struct {
	io.ReadCloser
	s      *bridgeSession
	line   []byte
	data   []byte
	big    bool // the current event outgrew maxWatchedEvent
	lastCR bool
}

func (w *sseWatch) Read(p []byte) (int, error) {
	n, err := w.ReadCloser.Read(p)
	w.feed(p[:n])
	return n, err
}

func (w *sseWatch) feed(b []byte) {
	for len(b) > 0 {
		if w.lastCR && b[0] == '\n' { // CRLF: the CR ended the line
			b = b[1:]
			w.lastCR = false
			continue
		}
		i := bytes.IndexAny(b, "\r\n")
		if i < 0 {
			w.addLine(b)
			return
		}
		w.addLine(b[:i])
		w.lastCR = b[i] == '\r'
		w.endLine()
		b = b[i+1:]
	}
}

func (w *sseWatch) addLine(b []byte) {
	w.lastCR = false
	if len(w.line)+len(b) > maxWatchedEvent {
		w.big = true
		return
	}
	w.line = append(w.line, b...)
}

func (w *sseWatch) endLine() {
	line := w.line
	w.line = w.line[:0]
	if len(line) == 0 {
		w.dispatch()
		return
	}
	if v, ok := bytes.CutPrefix(line, []byte("data:")); ok {
		v = bytes.TrimPrefix(v, []byte(" "))
		if len(w.data)+len(v) > maxWatchedEvent {
			w.big = true
			return
		}
		if len(w.data) > 0 {
			w.data = append(w.data, '\n')
		}
		w.data = append(w.data, v...)
	}
}

func (w *sseWatch) dispatch() {
	data, big := w.data, w.big
	w.data, w.big = w.data[:0], false
	if big || !bytes.Contains(data, []byte("notifications/progress")) {
		return
	}
	var msg struct {
		Method string `json:"method"`
		Params struct {
			Token any `json:"progressToken"`
		} `json:"params"`
	}
	if json.Unmarshal(data, &msg) == nil && msg.Method == "notifications/progress" {
		w.s.sawProgress(msg.Params.Token)
	}
}

// watchedTransport counts the progress notifications a stdio upstream sends,
// as sseWatch does for HTTP.
type watchedTransport struct {
	mcp.Transport
	s *bridgeSession
}

func (t *watchedTransport) Connect(ctx context.Context) (mcp.Connection, error) {
	c, err := t.Transport.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &watchedConn{Connection: c, s: t.s}, nil
}

type watchedConn struct {
	mcp.Connection
	s *bridgeSession
}

func (c *watchedConn) Read(ctx context.Context) (jsonrpc.Message, error) {
	m, err := c.Connection.Read(ctx)
	if r, ok := m.(*jsonrpc.Request); ok && r.Method == "notifications/progress" {
		var p struct {
			Token any `json:"progressToken"`
		}
		if json.Unmarshal(r.Params, &p) == nil {
			c.s.sawProgress(p.Token)
		}
	}
	return m, err
}
