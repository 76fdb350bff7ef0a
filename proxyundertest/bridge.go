package proxyundertest

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// The reference bridge (builtin:bridge) is the role B proxy: an
// MCP-terminating bridge, as the MCP Inspector's proxy, stdio↔HTTP bridges
// and gateways are. It keeps its own session per client and opens one
// upstream session of its own for each, when the client's initialize
// arrives. Both sides are the official Go SDK: downstream an mcp.Server
// behind the Streamable HTTP and legacy HTTP+SSE handlers, whose receiving
// middleware forwards every client request through an mcp.ClientSession;
// upstream that client session, over Streamable HTTP, legacy HTTP+SSE or a
// stdio child. What the SDK does not do is in two small wrappers: an
// http.RoundTripper upstream (bridge_upstream.go: per-request credentials,
// capturing refusals) and an http.Handler downstream (bridge_http.go:
// answering a refused request with the upstream's status and challenge).
//
// Specimens change one thing through the hook fields, as they do on the
// Reference.
type Bridge struct {
	// Upstream is the upstream MCP URL: Streamable HTTP, or the legacy
	// HTTP+SSE endpoint when its path is LegacyPath. Unused with Command.
	Upstream *url.URL
	// Command, when set, runs the upstream as a stdio child, one per client
	// session (Options.UpstreamCommand).
	Command []string
	// Opt is what the run declared.
	Opt Options
	// MCPPath is where the bridge serves Streamable HTTP (the upstream URL's
	// path), LegacyPath where it serves legacy HTTP+SSE (/sse).
	MCPPath, LegacyPath string
	// IdleTimeout ends a client session that sent nothing for this long,
	// and with it its upstream session. Read when the handler is built.
	IdleTimeout time.Duration
	// Transport carries the upstream HTTP requests; nil means
	// http.DefaultTransport.
	Transport http.RoundTripper
	// ProgressDrain bounds how long a call whose result has arrived waits
	// for the progress notifications the upstream sent before it to be
	// relayed (the SDK client hands over the result at once but queues
	// notifications for a handler goroutine).
	ProgressDrain time.Duration

	// UpstreamRequestHooks run on every upstream HTTP request, after the
	// bridge has set its credentials.
	UpstreamRequestHooks []func(*http.Request)
	// Credentials chooses the Authorization field values of an upstream
	// HTTP request; nil means DefaultCredentials.
	Credentials func(CredentialChoice) []string
	// ErrorHooks run on every refusal the bridge answers with an HTTP status
	// of its own, just before it is written.
	ErrorHooks []func(*RelayedError)
	// NotificationHooks run on every server→client notification before it
	// is relayed to the client.
	NotificationHooks []func(*RelayedNotification)
	// Middleware wraps the downstream handler, outermost last appended
	// (the API-key gate of role K, then CORS).
	Middleware []func(http.Handler) http.Handler

	buildOnce sync.Once
	// others forwards the paths outside MCP to the upstream (serveOther).
	othersOnce sync.Once
	others     *httputil.ReverseProxy
	server     *mcp.Server
	streamable http.Handler
	legacy     http.Handler
	// send is the downstream server's own sending method handler, captured
	// by a sending middleware: it sends any server→client notification to
	// a session, on the stream its context selects.
	send mcp.MethodHandler

	mu        sync.Mutex
	sessions  map[*mcp.ServerSession]*bridgeSession
	byID      map[string]*bridgeSession // Streamable HTTP sessions by their id
	exchanges map[string]*exchange      // client requests in flight, by marker
	legacies  map[string]*legacyConn    // legacy streams, by their sessionid
	closed    bool
}

// CredentialChoice is what the bridge knows when it sets the credentials of
// an upstream HTTP request.
type CredentialChoice struct {
	// Method is the upstream HTTP method.
	Method string
	// Caused is true when a client request caused this upstream request
	// (a forwarded call or notification); Request then holds that client
	// request's Authorization values.
	Caused  bool
	Request []string
	// Latest are the Authorization values of the client's most recent
	// request in the session, Initial those of its initialize.
	Latest, Initial []string
}

// DefaultCredentials is the bridge's rule: a request caused by a client
// request carries that request's Authorization; any other (the SDK's
// standalone GET stream, its reconnects, the DELETE that ends the session)
// carries the latest one the client sent. Never pinned at session start.
func DefaultCredentials(c CredentialChoice) []string {
	if c.Caused {
		return c.Request
	}
	return c.Latest
}

