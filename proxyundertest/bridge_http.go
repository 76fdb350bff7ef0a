package proxyundertest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httputil"
	"net/url"
	"reflect"
	"strconv"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// The bridge's downstream HTTP side. The SDK's handlers answer every POST
// with 200 (or 202) and put a failed call's error in the body; a bridge must
// instead answer a request whose upstream request was refused with the
// upstream's status and challenge (a client learns of a 401 only from the
// status). So each client request is tagged with an exchange (in its
// params' _meta, read and removed by the receiving middleware), and the
// response is held until the exchange is decided: passed through once the
// upstream answered 2xx, or replaced by the relayed refusal.

// maxBridgeBody bounds a client POST body, as the SDK's handler does.
const maxBridgeBody = 4 << 20

// legacyHold bounds how long a legacy POST waits for its request's upstream
// outcome before it is answered 202 (errors then arrive in-band).
const legacyHold = 10 * time.Second

// bridgeChallenge is the bridge's own challenge, for an upstream 401 that
// carried none (every 401 must carry one, RFC 9110 §15.5.2).
const bridgeChallenge = `Bearer realm="` + BridgeServerName + `"`

// relayedFields are the upstream response fields a relayed refusal keeps:
// the challenges, the DPoP nonce a client needs for its next proof, and the
// methods a 405 allows.
var relayedFields = []string{"WWW-Authenticate", "DPoP-Nonce", "Allow"}

// RelayedError is the bridge's answer to a client request whose upstream
// request was refused: a status of its own instead of a JSON-RPC error
// inside a 200 stream.
type RelayedError struct {
	// Method is the client's JSON-RPC method, or GET / DELETE for those.
	Method string
	// ID is the client's JSON-RPC request id (null for GET and DELETE).
	ID json.RawMessage
	// Upstream is what the upstream answered (nil when it did not answer).
	Upstream *upstreamAnswer
	// Status, Header and the body are what the client gets. The body is
	// Body when set, else a JSON-RPC error response carrying RPC.
	Status int
	Header http.Header
	RPC    *jsonrpc.Error
	Body   []byte
	// EndSession: the upstream session is gone, so the bridge ends the
	// client session too (set for a 404).
	EndSession bool
}

// relayedError maps an upstream refusal onto a client request: the same
// status, the same challenges verbatim (an equivalent set by construction)
// and companion fields, the upstream's JSON-RPC error with the client's id.
func (b *Bridge) relayedError(method string, id json.RawMessage, a *upstreamAnswer) *RelayedError {
	e := &RelayedError{Method: method, ID: id, Upstream: a, Status: a.Status, Header: http.Header{}}
	for _, name := range relayedFields {
		if vs := a.Header.Values(name); len(vs) > 0 {
			e.Header[http.CanonicalHeaderKey(name)] = append([]string(nil), vs...)
		}
	}
	if e.Status == http.StatusUnauthorized && len(e.Header.Values("WWW-Authenticate")) == 0 {
		e.Header.Set("WWW-Authenticate", bridgeChallenge)
	}
	e.RPC = a.RPC
	if e.RPC == nil {
		e.RPC = &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: "bridge: upstream answered " + a.describe()}
	}
	return e
}

func (e *RelayedError) body() []byte {
	if e.Body != nil {
		return e.Body
	}
	id := e.ID
	if len(id) == 0 {
		id = json.RawMessage("null")
	}
	b, err := json.Marshal(struct {
		JSONRPC string          `json:"jsonrpc"`
		ID      json.RawMessage `json:"id"`
		Error   *jsonrpc.Error  `json:"error"`
	}{"2.0", id, e.RPC})
	if err != nil {
		return []byte(`{"jsonrpc":"2.0","id":null,"error":{"code":-32603,"message":"bridge: unencodable error"}}`)
	}
	return b
}

// write answers with the error; the ErrorHooks have run.
func (e *RelayedError) write(w http.ResponseWriter) {
	h := w.Header()
	for k, vs := range e.Header {
		h[k] = append([]string(nil), vs...)
	}
	if h.Get("Content-Type") == "" {
		h.Set("Content-Type", "application/json")
	}
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(e.Status)
	_, _ = w.Write(e.body())
}

