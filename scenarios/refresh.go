package scenarios

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/mcpconform/mcpconform/mockserver"
	"github.com/mcpconform/mcpconform/mockserver/authz"
	"github.com/mcpconform/mcpconform/report"
)

// Area: token refresh (AUTH-TOK-*, AUTH-REF-*). The bug this area exists
// for: a proxy put a 1-hour JWT into the session's headers at start and never
// refreshed it; after ~55 minutes every call got 401. With the mock AS
// issuing ~1 s tokens (--token-ttl) the same bug shows within seconds. In
// role I runs the mock's token gate is on, so every upstream request's token
// is validated and journaled (Entry.TokenFP/TokenErr/TokenExp).

// refreshWait is the deliberate waiting of the longest scenario, in token
// lifetimes; scenario Timeouts are derived from it at the default 1 s TTL.
const (
	longSessionLifetimes = 5.5
	burstSize            = 20
)

func init() {
	Define(Scenario{
		ID: "AUTH-TOK-004", Title: "a session spanning ≥5 token lifetimes never shows the upstream an expired token",
		Area: "refresh", Level: MUST, Roles: []Role{RoleI},
		Requirement: "Authorization MUST be included in every HTTP request from client to server, even within one logical session; the token must be current, not the one from session start.",
		Source:      "MCP 2025-11-25 Authorization, Token Requirements (authorization on every request); bug (vii)",
		KnownBugs:   []string{"(vii) JWT baked into the session headers at start, 401 on every call after expiry (peakflo/20x#268, metamcp#142, mcphub#504)"},
		Checks:      "One session through the proxy for 5.5 token lifetimes, a call every quarter lifetime, and a GET stream held open across an expiry: no call may fail at the client and no upstream request may carry an expired or otherwise invalid token.",
		Timeout:     20 * time.Second,
		Run:         checkLongSession,
	})
	Define(Scenario{
		ID: "AUTH-REF-009", Title: "at most one refresh per token lifetime, single-flight under a burst at expiry",
		// MUST, derived: no RFC sentence limits the refresh rate, but with
		// rotating refresh tokens (OAuth 2.1 §4.3.1) concurrent refreshes
		// are replays that revoke the grant, and a refresh per request is
		// the same bug waiting for concurrency.
		Area: "refresh", Level: MUST, Roles: []Role{RoleI},
		Requirement: "Refresh when the token is about to expire, once: a proxy that refreshes on every request, or lets concurrent requests each refresh, loads the AS and (with rotation) trips replay detection, which revokes the whole grant.",
		Source:      "OAuth 2.1 §4.3.1 (refresh token rotation, replay revokes the family); RFC 9700 §4.14.2; harness convention (ID local to mcpconform)",
		Checks:      fmt.Sprintf("Calls every fifth of a lifetime for 2.5 lifetimes, then %d concurrent calls right at the expiry of the proxy's token: at most ceil(1.25 per lifetime)+2 grants in all and at most 2 during the burst; every burst call succeeds.", burstSize),
		Timeout:     15 * time.Second,
		Run:         checkRefreshRate,
	})
	Define(Scenario{
		ID: "AUTH-REF-002", Title: "the rotated refresh token replaces the old one",
		Area: "refresh", Level: MUST, Roles: []Role{RoleI},
		Requirement: "When the AS issues a new refresh token, the client MUST discard the old one and use the new one; presenting a rotated-out refresh token is replay.",
		Source:      "OAuth 2.1 §4.3.1; RFC 6749 §6 (the client MUST discard the old refresh token)",
		Checks:      "Three early revocations force three refreshes; every refresh grant must present the refresh token the previous grant issued, and none may be a replay.",
		Timeout:     10 * time.Second,
		Run:         checkRotation,
	})
	Define(Scenario{
		ID: "AUTH-REF-004", Title: "an early-revoked token: refresh and retry once, or a clean 401 — never a loop",
		Area: "refresh", Level: MUST, Roles: []Role{RoleI},
		Requirement: "Do not trust expires_in alone: a token can be revoked before it expires. On the upstream's 401 the proxy refreshes and retries once, or passes a 401 with a challenge; it must not keep sending the rejected token nor retry without bound.",
		Source:      "OAuth 2.1 §3.2.3 (clients MUST NOT rely on the full lifetime); RFC 6750 §3.1 (invalid_token: the client MAY request a new token and retry)",
		Rows: []Row{
			{ID: "revoked-early", Title: "the proxy's token is revoked by the AS before it expires"},
			{ID: "always-401", Title: "the upstream rejects every token: at most one retry"},
		},
		Checks:  "revoked-early: after revocation a call succeeds or gets 401 with a challenge, and the next call succeeds; always-401: the client gets 401 with a challenge and the upstream sees at most 2 requests for the call.",
		Timeout: 10 * time.Second,
		Run:     checkEarlyRevoke,
	})
	Define(Scenario{
		ID: "AUTH-REF-005", Title: "AS down: a clear 401/502/503 within a bound, recovery when it returns",
		Area: "refresh", Level: MUST, Roles: []Role{RoleI},
		Requirement: "On refresh failure, stop and surface the failure to the client (401 with a challenge, or a 502/503 with a body saying why) promptly; when the AS is back the session works again.",
		Source:      "MCP 2025-11-25 Authorization, Error Handling; OAuth 2.1 §3.2.4; RFC 9110 §15.5.2",
		Checks:      "The AS answers 503 and the proxy's token is revoked: the next call must get 401 (with a challenge), 502 or 503 with a non-empty body within 5 s; once the AS answers again, the next call succeeds.",
		Timeout:     15 * time.Second,
		Run:         checkASDown,
	})
	Define(Scenario{
		ID: "AUTH-TOK-001", Title: "`resource` is sent on every grant, refreshes included",
		Revisions: RevisionRange{Since: Rev20250618},
		Area:      "refresh", Level: MUST, Roles: []Role{RoleI},
		Requirement: "MCP clients MUST include the resource parameter in both authorization requests and token requests, refresh included.",
		Source:      "MCP 2025-11-25 authorization §Resource Parameter Implementation; RFC 8707 §2",
		Checks:      "The AS requires `resource`; two early revocations force two refreshes; every grant must carry resource = the upstream MCP URL.",
		Timeout:     10 * time.Second,
		Run:         checkResourceParam,
	})
	Define(Scenario{
		ID: "AUTH-TOK-003", Title: "no token passthrough: the client's Authorization stays at the proxy, the injected token stays upstream",
		Area: "refresh", Level: MUST, Roles: []Role{RoleI},
		Requirement: "MCP servers MUST NOT accept or transit any other tokens; an injecting proxy replaces the client's credential and never reveals its own token to the client.",
		Source:      "MCP 2025-11-25 Authorization, Access Token Privilege Restriction; security best practices, Token Passthrough",
		Checks:      "A session whose every request carries the client's own Authorization: the upstream must never see it, and no response header or body at the client may contain a token the upstream received.",
		Run:         checkNoPassthrough,
	})
	Define(Scenario{
		ID: "AUTH-PRM-001", Title: "the challenge's resource_metadata URL is fetched first",
		Revisions: RevisionRange{Since: Rev20250618},
		Area:      "refresh", Level: MUST, Roles: []Role{RoleI, RoleB},
		Requirement: "MCP clients MUST be able to parse WWW-Authenticate headers and use the resource_metadata URL when present, instead of guessing a well-known URL.",
		Source:      "MCP 2025-11-25 authorization §Protected Resource Metadata Discovery; RFC 9728 §5.1; WWWA-32",
		KnownBugs:   []string{"(iv) header resource_metadata ignored, root URL guessed (ai-ecoverse/slicc#3348, nanobot#348)"},
		Checks:      "The upstream's 401 names a non-default metadata URL (served only there and at the well-known URLs); the proxy's first metadata fetch must be that URL. Skipped when the proxy fetches no metadata at all.",
		Run:         checkPRMDiscovery,
	})
	Define(Scenario{
		ID: "AUTH-PRM-002", Title: "without a challenge, the path-suffixed well-known URL is tried before the root one",
		Revisions: RevisionRange{Since: Rev20250618},
		Area:      "refresh", Level: MUST, Roles: []Role{RoleI, RoleB},
		Requirement: "Without resource_metadata in the header, clients MUST try the path-suffixed well-known URI (/.well-known/oauth-protected-resource/mcp) before the root one.",
		Source:      "MCP 2025-11-25 authorization §Protected Resource Metadata Discovery; RFC 9728 §3.1; WWWA-37",
		Checks:      "The upstream answers 401 without WWW-Authenticate; the proxy's first metadata fetch must be the path-suffixed URL. Skipped when the proxy fetches no metadata at all.",
		Run:         checkPRMDiscovery,
	})
	Define(Scenario{
		ID: "AUTH-TOK-006", Title: "no token baked at session start: a changed client token reaches the upstream on the next request",
		Area: "refresh", Level: MUST, Roles: []Role{RoleT, RoleB},
		Requirement: "MCP servers MUST verify all inbound requests and MUST NOT use sessions for authentication: a pass-through proxy, or a bridge that forwards its client's token, forwards the token of each request, not the session's first one.",
		Source:      "MCP 2025-11-25 authorization §Token Usage, security best practices §Session Hijacking; RFC 6750 §3.1",
		KnownBugs:   []string{"(vii) session-sticky credentials (metamcp#142)"},
		// That the upstream's 401 invalid_token reaches the client intact is
		// AUTH-HDR-001 (rows WWWA-03, WWWA-38), not repeated here.
		Checks: "After a session opened with token A, the client switches to token B: every later request that reaches the upstream (POST, GET stream, DELETE) must carry B. A bridge that never forwards its client's token is skipped.",
		Run:    checkTokenChange,
	})
}

