package proxyundertest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcpconform/mcpconform/mockserver"
	"github.com/mcpconform/mcpconform/mockserver/ssescript"
	"github.com/mcpconform/mcpconform/scenarios/sseread"
)

// Two clients get two sessions of the bridge's own and one upstream session
// each; each client's requests reach its own upstream session.
func TestBridgeOwnSessionsOneUpstreamEach(t *testing.T) {
	r := newBridgeRig(t, Options{Roles: []string{"B"}}, nil)
	ctx := testCtx(t)
	a, b := r.open(ctx, ""), r.open(ctx, "")
	ups := r.mock.Sessions()
	if a == b || len(ups) != 2 {
		t.Fatalf("client sessions %q, %q; upstream sessions %q: want two of each", a, b, ups)
	}
	for _, id := range []string{a, b} {
		if slices.Contains(ups, id) {
			t.Fatalf("the bridge handed out the upstream's session id %q", id)
		}
	}
	seen := map[string]string{}
	for _, sid := range []string{a, b, a} {
		_, msgs := r.call(ctx, sid, "", 2, "tools/call", map[string]any{"name": mockserver.ToolEchoHeaders})
		var h http.Header
		if err := json.Unmarshal([]byte(toolText(t, msgs)), &h); err != nil {
			t.Fatal(err)
		}
		up := h.Get("Mcp-Session-Id")
		if prev, ok := seen[sid]; ok && prev != up {
			t.Fatalf("client session %q reached upstream sessions %q and %q", sid, prev, up)
		}
		seen[sid] = up
	}
	if seen[a] == seen[b] || !slices.Contains(ups, seen[a]) || !slices.Contains(ups, seen[b]) {
		t.Fatalf("clients reached upstream sessions %q and %q of %q", seen[a], seen[b], ups)
	}
}

// A token the client changes mid-session reaches the upstream with its next
// request; no client header but Authorization crosses the bridge.
func TestBridgeCredentialsPerRequest(t *testing.T) {
	r := newBridgeRig(t, Options{Roles: []string{"B"}}, nil)
	ctx := testCtx(t)
	mark := r.mock.Journal.Mark()
	sid := r.open(ctx, "Bearer first")
	if e := r.waitEntry(ctx, mark, isRPC("initialize")); e.Header.Get("Authorization") != "Bearer first" {
		t.Fatalf("upstream initialize carried %q", e.Header.Get("Authorization"))
	}
	req := r.send(ctx, http.MethodPost, sid, "Bearer second", rpc(2, "tools/call", map[string]any{"name": mockserver.ToolEchoHeaders}))
	req.Body.Close()
	mark = r.mock.Journal.Mark()
	resp := func() *http.Response {
		rq, _ := http.NewRequestWithContext(ctx, http.MethodPost, r.mcpURL(), strings.NewReader(rpc(3, "tools/call", map[string]any{"name": mockserver.ToolEchoHeaders})))
		rq.Header.Set("Content-Type", "application/json")
		rq.Header.Set("Accept", "application/json, text/event-stream")
		rq.Header.Set("Mcp-Session-Id", sid)
		rq.Header.Set("Authorization", "Bearer third")
		rq.Header.Set("X-API-Key", "k")
		rq.Header.Set("Cookie", "c=1")
		res, err := http.DefaultClient.Do(rq)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}()
	var h http.Header
	if err := json.Unmarshal([]byte(toolText(t, readMessages(t, resp))), &h); err != nil {
		t.Fatal(err)
	}
	if got := h.Values("Authorization"); !slices.Equal(got, []string{"Bearer third"}) {
		t.Fatalf("upstream call carried Authorization %q, want the call's own", got)
	}
	for _, name := range []string{"X-Api-Key", "Cookie"} {
		if h.Get(name) != "" {
			t.Fatalf("client header %s reached the upstream", name)
		}
	}
	if h.Get("Mcp-Session-Id") == sid {
		t.Fatal("the client's session id reached the upstream")
	}
	// The DELETE carries the credentials of the client's DELETE.
	del := r.send(ctx, http.MethodDelete, sid, "Bearer fourth", "")
	del.Body.Close()
	if e := r.waitEntry(ctx, mark, func(e *mockserver.Entry) bool { return e.Method == http.MethodDelete }); e.Header.Get("Authorization") != "Bearer fourth" {
		t.Fatalf("upstream DELETE carried %q", e.Header.Get("Authorization"))
	}
}