// hooked returns e after the specimens' error hooks.
func (b *Bridge) hooked(e *RelayedError) *RelayedError {
	if e == nil {
		return nil
	}
	for _, h := range b.ErrorHooks {
		h(e)
	}
	return e
}

// exchange tracks one client request through the bridge.
type exchange struct {
	b        *Bridge
	id       string
	method   string
	clientID json.RawMessage // the client's JSON-RPC id
	auth     []string        // the client request's Authorization values
	host     string          // the Host the client addressed
	proto    string          // and its scheme (http, https)
	hold     *heldWriter     // the held response (nil: none)
	legacy   *legacyConn     // the legacy stream it came from (nil: none)

	decidedCh chan struct{}
	once      sync.Once
	relayedCh chan struct{} // a token per relayed progress notification

	mu       sync.Mutex
	decision *RelayedError   // how it was decided (nil: passed through)
	ctx      context.Context // the downstream handler's context
	sess     *bridgeSession
	answer   *upstreamAnswer // the latest refusal of an upstream request it caused
	advisory http.Header     // challenge and DPoP nonce on an accepted upstream answer
	finished bool
	seen     int // progress notifications the upstream sent for it
	relayed  int // … and the bridge relayed
}

func newExchange(b *Bridge, method string, id json.RawMessage, auth []string) *exchange {
	return &exchange{b: b, id: rand.Text(), method: method, clientID: id, auth: auth,
		decidedCh: make(chan struct{}), relayedCh: make(chan struct{}, 1)}
}

type exchangeKey struct{}

func withExchange(ctx context.Context, ex *exchange) context.Context {
	return context.WithValue(ctx, exchangeKey{}, ex)
}

func exchangeFrom(ctx context.Context) *exchange {
	ex, _ := ctx.Value(exchangeKey{}).(*exchange)
	return ex
}

func (ex *exchange) setContext(ctx context.Context) {
	ex.mu.Lock()
	ex.ctx = ctx
	ex.mu.Unlock()
}

func (ex *exchange) context() context.Context {
	ex.mu.Lock()
	defer ex.mu.Unlock()
	if ex.ctx == nil {
		return context.Background()
	}
	return ex.ctx
}

// active reports whether the client request is still being forwarded; the
// SDK keeps the initialize's context values for its own later requests.
func (ex *exchange) active() bool {
	ex.mu.Lock()
	defer ex.mu.Unlock()
	return !ex.finished
}

func (ex *exchange) recordFailure(a *upstreamAnswer) {
	ex.mu.Lock()
	ex.answer = a
	ex.mu.Unlock()
}

// recordAdvisory keeps the fields of an accepted upstream answer that the
// client needs even on success: a challenge there says other credentials
// might change the answer (RFC 9110 §11.6.1), and a resource server may hand
// out the next DPoP nonce on any response (RFC 9449 §8.2).
func (ex *exchange) recordAdvisory(h http.Header) {
	ex.mu.Lock()
	defer ex.mu.Unlock()
	for _, name := range []string{"WWW-Authenticate", "DPoP-Nonce"} {
		if vs := h.Values(name); len(vs) > 0 {
			if ex.advisory == nil {
				ex.advisory = http.Header{}
			}
			ex.advisory[http.CanonicalHeaderKey(name)] = append([]string(nil), vs...)
		}
	}
}

func (ex *exchange) failure() *upstreamAnswer {
	ex.mu.Lock()
	defer ex.mu.Unlock()
	return ex.answer
}

func (ex *exchange) sawOne() {
	ex.mu.Lock()
	ex.seen++
	ex.mu.Unlock()
}

func (ex *exchange) relayedOne() {
	ex.mu.Lock()
	ex.relayed++
	ex.mu.Unlock()
	select {
	case ex.relayedCh <- struct{}{}:
	default:
	}
}

func (ex *exchange) progressDone() bool {
	ex.mu.Lock()
	defer ex.mu.Unlock()
	return ex.relayed >= ex.seen
}

