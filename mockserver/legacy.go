package mockserver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// LegacyStyle is how a legacy HTTP+SSE (2024-11-05) server spells the URI of
// its `endpoint` event. The go-sdk handler at /sse emits one relative form;
// SDKs in the field emit others, and proxies break on each differently.
type LegacyStyle string

const (
	// LegacyTS is the TypeScript SDK: "/messages?sessionId=<uuid>".
	LegacyTS LegacyStyle = "ts"
	// LegacyPython is the Python SDK and FastMCP: "/messages/?session_id=<hex>",
	// trailing slash and snake_case key.
	LegacyPython LegacyStyle = "python"
	// LegacyAbsolute is an absolute URL on the upstream's own origin
	// ("http://127.0.0.1:PORT/messages?sessionId=..."), which a proxy must
	// rewrite or its clients bypass it (or refuse the cross-origin endpoint).
	LegacyAbsolute LegacyStyle = "absolute"
)

// LegacyProtocolVersion is the revision that defined HTTP+SSE.
const LegacyProtocolVersion = "2024-11-05"

// legacyPushTimeout bounds handing an answer to a stream whose reader is
// gone, so a POST never hangs on a dead session.
const legacyPushTimeout = 2 * time.Second

// Legacy is a small hand-written HTTP+SSE server armed for one case: GET
// /sse opens a stream whose first event is `endpoint`, POSTs to that
// endpoint get 202 and their JSON-RPC answers arrive as `message` events.
type Legacy struct {
	Style LegacyStyle
	base  string // the mock's origin, for the absolute style

	mu       sync.Mutex
	streams  map[string]chan []byte
	endpoint []string // endpoint URIs emitted, in order
}

// ArmLegacy arms a legacy server of the given style on GET /sse and on POSTs
// to its message path, until the case ends (Disarm).
func (m *Mock) ArmLegacy(style LegacyStyle) *Legacy {
	l := &Legacy{Style: style, base: m.BaseURL, streams: map[string]chan []byte{}}
	m.Arm(Fault{Name: "legacy-" + string(style) + "-sse", Match: Match{Method: http.MethodGet, Path: SSEPath}, Times: -1, Handler: http.HandlerFunc(l.serveSSE)})
	m.Arm(Fault{Name: "legacy-" + string(style) + "-post", Match: Match{Method: http.MethodPost, Path: l.MessagesPath()}, Times: -1, Handler: http.HandlerFunc(l.serveMessage)})
	return l
}

// MessagesPath is the path of the endpoint this style emits.
func (l *Legacy) MessagesPath() string {
	if l.Style == LegacyPython {
		return MessagesPath + "/"
	}
	return MessagesPath
}

// queryKey is the session parameter name this style emits.
func (l *Legacy) queryKey() string {
	if l.Style == LegacyPython {
		return "session_id"
	}
	return "sessionId"
}

// Endpoints are the endpoint event data emitted so far, in order.
func (l *Legacy) Endpoints() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.endpoint...)
}

func (l *Legacy) newSessionID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	if l.Style == LegacyPython {
		return hex.EncodeToString(b) // uuid4().hex
	}
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func (l *Legacy) serveSSE(w http.ResponseWriter, r *http.Request) {
	id := l.newSessionID()
	ep := l.MessagesPath() + "?" + l.queryKey() + "=" + id
	if l.Style == LegacyAbsolute {
		ep = l.base + ep
	}
	ch := make(chan []byte, 16)
	l.mu.Lock()
	l.streams[id] = ch
	l.endpoint = append(l.endpoint, ep)
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		delete(l.streams, id)
		l.mu.Unlock()
	}()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	if _, err := fmt.Fprintf(w, "event: endpoint\ndata: %s\n\n", ep); err != nil {
		return
	}
	_ = rc.Flush()
	ctx := r.Context()
	for {
		select {
		case <-ctx.Done():
			return
		case msg := <-ch:
			if _, err := fmt.Fprintf(w, "event: message\ndata: %s\n\n", msg); err != nil {
				return
			}
			_ = rc.Flush()
		}
	}
}

func (l *Legacy) serveMessage(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get(l.queryKey())
	l.mu.Lock()
	ch := l.streams[id]
	l.mu.Unlock()
	if ch == nil {
		http.Error(w, "unknown session", http.StatusNotFound)
		return
	}
	var msg struct {
		ID     json.RawMessage `json:"id"`
		Method string          `json:"method"`
	}
	if err := json.NewDecoder(r.Body).Decode(&msg); err != nil {
		http.Error(w, "bad JSON-RPC message", http.StatusBadRequest)
		return
	}
	// Accepted first, as the SDKs do: the answer travels on the stream.
	w.WriteHeader(http.StatusAccepted)
	if len(msg.ID) == 0 || string(msg.ID) == "null" {
		return // notification
	}
	answer := legacyAnswer(msg.ID, msg.Method)
	ctx, cancel := context.WithTimeout(context.Background(), legacyPushTimeout)
	defer cancel()
	select {
	case ch <- answer:
	case <-ctx.Done():
	}
}

// legacyAnswer is the JSON-RPC response the legacy server sends for method.
func legacyAnswer(id json.RawMessage, method string) []byte {
	var result any
	switch method {
	case "initialize":
		result = map[string]any{
			"protocolVersion": LegacyProtocolVersion,
			"capabilities":    map[string]any{"tools": map[string]any{}},
			"serverInfo":      map[string]any{"name": "mcpconform-legacy", "version": "1"},
		}
	case "tools/list":
		result = map[string]any{"tools": []any{}}
	case "ping":
		result = map[string]any{}
	default:
		b, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": id, "error": map[string]any{"code": -32601, "message": "method not found: " + strings.ReplaceAll(method, "\n", " ")}})
		return b
	}
	b, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": id, "result": result})
	return b
}