// ----- shared helpers -----

func (h *H) tokenTTL() time.Duration {
	if d := h.Params().TokenTTL; d > 0 {
		return d
	}
	return time.Second
}

// authzServer returns the mock AS with a clean grant log, or ends the case
// as a harness error when the run has none.
func (h *H) authzServer() *authz.Server {
	as := h.Mock().Authz
	if as == nil {
		h.Errorf("the mock authorization server is not running (mockserver.Options.Authz)")
	}
	if h.HasRole(RoleI) && !h.Mock().GateOn() {
		h.Errorf("role I run without the upstream token gate: the harness cannot see invalid tokens")
	}
	as.Reset()
	return as
}

// sleepCtx waits d or until the case's context ends; false means it ended.
func (h *H) sleepCtx(d time.Duration) bool {
	if d <= 0 {
		return h.ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-h.ctx.Done():
		return false
	}
}

// rel formats t relative to the probe start.
func rel(t, t0 time.Time) string {
	return fmt.Sprintf("+%.3fs", t.Sub(t0).Seconds())
}

// describeTokenEntry names an upstream request, the token it carried, its
// expiry and the verdict of the AS, for failure texts.
func describeTokenEntry(e *mockserver.Entry, t0 time.Time) string {
	what := e.Method + " " + e.Path
	if e.RPCMethod != "" {
		what += " " + e.RPCMethod
	}
	fp := e.TokenFP
	if fp == "" {
		fp = "no token"
	}
	s := fmt.Sprintf("upstream request #%d %s at %s carried %s", e.Seq, what, rel(e.Time, t0), fp)
	if !e.TokenExp.IsZero() {
		s += " expiring at " + rel(e.TokenExp, t0)
		if e.TokenExp.Before(e.Time) {
			s += fmt.Sprintf(" (%.0f ms before the request arrived)", e.Time.Sub(e.TokenExp).Seconds()*1000)
		}
	}
	if e.TokenErr != "" {
		s += ": " + e.TokenErr
	}
	return s
}