// decide settles how the client request is answered: nil passes the SDK's
// response through, an error replaces it. The first decision wins.
func (ex *exchange) decide(e *RelayedError) {
	ex.once.Do(func() {
		if e != nil {
			e = ex.b.hooked(e)
		}
		ex.mu.Lock()
		ex.decision = e
		ex.mu.Unlock()
		if e != nil && ex.legacy != nil {
			// The relayed status is the client's only news of the failure:
			// no in-band error after it on the legacy stream.
			ex.legacy.suppress(ex.clientID)
		}
		if ex.hold != nil {
			ex.mu.Lock()
			advisory := ex.advisory
			ex.mu.Unlock()
			ex.hold.decide(e, advisory)
		}
		close(ex.decidedCh)
	})
}

// verdict is the relayed error the exchange was decided with, or a zero
// one when it passed through.
func (ex *exchange) verdict() *RelayedError {
	ex.mu.Lock()
	defer ex.mu.Unlock()
	if ex.decision == nil {
		return &RelayedError{}
	}
	return ex.decision
}

// finish ends the exchange when the middleware returns: undecided means
// pass through (the SDK answers in-band).
func (ex *exchange) finish() {
	ex.decide(nil)
	ex.mu.Lock()
	ex.finished = true
	ex.mu.Unlock()
}

// claim finds and removes the exchange tag of a request's params.
func (b *Bridge) claim(p mcp.Params) *exchange {
	if nilParams(p) {
		return nil
	}
	meta := p.GetMeta()
	id, ok := meta[exchangeMeta].(string)
	if !ok {
		return nil
	}
	delete(meta, exchangeMeta)
	if len(meta) == 0 {
		p.SetMeta(nil)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.exchanges[id]
}

// nilParams reports whether p is nil or a typed nil pointer (the SDK passes
// (*InitializedParams)(nil) for a notification without params).
func nilParams(p mcp.Params) bool {
	if p == nil {
		return true
	}
	v := reflect.ValueOf(p)
	return v.Kind() == reflect.Pointer && v.IsNil()
}

// serve routes a downstream request.
func (b *Bridge) serve(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case b.MCPPath:
		if s := b.sessionByID(r); s != nil && s.isGone() {
			// Its upstream session is gone; the client session is being
			// closed (in the background: the SDK's close waits for the
			// request that found out). Tell the client now.
			go s.end()
			http.Error(w, "session not found", http.StatusNotFound)
			return
		}
		switch r.Method {
		case http.MethodPost:
			if s := b.sessionByID(r); s != nil {
				s.noteAuth(r.Header.Values("Authorization"))
			}
			b.servePOST(w, r, b.streamable, nil)
		case http.MethodGet:
			b.serveGET(w, r)
		case http.MethodDelete:
			b.serveDELETE(w, r)
		default:
			b.streamable.ServeHTTP(w, r)
		}
	case b.LegacyPath:
		switch r.Method {
		case http.MethodGet:
			b.serveLegacyStream(w, r)
		case http.MethodPost:
			b.servePOST(w, r, b.legacy, b.legacyConn(r.URL.Query().Get("sessionid")))
		default:
			b.legacy.ServeHTTP(w, r)
		}
	default:
		b.serveOther(w, r)
	}
}

// serveOther answers the paths outside MCP. They belong to the upstream
// server: its protected-resource metadata (RFC 9728 §3), an authorization
// server it hosts itself. A bridge that relays the upstream's challenges
// must let its clients reach what those challenges name, so it forwards
// them to the upstream's origin as a reverse proxy would. A stdio upstream
// has no such paths.
func (b *Bridge) serveOther(w http.ResponseWriter, r *http.Request) {
	if len(b.Command) > 0 {
		http.NotFound(w, r)
		return
	}
	b.othersOnce.Do(func() {
		origin := &url.URL{Scheme: b.Upstream.Scheme, Host: b.Upstream.Host}
		b.others = &httputil.ReverseProxy{
			Rewrite: func(pr *httputil.ProxyRequest) {
				pr.Out.URL.Scheme, pr.Out.URL.Host, pr.Out.Host = origin.Scheme, origin.Host, origin.Host
				pr.SetXForwarded()
			},
			ErrorLog: log.New(io.Discard, "", 0),
		}
	})
	b.others.ServeHTTP(w, r)
}