// The SDK's standalone GET is opened once, at session start; when it ends
// and the SDK reconnects, the reconnect carries the latest Authorization the
// client sent, not the one of its initialize.
func TestBridgeStandaloneGetUsesLatestCredentials(t *testing.T) {
	r := newBridgeRig(t, Options{Roles: []string{"B"}}, nil)
	ctx := testCtx(t)
	// The first GET gets a stream that ends at once: the SDK reconnects
	// about a second later (its backoff), long after the next request.
	r.mock.ArmStream("short-get", mockserver.StreamMatch(mockserver.MCPPath), ssescript.Script{Steps: []ssescript.Step{ssescript.Comment("bye")}})
	mark := r.mock.Journal.Mark()
	sid := r.open(ctx, "Bearer old")
	first := r.waitEntry(ctx, mark, func(e *mockserver.Entry) bool { return e.Method == http.MethodGet })
	if first.Header.Get("Authorization") != "Bearer old" {
		t.Fatalf("first standalone GET carried %q", first.Header.Get("Authorization"))
	}
	_, _ = r.call(ctx, sid, "Bearer new", 2, "ping", nil)
	again := r.waitEntry(ctx, first.Seq+1, func(e *mockserver.Entry) bool { return e.Method == http.MethodGet })
	if got := again.Header.Get("Authorization"); got != "Bearer new" {
		t.Fatalf("the reconnected standalone GET carried %q, want the latest %q", got, "Bearer new")
	}
}

// Upstream refusals reach the client with the upstream's status, the same
// challenges and DPoP-Nonce, and a JSON-RPC error with the client's id and
// the upstream's message; on initialize and mid-session alike.
func TestBridgeRelaysRefusals(t *testing.T) {
	rows := []string{"WWWA-03", "WWWA-04", "WWWA-05", "WWWA-14", "WWWA-20", "WWWA-37"}
	for _, id := range rows {
		for _, leg := range []string{"initialize", "mid"} {
			t.Run(id+"/"+leg, func(t *testing.T) {
				ch, _ := mockserver.ChallengeByID(id)
				r := newBridgeRig(t, Options{Roles: []string{"B"}}, nil)
				ctx := testCtx(t)
				sid, reqID, method := "", 1, "initialize"
				var params any = initParams()
				match := mockserver.Match{Method: http.MethodPost, Path: mockserver.MCPPath}
				if leg == "mid" {
					sid, reqID, method, params = r.open(ctx, ""), 7, "tools/list", nil
					match.RPCMethod = "tools/list"
				}
				f := ch.Fault(r.mock, match)
				f.Times = -1
				r.mock.Arm(f)
				resp, msgs := r.call(ctx, sid, "", reqID, method, params)
				want := ch.Values(r.mock)
				if len(want) == 0 {
					want = []string{bridgeChallenge}
				}
				if resp.StatusCode != ch.Status || !slices.Equal(resp.Header.Values("WWW-Authenticate"), want) {
					t.Fatalf("got %d %q, want %d %q", resp.StatusCode, resp.Header.Values("WWW-Authenticate"), ch.Status, want)
				}
				for _, x := range ch.Extra {
					if got := resp.Header.Values(x.Name); !slices.Equal(got, []string{x.Value}) {
						t.Fatalf("%s: got %q, want %q", x.Name, got, x.Value)
					}
				}
				if len(msgs) != 1 || string(msgs[0].ID) != strings.TrimSpace(jsonText(reqID)) || msgs[0].Error == nil ||
					msgs[0].Error.Message != http.StatusText(ch.Status)+" (mcpconform mock)" {
					t.Fatalf("body %+v: want the upstream's error for id %d", msgs, reqID)
				}
				if leg == "mid" {
					// The upstream session survives the refusal: once the
					// client is let in again, the same session works.
					r.mock.Disarm()
					if resp, msgs := r.call(ctx, sid, "", 8, "tools/list", nil); resp.StatusCode != http.StatusOK || len(msgs) != 1 || msgs[0].Result == nil {
						t.Fatalf("after the refusal: %d %+v", resp.StatusCode, msgs)
					}
				}
			})
		}
	}
}