// RelayedNotification is a server→client notification on its way to the
// client.
type RelayedNotification struct {
	Method string
	Params mcp.Params
	// OnRequestStream sends it on the stream of the client request it
	// belongs to (progress), instead of the session's standalone stream.
	OnRequestStream bool
	// Drop discards it.
	Drop bool
	// Delay relays it this much later, from another goroutine.
	Delay time.Duration
}

// BridgeServerName is what the bridge calls itself: in the clientInfo of
// its upstream sessions.
const BridgeServerName = "mcpconform-bridge"

// connectTimeout bounds opening an upstream session (its initialize, the
// standalone GET and initialized).
const connectTimeout = 15 * time.Second

// exchangeMeta is the _meta key under which the downstream wrapper tags each
// client request with the exchange that tracks it (stripped again before
// anything is forwarded).
const exchangeMeta = "io.mcpconform.bridge/exchange"

// NewBridge builds the reference bridge in front of the upstream MCP URL,
// with the run's API-key gate (role K) and CORS layer (--cors) around it.
func NewBridge(upstream *url.URL, opt Options) *Bridge {
	b := &Bridge{
		Upstream:    upstream,
		Command:     opt.UpstreamCommand,
		Opt:         opt,
		MCPPath:     upstream.Path,
		LegacyPath:  "/sse",
		IdleTimeout: 30 * time.Minute,
		// Relaying is fast; this only bounds a stuck client stream.
		ProgressDrain: 2 * time.Second,
		sessions:      map[*mcp.ServerSession]*bridgeSession{},
		byID:          map[string]*bridgeSession{},
		exchanges:     map[string]*exchange{},
		legacies:      map[string]*legacyConn{},
	}
	if b.MCPPath == "" || b.MCPPath == b.LegacyPath {
		b.MCPPath = "/mcp"
	}
	// Installed in the reference's order: the gate inside, CORS outermost
	// so that the gate's 401 and every error carry the CORS fields.
	if g := newAPIKeyGate(opt); g != nil {
		b.Middleware = append(b.Middleware, g.middleware)
	}
	if opt.CORS {
		b.Middleware = append(b.Middleware, corsMiddleware(corsPolicy{}))
	}
	return b
}

// legacyUpstream reports whether the upstream speaks legacy HTTP+SSE.
func (b *Bridge) legacyUpstream() bool {
	return len(b.Command) == 0 && b.Upstream.Path == b.LegacyPath
}

// Handler returns the bridge with its middleware applied.
func (b *Bridge) Handler() http.Handler {
	b.buildOnce.Do(b.build)
	var h http.Handler = http.HandlerFunc(b.serve)
	for _, m := range b.Middleware {
		h = m(h)
	}
	return h
}

func (b *Bridge) build() {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	// The receiving middleware forwards every request; the subscribe
	// handlers only let the SDK produce its empty result afterwards.
	noop := func(context.Context, *mcp.SubscribeRequest) error { return nil }
	b.server = mcp.NewServer(&mcp.Implementation{Name: BridgeServerName, Version: "1"}, &mcp.ServerOptions{
		Logger:             quiet,
		SubscribeHandler:   noop,
		UnsubscribeHandler: func(context.Context, *mcp.UnsubscribeRequest) error { return nil },
	})
	b.server.AddSendingMiddleware(func(next mcp.MethodHandler) mcp.MethodHandler {
		b.send = next
		return next
	})
	b.server.AddReceivingMiddleware(b.receiving)
	getServer := func(*http.Request) *mcp.Server { return b.server }
	b.streamable = mcp.NewStreamableHTTPHandler(getServer, &mcp.StreamableHTTPOptions{
		// Resumption is between the client and the bridge: its own ids.
		EventStore:                   mcp.NewMemoryEventStore(nil),
		SessionTimeout:               b.IdleTimeout,
		PropagateRequestCancellation: true,
		Logger:                       quiet,
	})
	b.legacy = mcp.NewSSEHandler(getServer, nil)
}

// Close ends every session, downstream and upstream (children included).
func (b *Bridge) Close() {
	b.mu.Lock()
	b.closed = true
	var all []*bridgeSession
	for _, s := range b.sessions {
		all = append(all, s)
	}
	b.mu.Unlock()
	var wg sync.WaitGroup
	for _, s := range all {
		wg.Add(1)
		go func() { defer wg.Done(); s.end() }()
	}
	wg.Wait()
}

