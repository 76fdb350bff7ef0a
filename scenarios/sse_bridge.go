package scenarios

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/mcpconform/mcpconform/mockserver"
	"github.com/mcpconform/mcpconform/scenarios/sseread"
)

// Role B probes of the SSE area. A bridge terminates MCP: it relays JSON-RPC
// messages, not bytes, frames its own streams with its own ids, and opens
// its own upstream streams (an SDK client opens the standalone GET right
// after initialize). So these probes open a session through the bridge,
// make the upstream emit real MCP messages (the progress and notify tools),
// and judge what the client receives and when. Byte-level checks of the
// stream (ids, comments, line endings, framing) stay with role T.

// getHeadWait bounds how long a probe waits for a GET stream's head before
// it goes on without it: a proxy may hold the head until the stream's first
// event (Node's writeHead without flushHeaders), and that event comes only
// once the probe makes the upstream send one.
const getHeadWait = time.Second

// bgStream is a GET stream of a session read in the background while the
// probe sends requests in the same session.
type bgStream struct {
	done   chan *StreamResult
	cancel context.CancelFunc
	res    *StreamResult
}

// openGetStream opens the standalone GET stream of s and returns once its
// head has arrived, or after getHeadWait with the request still pending
// (judged on what it delivers). When an answer other than a 200 comes back
// first, it returns nil and that answer.
func (h *H) openGetStream(s *Session, opt StreamOptions) (*bgStream, *StreamResult) {
	ctx, cancel := context.WithCancel(h.ctx)
	b := &bgStream{done: make(chan *StreamResult, 1), cancel: cancel}
	head := make(chan int, 1)
	opt.OnHeaders = func(status int) { head <- status }
	// A shallow copy with its own context: the stream ends when the probe
	// is done with it, not at the scenario timeout.
	hc := *h
	hc.ctx = ctx
	go func() { b.done <- hc.Stream(s.T, Request{Method: http.MethodGet, Header: getHeaders(s.ID)}, opt) }()
	timer := time.NewTimer(getHeadWait)
	defer timer.Stop()
	select {
	case status := <-head:
		if status == http.StatusOK {
			return b, nil
		}
	case <-timer.C:
		return b, nil
	case res := <-b.done:
		b.res = res
	}
	return nil, b.stop()
}

// stop hangs up and returns the stream's result.
func (b *bgStream) stop() *StreamResult {
	b.cancel()
	if b.res == nil {
		b.res = <-b.done
	}
	return b.res
}

// wait returns the result once the stream ends by itself (OnEvent, MaxWait).
func (b *bgStream) wait() *StreamResult {
	if b.res == nil {
		b.res = <-b.done
	}
	b.cancel()
	return b.res
}

// stopAfter lets the stream run for d more, then hangs up.
func (b *bgStream) stopAfter(d time.Duration) *StreamResult {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case b.res = <-b.done:
	case <-timer.C:
	}
	return b.stop()
}

// progressCall is a tools/call of the progress tool with a progress token.
func progressCall(n int, gap time.Duration, token string) map[string]any {
	return map[string]any{
		"name":      mockserver.ToolProgress,
		"arguments": map[string]any{"count": n, "gap_ms": gap.Milliseconds()},
		"_meta":     map[string]any{"progressToken": token},
	}
}

// knownEvents counts the events with a send stamp: those the upstream is
// known to have sent.
func knownEvents(res *StreamResult) int {
	n := 0
	for i := range res.Events {
		if i < len(res.Sent) && !res.Sent[i].IsZero() {
			n++
		}
	}
	return n
}

// callWatchingGet sends a tools/call with progress in session s as a POST
// stream while holding the session's GET stream open, and returns both: a
// bridge may relay the call's progress on either. Unless the POST stream
// already carried everything (complete), the GET stream is read for grace
// more after the POST stream ended.
func (h *H) callWatchingGet(s *Session, params any, maxWait, grace time.Duration, sent func([]sseread.Event) []time.Time, complete func(*StreamResult) bool) (post, onGet *StreamResult) {
	get, _ := h.openGetStream(s, StreamOptions{Sent: sent, MaxWait: maxWait + grace})
	post = h.Stream(s.T, Request{Header: postHeaders(s.ID), Body: rpcRequest(9, "tools/call", params)}, StreamOptions{Sent: sent, MaxWait: maxWait})
	switch {
	case get == nil:
	case complete(post):
		onGet = get.stop()
	default:
		onGet = get.stopAfter(grace)
	}
	return post, onGet
}