func jsonText(v any) string { b, _ := json.Marshal(v); return string(b) }

// The upstream refusing the bridge's standalone GET with a challenge: the
// client's GET gets that status and challenge, not a silent stream.
func TestBridgeRelaysGetRefusal(t *testing.T) {
	r := newBridgeRig(t, Options{Roles: []string{"B"}}, nil)
	ctx := testCtx(t)
	ch, _ := mockserver.ChallengeByID("WWWA-03")
	f := ch.Fault(r.mock, mockserver.StreamMatch(mockserver.MCPPath))
	f.Times = -1
	r.mock.Arm(f)
	sid := r.open(ctx, "")
	resp := r.send(ctx, http.MethodGet, sid, "", "")
	resp.Body.Close()
	if resp.StatusCode != 401 || !slices.Equal(resp.Header.Values("WWW-Authenticate"), ch.Values(r.mock)) {
		t.Fatalf("client GET: %d %q", resp.StatusCode, resp.Header.Values("WWW-Authenticate"))
	}
}

// An upstream 404 on an established session: the client's request gets 404,
// its session is gone, and a new initialize opens a new upstream session.
func TestBridgeUpstreamSessionGone(t *testing.T) {
	r := newBridgeRig(t, Options{Roles: []string{"B"}}, nil)
	ctx := testCtx(t)
	sid := r.open(ctx, "")
	up := r.mock.Sessions()[0]
	// End the upstream session behind the bridge's back.
	req, _ := http.NewRequestWithContext(ctx, http.MethodDelete, r.mock.MCPURL(), nil)
	req.Header.Set("Mcp-Session-Id", up)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode/100 != 2 {
		t.Fatalf("deleting the upstream session: %v %v", resp, err)
	}
	if resp, _ := r.call(ctx, sid, "", 2, "tools/list", nil); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("request in a session gone upstream: %d, want 404", resp.StatusCode)
	}
	if resp, _ := r.call(ctx, sid, "", 3, "tools/list", nil); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("the client session outlived its upstream session: %d", resp.StatusCode)
	}
	if sid2 := r.open(ctx, ""); sid2 == sid || len(r.mock.Sessions()) != 2 {
		t.Fatalf("re-initialize: session %q, upstream sessions %q", sid2, r.mock.Sessions())
	}
}

// progressCallParams calls the progress tool with a token.
func progressCallParams(n int, gap time.Duration, token string) map[string]any {
	return map[string]any{"name": mockserver.ToolProgress, "arguments": map[string]any{"count": n, "gap_ms": gap.Milliseconds()},
		"_meta": map[string]any{"progressToken": token}}
}

// checkProgressStream asserts that n progress notifications came on the
// call's stream, in order, with the client's token and params, each before
// the upstream sent the next one (relayed as it came, not buffered), then
// the result.
func checkProgressStream(t *testing.T, msgs []message, n int, token string) {
	t.Helper()
	var got []message
	for _, m := range msgs {
		if m.Method == "notifications/progress" {
			got = append(got, m)
		}
	}
	if len(got) != n || msgs[len(msgs)-1].Result == nil {
		t.Fatalf("%d progress notifications then %+v, want %d then the result", len(got), msgs[len(msgs)-1], n)
	}
	sent := make([]time.Time, n)
	for i, m := range got {
		var p struct {
			Token    string  `json:"progressToken"`
			Progress float64 `json:"progress"`
			Total    float64 `json:"total"`
			Message  string  `json:"message"`
		}
		_ = json.Unmarshal(m.Params, &p)
		ts, err := time.Parse(time.RFC3339Nano, p.Message)
		if p.Token != token || p.Progress != float64(i+1) || p.Total != float64(n) || err != nil {
			t.Fatalf("progress #%d: %s", i+1, m.Params)
		}
		sent[i] = ts
	}
	for i := 0; i+1 < n; i++ {
		if !got[i].arrived.Before(sent[i+1]) {
			t.Fatalf("progress #%d arrived at %s, after #%d was sent at %s: buffered", i+1, got[i].arrived.Format(time.StampMicro), i+2, sent[i+1].Format(time.StampMicro))
		}
	}
}