// bridgeSession is one client session and the upstream session opened for
// it.
type bridgeSession struct {
	b  *Bridge
	ss *mcp.ServerSession
	cs *mcp.ClientSession
	// ctx ends with the session (cancel), cancelling what is in flight.
	ctx    context.Context
	cancel context.CancelFunc

	// fwdHost and fwdProto are the Host and scheme of the client's
	// initialize, sent upstream as X-Forwarded-Host and -Proto on every
	// request: a server that derives its public URL from them (for the
	// metadata's resource and the token audience) must see the same URL
	// on its MCP requests as on the metadata the bridge forwards.
	fwdHost, fwdProto string

	mu      sync.Mutex
	initial []string // Authorization of the client's initialize
	latest  []string // Authorization of its latest request
	// progress maps a progress token (its JSON text) to the call it
	// belongs to, while that call is in flight.
	progress map[string]*exchange
	// streams cancels the client's open GET streams of this session,
	// each by its own key.
	streams map[*int]context.CancelFunc
	// getAnswer is how the upstream refused the bridge's standalone GET
	// stream (nil: it did not); deleteAnswer how it answered the DELETE.
	getAnswer, deleteAnswer *upstreamAnswer
	// gone: the upstream session no longer exists (404) or is broken.
	gone bool

	endOnce sync.Once
}

func (b *Bridge) sessionOf(ss *mcp.ServerSession) *bridgeSession {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sessions[ss]
}

// sessionByID finds the Streamable HTTP session a request names.
func (b *Bridge) sessionByID(r *http.Request) *bridgeSession {
	id := r.Header.Get("Mcp-Session-Id")
	if id == "" {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.byID[id]
}

// noteAuth records the Authorization of a client request in the session.
func (s *bridgeSession) noteAuth(auth []string) {
	s.mu.Lock()
	s.latest = auth
	s.mu.Unlock()
}

// markGone records that the upstream session is gone or broken, and ends
// the client's GET streams: a client that only listens (resource updates)
// would otherwise hold a stream that can never deliver again. Its
// reconnect then gets 404, and it re-initializes.
func (s *bridgeSession) markGone() {
	s.mu.Lock()
	s.gone = true
	streams := s.streams
	s.streams = nil
	s.mu.Unlock()
	for _, cancel := range streams {
		cancel()
	}
}

// holdStream registers a client GET stream of the session; the returned
// context ends when the upstream session does, and done unregisters it.
func (s *bridgeSession) holdStream(parent context.Context) (ctx context.Context, done func()) {
	ctx, cancel := context.WithCancel(parent)
	key := new(int)
	s.mu.Lock()
	if s.gone {
		cancel()
	} else {
		if s.streams == nil {
			s.streams = map[*int]context.CancelFunc{}
		}
		s.streams[key] = cancel
	}
	s.mu.Unlock()
	return ctx, func() {
		s.mu.Lock()
		delete(s.streams, key)
		s.mu.Unlock()
		cancel()
	}
}

func (s *bridgeSession) isGone() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gone
}

// end closes the client session and the upstream one (the SDK's close of a
// Streamable HTTP session sends the DELETE upstream), once. The session is
// marked gone first, so a request arriving meanwhile gets 404, and leaves
// the bridge's tables last.
func (s *bridgeSession) end() {
	s.endOnce.Do(func() {
		s.markGone()
		s.cancel()
		if s.cs != nil {
			_ = s.cs.Close()
		}
		_ = s.ss.Close()
		b := s.b
		b.mu.Lock()
		delete(b.sessions, s.ss)
		if id := s.ss.ID(); id != "" && b.byID[id] == s {
			delete(b.byID, id)
		}
		b.mu.Unlock()
	})
}