// grantSummary says what the AS counted since the case's Reset.
func grantSummary(as *authz.Server) string {
	gs := as.Grants()
	by := map[string]int{}
	for _, g := range gs {
		by[g.GrantType+" "+g.Outcome]++
	}
	if len(gs) == 0 {
		return "the AS counted no token requests"
	}
	parts := make([]string, 0, len(by))
	for k, n := range by {
		parts = append(parts, fmt.Sprintf("%d %s", n, k))
	}
	sortStrings(parts)
	return "the AS counted " + strings.Join(parts, ", ")
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// badTokenEntries lists upstream requests on the MCP routes since mark whose
// token the AS would not accept (faults excluded: they answer regardless).
func badTokenEntries(m *mockserver.Mock, mark int) []*mockserver.Entry {
	var out []*mockserver.Entry
	for _, e := range m.Journal.Since(mark) {
		if e.Fault != "" || (e.Path != mockserver.MCPPath && e.Path != mockserver.SSEPath && e.Path != mockserver.MessagesPath) {
			continue
		}
		if e.TokenErr != "" {
			out = append(out, e)
		}
	}
	return out
}

func firstN(list []string, n int) []string {
	if len(list) <= n {
		return list
	}
	return append(list[:n:n], fmt.Sprintf("… and %d more", len(list)-n))
}

// openOrFail opens a session on t or ends the case with a mismatch.
func (h *H) openOrFail(t Target, as *authz.Server, mark int, t0 time.Time) *Session {
	s, bad := h.Open(t)
	if s != nil {
		return s
	}
	d := []string{grantSummary(as)}
	for _, e := range badTokenEntries(h.Mock(), mark) {
		d = append(d, describeTokenEntry(e, t0))
	}
	m := Mismatchf(t.Hop, "an MCP session opens", "initialize failed: "+bad.describeAnswer()+" "+shorten(string(bad.Body), 200), d...)
	if t.Name == "proxy" {
		h.Verdict(m)
	} else {
		h.Control(m)
	}
	return nil
}

// stream is a GET stream held open in the background.
type stream struct {
	status  int
	opened  time.Time
	err     error
	done    chan struct{}
	endedAt time.Time
	cancel  context.CancelFunc
}

// openStream sends the standalone GET of a session and returns once the
// response head arrived (or failed); the body is drained until stop.
func (h *H) openStream(t Target, sessionID string) *stream {
	ctx, cancel := context.WithCancel(h.ctx)
	st := &stream{done: make(chan struct{}), cancel: cancel}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, t.MCPURL, nil)
	for k, v := range t.Header {
		req.Header[k] = v
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Mcp-Session-Id", sessionID)
	req.Header.Set("MCP-Protocol-Version", ProtocolVersion)
	resp, err := h.run.client.http.Do(req)
	st.opened = time.Now()
	if err != nil {
		st.err = err
		close(st.done)
		return st
	}
	st.status = resp.StatusCode
	h.Evidence(report.Exchange{Hop: t.Hop, Started: st.opened, Request: report.Request{Method: "GET", URL: t.MCPURL},
		Response: &report.Response{Status: resp.StatusCode, StatusText: http.StatusText(resp.StatusCode), Body: "(stream)"}})
	go func() {
		defer close(st.done)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		st.endedAt = time.Now()
	}()
	return st
}

// stop closes the stream and reports whether it was still open.
func (st *stream) stop() (stillOpen bool) {
	select {
	case <-st.done:
		stillOpen = false
	default:
		stillOpen = true
	}
	st.cancel()
	<-st.done
	return stillOpen && st.err == nil
}

// mintAccess gets an access token for the harness itself from the mock AS
// (a new grant family), for controls and T-mode probes.
func (h *H) mintAccess(as *authz.Server) string {
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {as.MintRefreshToken()}, "resource": {h.Mock().MCPURL()}}
	req, _ := http.NewRequestWithContext(h.ctx, http.MethodPost, as.TokenURL(), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(mockserver.AuthzClientID, h.Mock().AuthzClientSecret())
	resp, err := h.run.client.http.Do(req)
	if err != nil {
		h.Errorf("harness token request: %v", err)
	}
	defer resp.Body.Close()
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&tr); err != nil || tr.AccessToken == "" {
		h.Errorf("harness token request: status %d, no access_token (%v)", resp.StatusCode, err)
	}
	return tr.AccessToken
}

