package proxyundertest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mcpconform/mcpconform/mockserver"
	"github.com/mcpconform/mcpconform/scenarios/sseread"
)

// stdioChildEnv makes the test binary, re-executed, serve the mock on
// stdin/stdout (TestMain): the stdio upstream of the bridge tests.
const stdioChildEnv = "MCPCONFORM_TEST_MOCK_STDIO"

func TestMain(m *testing.M) {
	if os.Getenv(stdioChildEnv) == "1" {
		if err := mockserver.ServeStdio(context.Background(), nil); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// bridgeRig is a mock upstream with a bridge in front of it.
type bridgeRig struct {
	t      *testing.T
	mock   *mockserver.Mock
	bridge *Bridge
	srv    *httptest.Server
}

// newBridgeRig starts a mock and a bridge; configure changes the bridge
// before its handler is built (a specimen's Bridge func, a test's timeout).
func newBridgeRig(t *testing.T, opt Options, configure func(*Bridge)) *bridgeRig {
	t.Helper()
	m, err := mockserver.Start(mockserver.Options{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	up, _ := url.Parse(m.MCPURL())
	b := NewBridge(up, opt)
	if configure != nil {
		configure(b)
	}
	srv := httptest.NewServer(b.Handler())
	t.Cleanup(func() { b.Close(); srv.CloseClientConnections(); srv.Close() })
	return &bridgeRig{t: t, mock: m, bridge: b, srv: srv}
}

func (r *bridgeRig) mcpURL() string { return r.srv.URL + r.bridge.MCPPath }

// ctx bounds one test's waits.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// rpc is a JSON-RPC request body.
func rpc(id any, method string, params any) string {
	m := map[string]any{"jsonrpc": "2.0", "method": method}
	if id != nil {
		m["id"] = id
	}
	if params != nil {
		m["params"] = params
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func initParams() map[string]any {
	return map[string]any{"protocolVersion": "2025-11-25", "capabilities": map[string]any{},
		"clientInfo": map[string]any{"name": "bridge-test", "version": "1"}}
}

// send makes one request to the bridge; auth "" sends no Authorization.
func (r *bridgeRig) send(ctx context.Context, method, sid, auth, body string) *http.Response {
	r.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequestWithContext(ctx, method, r.mcpURL(), rd)
	req.Header.Set("Accept", "application/json, text/event-stream")
	if method == http.MethodGet {
		req.Header.Set("Accept", "text/event-stream")
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if sid != "" {
		req.Header.Set("Mcp-Session-Id", sid)
		req.Header.Set("MCP-Protocol-Version", "2025-11-25")
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatalf("%s %s: %v", method, r.mcpURL(), err)
	}
	return resp
}

// open initializes a session through the bridge and returns its id.
func (r *bridgeRig) open(ctx context.Context, auth string) string {
	r.t.Helper()
	resp := r.send(ctx, http.MethodPost, "", auth, rpc(1, "initialize", initParams()))
	msgs := readMessages(r.t, resp)
	if resp.StatusCode != http.StatusOK || len(msgs) == 0 || msgs[0].Error != nil {
		r.t.Fatalf("initialize through the bridge: %d %+v", resp.StatusCode, msgs)
	}
	sid := resp.Header.Get("Mcp-Session-Id")
	n := r.send(ctx, http.MethodPost, sid, auth, rpc(nil, "notifications/initialized", nil))
	n.Body.Close()
	if n.StatusCode != http.StatusAccepted {
		r.t.Fatalf("notifications/initialized: %d", n.StatusCode)
	}
	return sid
}

// message is a JSON-RPC message as the tests read it.
type message struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int             `json:"code"`
		Message string          `json:"message"`
		Data    json.RawMessage `json:"data"`
	} `json:"error"`
	arrived time.Time
}

// readMessages reads a whole response (JSON or SSE) into its messages.
func readMessages(t *testing.T, resp *http.Response) []message {
	t.Helper()
	defer resp.Body.Close()
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		body, _ := io.ReadAll(resp.Body)
		var m message
		if len(bytes.TrimSpace(body)) == 0 || json.Unmarshal(body, &m) != nil {
			return nil
		}
		return []message{m}
	}
	var out []message
	rd := sseread.NewReader(resp.Body, sseread.Options{})
	for {
		ev, err := rd.Next()
		if err != nil {
			return out
		}
		var m message
		if ev.Data != "" && json.Unmarshal([]byte(ev.Data), &m) == nil {
			m.arrived = ev.Arrived
			out = append(out, m)
		}
	}
}

// call sends a request in a session and reads its whole answer.
func (r *bridgeRig) call(ctx context.Context, sid, auth string, id int, method string, params any) (*http.Response, []message) {
	r.t.Helper()
	resp := r.send(ctx, http.MethodPost, sid, auth, rpc(id, method, params))
	return resp, readMessages(r.t, resp)
}

// toolText is the first text content of a tools/call result.
func toolText(t *testing.T, msgs []message) string {
	t.Helper()
	for _, m := range msgs {
		if m.Result == nil {
			continue
		}
		var res struct {
			Content []struct {
				Text string `json:"text"`
			} `json:"content"`
		}
		if json.Unmarshal(m.Result, &res) == nil && len(res.Content) > 0 {
			return res.Content[0].Text
		}
	}
	t.Fatalf("no tools/call result among %+v", msgs)
	return ""
}

// waitEntry waits (bounded by ctx) for the first journal entry after mark
// that matches.
func (r *bridgeRig) waitEntry(ctx context.Context, mark int, pred func(*mockserver.Entry) bool) *mockserver.Entry {
	r.t.Helper()
	e, err := r.mock.Journal.WaitFor(ctx, mark, pred)
	if err != nil {
		r.t.Fatalf("the upstream never received the expected request: %v", err)
	}
	return e
}

func isRPC(method string) func(*mockserver.Entry) bool {
	return func(e *mockserver.Entry) bool { return e.RPCMethod == method }
}