// receiving is the downstream server's receiving middleware: every client
// request goes upstream from here.
func (b *Bridge) receiving(next mcp.MethodHandler) mcp.MethodHandler {
	return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
		ex := b.claim(req.GetParams())
		if strings.HasPrefix(method, "notifications/") {
			// The SDK forwards cancellation itself (the call's context
			// ends); initialized went upstream when the session opened.
			return next(ctx, method, req)
		}
		if ex == nil {
			// Not tagged by the downstream wrapper (cannot happen through
			// Handler): track it without credentials or a held response.
			ex = newExchange(b, method, nil, nil)
		}
		defer ex.finish()
		ex.setContext(ctx)
		ss, _ := req.GetSession().(*mcp.ServerSession)
		if method == "initialize" {
			return b.initialize(ctx, ss, ex, next, req)
		}
		s := b.sessionOf(ss)
		if s == nil || s.cs == nil {
			return nil, &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: "bridge: the session has no upstream session"}
		}
		s.noteAuth(ex.auth)
		ex.sess = s
		// The session's end cancels what is in flight: the SDK's close of
		// either side waits for in-flight calls.
		fctx, cancel := context.WithCancel(withExchange(ctx, ex))
		defer cancel()
		defer context.AfterFunc(s.ctx, cancel)()
		defer s.watchProgress(req.GetParams(), ex)()
		if len(b.Command) > 0 {
			// A stdio upstream answers with no HTTP status to relay: the
			// client's stream may flow at once.
			ex.decide(nil)
		}
		res, err := s.forward(fctx, method, req.GetParams())
		s.awaitProgress(ctx, ex)
		if err != nil {
			return nil, s.callFailed(ex, err)
		}
		if res == nil {
			// Methods without a result of their own (ping, setLevel,
			// subscribe): the SDK answers, and records the log level.
			return next(ctx, method, req)
		}
		return res, nil
	}
}

// initialize opens the upstream session for a new client session, then lets
// the SDK answer the client with the upstream's capabilities, server info and
// instructions. An upstream failure becomes the answer to this initialize.
func (b *Bridge) initialize(ctx context.Context, ss *mcp.ServerSession, ex *exchange, next mcp.MethodHandler, req mcp.Request) (mcp.Result, error) {
	p, _ := req.GetParams().(*mcp.InitializeParams)
	version := ""
	if p != nil {
		version = p.ProtocolVersion
	}
	// The SDK client would open a 2026-07-28 session with server/discover,
	// which a stateful downstream cannot speak: stay on the last revision
	// both sides share.
	if version >= "2026-07-28" {
		version = "2025-11-25"
	}
	s := &bridgeSession{b: b, ss: ss, initial: ex.auth, latest: ex.auth, progress: map[string]*exchange{}, fwdHost: ex.host, fwdProto: ex.proto}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	ex.sess = s
	// Not the request's context: a legacy upstream's session stream is
	// the GET that Connect opens, and it must outlive this request. The
	// session's own context ends it; the timeout only bounds the opening.
	timeout := time.AfterFunc(connectTimeout, s.cancel)
	cs, err := s.connect(withExchange(s.ctx, ex), version)
	timeout.Stop()
	if err != nil {
		s.cancel()
		ex.decide(b.connectFailed(ex, err))
		return nil, ex.rpcError(err)
	}
	s.cs = cs
	res, err := next(ctx, "initialize", req)
	if err != nil {
		s.cancel()
		_ = cs.Close()
		return nil, err
	}
	if ir, ok := res.(*mcp.InitializeResult); ok {
		if up := cs.InitializeResult(); up != nil {
			ir.Capabilities, ir.ServerInfo, ir.Instructions = up.Capabilities, up.ServerInfo, up.Instructions
		}
	}
	b.mu.Lock()
	closed := b.closed
	if !closed {
		b.sessions[ss] = s
		if id := ss.ID(); id != "" {
			b.byID[id] = s
		}
	}
	b.mu.Unlock()
	if closed {
		s.cancel()
		_ = cs.Close()
		return nil, &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: "bridge: shutting down"}
	}
	// Either side ending ends the other: a client session closed by
	// DELETE or idleness closes the upstream one; an upstream session
	// that broke leaves the client session unusable.
	go func() { _ = ss.Wait(); s.end() }()
	go func() { _ = cs.Wait(); s.markGone() }()
	return res, nil
}