// drainRevoked keeps a proxy's failure inside its own case: when the last
// upstream request since mark carried a revoked token (a proxy that does not
// recover from revocation), it waits until that token would have expired, so
// the proxy fetches a fresh one before the next case. A proxy that recovered
// costs no wait.
func (h *H) drainRevoked(mark int) {
	var last *mockserver.Entry
	for _, e := range h.Mock().Journal.Since(mark) {
		if e.Fault == "" && e.Path == mockserver.MCPPath && e.TokenFP != "control" {
			last = e
		}
	}
	if last != nil && last.TokenErr == "revoked" && !last.TokenExp.IsZero() {
		t := time.NewTimer(min(time.Until(last.TokenExp)+50*time.Millisecond, 2*h.tokenTTL()))
		defer t.Stop()
		select {
		case <-t.C:
		case <-h.ctx.Done():
		}
	}
}

// controlSession checks the harness can talk to the mock directly.
func (h *H) controlSession(as *authz.Server) {
	s := h.openOrFail(h.Upstream(), as, h.Mock().Journal.Mark(), time.Now())
	if r := s.Call("tools/list", nil, nil); !r.OK() {
		h.Control(Mismatchf(report.HopControl, "tools/list succeeds", r.Describe()))
	}
	s.Close()
}

// ----- AUTH-TOK-004 -----

func checkLongSession(h *H) {
	as := h.authzServer()
	ttl := h.tokenTTL()
	h.controlSession(as)
	as.Reset()
	mark := h.Mock().Journal.Mark()
	t0 := time.Now()
	s := h.openOrFail(h.Proxy(), as, mark, t0)
	sent := []time.Time{t0, time.Now()} // when the harness sent each request, in order
	st := h.openStream(h.Proxy(), s.ID)
	var clientFails []string
	calls := 0
	deadline := t0.Add(time.Duration(longSessionLifetimes * float64(ttl)))
	for time.Now().Before(deadline) {
		if !h.sleepCtx(ttl / 4) {
			break
		}
		sent = append(sent, time.Now())
		r := s.Call("tools/list", nil, nil)
		calls++
		if !r.OK() {
			clientFails = append(clientFails, fmt.Sprintf("call %d (tools/list) at %s got %s %s", calls, rel(time.Now(), t0), r.Describe(), shorten(string(r.Body), 160)))
		}
	}
	open := st.stop()
	var d []string
	d = append(d, firstN(clientFails, 3)...)
	var inTransit []string
	for _, e := range badTokenEntries(h.Mock(), mark) {
		if expiredInTransit(e, sent) {
			inTransit = append(inTransit, describeTokenEntry(e, t0))
			continue
		}
		d = append(d, describeTokenEntry(e, t0))
	}
	d = firstN(d, 8)
	if len(inTransit) > 0 {
		h.Note("not counted: %d upstream request(s) whose token was still valid when the harness sent the request and expired on the way (%s)", len(inTransit), strings.Join(firstN(inTransit, 2), "; "))
	}
	switch {
	case st.err != nil:
		d = append(d, "the GET stream failed: "+st.err.Error())
	case st.status != http.StatusOK:
		d = append(d, fmt.Sprintf("the GET stream was answered %d", st.status))
	case !open && st.endedAt.Sub(st.opened) < ttl:
		d = append(d, fmt.Sprintf("the GET stream ended at %s, before one token lifetime passed", rel(st.endedAt, t0)))
	}
	summary := fmt.Sprintf("%d calls over %.1fs (%.1f token lifetimes of %s); %s", calls, time.Since(t0).Seconds(), time.Since(t0).Seconds()/ttl.Seconds(), ttl, grantSummary(as))
	if len(d) > 0 {
		h.Verdict(Mismatchf(report.HopProxyUpstream, "no call fails at the client, every upstream request carries a current token, the GET stream stays open across an expiry", summary, d...))
	}
	h.Note("%s", summary)
}

// expiredInTransit reports whether e's token expired after the harness sent
// the request that led to e (the latest send at or before e arrived): the
// proxy cannot have picked the token before that request reached it, so it
// was current when picked and expired on the way, through the proxy's and
// the machine's latency (hundreds of milliseconds on a loaded CI runner).
// A token expired before the request even left is the proxy's, whatever
// the load. sent must be in order.
func expiredInTransit(e *mockserver.Entry, sent []time.Time) bool {
	if e.TokenErr != "expired" || e.TokenExp.IsZero() {
		return false
	}
	var last time.Time
	for _, t := range sent {
		if t.After(e.Time) {
			break
		}
		last = t
	}
	return !last.IsZero() && e.TokenExp.After(last)
}

// ----- AUTH-REF-009 -----

