// Package mockserver is the mock MCP upstream that proxies under test forward
// to: a real MCP server from the official Go SDK behind our own middleware,
// which journals every request and answers with armed faults (statuses,
// WWW-Authenticate shapes, raw bytes) when a scenario asks for them.
package mockserver

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpconform/mcpconform/mockserver/authz"
)

// DefaultAddr is the fixed loopback address the mock listens on unless told
// otherwise, so a user configures a proxy once and reruns at will.
const DefaultAddr = "127.0.0.1:7411"

// Paths the mock serves.
const (
	MCPPath      = "/mcp"
	SSEPath      = "/sse"
	MessagesPath = "/messages"
)

// Options configure a mock upstream.
type Options struct {
	// Addr is host:port; port 0 picks a free port. Must be a loopback address
	// unless AllowNonLoopback is set.
	Addr             string
	AllowNonLoopback bool
	// Logger receives SDK diagnostics; nil discards them.
	Logger *slog.Logger
	// Authz starts the mock authorization server on its own loopback
	// listener (Mock.Authz, Mock.AuthzURL) issuing tokens for MCPURL with
	// lifetime TokenTTL; Gate makes the token gate enforce them by default
	// (see authgate.go).
	Authz    bool
	Gate     bool
	TokenTTL time.Duration
	// Revision is the MCP revision the mock negotiates for initialize
	// (besides 2024-11-05 for legacy HTTP+SSE clients); "" = every
	// revision the SDK knows, newest first.
	Revision string
}

// Mock is a running mock upstream.
type Mock struct {
	// BaseURL is "http://host:port", without a trailing slash.
	BaseURL string
	Journal *Journal
	// Authz is the mock authorization server (nil unless Options.Authz),
	// listening at AuthzURL.
	Authz    *authz.Server
	AuthzURL string

	authzSecret string
	gate        *authGate

	faults faultQueue
	mux    *http.ServeMux
	srv    *http.Server
	// mcpServer is kept so Close can end its sessions (each holds goroutines).
	mcpServer *mcp.Server
	ln        net.Listener
	mu        sync.Mutex
	sessions  []string // session ids minted, in order
	extra     map[string]http.Handler
	// done is closed by Close, ending background senders (the notify tool).
	done      chan struct{}
	closeOnce sync.Once
}

// closed is closed once the mock is closing.
func (m *Mock) closed() <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.done == nil {
		m.done = make(chan struct{})
	}
	return m.done
}

// Start binds the listener and serves in the background.
func Start(opts Options) (*Mock, error) {
	addr := opts.Addr
	if addr == "" {
		addr = DefaultAddr
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("mock upstream address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); !opts.AllowNonLoopback && (ip == nil || !ip.IsLoopback()) && host != "localhost" {
		return nil, fmt.Errorf("mock upstream address %q is not loopback; refusing to expose the mock (mcpconform run --listen-any overrides)", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("mock upstream cannot listen on %s: %w", addr, err)
	}
	m := &Mock{
		BaseURL: "http://" + ln.Addr().String(),
		Journal: newJournal(),
		ln:      ln,
		extra:   map[string]http.Handler{},
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	server := m.newMCPServer(logger, opts.Revision)
	m.mcpServer = server
	getServer := func(*http.Request) *mcp.Server { return server }

	m.mux = http.NewServeMux()
	m.mux.Handle(MCPPath, mcp.NewStreamableHTTPHandler(getServer, &mcp.StreamableHTTPOptions{
		EventStore:                 mcp.NewMemoryEventStore(nil),
		DisableLocalhostProtection: true, // proxies rewrite Host; the SDK would 403 them
		Logger:                     logger,
	}))
	m.mux.Handle(SSEPath, mcp.NewSSEHandler(getServer, &mcp.SSEOptions{DisableLocalhostProtection: true}))
	if opts.Authz {
		if err := m.startAuthz(opts); err != nil {
			ln.Close()
			return nil, err
		}
	}
	m.srv = &http.Server{
		Handler:           m,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          nil,
	}
	go func() { _ = m.srv.Serve(ln) }()
	return m, nil
}

// MCPURL is the Streamable HTTP endpoint a proxy should forward to.
func (m *Mock) MCPURL() string { return m.BaseURL + MCPPath }

// SSEURL is the legacy HTTP+SSE endpoint.
func (m *Mock) SSEURL() string { return m.BaseURL + SSEPath }

// Close stops the server and drops open streams.
func (m *Mock) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	m.closed() // make sure done exists
	m.closeOnce.Do(func() { close(m.done) })
	m.closeAuthz()
	err := m.srv.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = m.srv.Close() // open SSE streams never go idle; cut them
	}
	// The SDK keeps every session (and its reader goroutine) until closed.
	for ss := range m.mcpServer.Sessions() {
		_ = ss.Close()
	}
	return err
}

// Arm queues a fault; the next matching request(s) get its answer.
func (m *Mock) Arm(f Fault) { m.faults.arm(f) }

// Disarm drops every armed fault.
func (m *Mock) Disarm() { m.faults.reset(); m.resetGate() }

// Handle mounts an extra handler on an exact path (e.g. protected-resource
// metadata, a raw SSE script). It replaces any previous handler on that path.
func (m *Mock) Handle(path string, h http.Handler) {
	m.mu.Lock()
	if h == nil {
		delete(m.extra, path)
	} else {
		m.extra[path] = h
	}
	m.mu.Unlock()
}

// Sessions lists the MCP session ids the mock has minted, oldest first.
func (m *Mock) Sessions() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.sessions...)
}