// connect opens the upstream session over the configured transport.
func (s *bridgeSession) connect(ctx context.Context, version string) (*mcp.ClientSession, error) {
	b := s.b
	client := mcp.NewClient(&mcp.Implementation{Name: BridgeServerName, Version: "1"}, &mcp.ClientOptions{
		// It relays no server→client requests (sampling, elicitation,
		// roots), so it claims none of those capabilities.
		Capabilities: &mcp.ClientCapabilities{},
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	client.AddReceivingMiddleware(s.relaying)
	var t mcp.Transport
	switch {
	case len(b.Command) > 0:
		cmd := exec.Command(b.Command[0], b.Command[1:]...)
		if len(b.Opt.UpstreamEnv) > 0 {
			cmd.Env = append(os.Environ(), b.Opt.UpstreamEnv...)
		}
		t = &watchedTransport{Transport: &mcp.CommandTransport{Command: cmd, TerminateDuration: 2 * time.Second}, s: s}
	case b.legacyUpstream():
		t = &mcp.SSEClientTransport{Endpoint: b.Upstream.String(), HTTPClient: s.httpClient()}
	default:
		t = &mcp.StreamableClientTransport{Endpoint: b.Upstream.String(), HTTPClient: s.httpClient()}
	}
	return client.Connect(ctx, t, &mcp.ClientSessionOptions{ProtocolVersion: version})
}

// forward sends one client request upstream. A nil result with a nil error
// means the method has no result of its own: the SDK's answers it.
func (s *bridgeSession) forward(ctx context.Context, method string, p mcp.Params) (mcp.Result, error) {
	cs := s.cs
	switch p := p.(type) {
	case *mcp.PingParams:
		return nil, cs.Ping(ctx, p)
	case *mcp.ListToolsParams:
		return cs.ListTools(ctx, p)
	case *mcp.CallToolParamsRaw:
		return cs.CallTool(ctx, &mcp.CallToolParams{Meta: p.Meta, Name: p.Name, Arguments: p.Arguments,
			InputResponses: p.InputResponses, RequestState: p.RequestState})
	case *mcp.ListPromptsParams:
		return cs.ListPrompts(ctx, p)
	case *mcp.GetPromptParams:
		return cs.GetPrompt(ctx, p)
	case *mcp.ListResourcesParams:
		return cs.ListResources(ctx, p)
	case *mcp.ListResourceTemplatesParams:
		return cs.ListResourceTemplates(ctx, p)
	case *mcp.ReadResourceParams:
		return cs.ReadResource(ctx, p)
	case *mcp.SubscribeParams:
		return nil, cs.Subscribe(ctx, p)
	case *mcp.UnsubscribeParams:
		return nil, cs.Unsubscribe(ctx, p)
	case *mcp.CompleteParams:
		return cs.Complete(ctx, p)
	//lint:ignore SA1019 logging is deprecated from 2026-07-28 on; a bridge relays it while clients and servers use it
	case *mcp.SetLoggingLevelParams:
		//lint:ignore SA1019 as above
		return nil, cs.SetLoggingLevel(ctx, p)
	}
	return nil, &jsonrpc.Error{Code: jsonrpc.CodeMethodNotFound, Message: "bridge: method " + method + " is not relayed"}
}

// watchProgress maps the progress token of a request (if any) to its
// exchange, until the returned function runs: after the call has returned
// and its progress has been relayed.
func (s *bridgeSession) watchProgress(p mcp.Params, ex *exchange) func() {
	rp, ok := p.(mcp.RequestParams)
	if !ok || nilParams(p) || rp.GetProgressToken() == nil {
		return func() {}
	}
	key := tokenKey(rp.GetProgressToken())
	s.mu.Lock()
	s.progress[key] = ex
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		if s.progress[key] == ex {
			delete(s.progress, key)
		}
		s.mu.Unlock()
	}
}

// tokenKey is a progress token as a map key: its JSON text, so the string
// "1" and the number 1 stay apart.
func tokenKey(tok any) string {
	b, _ := json.Marshal(tok)
	return string(b)
}

// relaying is the upstream client's receiving middleware: every
// server→client notification is relayed to the client session.
// Server→client requests stay with the SDK client (it answers ping; the
// bridge claims no sampling, elicitation or roots capability).
func (s *bridgeSession) relaying(next mcp.MethodHandler) mcp.MethodHandler {
	return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
		if strings.HasPrefix(method, "notifications/") {
			s.relay(method, req.GetParams())
		}
		return next(ctx, method, req)
	}
}