// progressEvents is the progress values relayed for the call, in arrival
// order, from both streams.
func progressEvents(streams ...*StreamResult) []float64 {
	type at struct {
		t time.Time
		v float64
	}
	var all []at
	for _, r := range streams {
		if r == nil {
			continue
		}
		for _, e := range r.Events {
			var msg struct {
				Method string `json:"method"`
				Params struct {
					Progress float64 `json:"progress"`
				} `json:"params"`
			}
			if json.Unmarshal([]byte(e.Data), &msg) == nil && msg.Method == "notifications/progress" {
				all = append(all, at{e.Arrived, msg.Params.Progress})
			}
		}
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].t.Before(all[j].t) })
	out := make([]float64, len(all))
	for i, a := range all {
		out[i] = a.v
	}
	return out
}

// probeBridgeProgress is SSE-STREAM-001/post through a bridge: progress of a
// tools/call must come incrementally on that call's POST stream. The
// session's GET stream is kept open meanwhile, so a bridge that moves the
// progress there (a SHOULD broken: related messages belong on the request's
// stream) is told from one that drops it (a MUST: the client never learns).
func (h *H) probeBridgeProgress(t Target, n int, gap time.Duration) *Mismatch {
	s, bad := h.Open(t)
	if s == nil {
		return Mismatchf(t.Hop, "an MCP session opens", "initialize failed: "+bad.describeAnswer())
	}
	defer s.Close()
	// Progress a bridge moved to the GET stream has arrived by the time
	// the call's result has; one more gap allows for relaying.
	post, onGet := h.callWatchingGet(s, progressCall(n, gap, "mcpconform-"+randomToken()), time.Duration(n)*gap+5*time.Second, gap, progressSent,
		func(post *StreamResult) bool { return knownEvents(post) >= n })
	m := h.judgeIncremental(t.Hop, post, n)
	if m != nil && onGet != nil && knownEvents(post) == 0 && knownEvents(onGet) >= n {
		return &Mismatch{
			Hop:      t.Hop,
			Level:    SHOULD,
			Expected: fmt.Sprintf("the %d progress notifications of the call on its own POST stream", n),
			Observed: fmt.Sprintf("they arrived on the session's standalone GET stream instead (%d there, none on the POST stream)", knownEvents(onGet)),
			Details: []string{"messages related to a request SHOULD be sent on that request's stream (MCP 2025-11-25 Sending Messages 6, Listening 4): a client that does not hold a GET stream open never sees them",
				"GET stream timeline: " + onGet.Timeline()},
		}
	}
	return m
}

// notifySent reads the send stamp the notify tool puts in each resource
// update's _meta.
func notifySent(events []sseread.Event) []time.Time {
	out := make([]time.Time, len(events))
	for i, e := range events {
		if sent, ok := notifyStamp(e); ok {
			out[i] = sent
		}
	}
	return out
}

// notifyStamp decodes a notify tool update from an event: its send stamp.
func notifyStamp(e sseread.Event) (time.Time, bool) {
	var msg struct {
		Method string `json:"method"`
		Params struct {
			URI  string         `json:"uri"`
			Meta map[string]any `json:"_meta"`
		} `json:"params"`
	}
	if json.Unmarshal([]byte(e.Data), &msg) != nil || msg.Method != "notifications/resources/updated" || !strings.HasPrefix(msg.Params.URI, notifyURIPrefix) {
		return time.Time{}, false
	}
	sent, _ := msg.Params.Meta[mockserver.NotifyMetaSent].(string)
	t, err := time.Parse(time.RFC3339Nano, sent)
	return t, err == nil
}

// notifyURIPrefix begins the resource URI a notify probe subscribes to.
const notifyURIPrefix = mockserver.NotifyResource + "/"