// ServeHTTP journals the request, then answers with an armed fault, an extra
// handler, or the MCP server.
func (m *Mock) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e := &Entry{
		Time:     time.Now(),
		Method:   r.Method,
		Host:     r.Host,
		Path:     r.URL.Path,
		RawQuery: r.URL.RawQuery,
		Proto:    r.Proto,
		Header:   r.Header.Clone(),
		ended:    make(chan struct{}),
	}
	if r.Body != nil {
		body, _ := io.ReadAll(io.LimitReader(r.Body, maxJournalBody+1))
		rest := r.Body
		r.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(body), rest), rest}
		e.Body = body[:min(len(body), maxJournalBody)]
		e.RPCMethod = rpcMethod(body)
	}
	if m.Authz != nil {
		m.inspectToken(e)
	}
	rec := &recorder{ResponseWriter: w, e: e}
	f := m.faults.take(e)
	if f != nil {
		e.Fault = f.Name
	}
	m.Journal.add(e)
	defer func() {
		e.mu.Lock()
		if !rec.wroteHeader && e.status == 0 && f == nil {
			e.status = http.StatusOK
		}
		if r.Context().Err() != nil && e.clientGoneAt.IsZero() {
			e.clientGoneAt = time.Now()
		}
		e.done = true
		e.finished = time.Now()
		e.mu.Unlock()
		close(e.ended)
	}()
	var w2 http.ResponseWriter = rec
	switch {
	case f != nil && f.Handler != nil:
		f.Handler.ServeHTTP(rec, r)
		return
	case f != nil && f.Decorate != nil:
		w2 = &decorator{ResponseWriter: rec, fields: f.Decorate}
	case f != nil:
		f.serve(rec)
		return
	}
	m.mu.Lock()
	h := m.extra[r.URL.Path]
	m.mu.Unlock()
	if h != nil {
		h.ServeHTTP(w2, r)
		return
	}
	if m.servePRM(w2, r) || m.serveGate(w2, e) {
		return
	}
	m.mux.ServeHTTP(w2, r)
}

// rpcMethod extracts the JSON-RPC method of a request body (first element of
// a batch), or "".
func rpcMethod(body []byte) string {
	var msg struct {
		Method string `json:"method"`
	}
	b := bytes.TrimSpace(body)
	if len(b) > 0 && b[0] == '[' {
		var batch []json.RawMessage
		if json.Unmarshal(b, &batch) == nil && len(batch) > 0 {
			b = batch[0]
		}
	}
	if json.Unmarshal(b, &msg) != nil {
		return ""
	}
	return msg.Method
}

// newSessionID mints an id from the whole visible-ASCII range (0x21–0x7E) the
// spec allows, so a proxy that escapes, trims or re-encodes it is caught.
func (m *Mock) newSessionID() string {
	const n = 48
	var b strings.Builder
	b.WriteString("mcs-") // readable prefix for humans reading a journal
	for range n {
		v, _ := rand.Int(rand.Reader, big.NewInt(0x7E-0x21+1))
		b.WriteByte(byte(0x21 + v.Int64()))
	}
	id := b.String()
	m.mu.Lock()
	m.sessions = append(m.sessions, id)
	m.mu.Unlock()
	return id
}

func sortedKeys(h http.Header) []string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