// Progress of a call comes on that call's POST stream, incrementally and
// all of it, the last one (sent just before the result) included.
func TestBridgeRelaysProgressIncrementally(t *testing.T) {
	r := newBridgeRig(t, Options{Roles: []string{"B"}}, nil)
	ctx := testCtx(t)
	sid := r.open(ctx, "")
	resp, msgs := r.call(ctx, sid, "", 2, "tools/call", progressCallParams(3, 150*time.Millisecond, "tok-1"))
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("call answered %s, want a stream", resp.Header.Get("Content-Type"))
	}
	checkProgressStream(t, msgs, 3, "tok-1")
	// No gap: the last notification is written just before the result.
	for i := 0; i < 5; i++ {
		_, msgs := r.call(ctx, sid, "", 3+i, "tools/call", progressCallParams(20, 0, "tok-burst"))
		progress := 0
		for _, m := range msgs {
			progress += boolToInt(m.Method == "notifications/progress")
		}
		if progress != 20 {
			t.Fatalf("burst %d: %d of 20 progress notifications before the result", i, progress)
		}
	}
}

func boolToInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Messages the upstream sends on its standalone stream (resource updates
// after a subscription) reach the client's GET stream; subscribe and
// logging/setLevel are forwarded.
func TestBridgeRelaysUpdatesOnGetStream(t *testing.T) {
	r := newBridgeRig(t, Options{Roles: []string{"B"}}, nil)
	ctx := testCtx(t)
	sid := r.open(ctx, "")
	mark := r.mock.Journal.Mark()
	if resp, msgs := r.call(ctx, sid, "", 2, "logging/setLevel", map[string]any{"level": "debug"}); resp.StatusCode != 200 || len(msgs) != 1 || msgs[0].Error != nil {
		t.Fatalf("setLevel: %d %+v", resp.StatusCode, msgs)
	}
	r.waitEntry(ctx, mark, isRPC("logging/setLevel"))
	uri := mockserver.NotifyResource + "/bridge-test"
	if resp, msgs := r.call(ctx, sid, "", 3, "resources/subscribe", map[string]any{"uri": uri}); resp.StatusCode != 200 || len(msgs) != 1 || msgs[0].Error != nil {
		t.Fatalf("subscribe: %d %+v", resp.StatusCode, msgs)
	}
	get := r.send(ctx, http.MethodGet, sid, "", "")
	defer get.Body.Close()
	if get.StatusCode != 200 {
		t.Fatalf("GET stream: %d", get.StatusCode)
	}
	args := map[string]any{"count": 2, "gap_ms": 50, "uri": uri}
	if _, msgs := r.call(ctx, sid, "", 4, "tools/call", map[string]any{"name": mockserver.ToolNotify, "arguments": args}); toolText(t, msgs) != "scheduled" {
		t.Fatalf("notify: %+v", msgs)
	}
	rd := sseread.NewReader(get.Body, sseread.Options{})
	var seqs []float64
	for len(seqs) < 2 {
		ev, err := rd.Next()
		if err != nil {
			t.Fatalf("GET stream ended after %v: %v", seqs, err)
		}
		var m struct {
			Method string `json:"method"`
			Params struct {
				URI  string         `json:"uri"`
				Meta map[string]any `json:"_meta"`
			} `json:"params"`
		}
		if json.Unmarshal([]byte(ev.Data), &m) == nil && m.Method == "notifications/resources/updated" && m.Params.URI == uri {
			seq, _ := m.Params.Meta[mockserver.NotifyMetaSeq].(float64)
			seqs = append(seqs, seq)
		}
	}
	if !slices.Equal(seqs, []float64{1, 2}) {
		t.Fatalf("updates %v", seqs)
	}
}

// DELETE ends the upstream session too.
func TestBridgeDeleteEndsUpstreamSession(t *testing.T) {
	r := newBridgeRig(t, Options{Roles: []string{"B"}}, nil)
	ctx := testCtx(t)
	sid := r.open(ctx, "")
	up := r.mock.Sessions()[0]
	mark := r.mock.Journal.Mark()
	del := r.send(ctx, http.MethodDelete, sid, "", "")
	del.Body.Close()
	if del.StatusCode/100 != 2 {
		t.Fatalf("DELETE: %d", del.StatusCode)
	}
	e := r.waitEntry(ctx, mark, func(e *mockserver.Entry) bool { return e.Method == http.MethodDelete })
	if e.Header.Get("Mcp-Session-Id") != up {
		t.Fatalf("upstream DELETE for %q, want %q", e.Header.Get("Mcp-Session-Id"), up)
	}
	if resp, _ := r.call(ctx, sid, "", 2, "tools/list", nil); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("the deleted session still answers: %d", resp.StatusCode)
	}
}