// notifyOnGet opens a session through t, subscribes to a resource, holds the
// session's GET stream open and has the upstream send n updates of that
// resource gap apart on its own standalone stream, after idle. It returns
// the GET stream's result once n updates arrived or maxWait passed.
func (h *H) notifyOnGet(t Target, n int, gap, idle time.Duration) (*StreamResult, *Mismatch) {
	s, bad := h.Open(t)
	if s == nil {
		return nil, Mismatchf(t.Hop, "an MCP session opens", "initialize failed: "+bad.describeAnswer())
	}
	defer s.Close()
	uri := notifyURIPrefix + randomToken()
	if r := s.Call("resources/subscribe", map[string]any{"uri": uri}, nil); !r.OK() || len(r.Messages) == 0 || rpcErrorMessage(r.Messages[len(r.Messages)-1]) != "" {
		msg := r.Describe()
		if len(r.Messages) > 0 {
			msg += ": " + rpcErrorMessage(r.Messages[len(r.Messages)-1])
		}
		// A JSON-RPC error is the bridge declining subscriptions: nothing
		// to probe. No answer or an HTTP failure is the proxy failing.
		if t.Name == "proxy" && r.OK() && len(r.Messages) > 0 {
			h.Skip("the proxy does not pass resource subscriptions on (resources/subscribe: " + msg + "), so no server-initiated message can be made to reach its standalone stream")
		}
		return nil, Mismatchf(t.Hop, "resources/subscribe succeeds in the session", msg)
	}
	received := 0
	get, failed := h.openGetStream(s, StreamOptions{Sent: notifySent, MaxWait: idle + time.Duration(n)*gap + 5*time.Second,
		OnEvent: func(e sseread.Event) bool {
			if _, ok := notifyStamp(e); ok {
				received++
			}
			return received < n
		}})
	if get == nil {
		return failed, Mismatchf(t.Hop, "the session's GET stream opens (200 text/event-stream)", failed.Describe())
	}
	if idle > 0 {
		timer := time.NewTimer(idle)
		select {
		case <-timer.C:
		case get.res = <-get.done:
			// The stream ended while idle: judged below.
		}
		timer.Stop()
	}
	if get.res == nil {
		args := map[string]any{"count": n, "gap_ms": gap.Milliseconds(), "uri": uri}
		if r := s.Call("tools/call", map[string]any{"name": mockserver.ToolNotify, "arguments": args}, nil); !r.OK() {
			get.stop()
			return nil, Mismatchf(t.Hop, "tools/call notify succeeds", r.Describe())
		}
	}
	return get.wait(), nil
}

// checkIncrementalGetBridge is SSE-STREAM-001/get through a bridge: messages
// the upstream sends on its standalone stream reach the client's GET stream
// one by one.
func checkIncrementalGetBridge(h *H) {
	probe := func(t Target, n int, gap time.Duration) *Mismatch {
		res, m := h.notifyOnGet(t, n, gap, 0)
		if m != nil {
			return m
		}
		return h.judgeIncremental(t.Hop, res, n)
	}
	h.Control(probe(h.Upstream(), controlEvents, controlGap))
	h.Verdict(probe(h.Proxy(), sseEvents, h.sseGap()))
}

// checkIncrementalLegacyBridge is SSE-STREAM-001/legacy through a bridge:
// the progress of a call made over the bridge's legacy endpoint reaches the
// legacy stream one by one.
func checkIncrementalLegacyBridge(h *H) {
	probe := func(t Target, n int, gap time.Duration) *Mismatch {
		u := h.legacyURLOrSkip(t)
		const callID = 3
		c := h.openLegacyUntil(t, u, callID, time.Duration(n)*gap+legacyStreamWait, progressSent)
		res, m := h.legacyCall(c, u, callID, "tools/call", progressCall(n, gap, "mcpconform-"+randomToken()))
		if m != nil {
			return m
		}
		return h.judgeIncremental(t.Hop, res, n)
	}
	h.Control(probe(h.Upstream(), controlEvents, controlGap))
	h.Verdict(probe(h.Proxy(), sseEvents, h.sseGap()))
}