func checkRefreshRate(h *H) {
	as := h.authzServer()
	ttl := h.tokenTTL()
	h.controlSession(as)
	as.Reset()
	mark := h.Mock().Journal.Mark()
	t0 := time.Now()
	s := h.openOrFail(h.Proxy(), as, mark, t0)
	for time.Since(t0) < ttl*5/2 {
		if !h.sleepCtx(ttl / 5) {
			break
		}
		s.Call("tools/list", nil, nil)
	}
	elapsed := time.Since(t0)
	steady := len(as.Grants())
	allowed := int(math.Ceil(elapsed.Seconds()/ttl.Seconds()*1.25)) + 2

	// The burst: right at the expiry of the token the proxy last used.
	var exp time.Time
	for _, e := range h.Mock().Journal.Since(mark) {
		if e.TokenErr == "" && !e.TokenExp.IsZero() {
			exp = e.TokenExp
		}
	}
	if !exp.IsZero() {
		h.sleepCtx(time.Until(exp) + 5*time.Millisecond)
	}
	g0 := len(as.Grants())
	tb := time.Now()
	results := make([]*Result, burstSize)
	var wg sync.WaitGroup
	for i := range burstSize {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = h.run.client.do(h.ctx, s.T, Request{Header: postHeaders(s.ID), Body: rpcRequest(1000+i, "tools/list", nil)})
		}()
	}
	wg.Wait()
	burstGrants := len(as.Grants()) - g0
	var d []string
	if steady > allowed {
		d = append(d, fmt.Sprintf("%d token requests during %.2fs of calls (%.1f lifetimes of %s); at most %d expected", steady, elapsed.Seconds(), elapsed.Seconds()/ttl.Seconds(), ttl, allowed))
	}
	if burstGrants > 2 {
		d = append(d, fmt.Sprintf("%d token requests during a burst of %d concurrent calls at the token's expiry (%s); at most 2 expected (single-flight)", burstGrants, burstSize, rel(tb, t0)))
	}
	failed := 0
	for i, r := range results {
		h.Evidence(r.Exchange)
		if !r.OK() {
			failed++
			if failed <= 3 {
				d = append(d, fmt.Sprintf("burst call %d got %s %s", i, r.Describe(), shorten(string(r.Body), 120)))
			}
		}
	}
	if failed > 0 {
		d = append(d, fmt.Sprintf("%d of %d burst calls failed", failed, burstSize))
	}
	if len(d) > 0 {
		d = append(d, grantSummary(as))
		h.Verdict(Mismatchf(report.HopProxyUpstream, "about one refresh per token lifetime, one refresh for a burst at expiry", fmt.Sprintf("%d grants in all", len(as.Grants())), d...))
	}
	h.Note("%d grants over %.1fs of calls (allowed %d), %d during the burst; %s", steady, elapsed.Seconds(), allowed, burstGrants, grantSummary(as))
}

// ----- AUTH-REF-002 and AUTH-TOK-001: forced refreshes -----

// forceRefreshes opens a session and revokes the proxy's token n times,
// calling after each, so a proxy that recovers from 401 refreshes n times.
// It returns how many grants the AS had counted before the first
// revocation: the ones after it are the refreshes the revocations forced.
func (h *H) forceRefreshes(as *authz.Server, n int) (before int) {
	mark := h.Mock().Journal.Mark()
	s := h.openOrFail(h.Proxy(), as, mark, time.Now())
	s.Call("tools/list", nil, nil)
	before = len(as.Grants())
	for range n {
		as.RevokeAllAccess()
		s.Call("tools/list", nil, nil)
	}
	return before
}

func refreshGrants(as *authz.Server) []authz.Grant {
	var out []authz.Grant
	for _, g := range as.Grants() {
		if g.GrantType == authz.GrantRefreshToken {
			out = append(out, g)
		}
	}
	return out
}

func checkRotation(h *H) {
	as := h.authzServer()
	defer h.drainRevoked(h.Mock().Journal.Mark())
	h.controlSession(as)
	as.Reset()
	h.forceRefreshes(as, 3)
	gs := refreshGrants(as)
	var d []string
	rotated := 0 // refresh grants that followed one which issued a new refresh token
	for i, g := range gs {
		if g.Outcome == authz.OutcomeReplay {
			d = append(d, fmt.Sprintf("refresh grant %d presented %s, already rotated out: replay, the AS revoked the whole grant", i+1, g.RefreshToken))
		}
		if i > 0 && gs[i-1].Outcome == authz.OutcomeIssued && gs[i-1].NewRefreshToken != "" {
			rotated++
			if g.RefreshToken != gs[i-1].NewRefreshToken {
				d = append(d, fmt.Sprintf("refresh grant %d presented %s, not %s which grant %d issued", i+1, g.RefreshToken, gs[i-1].NewRefreshToken, i))
			}
		}
	}
	if len(d) > 0 {
		h.Verdict(Mismatchf(report.HopProxyUpstream, "each refresh presents the refresh token the previous one issued", grantSummary(as), firstN(d, 5)...))
	}
	if rotated == 0 {
		// Rotation shows in a refresh that follows one which issued a new
		// refresh token; the first presents the token the proxy was given.
		h.Skip(fmt.Sprintf("rotation was not exercised: after three revocations no refresh grant followed one that issued a new refresh token (%s; whether the proxy recovers from a revoked token is AUTH-REF-004)", grantSummary(as)))
	}
}