// An idle client session times out and takes its upstream session with it.
func TestBridgeIdleSessionClosesUpstream(t *testing.T) {
	r := newBridgeRig(t, Options{Roles: []string{"B"}}, func(b *Bridge) { b.IdleTimeout = 200 * time.Millisecond })
	ctx := testCtx(t)
	mark := r.mock.Journal.Mark()
	r.open(ctx, "")
	up := r.mock.Sessions()[0]
	e := r.waitEntry(ctx, mark, func(e *mockserver.Entry) bool { return e.Method == http.MethodDelete })
	if e.Header.Get("Mcp-Session-Id") != up {
		t.Fatalf("upstream DELETE for %q, want %q", e.Header.Get("Mcp-Session-Id"), up)
	}
}

// An unreachable upstream: the client's initialize gets 502 with a
// JSON-RPC error.
func TestBridgeUnreachableUpstream(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	addr := dead.URL
	dead.Close()
	up, _ := url.Parse(addr + "/mcp")
	b := NewBridge(up, Options{Roles: []string{"B"}})
	srv := httptest.NewServer(b.Handler())
	defer srv.Close()
	defer b.Close()
	r := &bridgeRig{t: t, bridge: b, srv: srv}
	resp, msgs := r.call(testCtx(t), "", "", 1, "initialize", initParams())
	if resp.StatusCode != http.StatusBadGateway || len(msgs) != 1 || msgs[0].Error == nil || string(msgs[0].ID) != "1" {
		t.Fatalf("got %d %+v, want 502 with a JSON-RPC error", resp.StatusCode, msgs)
	}
}

// An upstream that cuts its answer after one progress notification: the
// client gets that notification, then an error for the call, promptly.
func TestBridgeUpstreamCutEndsCall(t *testing.T) {
	r := newBridgeRig(t, Options{Roles: []string{"B"}}, nil)
	ctx := testCtx(t)
	sid := r.open(ctx, "")
	r.mock.Arm(mockserver.Fault{Name: "cut", Match: mockserver.Match{Method: http.MethodPost, RPCMethod: "tools/call"},
		Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			var body struct {
				Params struct {
					Meta map[string]any `json:"_meta"`
				} `json:"params"`
			}
			_ = json.NewDecoder(req.Body).Decode(&body)
			tok, _ := json.Marshal(body.Params.Meta["progressToken"])
			w.Header().Set("Content-Type", "text/event-stream")
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write([]byte(`event: message` + "\n" + `data: {"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":` + string(tok) + `,"progress":1,"total":2}}` + "\n\n" +
				"event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/pro"))
			http.NewResponseController(w).Flush()
			panic(http.ErrAbortHandler)
		})})
	start := time.Now()
	_, msgs := r.call(ctx, sid, "", 2, "tools/call", progressCallParams(2, 0, "tok-cut"))
	if time.Since(start) > 3*time.Second {
		t.Fatalf("the cut call took %s", time.Since(start))
	}
	if len(msgs) != 2 || msgs[0].Method != "notifications/progress" || msgs[1].Error == nil || msgs[1].Result != nil {
		t.Fatalf("got %+v, want the progress notification then an error", msgs)
	}
}

