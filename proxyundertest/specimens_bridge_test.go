package proxyundertest

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcpconform/mcpconform/mockserver"
	"github.com/mcpconform/mcpconform/scenarios/sseread"
)

// specimenRig runs a bridge specimen in front of a fresh mock.
func specimenRig(t *testing.T, name string, opt Options) *bridgeRig {
	t.Helper()
	s, ok := Lookup(name)
	if !ok || s.Bridge == nil {
		t.Fatalf("%s is not a bridge specimen", name)
	}
	opt.Roles = append(opt.Roles, "B")
	return newBridgeRig(t, opt, s.Bridge)
}

// refuseInitialize arms a catalogue challenge on every POST, as a protected
// server answers, and sends an initialize through the bridge.
func (r *bridgeRig) refuseInitialize(ctx context.Context, id string) (*http.Response, mockserver.Challenge) {
	ch, _ := mockserver.ChallengeByID(id)
	f := ch.Fault(r.mock, mockserver.Match{Method: http.MethodPost, Path: mockserver.MCPPath})
	f.Times = -1
	r.mock.Arm(f)
	return r.send(ctx, http.MethodPost, "", "", rpc(1, "initialize", initParams())), ch
}

func TestBridgeSpecimen401As200(t *testing.T) {
	r := specimenRig(t, "bridge-401-as-200", Options{})
	ctx := testCtx(t)
	resp, ch := r.refuseInitialize(ctx, "WWWA-03")
	msgs := readMessages(t, resp)
	if resp.StatusCode != http.StatusOK || len(resp.Header.Values("WWW-Authenticate")) != 0 {
		t.Fatalf("got %d %q, want the bug: 200 without a challenge", resp.StatusCode, resp.Header.Values("WWW-Authenticate"))
	}
	if len(msgs) != 1 || msgs[0].Error == nil || !strings.Contains(string(msgs[0].Error.Data), "invalid_token") {
		t.Fatalf("body %+v: want the challenge in-band (%s)", msgs, ch.Lines[0])
	}
}

func TestBridgeSpecimenDropsChallenge(t *testing.T) {
	r := specimenRig(t, "bridge-drops-challenge", Options{})
	resp, _ := r.refuseInitialize(testCtx(t), "WWWA-02")
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || len(resp.Header.Values("WWW-Authenticate")) != 0 {
		t.Fatalf("got %d %q, want the bug: 401 without a challenge", resp.StatusCode, resp.Header.Values("WWW-Authenticate"))
	}
}

func TestBridgeSpecimenRebuildsFromResourceMetadata(t *testing.T) {
	r := specimenRig(t, "bridge-rebuilds-from-resource-metadata", Options{})
	resp, _ := r.refuseInitialize(testCtx(t), "WWWA-02")
	resp.Body.Close()
	want := []string{`Bearer resource_metadata="` + r.mock.BaseURL + `/.well-known/oauth-protected-resource"`}
	if got := resp.Header.Values("WWW-Authenticate"); resp.StatusCode != 401 || !slices.Equal(got, want) {
		t.Fatalf("got %d %q, want the bug: %q", resp.StatusCode, got, want)
	}
}

func TestBridgeSpecimenRewritesDescription(t *testing.T) {
	r := specimenRig(t, "bridge-rewrites-description", Options{})
	resp, ch := r.refuseInitialize(testCtx(t), "WWWA-03")
	resp.Body.Close()
	want := strings.Replace(ch.Values(r.mock)[0], `"The access token expired"`, `"Authentication required"`, 1)
	if got := resp.Header.Values("WWW-Authenticate"); !slices.Equal(got, []string{want}) {
		t.Fatalf("got %q, want the bug: %q", got, want)
	}
}

func TestBridgeSpecimen500OnUpstreamError(t *testing.T) {
	r := specimenRig(t, "bridge-500-on-upstream-error", Options{})
	resp, _ := r.refuseInitialize(testCtx(t), "WWWA-01")
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 500 || len(resp.Header.Values("WWW-Authenticate")) != 0 || !strings.Contains(string(body), "Error creating server") {
		t.Fatalf("got %d %q %s, want the bug: 500 Error creating server", resp.StatusCode, resp.Header.Values("WWW-Authenticate"), body)
	}
}

func TestBridgeSpecimenPinsToken(t *testing.T) {
	r := specimenRig(t, "bridge-pins-token", Options{})
	ctx := testCtx(t)
	sid := r.open(ctx, "Bearer first")
	_, msgs := r.call(ctx, sid, "Bearer refreshed", 2, "tools/call", map[string]any{"name": mockserver.ToolEchoHeaders})
	var h http.Header
	_ = json.Unmarshal([]byte(toolText(t, msgs)), &h)
	if got := h.Get("Authorization"); got != "Bearer first" {
		t.Fatalf("upstream got %q, want the bug: the initialize's token", got)
	}
}

// progressOnStreams makes a progress call with the session's GET stream
// open and counts the progress notifications on each stream. To know that
// no more will come on the GET stream, it then has the upstream send a
// resource update on its standalone stream: the bridge relays upstream
// notifications in the order they arrive, so progress relayed at all is on
// the GET stream before that update.
func progressOnStreams(t *testing.T, r *bridgeRig, n int) (onPost, onGet int) {
	t.Helper()
	ctx := testCtx(t)
	sid := r.open(ctx, "")
	uri := mockserver.NotifyResource + "/marker"
	if resp, _ := r.call(ctx, sid, "", 2, "resources/subscribe", map[string]any{"uri": uri}); resp.StatusCode != 200 {
		t.Fatalf("subscribe: %d", resp.StatusCode)
	}
	get := r.send(ctx, http.MethodGet, sid, "", "")
	defer get.Body.Close()
	_, msgs := r.call(ctx, sid, "", 3, "tools/call", progressCallParams(n, 20*time.Millisecond, "tok-spec"))
	for _, m := range msgs {
		onPost += boolToInt(m.Method == "notifications/progress")
	}
	r.call(ctx, sid, "", 4, "tools/call", map[string]any{"name": mockserver.ToolNotify, "arguments": map[string]any{"count": 1, "gap_ms": 0, "uri": uri}})
	rd := sseread.NewReader(get.Body, sseread.Options{})
	for {
		ev, err := rd.Next()
		if err != nil {
			t.Fatalf("GET stream ended before the resource update: %v", err)
		}
		if strings.Contains(ev.Data, uri) {
			return onPost, onGet
		}
		onGet += boolToInt(strings.Contains(ev.Data, "notifications/progress"))
	}
}