func checkResourceParam(h *H) {
	as := h.authzServer()
	defer h.drainRevoked(h.Mock().Journal.Mark())
	h.controlSession(as)
	as.Reset()
	as.SetRequireResource(true)
	before := h.forceRefreshes(as, 2)
	want := h.Mock().MCPURL()
	var d []string
	gs := as.Grants()
	for i, g := range gs {
		if len(g.Resources) != 1 || g.Resources[0] != want {
			d = append(d, fmt.Sprintf("grant %d (%s, %s) sent resource %q", i+1, g.GrantType, g.Outcome, g.Resources))
		}
	}
	if len(d) > 0 {
		h.Verdict(Mismatchf(report.HopProxyUpstream, fmt.Sprintf("every grant sends resource=%s", want), grantSummary(as), firstN(d, 5)...))
	}
	if len(gs) <= before {
		// The grants seen were judged above; "refreshes included" was not
		// exercised, so the case cannot pass.
		h.Skip(fmt.Sprintf("no token request after two revocations, so `resource` on a refresh was not exercised (%s; whether the proxy recovers from a revoked token is AUTH-REF-004)", grantSummary(as)))
	}
}

// ----- AUTH-REF-004 -----

func checkEarlyRevoke(h *H) {
	as := h.authzServer()
	defer h.drainRevoked(h.Mock().Journal.Mark())
	// Control: the gate answers a revoked token with 401 and a challenge.
	tok := h.mintAccess(as)
	as.Revoke(tok)
	up := h.Upstream()
	up.Header = http.Header{"Authorization": {"Bearer " + tok}}
	if r := h.Send(up, initializeReq()); r.Status != http.StatusUnauthorized || r.Header.Get("WWW-Authenticate") == "" {
		h.Control(Mismatchf(report.HopControl, "401 with a challenge for a revoked token", r.Describe()))
	}
	as.Reset()
	mark := h.Mock().Journal.Mark()
	t0 := time.Now()
	s := h.openOrFail(h.Proxy(), as, mark, t0)
	if r := s.Call("tools/list", nil, nil); !r.OK() {
		h.Verdict(Mismatchf(report.HopClientProxy, "tools/list succeeds before any revocation", r.Describe(), grantSummary(as)))
	}
	clean401 := func(r *Result) bool {
		return r.Err == nil && r.Status == http.StatusUnauthorized && len(r.Header.Values("WWW-Authenticate")) > 0
	}
	countCalls := func(m int) int {
		n := 0
		for _, e := range h.Mock().Journal.Since(m) {
			if e.RPCMethod == "tools/list" {
				n++
			}
		}
		return n
	}
	var d []string
	switch h.Row.ID {
	case "revoked-early":
		as.RevokeAllAccess()
		m1 := h.Mock().Journal.Mark()
		r := s.Call("tools/list", nil, nil)
		if !r.OK() && !clean401(r) {
			d = append(d, "the call after revocation got "+r.Describe()+", neither a success nor 401 with a challenge")
		}
		if n := countCalls(m1); n > 2 {
			d = append(d, fmt.Sprintf("the upstream saw %d requests for one call (at most 2: the original and one retry)", n))
		}
		m2 := h.Mock().Journal.Mark()
		r2 := s.Call("tools/list", nil, nil)
		if !r2.OK() {
			d = append(d, "the next call also failed ("+r2.Describe()+"): the proxy keeps sending the rejected token")
			for _, e := range badTokenEntries(h.Mock(), m2) {
				d = append(d, describeTokenEntry(e, t0))
			}
		}
	case "always-401":
		h.Mock().Arm(mockserver.Fault{Name: "always-401", Times: -1, Status: http.StatusUnauthorized,
			Match:  mockserver.Match{Method: http.MethodPost, Path: mockserver.MCPPath, RPCMethod: "tools/list"},
			Fields: []mockserver.Field{{Name: "WWW-Authenticate", Value: `Bearer realm="mcp", error="invalid_token", error_description="The access token is revoked", resource_metadata="` + h.Mock().PRMURL() + `"`}},
			Body:   `{"error":"invalid_token"}`})
		m1 := h.Mock().Journal.Mark()
		r := s.Call("tools/list", nil, nil)
		if !clean401(r) {
			d = append(d, "the client got "+r.Describe()+", not the 401 with a challenge")
		}
		if n := countCalls(m1); n > 2 {
			d = append(d, fmt.Sprintf("the upstream saw %d requests for one call (at most 2: the original and one retry)", n))
		}
	default:
		h.Errorf("row %s of %s has no check", h.Row.ID, h.sc.ID)
	}
	if len(d) > 0 {
		d = append(d, grantSummary(as))
		h.Verdict(Mismatchf(report.HopClientProxy, "refresh and retry once, or a 401 with a challenge; then recovery", "see details", firstN(d, 8)...))
	}
}

// ----- AUTH-REF-005 -----