// The legacy downstream: GET /sse announces a relative endpoint, POSTs there
// are answered on the stream; an initialize refused upstream with a
// challenge gets that status on its POST, and no in-band error follows.
func TestBridgeLegacyDownstream(t *testing.T) {
	r := newBridgeRig(t, Options{Roles: []string{"B"}}, nil)
	ctx := testCtx(t)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, r.srv.URL+"/sse", nil)
	req.Header.Set("Accept", "text/event-stream")
	stream, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Body.Close()
	rd := sseread.NewReader(stream.Body, sseread.Options{})
	first, err := rd.Next()
	if err != nil || first.Event != "endpoint" || !strings.HasPrefix(first.Data, "/sse?") {
		t.Fatalf("first event %+v %v: want a relative endpoint", first, err)
	}
	endpoint := r.srv.URL + first.Data
	post := func(body string) *http.Response {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	next := func() message {
		for {
			ev, err := rd.Next()
			if err != nil {
				t.Fatalf("legacy stream: %v", err)
			}
			var m message
			if json.Unmarshal([]byte(ev.Data), &m) == nil {
				return m
			}
		}
	}
	ch, _ := mockserver.ChallengeByID("WWWA-02")
	f := ch.Fault(r.mock, mockserver.Match{Method: http.MethodPost, Path: mockserver.MCPPath})
	f.Times = -1
	r.mock.Arm(f)
	if resp := post(rpc(1, "initialize", initParams())); resp.StatusCode != 401 || !slices.Equal(resp.Header.Values("WWW-Authenticate"), ch.Values(r.mock)) {
		t.Fatalf("refused initialize: %d %q", resp.StatusCode, resp.Header.Values("WWW-Authenticate"))
	}
	r.mock.Disarm()
	if resp := post(rpc(2, "initialize", initParams())); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("initialize: %d", resp.StatusCode)
	}
	if m := next(); string(m.ID) != "2" || m.Result == nil {
		t.Fatalf("first answer on the stream %+v: want the result for id 2 (no in-band error for the refused one)", m)
	}
	post(rpc(nil, "notifications/initialized", nil))
	if resp := post(rpc(3, "tools/list", nil)); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("tools/list: %d", resp.StatusCode)
	}
	if m := next(); string(m.ID) != "3" || !strings.Contains(string(m.Result), mockserver.ToolProgress) {
		t.Fatalf("tools/list answer %+v", m)
	}
	// Mid-session too: the refused request's POST carries the status.
	ch, _ = mockserver.ChallengeByID("WWWA-03")
	f = ch.Fault(r.mock, mockserver.Match{Method: http.MethodPost, RPCMethod: "tools/list"})
	f.Times = -1
	r.mock.Arm(f)
	if resp := post(rpc(4, "tools/list", nil)); resp.StatusCode != 401 || !slices.Equal(resp.Header.Values("WWW-Authenticate"), ch.Values(r.mock)) {
		t.Fatalf("refused tools/list: %d %q", resp.StatusCode, resp.Header.Values("WWW-Authenticate"))
	}
	r.mock.Disarm()
	post(rpc(5, "tools/list", nil))
	if m := next(); string(m.ID) != "5" {
		t.Fatalf("next answer on the stream %+v: want id 5 (no in-band error for the refused id 4)", m)
	}
}