// legacyCall opens a legacy session on c (endpoint event, initialize and
// its answer, initialized) and POSTs method as request id to the endpoint,
// then waits for the stream to end at that answer. It returns the stream.
func (h *H) legacyCall(c *legacyConn, sseURL string, id int, method string, params any) (*StreamResult, *Mismatch) {
	hop := c.t.Hop
	fail := func(expected, observed string) (*StreamResult, *Mismatch) {
		res := c.close()
		if res.Err == nil && res.Status != http.StatusOK {
			observed = res.Describe() + "; " + observed
		}
		return res, Mismatchf(hop, expected, observed)
	}
	first, ok := c.next()
	if !ok || first.Event != "endpoint" {
		return fail("a legacy stream whose first event is `endpoint`", "no endpoint event")
	}
	base, _ := url.Parse(sseURL)
	ref, err := url.Parse(strings.TrimSpace(first.Data))
	if err != nil {
		return fail("an endpoint URI", fmt.Sprintf("endpoint data %q", first.Data))
	}
	ep := base.ResolveReference(ref).String()
	post := func(body []byte) *Result {
		return h.Send(c.t, Request{URL: ep, Header: http.Header{"Content-Type": {"application/json"}}, Body: body})
	}
	if r := post(legacyInit()); !r.OK() {
		return fail("initialize POSTed to the endpoint is accepted", r.Describe())
	}
	for {
		e, ok := c.next()
		if !ok {
			return fail("the answer to initialize on the legacy stream", "it never arrived")
		}
		if isAnswerTo(e, 1) {
			break
		}
	}
	if r := post(rpcNotification("notifications/initialized")); !r.OK() {
		return fail("notifications/initialized is accepted", r.Describe())
	}
	if r := post(rpcRequest(id, method, params)); !r.OK() {
		return fail(method+" POSTed to the endpoint is accepted", r.Describe())
	}
	return c.wait(), nil
}

// checkIdleBridge is SSE-STREAM-002 through a bridge: the client's GET
// stream stays open while the session is idle and still delivers a message
// the upstream sends afterwards. Keep-alive comments are each hop's own
// business here: a bridge may send its own or none.
func checkIdleBridge(h *H, idle time.Duration) {
	probe := func(t Target, idle time.Duration) *Mismatch {
		res, m := h.notifyOnGet(t, 1, 0, idle)
		if m != nil {
			return m
		}
		expect := fmt.Sprintf("the GET stream open through %s of silence, then the upstream's notification on it", idle)
		if knownEvents(res) == 0 {
			return Mismatchf(t.Hop, expect, fmt.Sprintf("the stream ended or stayed silent after %dms (%s)", res.Ended.Sub(res.Start).Milliseconds(), res.Describe()), res.Timeline())
		}
		return nil
	}
	// The control proves the probe; it need not idle as long.
	h.Control(probe(h.Upstream(), 300*time.Millisecond))
	h.Verdict(probe(h.Proxy(), idle))
}

// resultText is the text of the first content item of a tools/call result
// among msgs, and whether a result for id arrived at all.
func resultText(msgs []json.RawMessage, id int) (string, bool) {
	for _, raw := range msgs {
		var msg struct {
			ID     json.RawMessage `json:"id"`
			Result *struct {
				Content []struct {
					Text string `json:"text"`
				} `json:"content"`
			} `json:"result"`
		}
		if json.Unmarshal(raw, &msg) != nil || string(msg.ID) != fmt.Sprint(id) || msg.Result == nil {
			continue
		}
		if len(msg.Result.Content) == 0 {
			return "", true
		}
		return msg.Result.Content[0].Text, true
	}
	return "", false
}