func checkASDown(h *H) {
	as := h.authzServer()
	defer h.drainRevoked(h.Mock().Journal.Mark())
	h.controlSession(as)
	as.Reset()
	mark := h.Mock().Journal.Mark()
	t0 := time.Now()
	s := h.openOrFail(h.Proxy(), as, mark, t0)
	if r := s.Call("tools/list", nil, nil); !r.OK() {
		h.Verdict(Mismatchf(report.HopClientProxy, "tools/list succeeds while the AS is up", r.Describe(), grantSummary(as)))
	}
	const bound = 5 * time.Second
	as.SetOutage(http.StatusServiceUnavailable)
	as.RevokeAllAccess()
	ctx, cancel := context.WithTimeout(h.ctx, bound)
	start := time.Now()
	r := h.run.client.do(ctx, s.T, Request{Header: postHeaders(s.ID), Body: rpcRequest(50, "tools/list", nil)})
	cancel()
	took := time.Since(start)
	h.Evidence(r.Exchange)
	var d []string
	switch {
	case r.Err != nil:
		d = append(d, fmt.Sprintf("no answer within %s: %v", bound, r.Err))
	case r.Status == http.StatusUnauthorized && len(r.Header.Values("WWW-Authenticate")) == 0:
		d = append(d, "401 without a challenge")
	case r.Status == http.StatusUnauthorized:
	case r.Status == http.StatusBadGateway || r.Status == http.StatusServiceUnavailable:
		if len(strings.TrimSpace(string(r.Body))) == 0 {
			d = append(d, fmt.Sprintf("%d with an empty body: the client cannot tell why", r.Status))
		}
	default:
		d = append(d, fmt.Sprintf("%s (%s) instead of 401/502/503", r.Describe(), shorten(string(r.Body), 160)))
	}
	as.SetOutage(0)
	r2 := s.Call("tools/list", nil, nil)
	if !r2.OK() {
		d = append(d, fmt.Sprintf("after the AS came back the next call got %s: no recovery", r2.Describe()))
		for _, e := range badTokenEntries(h.Mock(), mark) {
			d = append(d, describeTokenEntry(e, t0))
		}
	}
	if len(d) > 0 {
		d = append(d, grantSummary(as))
		h.Verdict(Mismatchf(report.HopClientProxy, fmt.Sprintf("401 (with a challenge), 502 or 503 with a body within %s; recovery when the AS returns", bound), fmt.Sprintf("%s after %.0f ms", r.Describe(), took.Seconds()*1000), firstN(d, 8)...))
	}
	h.Note("AS down: client got %s in %.0f ms", r.Describe(), took.Seconds()*1000)
}

// ----- AUTH-TOK-003 -----

func checkNoPassthrough(h *H) {
	as := h.authzServer()
	h.controlSession(as)
	as.Reset()
	clientTok := "client-own-token-" + fmt.Sprint(time.Now().UnixNano())
	p := h.Proxy()
	p.Header = p.Header.Clone()
	if p.Header == nil {
		p.Header = http.Header{}
	}
	p.Header.Set("Authorization", "Bearer "+clientTok)
	mark := h.Mock().Journal.Mark()
	t0 := time.Now()
	var results []*Result
	s, bad := h.Open(p)
	if s == nil {
		results = append(results, bad)
	} else {
		results = append(results, s.Init, s.Call("tools/list", nil, nil))
	}
	var d []string
	injected := map[string]bool{}
	for _, e := range h.Mock().Journal.Since(mark) {
		if strings.Contains(e.Header.Get("Authorization"), clientTok) {
			d = append(d, fmt.Sprintf("the client's Authorization (%s) reached the upstream on request #%d %s %s", authz.Fingerprint(clientTok), e.Seq, e.Method, e.RPCMethod))
		}
		if t := strings.TrimSpace(strings.TrimPrefix(e.Header.Get("Authorization"), "Bearer ")); t != "" && t != clientTok {
			injected[t] = true
		}
	}
	for _, r := range results {
		if r == nil || r.Err != nil {
			continue
		}
		for tok := range injected {
			for k, vs := range r.Header {
				for _, v := range vs {
					if strings.Contains(v, tok) {
						d = append(d, fmt.Sprintf("the injected token %s reached the client in response header %s", authz.Fingerprint(tok), k))
					}
				}
			}
			if strings.Contains(string(r.Body), tok) {
				d = append(d, fmt.Sprintf("the injected token %s reached the client in a response body", authz.Fingerprint(tok)))
			}
		}
	}
	if s == nil {
		d = append(d, "the session did not open: "+bad.Describe())
	}
	if len(d) > 0 {
		for _, e := range badTokenEntries(h.Mock(), mark) {
			d = append(d, describeTokenEntry(e, t0))
		}
		h.Verdict(Mismatchf(report.HopProxyUpstream, "the upstream sees only the proxy's own token; the client never sees it", "token crossed the proxy", firstN(d, 8)...))
	}
}

// ----- AUTH-TOK-006 (role T) -----