// relay sends one notification to the client: progress on the POST stream
// of the call it belongs to, everything else on the standalone stream.
func (s *bridgeSession) relay(method string, p mcp.Params) {
	n := &RelayedNotification{Method: method, Params: p}
	var ex *exchange
	if pp, ok := p.(*mcp.ProgressNotificationParams); ok && pp != nil {
		s.mu.Lock()
		ex = s.progress[tokenKey(pp.ProgressToken)]
		s.mu.Unlock()
		n.OnRequestStream = ex != nil
	}
	for _, h := range s.b.NotificationHooks {
		h(n)
	}
	if !n.Drop && s.b.send != nil {
		// A context without the call's request id lands on the standalone
		// stream; the call's handler context on its own stream.
		ctx := context.Background()
		if n.OnRequestStream && ex != nil {
			ctx = ex.context()
		}
		send := func() {
			_, _ = s.b.send(ctx, n.Method, &mcp.ServerRequest[mcp.Params]{Session: s.ss, Params: n.Params})
		}
		if n.Delay > 0 {
			time.AfterFunc(n.Delay, send)
		} else {
			send()
		}
	}
	if ex != nil {
		ex.relayedOne()
	}
}

// awaitProgress holds a finished call until the progress notifications the
// upstream sent before its answer have been relayed: the SDK client hands a
// response to its caller at once but queues notifications for a handler
// goroutine, so without this the last progress (sent just before the result)
// would race the result and lose (seen in mcp-proxy, see README).
func (s *bridgeSession) awaitProgress(ctx context.Context, ex *exchange) {
	if s.b.ProgressDrain <= 0 {
		return
	}
	timer := time.NewTimer(s.b.ProgressDrain)
	defer timer.Stop()
	for {
		if ex.progressDone() {
			return
		}
		select {
		case <-ex.relayedCh:
		case <-timer.C:
			return
		case <-ctx.Done():
			return
		}
	}
}

// sawProgress counts a progress notification the upstream sent, as the
// transport reads it (before the SDK parses it).
func (s *bridgeSession) sawProgress(token any) {
	s.mu.Lock()
	ex := s.progress[tokenKey(token)]
	s.mu.Unlock()
	if ex != nil {
		ex.sawOne()
	}
}

// callFailed decides how the client learns that its forwarded request
// failed, and returns the JSON-RPC error the SDK answers in-band (which the
// downstream wrapper replaces when the failure became an HTTP status).
func (s *bridgeSession) callFailed(ex *exchange, err error) error {
	a := ex.failure()
	switch {
	case a != nil && a.Status == http.StatusNotFound:
		// The upstream session is gone: so is the client's, and this
		// request gets the 404 that makes the client re-initialize.
		e := s.b.relayedError(ex.method, ex.clientID, a)
		e.EndSession = true
		if ex.decide(e); ex.verdict().EndSession {
			s.markGone()
			go s.end()
		}
	case a != nil && a.challenged():
		ex.decide(s.b.relayedError(ex.method, ex.clientID, a))
	case s.isGone():
		// The upstream connection broke (its stream was cut, or it refused
		// a reconnect): this request learns why in-band, the next one gets
		// 404 and re-initializes.
		go s.end()
	}
	return ex.rpcError(err)
}

// connectFailed is the answer to an initialize whose upstream session did
// not open: the upstream's own 4xx with its challenge and message, or 502.
func (b *Bridge) connectFailed(ex *exchange, err error) *RelayedError {
	a := ex.failure()
	if a == nil && ex.sess != nil {
		// A legacy upstream opens its session with a GET.
		ex.sess.mu.Lock()
		a = ex.sess.getAnswer
		ex.sess.mu.Unlock()
	}
	if a != nil && a.Status/100 == 4 {
		return b.relayedError(ex.method, ex.clientID, a)
	}
	return &RelayedError{
		Method: ex.method, ID: ex.clientID, Status: http.StatusBadGateway, Header: http.Header{},
		RPC: &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: "bridge: the upstream MCP server is unavailable: " + errText(ex, err)},
	}
}

// errText describes an upstream failure for a JSON-RPC error message.
func errText(ex *exchange, err error) string {
	if a := ex.failure(); a != nil {
		return a.describe()
	}
	if err == nil {
		return "no answer"
	}
	return err.Error()
}

// rpcError is the JSON-RPC error a failed forward answers in-band: the
// upstream's own error (code, message, data), or one naming the failure.
func (ex *exchange) rpcError(err error) *jsonrpc.Error {
	if a := ex.failure(); a != nil {
		if a.RPC != nil {
			e := *a.RPC
			return &e
		}
		return &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: "bridge: upstream answered " + a.describe()}
	}
	var jerr *jsonrpc.Error
	// -32005 is the SDK's "rejected by transport" wrapper, not the
	// upstream's error.
	if errors.As(err, &jerr) && jerr.Code != -32005 {
		e := *jerr
		return &e
	}
	return &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: "bridge: upstream request failed: " + errText(ex, err)}
}