// checkLargeManyBridge is SSE-PARSE-003 through a bridge: a 1 MiB result
// arrives whole, and 10 000 progress notifications arrive all and in order.
func checkLargeManyBridge(h *H) {
	const size, many = 1 << 20, 10000
	probe := func(t Target) *Mismatch {
		s, bad := h.Open(t)
		if s == nil {
			return Mismatchf(t.Hop, "an MCP session opens", "initialize failed: "+bad.describeAnswer())
		}
		defer s.Close()
		switch h.Row.ID {
		case "large":
			expect := fmt.Sprintf("the tools/call result whole: %d bytes of text", size)
			res := s.Call("tools/call", map[string]any{"name": mockserver.ToolLarge, "arguments": map[string]any{"bytes": size}}, nil)
			if res.Err != nil {
				return Mismatchf(t.Hop, expect, res.Describe())
			}
			text, ok := resultText(res.Messages, s.nextID-1)
			switch {
			case !ok:
				return Mismatchf(t.Hop, expect, fmt.Sprintf("no result among %d messages (%s, %d body bytes)", len(res.Messages), res.Describe(), len(res.Body)))
			case len(text) != size || strings.Trim(text, "x") != "":
				return Mismatchf(t.Hop, expect, fmt.Sprintf("a result of %d bytes", len(text)), "the result was cut or changed on the way")
			}
		case "many":
			// Which stream carries them is SSE-STREAM-001's question; here
			// every one must arrive, in order, on either.
			expect := fmt.Sprintf("%d progress notifications in order, then the result", many)
			post, onGet := h.callWatchingGet(s, progressCall(many, 0, "mcpconform-"+randomToken()), 8*time.Second, 500*time.Millisecond, nil,
				func(post *StreamResult) bool { return len(progressEvents(post)) >= many })
			if post.Err != nil || post.Status != http.StatusOK {
				return Mismatchf(t.Hop, expect, post.Describe())
			}
			got := progressEvents(post, onGet)
			for i, v := range got {
				if int(v) != i+1 {
					return Mismatchf(t.Hop, expect, fmt.Sprintf("progress %v where %d was due", v, i+1), "notifications were lost or reordered")
				}
			}
			if len(got) != many {
				return Mismatchf(t.Hop, expect, fmt.Sprintf("%d of %d notifications (POST stream: %s)", len(got), many, post.Describe()))
			}
		default:
			h.Errorf("SSE-PARSE-003 row %q has no bridge check", h.Row.ID)
		}
		return nil
	}
	h.Control(probe(h.Upstream()))
	h.Verdict(probe(h.Proxy()))
}

// cutCall answers a tools/call like a server that crashes mid-response: one
// progress notification for the call's token (without an SSE id, so there is
// nothing to resume), half of a second one, then the connection is cut.
func cutCall() mockserver.Fault {
	return mockserver.Fault{Name: "sse-cut-call", Match: mockserver.Match{Method: http.MethodPost, Path: mockserver.MCPPath, RPCMethod: "tools/call"},
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var req struct {
				Params struct {
					Meta struct {
						ProgressToken any `json:"progressToken"`
					} `json:"_meta"`
				} `json:"params"`
			}
			_ = json.NewDecoder(r.Body).Decode(&req)
			tok, _ := json.Marshal(req.Params.Meta.ProgressToken)
			w.Header().Set("Content-Type", "text/event-stream")
			w.WriteHeader(http.StatusOK)
			fmt.Fprintf(w, "event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{\"progressToken\":%s,\"progress\":1,\"total\":2}}\n\n", tok)
			fmt.Fprintf(w, "event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/pro")
			http.NewResponseController(w).Flush()
			panic(http.ErrAbortHandler) // cut: no terminating chunk
		})}
}

// checkCutBridge is SSE-PARSE-005 through a bridge: when the upstream's
// answer to a call is cut before the result, the bridge relays what came
// and ends the client's request promptly, never hangs it and never invents
// a result.
func checkCutBridge(h *H) {
	const bound = 3 * time.Second
	probe := func(t Target) *Mismatch {
		s, bad := h.Open(t)
		if s == nil {
			return Mismatchf(t.Hop, "an MCP session opens", "initialize failed: "+bad.describeAnswer())
		}
		defer s.Close()
		h.Mock().Arm(cutCall())
		defer h.endProbe()
		res := h.Stream(t, Request{Header: postHeaders(s.ID), Body: rpcRequest(9, "tools/call", progressCall(2, 0, "mcpconform-"+randomToken()))},
			StreamOptions{MaxWait: bound})
		expect := fmt.Sprintf("the request ends within %s with an error (or the stream closes), no result", bound)
		if res.Err != nil {
			return Mismatchf(t.Hop, expect, res.Describe())
		}
		if res.TimedOut {
			return Mismatchf(t.Hop, expect, fmt.Sprintf("the request was still open %s after the upstream cut its answer", bound), "a client waits forever for a result that cannot come; timeline: "+res.Timeline())
		}
		for _, msg := range jsonRPCMessages(res.Header.Get("Content-Type"), res.Raw) {
			var m struct {
				ID     json.RawMessage `json:"id"`
				Result json.RawMessage `json:"result"`
			}
			if json.Unmarshal(msg, &m) == nil && string(m.ID) == "9" && m.Result != nil {
				return Mismatchf(t.Hop, expect, "a result for the cut call", "the upstream never answered the call: a result was invented")
			}
		}
		return nil
	}
	h.Control(probe(h.Upstream()))
	h.Verdict(probe(h.Proxy()))
}