func checkTokenChange(h *H) {
	as := h.Mock().Authz
	if as == nil {
		h.Errorf("the mock authorization server is not running (mockserver.Options.Authz)")
	}
	tokA, tokB := "harness-token-A-"+fmt.Sprint(time.Now().UnixNano()), "harness-token-B-"+fmt.Sprint(time.Now().UnixNano())
	fpB := authz.Fingerprint(tokB)
	probe := func(t Target) *Mismatch {
		t.Header = t.Header.Clone()
		if t.Header == nil {
			t.Header = http.Header{}
		}
		t.Header.Set("Authorization", "Bearer "+tokA)
		t0 := time.Now()
		older := h.knownSessions()
		s, bad := h.Open(t)
		if s == nil && t.Name == "proxy" {
			// Opening sessions is judged by SESS-001 and SHTTP-001.
			h.Skip("no MCP session opens through the proxy (" + bad.Describe() + "): the token of later requests cannot be judged")
		}
		if s == nil {
			return Mismatchf(t.Hop, "an MCP session opens", bad.Describe())
		}
		s.Call("tools/list", nil, nil)
		s.T.Header = s.T.Header.Clone()
		s.T.Header.Set("Authorization", "Bearer "+tokB)
		switched := h.Mock().Journal.Mark()
		s.Call("tools/list", nil, nil)
		st := h.openStream(s.T, s.ID)
		st.stop()
		s.Close()
		if t.Name == "proxy" && h.Bridge() {
			h.skipTokenNotForwarded(switched, authz.Fingerprint(tokA), fpB)
		}
		var d []string
		seen := map[string]bool{}
		for _, e := range ownTraffic(h.Mock().Journal.Since(switched), older) {
			route := e.Method + " " + e.Path
			seen[route] = true
			if e.TokenFP != fpB {
				fp := e.TokenFP
				if fp == "" {
					fp = "no token"
				}
				d = append(d, fmt.Sprintf("%s: the upstream got %s, not the client's current %s (A = %s)", describeTokenEntry(e, t0), fp, fpB, authz.Fingerprint(tokA)))
			}
		}
		if len(seen) == 0 {
			d = append(d, "no request reached the upstream after the switch")
		}
		for _, route := range []string{"POST /mcp", "GET /mcp", "DELETE /mcp"} {
			if !seen[route] && t.Name == "proxy" {
				// Not this scenario's concern (SHTTP-001 judges forwarding).
				h.Note("%s did not reach the upstream after the switch; its token was not judged", route)
			}
		}
		if len(d) > 0 {
			return Mismatchf(report.HopProxyUpstream, "every request after the switch carries token B", "an older token", firstN(d, 6)...)
		}
		return nil
	}
	h.Control(probe(h.Upstream()))
	h.Verdict(probe(h.Proxy()))
}

// skipTokenNotForwarded ends the case as a skip when a bridge forwarded
// neither of the client's tokens upstream since mark (it uses credentials of
// its own, or none): pinning the client's token is then not its bug. It
// does not return in that case.
func (h *H) skipTokenNotForwarded(mark int, fps ...string) {
	for _, e := range h.Mock().Journal.Since(mark) {
		for _, fp := range fps {
			if e.TokenFP == fp {
				return
			}
		}
	}
	h.Skip("the bridge does not forward its client's token to the upstream at all (no upstream request after the switch carried token A or B): a token pinned at session start cannot be judged")
}

// ----- AUTH-PRM-001 / AUTH-PRM-002 -----

const customPRMPath = "/meta/prm-custom.json"

func checkPRMDiscovery(h *H) {
	as := h.authzServer()
	defer h.drainRevoked(h.Mock().Journal.Mark())
	m := h.Mock()
	custom := h.sc.ID == "AUTH-PRM-001"
	suffixed := strings.TrimPrefix(m.PRMURL(), m.BaseURL)
	cfg := mockserver.PRMConfig{Suffixed: true, Root: true}
	want := suffixed
	if custom {
		cfg.Custom, cfg.ChallengeRM, want = customPRMPath, m.BaseURL+customPRMPath, customPRMPath
	} else {
		cfg.NoChallenge = true
	}
	m.SetPRM(cfg)
	// Control: the metadata answers where the scenario says it does.
	for _, p := range []string{want, mockserver.PRMRootPath} {
		if r := h.Send(h.Upstream(), Request{Method: http.MethodGet, URL: m.BaseURL + p}); r.Status != http.StatusOK {
			h.Control(Mismatchf(report.HopControl, "protected-resource metadata at "+p, r.Describe()))
		}
	}
	m.SetGate(true)
	if h.HasRole(RoleI) {
		// Make sure the proxy holds a token, then revoke it: its next
		// request draws the upstream's 401.
		h.Send(h.Proxy(), initializeReq())
		as.RevokeAllAccess()
	}
	mark := m.Journal.Mark()
	r := h.Send(h.Proxy(), initializeReq())
	var fetched []string
	for _, e := range m.Journal.Since(mark) {
		if strings.HasPrefix(e.Path, "/.well-known/") || e.Path == customPRMPath {
			fetched = append(fetched, e.Path)
		}
	}
	if len(fetched) == 0 {
		h.Skip("the proxy fetched no resource metadata after the upstream's 401 (it does not discover its authorization server; client got " + r.Describe() + ")")
	}
	if fetched[0] != want {
		what := "the challenge named " + m.BaseURL + customPRMPath
		if !custom {
			what = "no challenge was sent: the path-suffixed URL comes first (RFC 9728 §3.1)"
		}
		h.Verdict(Mismatchf(report.HopProxyUpstream, "first metadata fetch: "+want, "first metadata fetch: "+fetched[0],
			what, "fetch order: "+strings.Join(fetched, " → ")))
	}
}