// The upstream refusing the DELETE with a challenge: the client's DELETE
// gets that status and challenge.
func TestBridgeRelaysDeleteRefusal(t *testing.T) {
	r := newBridgeRig(t, Options{Roles: []string{"B"}}, nil)
	ctx := testCtx(t)
	sid := r.open(ctx, "")
	ch, _ := mockserver.ChallengeByID("WWWA-04")
	f := ch.Fault(r.mock, mockserver.Match{Method: http.MethodDelete})
	f.Times = -1
	r.mock.Arm(f)
	resp := r.send(ctx, http.MethodDelete, sid, "", "")
	resp.Body.Close()
	if resp.StatusCode != ch.Status || !slices.Equal(resp.Header.Values("WWW-Authenticate"), ch.Values(r.mock)) {
		t.Fatalf("client DELETE: %d %q", resp.StatusCode, resp.Header.Values("WWW-Authenticate"))
	}
}

// A legacy HTTP+SSE upstream (the mock's /sse): the bridge serves it as
// Streamable HTTP at /mcp; calls and their progress go through, and a
// refused session GET reaches the client's initialize.
func TestBridgeLegacyUpstream(t *testing.T) {
	m, err := mockserver.Start(mockserver.Options{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	up, _ := url.Parse(m.SSEURL())
	b := NewBridge(up, Options{Roles: []string{"B"}})
	srv := httptest.NewServer(b.Handler())
	defer srv.Close()
	defer b.Close()
	if b.MCPPath != "/mcp" {
		t.Fatalf("MCP path %q", b.MCPPath)
	}
	r := &bridgeRig{t: t, mock: m, bridge: b, srv: srv}
	ctx := testCtx(t)
	sid := r.open(ctx, "")
	_, msgs := r.call(ctx, sid, "", 2, "tools/call", progressCallParams(3, 100*time.Millisecond, "tok-legacy"))
	checkProgressStream(t, msgs, 3, "tok-legacy")
	ch, _ := mockserver.ChallengeByID("WWWA-03")
	f := ch.Fault(m, mockserver.StreamMatch(mockserver.SSEPath))
	f.Times = -1
	m.Arm(f)
	resp, _ := r.call(ctx, "", "", 1, "initialize", initParams())
	if resp.StatusCode != 401 || !slices.Equal(resp.Header.Values("WWW-Authenticate"), ch.Values(m)) {
		t.Fatalf("initialize over a refused legacy upstream: %d %q", resp.StatusCode, resp.Header.Values("WWW-Authenticate"))
	}
}

// A stdio upstream (the mock's stdio server, a child per session): calls and
// their progress go through.
func TestBridgeStdioUpstream(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(stdioChildEnv, "1") // inherited by the child only: TestMain has run
	up, _ := url.Parse("http://127.0.0.1:1/mcp")
	b := NewBridge(up, Options{Roles: []string{"B"}, UpstreamCommand: []string{exe}})
	srv := httptest.NewServer(b.Handler())
	defer srv.Close()
	defer b.Close()
	r := &bridgeRig{t: t, bridge: b, srv: srv}
	ctx := testCtx(t)
	sid := r.open(ctx, "")
	_, msgs := r.call(ctx, sid, "", 2, "tools/call", progressCallParams(3, 100*time.Millisecond, "tok-stdio"))
	checkProgressStream(t, msgs, 3, "tok-stdio")
	_, msgs = r.call(ctx, sid, "", 3, "tools/call", map[string]any{"name": mockserver.ToolLarge, "arguments": map[string]any{"bytes": 1 << 16}})
	if len(toolText(t, msgs)) != 1<<16 {
		t.Fatal("large result cut")
	}
	del := r.send(ctx, http.MethodDelete, sid, "", "")
	del.Body.Close()
	if del.StatusCode/100 != 2 {
		t.Fatalf("DELETE: %d", del.StatusCode)
	}
}

// The credential rule itself: a request a client request caused carries
// that request's Authorization; any other the latest, never the initial.
func TestDefaultCredentials(t *testing.T) {
	c := CredentialChoice{Method: http.MethodGet, Latest: []string{"Bearer latest"}, Initial: []string{"Bearer initial"}}
	if got := DefaultCredentials(c); !slices.Equal(got, c.Latest) {
		t.Fatalf("uncaused request: %q", got)
	}
	c.Caused, c.Request = true, nil
	if got := DefaultCredentials(c); got != nil {
		t.Fatalf("a caused request without Authorization got %q", got)
	}
}

// Paths outside MCP are the upstream server's (its metadata, an
// authorization server on its origin): the bridge forwards them there, path
// and query as sent, and relays the answer.
func TestBridgeForwardsTheUpstreamsOtherPaths(t *testing.T) {
	r := newBridgeRig(t, Options{Roles: []string{"B"}}, nil)
	mark := r.mock.Journal.Mark()
	const path = "/.well-known/oauth-protected-resource/mcp"
	resp, err := http.Get(r.srv.URL + path + "?probe=1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var got *mockserver.Entry
	for _, e := range r.mock.Journal.Since(mark) {
		if e.Path == path {
			got = e
		}
	}
	if got == nil {
		t.Fatalf("GET %s through the bridge never reached the upstream (client got %d)", path, resp.StatusCode)
	}
	if got.RawQuery != "probe=1" {
		t.Errorf("query reached the upstream as %q", got.RawQuery)
	}
	if st, _, _, _ := got.Response(); st != resp.StatusCode {
		t.Errorf("the upstream answered %d, the client got %d", st, resp.StatusCode)
	}
}

// When the upstream session ends behind the bridge's back, the client's
// GET stream ends too (a listening client would otherwise wait on a stream
// that can never deliver), and its reconnect gets 404.
func TestBridgeUpstreamGoneEndsGetStream(t *testing.T) {
	r := newBridgeRig(t, Options{Roles: []string{"B"}}, nil)
	ctx := testCtx(t)
	sid := r.open(ctx, "")
	up := r.mock.Sessions()[0]
	get := r.send(ctx, http.MethodGet, sid, "", "")
	defer get.Body.Close()
	if get.StatusCode != http.StatusOK {
		t.Fatalf("GET stream: %d", get.StatusCode)
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodDelete, r.mock.MCPURL(), nil)
	req.Header.Set("Mcp-Session-Id", up)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode/100 != 2 {
		t.Fatalf("deleting the upstream session: %v %v", resp, err)
	}
	// Bounded by ctx: the read ends when the bridge ends the stream.
	if _, err := io.Copy(io.Discard, get.Body); ctx.Err() != nil {
		t.Fatalf("the client's GET stream is still open after its upstream session ended (%v)", err)
	}
	again := r.send(ctx, http.MethodGet, sid, "", "")
	again.Body.Close()
	if again.StatusCode != http.StatusNotFound {
		t.Fatalf("reconnecting the GET stream: %d, want 404", again.StatusCode)
	}
}

// Every upstream request carries the Host and scheme the client used, as
// X-Forwarded-Host and -Proto, like the paths outside MCP the bridge
// forwards: a server deriving its public URL from them sees one URL.
func TestBridgeForwardsClientHost(t *testing.T) {
	r := newBridgeRig(t, Options{Roles: []string{"B"}}, nil)
	ctx := testCtx(t)
	mark := r.mock.Journal.Mark()
	sid := r.open(ctx, "")
	if resp, _ := r.call(ctx, sid, "", 2, "tools/list", nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("tools/list: %d", resp.StatusCode)
	}
	host := strings.TrimPrefix(r.srv.URL, "http://")
	n := 0
	for _, e := range r.mock.Journal.Since(mark) {
		if e.Path != mockserver.MCPPath || e.Method != http.MethodPost {
			continue
		}
		n++
		if got := e.Header.Get("X-Forwarded-Host"); got != host || e.Header.Get("X-Forwarded-Proto") != "http" {
			t.Errorf("%s %s reached the upstream with X-Forwarded-Host %q, -Proto %q; want %q, http", e.Method, e.RPCMethod, got, e.Header.Get("X-Forwarded-Proto"), host)
		}
	}
	if n < 2 {
		t.Fatalf("%d upstream POSTs seen, want initialize and tools/list at least", n)
	}
}