// servePOST tags the requests of a client POST, lets the SDK handler serve
// it, and holds its response until the upstream outcome is known.
func (b *Bridge) servePOST(w http.ResponseWriter, r *http.Request, next http.Handler, lc *legacyConn) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBridgeBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "failed to read body", http.StatusBadRequest)
		return
	}
	tagged, exs := b.tag(body, r.Header.Values("Authorization"), lc)
	defer b.forget(exs)
	for _, ex := range exs {
		ex.host, ex.proto = r.Host, "http"
		if r.TLS != nil {
			ex.proto = "https"
		}
	}
	r2 := r.Clone(r.Context())
	r2.Body = io.NopCloser(bytes.NewReader(tagged))
	r2.ContentLength = int64(len(tagged))
	r2.Header.Del("Content-Length")
	if len(exs) == 0 {
		next.ServeHTTP(w, r2)
		return
	}
	hw := &heldWriter{w: w, header: http.Header{}}
	for _, ex := range exs {
		ex.hold = hw
	}
	next.ServeHTTP(hw, r2)
	if lc != nil {
		// The SDK has queued the message and written 202 into the held
		// response; answer it once the request's upstream outcome is
		// known (or its in-band answer went out).
		ex := exs[0]
		timer := time.NewTimer(legacyHold)
		select {
		case <-ex.decidedCh:
		case <-lc.answered(ex.clientID):
		case <-r.Context().Done():
		case <-timer.C:
		}
		timer.Stop()
	}
	hw.finish()
}

// tag puts an exchange marker into the params of every request in a POST
// body (one message or a batch) and registers the exchanges. A marker a
// client sent itself is removed from notifications and overwritten on
// requests. Bodies that do not parse go to the SDK unchanged, which answers
// them.
func (b *Bridge) tag(body []byte, auth []string, lc *legacyConn) ([]byte, []*exchange) {
	trimmed := bytes.TrimSpace(body)
	batch := len(trimmed) > 0 && trimmed[0] == '['
	var msgs []json.RawMessage
	if batch {
		if json.Unmarshal(trimmed, &msgs) != nil {
			return body, nil
		}
	} else {
		msgs = []json.RawMessage{trimmed}
	}
	var exs []*exchange
	changed := false
	for i, raw := range msgs {
		var m map[string]json.RawMessage
		if json.Unmarshal(raw, &m) != nil {
			continue
		}
		var method string
		if json.Unmarshal(m["method"], &method) != nil || method == "" {
			continue // a response to a server→client request
		}
		id, isCall := m["id"]
		isCall = isCall && !bytes.Equal(bytes.TrimSpace(id), []byte("null"))
		var params map[string]json.RawMessage
		if p := bytes.TrimSpace(m["params"]); len(p) > 0 && !bytes.Equal(p, []byte("null")) {
			if json.Unmarshal(p, &params) != nil {
				continue // not an object: the SDK refuses it
			}
		}
		var meta map[string]any
		if mr, ok := params["_meta"]; ok && json.Unmarshal(mr, &meta) != nil {
			continue
		}
		_, hadMarker := meta[exchangeMeta]
		if !isCall && !hadMarker {
			continue
		}
		delete(meta, exchangeMeta)
		if isCall {
			ex := newExchange(b, method, append(json.RawMessage(nil), id...), append([]string(nil), auth...))
			ex.legacy = lc
			exs = append(exs, ex)
			if meta == nil {
				meta = map[string]any{}
			}
			meta[exchangeMeta] = ex.id
		}
		if params == nil {
			params = map[string]json.RawMessage{}
		}
		if len(meta) == 0 {
			delete(params, "_meta")
		} else {
			params["_meta"], _ = json.Marshal(meta)
		}
		m["params"], _ = json.Marshal(params)
		msgs[i], _ = json.Marshal(m)
		changed = true
	}
	if !changed {
		return body, nil
	}
	b.mu.Lock()
	for _, ex := range exs {
		b.exchanges[ex.id] = ex
	}
	b.mu.Unlock()
	if batch {
		out, _ := json.Marshal(msgs)
		return out, exs
	}
	return msgs[0], exs
}

func (b *Bridge) forget(exs []*exchange) {
	b.mu.Lock()
	for _, ex := range exs {
		delete(b.exchanges, ex.id)
	}
	b.mu.Unlock()
}