func TestBridgeSpecimenDropsProgress(t *testing.T) {
	r := specimenRig(t, "bridge-drops-progress", Options{})
	if post, get := progressOnStreams(t, r, 3); post != 0 || get != 0 {
		t.Fatalf("%d progress on the POST stream, %d on the GET stream: want the bug, none", post, get)
	}
}

func TestBridgeSpecimenProgressOnGetStream(t *testing.T) {
	r := specimenRig(t, "bridge-progress-on-get-stream", Options{})
	if post, get := progressOnStreams(t, r, 3); post != 0 || get != 3 {
		t.Fatalf("%d progress on the POST stream, %d on the GET stream: want the bug, 0 and 3", post, get)
	}
}

func TestBridgeSpecimenLosesLastProgress(t *testing.T) {
	r := specimenRig(t, "bridge-loses-last-progress", Options{})
	ctx := testCtx(t)
	sid := r.open(ctx, "")
	_, msgs := r.call(ctx, sid, "", 2, "tools/call", progressCallParams(3, 150*time.Millisecond, "tok-last"))
	var got []float64
	for _, m := range msgs {
		if m.Method == "notifications/progress" {
			var p struct {
				Progress float64 `json:"progress"`
			}
			_ = json.Unmarshal(m.Params, &p)
			got = append(got, p.Progress)
		}
	}
	if !slices.Equal(got, []float64{1, 2}) || msgs[len(msgs)-1].Result == nil {
		t.Fatalf("progress %v then %+v: want the bug, 1 and 2 but not 3 (sent just before the result)", got, msgs[len(msgs)-1])
	}
}

func TestBridgeSpecimenStaleContentLength(t *testing.T) {
	r := specimenRig(t, "bridge-stale-content-length", Options{})
	resp, ch := r.refuseInitialize(testCtx(t), "WWWA-01")
	defer resp.Body.Close()
	upstreamLen := len(mockserver.ErrorBody(ch.Status))
	if resp.ContentLength != int64(upstreamLen) {
		t.Fatalf("Content-Length %d, want the bug: the upstream's %d", resp.ContentLength, upstreamLen)
	}
	if _, err := io.ReadAll(resp.Body); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("reading the body: %v, want the bug: it ends before its declared length", err)
	}
}

func TestBridgeSpecimenCORS(t *testing.T) {
	for _, tc := range []struct {
		name  string
		check func(h http.Header) bool
	}{
		{"bridge-wildcard-with-credentials", func(h http.Header) bool {
			return h.Get("Access-Control-Allow-Origin") == "*" && h.Get("Access-Control-Allow-Credentials") == "true"
		}},
		{"bridge-expose-session-only", func(h http.Header) bool { return h.Get("Access-Control-Expose-Headers") == "Mcp-Session-Id" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := specimenRig(t, tc.name, Options{CORS: true})
			ctx := testCtx(t)
			ch, _ := mockserver.ChallengeByID("WWWA-01")
			f := ch.Fault(r.mock, mockserver.Match{Method: http.MethodPost, Path: mockserver.MCPPath})
			f.Times = -1
			r.mock.Arm(f)
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, r.mcpURL(), strings.NewReader(rpc(1, "initialize", initParams())))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json, text/event-stream")
			req.Header.Set("Origin", "http://app.example")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 401 || !tc.check(resp.Header) {
				t.Fatalf("401 with CORS fields %v: want the bug", resp.Header)
			}
		})
	}
}

func TestBridgeSpecimen404InBand(t *testing.T) {
	r := specimenRig(t, "bridge-404-in-band", Options{})
	ctx := testCtx(t)
	sid := r.open(ctx, "")
	req, _ := http.NewRequestWithContext(ctx, http.MethodDelete, r.mock.MCPURL(), nil)
	req.Header.Set("Mcp-Session-Id", r.mock.Sessions()[0])
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode/100 != 2 {
		t.Fatalf("deleting the upstream session: %v %v", resp, err)
	}
	resp, msgs := r.call(ctx, sid, "", 2, "tools/list", nil)
	if resp.StatusCode != http.StatusOK || len(msgs) != 1 || msgs[0].Error == nil {
		t.Fatalf("got %d %+v, want the bug: 200 with a JSON-RPC error", resp.StatusCode, msgs)
	}
}

func TestBridgeSpecimenTrailingSlash(t *testing.T) {
	r := specimenRig(t, "bridge-trailing-slash", Options{})
	ctx := testCtx(t)
	mark := r.mock.Journal.Mark()
	resp := r.send(ctx, http.MethodPost, "", "", rpc(1, "initialize", initParams()))
	resp.Body.Close()
	e := r.waitEntry(ctx, mark, func(*mockserver.Entry) bool { return true })
	if resp.StatusCode != http.StatusNotFound || e.Path != "/mcp/" {
		t.Fatalf("initialize %d, upstream path %q: want the bug, 404 from /mcp/", resp.StatusCode, e.Path)
	}
}