// serveGET is the standalone stream: when the upstream refused the
// bridge's own GET stream with a status a client acts on, the client's GET
// gets that refusal rather than a stream that would never deliver anything.
func (b *Bridge) serveGET(w http.ResponseWriter, r *http.Request) {
	s := b.sessionByID(r)
	if s == nil {
		b.streamable.ServeHTTP(w, r)
		return
	}
	s.noteAuth(r.Header.Values("Authorization"))
	s.mu.Lock()
	a, gone := s.getAnswer, s.gone
	s.mu.Unlock()
	switch {
	case gone: // since the check in serve
		go s.end()
		http.Error(w, "session not found", http.StatusNotFound)
	case a != nil && (a.challenged() || a.Status == http.StatusMethodNotAllowed || a.Status == http.StatusNotFound):
		e := b.relayedError(http.MethodGet, nil, a)
		e.EndSession = a.Status == http.StatusNotFound
		if b.hooked(e).EndSession {
			s.end()
		}
		e.write(w)
	default:
		ctx, done := s.holdStream(r.Context())
		defer done()
		b.streamable.ServeHTTP(w, r.WithContext(ctx))
	}
}

// serveDELETE ends the client session and its upstream session (the SDK's
// close sends the DELETE upstream, with this request's credentials as the
// latest). An upstream refusal of that DELETE reaches the client.
func (b *Bridge) serveDELETE(w http.ResponseWriter, r *http.Request) {
	s := b.sessionByID(r)
	if s == nil {
		b.streamable.ServeHTTP(w, r) // 400 without an id, 404 for an unknown one
		return
	}
	s.noteAuth(r.Header.Values("Authorization"))
	s.end()
	s.mu.Lock()
	a := s.deleteAnswer
	s.mu.Unlock()
	if a != nil && a.Status/100 == 4 {
		b.hooked(b.relayedError(http.MethodDelete, nil, a)).write(w)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// heldWriter holds a response (status, fields, body) until its exchange is
// decided, then passes it through or replaces it by the relayed error. The
// SDK writes from its own goroutines; every access is under mu, and nothing
// reaches the real writer after finish (the handler has returned).
type heldWriter struct {
	w http.ResponseWriter

	mu      sync.Mutex
	state   holdState
	header  http.Header
	status  int
	buf     bytes.Buffer
	flushed bool
}

type holdState int

const (
	holding holdState = iota
	passing
	replaced
	done
)

func (h *heldWriter) Header() http.Header {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.state == passing {
		return h.w.Header()
	}
	return h.header
}

func (h *heldWriter) WriteHeader(code int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch h.state {
	case holding:
		if h.status == 0 {
			h.status = code
		}
	case passing:
		h.w.WriteHeader(code)
	}
}

func (h *heldWriter) Write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch h.state {
	case holding:
		if h.status == 0 {
			h.status = http.StatusOK
		}
		return h.buf.Write(p)
	case passing:
		return h.w.Write(p)
	}
	return len(p), nil // replaced: the client already has its answer
}

// Flush keeps SSE streaming once the response passes.
func (h *heldWriter) Flush() {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch h.state {
	case holding:
		h.flushed = true
	case passing:
		_ = http.NewResponseController(h.w).Flush()
	}
}

// decide releases a held response, with the upstream's advisory fields
// added, or replaces it.
func (h *heldWriter) decide(e *RelayedError, advisory http.Header) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.state != holding {
		return
	}
	if e != nil {
		h.state = replaced
		e.write(h.w)
		return
	}
	for k, vs := range advisory {
		h.header[k] = vs
	}
	h.release()
}

// release passes what is held through; h.mu is held.
func (h *heldWriter) release() {
	h.state = passing
	dst := h.w.Header()
	for k, vs := range h.header {
		dst[k] = vs
	}
	if h.status != 0 {
		h.w.WriteHeader(h.status)
		_, _ = h.w.Write(h.buf.Bytes())
		h.buf.Reset()
		if h.flushed {
			_ = http.NewResponseController(h.w).Flush()
		}
	}
}

// finish runs when the SDK handler has returned: an undecided response
// passes, and nothing is written afterwards.
func (h *heldWriter) finish() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.state == holding {
		h.release()
	}
	h.state = done
}

// legacyConn is one downstream legacy HTTP+SSE stream: the bridge learns
// its sessionid from the endpoint event and drops the in-band answers of
// requests whose failure was relayed as an HTTP status on their POST.
type legacyConn struct {
	mu         sync.Mutex
	suppressed map[string]bool
	waiting    map[string]chan struct{}
}

func (b *Bridge) legacyConn(id string) *legacyConn {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.legacies[id]
}

func (lc *legacyConn) suppress(id json.RawMessage) {
	if lc == nil {
		return
	}
	lc.mu.Lock()
	lc.suppressed[string(id)] = true
	lc.mu.Unlock()
}

// answered is closed once the answer to id went out on the stream.
func (lc *legacyConn) answered(id json.RawMessage) <-chan struct{} {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	ch, ok := lc.waiting[string(id)]
	if !ok {
		ch = make(chan struct{})
		lc.waiting[string(id)] = ch
	}
	return ch
}

// serveLegacyStream serves GET /sse through the SDK with a writer that reads
// what the SDK writes (one event per Write).
func (b *Bridge) serveLegacyStream(w http.ResponseWriter, r *http.Request) {
	lc := &legacyConn{suppressed: map[string]bool{}, waiting: map[string]chan struct{}{}}
	lw := &legacyWriter{ResponseWriter: w, b: b, lc: lc}
	defer lw.unregister()
	b.legacy.ServeHTTP(lw, r)
}

type legacyWriter struct {
	http.ResponseWriter
	b  *Bridge
	lc *legacyConn
	id string // the sessionid of the endpoint event
}

func (lw *legacyWriter) Write(p []byte) (int, error) {
	ev := parseEventBlock(p)
	switch ev.name {
	case "endpoint":
		if lw.id == "" {
			if i := bytes.Index(ev.data, []byte("sessionid=")); i >= 0 {
				lw.id = string(ev.data[i+len("sessionid="):])
				lw.b.mu.Lock()
				lw.b.legacies[lw.id] = lw.lc
				lw.b.mu.Unlock()
			}
		}
	case "message", "":
		var msg struct {
			ID json.RawMessage `json:"id"`
		}
		if json.Unmarshal(ev.data, &msg) == nil && len(msg.ID) > 0 {
			lc := lw.lc
			lc.mu.Lock()
			drop := lc.suppressed[string(msg.ID)]
			delete(lc.suppressed, string(msg.ID))
			if ch, ok := lc.waiting[string(msg.ID)]; ok {
				close(ch)
				delete(lc.waiting, string(msg.ID))
			}
			lc.mu.Unlock()
			if drop {
				return len(p), nil
			}
		}
	}
	return lw.ResponseWriter.Write(p)
}

func (lw *legacyWriter) Flush() { _ = http.NewResponseController(lw.ResponseWriter).Flush() }

// Unwrap lets http.ResponseController reach the underlying writer.
func (lw *legacyWriter) Unwrap() http.ResponseWriter { return lw.ResponseWriter }

func (lw *legacyWriter) unregister() {
	if lw.id == "" {
		return
	}
	lw.b.mu.Lock()
	if lw.b.legacies[lw.id] == lw.lc {
		delete(lw.b.legacies, lw.id)
	}
	lw.b.mu.Unlock()
}

// eventBlock is one SSE event as the SDK writes it.
type eventBlock struct {
	name string
	data []byte
}

// parseEventBlock reads the event name and data of one complete event.
func parseEventBlock(p []byte) eventBlock {
	var ev eventBlock
	for _, line := range bytes.Split(p, []byte("\n")) {
		switch {
		case bytes.HasPrefix(line, []byte("event:")):
			ev.name = string(bytes.TrimSpace(line[len("event:"):]))
		case bytes.HasPrefix(line, []byte("data:")):
			d := bytes.TrimPrefix(line[len("data:"):], []byte(" "))
			if ev.data != nil {
				ev.data = append(ev.data, '\n')
			}
			ev.data = append(ev.data, d...)
		}
	}
	return ev
}

// statusText is "401 Unauthorized".
func statusText(code int) string {
	return strconv.Itoa(code) + " " + http.StatusText(code)
}
