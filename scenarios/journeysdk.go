package scenarios

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"

	"github.com/mcpconform/mcpconform/mockserver"
	"github.com/mcpconform/mcpconform/mockserver/authz"
	"github.com/mcpconform/mcpconform/report"
)

// AUTH-JRN-011: a real client walks the whole journey. The official MCP Go
// SDK's client-side authorization (AuthorizationCodeHandler: resource
// metadata discovery with its resource check, AS metadata, dynamic client
// registration, PKCE, the resource parameter, step-up on 403) drives a
// Streamable HTTP session through the proxy; the harness plays the user
// agent, reading the code from the authorization endpoint's redirect. Every
// request the SDK makes is recorded at its hop, and the trail says how far
// it got. Where the SDK does something the spec text does not say, the
// case notes it; the step scenarios (AUTH-JRN-001..010) judge the spec.

func init() {
	Define(Scenario{
		ID: "AUTH-JRN-011", Title: "a real MCP client (the official Go SDK) logs in through the proxy and its session works",
		Revisions: RevisionRange{Since: Rev20250618},
		Area:      journeyArea, Level: MUST, Roles: journeyRoles,
		Requirement: "An MCP client that can log in directly against the server can log in through the proxy: discovery, registration, authorization, token, the retried request and step-up all cross it.",
		Source:      "MCP 2025-11-25 Authorization (whole flow); RFC 9728, RFC 8414, RFC 7591, RFC 7636, RFC 8707, RFC 6750",
		KnownBugs:   []string{"\"OAuth works directly against the server, but not through the proxy\""},
		Rows: []Row{
			{ID: "separate-as", Title: "authorization server on its own origin"},
			{ID: "co-hosted-as", Title: "the server is its own authorization server"},
		},
		MaxExchanges: 80,
		Checks:       "The go-sdk client connects with an OAuth handler (DCR, PKCE), lists tools, then calls echo_headers, which needs a scope it did not ask for (403 insufficient_scope → step-up): connect, list and call must all succeed. On failure the trail names the step it stopped at.",
		Run:          checkJourneySDK,
	})
}

func checkJourneySDK(h *H) {
	probe := func(t Target) *Mismatch {
		w := h.journeyOn(t, h.caseJourney())
		rec := newSDKRecorder(w)
		defer rec.stop()
		mark := h.Mock().Journal.Mark()
		err := runSDKClient(h.ctx, w, rec)
		steps, notes := sdkTrail(w, rec, mark)
		if err != nil && !w.proxied() {
			rec.attachAside()
		}
		rec.stop()
		sdkNotes := make([]string, len(notes))
		for i, n := range notes {
			sdkNotes[i] = "what the SDK did: " + n
		}
		if err != nil {
			where := stoppedAt(steps)
			if where == "" {
				where = "after the journey"
			}
			d := append(trailLines(steps), sdkNotes...)
			return Mismatchf(t.Hop, "the SDK client logs in, opens a session, lists tools and steps up",
				"stopped at "+where+": "+strings.TrimSpace(err.Error()), d...)
		}
		if w.proxied() {
			h.Note("the Go SDK client logged in and worked:\n  %s", strings.Join(append(trailLines(steps), sdkNotes...), "\n  "))
		}
		return nil
	}
	h.Control(probe(h.Upstream()))
	h.Verdict(probe(h.Proxy()))
}

// runSDKClient is the user's client: connect with OAuth, list tools, call
// the step-up tool, close. It returns the first error, naming the stage.
func runSDKClient(ctx context.Context, w *walker, rec *sdkRecorder) error {
	hc := &http.Client{Transport: rec}
	ua := &http.Client{Transport: rec, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	handler, err := auth.NewAuthorizationCodeHandler(&auth.AuthorizationCodeHandlerConfig{
		DynamicClientRegistrationConfig: &auth.DynamicClientRegistrationConfig{Metadata: &oauthex.ClientRegistrationMetadata{
			RedirectURIs: []string{redirectURI}, TokenEndpointAuthMethod: "none",
			GrantTypes: []string{"authorization_code", "refresh_token"}, ResponseTypes: []string{"code"},
			ClientName: "mcpconform journey (go-sdk)",
		}},
		AuthorizationCodeFetcher: func(ctx context.Context, args *auth.AuthorizationArgs) (*auth.AuthorizationResult, error) {
			return userAgent(ctx, ua, args.URL)
		},
		Client: hc,
	})
	if err != nil {
		return fmt.Errorf("configuring the SDK's OAuth handler: %w", err)
	}
	transport := &mcp.StreamableClientTransport{
		Endpoint: w.t.MCPURL, HTTPClient: hc, OAuthHandler: handler,
		// The standalone GET stream is judged elsewhere; here it would
		// only keep a request open past the case.
		DisableStandaloneSSE: true, MaxRetries: -1,
	}
	client := mcp.NewClient(&mcp.Implementation{Name: "mcpconform-journey-sdk", Version: "1"}, nil)
	cs, err := client.Connect(ctx, transport, &mcp.ClientSessionOptions{ProtocolVersion: ProtocolVersion})
	if err != nil {
		return fmt.Errorf("connect (401 → discovery → login → retried initialize): %w", err)
	}
	defer cs.Close()
	if _, err := cs.ListTools(ctx, nil); err != nil {
		return fmt.Errorf("tools/list in the session: %w", err)
	}
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: mockserver.StepUpTool, Arguments: map[string]any{}})
	switch {
	case err != nil:
		return fmt.Errorf("tools/call %s (403 insufficient_scope → step-up → retry): %w", mockserver.StepUpTool, err)
	case res.IsError:
		return fmt.Errorf("tools/call %s returned a tool error", mockserver.StepUpTool)
	}
	return nil
}

// userAgent plays the browser: it opens the authorization URL and, instead
// of following the redirect to the client's (unserved) redirect URI, reads
// code, state and iss from it, as a loopback redirect listener would.
func userAgent(ctx context.Context, c *http.Client, authURL string) (*auth.AuthorizationResult, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, authURL, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("user agent: opening the authorization URL: %w", err)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode/100 != 3 || !strings.HasPrefix(loc, redirectURI) {
		return nil, fmt.Errorf("user agent: the authorization URL answered %d %s, not a redirect to %s: %s", resp.StatusCode, loc, redirectURI, shorten(string(body), 160))
	}
	u, err := url.Parse(loc)
	if err != nil {
		return nil, err
	}
	q := u.Query()
	if e := q.Get("error"); e != "" {
		return nil, fmt.Errorf("user agent: the authorization server refused: %s %s", e, q.Get("error_description"))
	}
	return &auth.AuthorizationResult{Code: q.Get("code"), State: q.Get("state"), Iss: q.Get("iss")}, nil
}

// sdkRecorder is the SDK's HTTP transport: it sends each request where a
// client could (refusing the upstream's origin during a proxied walk), and
// records every exchange at its hop, with what the upstream received for
// requests through the proxy. Bodies are read at once (the SDK's POST
// streams end with their response; the standalone GET stream is off), so
// evidence is in request order. The control's exchanges are kept aside and
// attached only if the control fails: the case's evidence is the proxy's.
type sdkRecorder struct {
	w    *walker
	base http.RoundTripper
	mu   sync.Mutex
	done bool
	// log is every request in order, for the trail; aside holds the
	// control's evidence.
	log   []sdkExchange
	aside []report.Exchange
}

type sdkExchange struct {
	method, url string
	status      int
	err         string
}

func newSDKRecorder(w *walker) *sdkRecorder {
	return &sdkRecorder{w: w, base: w.h.run.client.http.Transport}
}

// stop drops later evidence: nothing may be attached after the case ends.
func (r *sdkRecorder) stop() {
	r.mu.Lock()
	r.done = true
	r.mu.Unlock()
}

// attachAside attaches the control's evidence (when the control failed).
func (r *sdkRecorder) attachAside() {
	r.mu.Lock()
	aside := r.aside
	r.aside = nil
	r.mu.Unlock()
	r.w.h.Evidence(aside...)
}

func (r *sdkRecorder) exchanges() []sdkExchange {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]sdkExchange(nil), r.log...)
}

func (r *sdkRecorder) record(x sdkExchange, ex report.Exchange, mark int, viaProxy bool) {
	r.mu.Lock()
	r.log = append(r.log, x)
	done := r.done
	if !done && !r.w.proxied() {
		r.aside = append(r.aside, ex)
		done = true
	}
	r.mu.Unlock()
	if done {
		return
	}
	r.w.h.Evidence(ex)
	if viaProxy {
		r.w.h.UpstreamEvidence(r.w.h.Mock().Journal.Since(mark)...)
	}
}

func (r *sdkRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	x := sdkExchange{method: req.Method, url: req.URL.String()}
	ex := report.Exchange{Started: time.Now(), Request: report.Request{Method: req.Method, URL: req.URL.String(), Proto: req.Proto}}
	mark := r.w.h.Mock().Journal.Mark()
	t, ok := r.w.reach(req.URL.String())
	if !ok {
		err := fmt.Errorf("%s is not reachable by the client: it is on the upstream's origin, which sits behind the proxy", req.URL.Redacted())
		if originOf(req.URL.String()) != r.w.h.Mock().BaseURL {
			err = fmt.Errorf("%s is not reachable by the client: an origin it has no reason to know", req.URL.Redacted())
		}
		x.err, ex.Hop, ex.Error = err.Error(), report.HopClientProxy, err.Error()
		ex.Request.Headers = headerList(req.Header)
		r.record(x, ex, mark, false)
		return nil, err
	}
	ex.Hop = t.Hop
	if req.Body != nil {
		body, _ := io.ReadAll(io.LimitReader(req.Body, maxEvidenceBody))
		req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(body))
		ex.Request.Body = string(body)
	}
	for k, v := range t.Header {
		if req.Header.Get(k) == "" {
			req.Header[k] = v
		}
	}
	ex.Request.Headers = headerList(req.Header)
	resp, err := r.base.RoundTrip(req)
	via := t.Name == "proxy"
	if err != nil {
		x.err, ex.Error = err.Error(), err.Error()
		r.record(x, ex, mark, via)
		return nil, err
	}
	body, rerr := io.ReadAll(io.LimitReader(resp.Body, r.w.h.run.client.maxBody))
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	x.status = resp.StatusCode
	ex.DurationMS = float64(time.Since(ex.Started).Microseconds()) / 1000
	ex.Response = &report.Response{Status: resp.StatusCode, StatusText: http.StatusText(resp.StatusCode), Proto: resp.Proto, Headers: headerList(resp.Header)}
	ex.Response.Body, ex.Response.BodyTruncated = evidenceBody(body)
	if rerr != nil {
		ex.Error = "reading the body: " + rerr.Error()
	}
	r.record(x, ex, mark, via)
	return resp, nil
}

// trailStep is one step of the journey as the SDK walked it.
type trailStep struct {
	name string
	ok   bool
	what string
}

// sdkTrail says, step by step, how far the SDK client got, from its own
// requests, the AS's records and the upstream's journal, and what it did
// that the spec text does not say (notes).
func sdkTrail(w *walker, rec *sdkRecorder, mark int) (steps []trailStep, notes []string) {
	xs := rec.exchanges()
	got401 := false
	var prm, asMeta []sdkExchange
	for _, x := range xs {
		p := pathOf(x.url)
		switch {
		case x.method == http.MethodPost && x.url == w.t.MCPURL && x.status == http.StatusUnauthorized:
			got401 = true
		case strings.HasPrefix(p, mockserver.PRMRootPath):
			prm = append(prm, x)
		case strings.HasPrefix(p, "/.well-known/oauth-authorization-server") || strings.HasPrefix(p, "/.well-known/openid-configuration"):
			asMeta = append(asMeta, x)
		}
	}
	namedRM := ""
	for _, e := range w.h.Mock().Journal.Since(mark) {
		if e.Path == mockserver.MCPPath && e.TokenErr == "missing" {
			_, hdr, _, _ := e.Response()
			if ch, ok := bearerChallenge(&Result{Header: hdr}); ok {
				namedRM, _ = ch.Get("resource_metadata")
			}
			break
		}
	}
	fetched := func(list []sdkExchange) (string, bool) {
		if len(list) == 0 {
			return "none fetched", false
		}
		parts, ok := make([]string, len(list)), false
		for i, x := range list {
			got := fmt.Sprint(x.status)
			if x.err != "" {
				got = x.err
			}
			parts[i] = fmt.Sprintf("GET %s → %s", x.url, got)
			ok = ok || x.status == http.StatusOK
		}
		return strings.Join(firstN(parts, 4), ", "), ok
	}
	regs, auths, grants := w.as.Registrations(), w.as.Authorizations(), w.as.Grants()
	issued := func(n int, at func(int) string) bool {
		for i := range n {
			if strings.HasSuffix(at(i), authz.OutcomeIssued) {
				return true
			}
		}
		return false
	}
	steps = append(steps, trailStep{"1 challenge", got401, map[bool]string{true: "401 from " + w.t.MCPURL, false: "no 401 from " + w.t.MCPURL}[got401]})
	what, ok := fetched(prm)
	steps = append(steps, trailStep{"2 resource metadata", ok, what})
	what, ok = fetched(asMeta)
	steps = append(steps, trailStep{"3 authorization server metadata", ok, what})
	steps = append(steps, trailStep{"4 registration", issued(len(regs), func(i int) string { return regs[i].Outcome }),
		describeOutcomes(len(regs), func(i int) (string, string) { return regs[i].Outcome, regs[i].Description })})
	steps = append(steps, trailStep{"5 authorization", issued(len(auths), func(i int) string { return auths[i].Outcome }),
		describeOutcomes(len(auths), func(i int) (string, string) {
			a := auths[i]
			return a.Outcome, fmt.Sprintf("scope %q, resource %q, PKCE %s %s", a.Scope, a.Resources, a.ChallengeMethod, a.Description)
		})})
	steps = append(steps, trailStep{"6 token", issued(len(grants), func(i int) string { return grants[i].Outcome }),
		describeOutcomes(len(grants), func(i int) (string, string) {
			g := grants[i]
			return g.GrantType + " " + g.Outcome, fmt.Sprintf("resource %q, PKCE %s", g.Resources, g.PKCE)
		})})
	var withToken, stepUp []string
	retried, steppedUp := false, false
	for _, e := range w.h.Mock().Journal.Since(mark) {
		if e.Path != mockserver.MCPPath || e.TokenErr == "missing" {
			continue
		}
		st, _, _, _ := e.Response()
		m := e.RPCMethod
		if m == "" {
			m = e.Method
		}
		what := fmt.Sprintf("%s %s → %d", m, e.TokenFP, st)
		if e.TokenErr != "" {
			what += " (" + e.TokenErr + ")"
		}
		if e.RPCMethod == "tools/call" {
			stepUp = append(stepUp, what)
			steppedUp = steppedUp || st == http.StatusOK
		} else {
			withToken = append(withToken, what)
			retried = retried || (e.RPCMethod == "initialize" && st == http.StatusOK)
		}
	}
	if len(withToken) == 0 {
		steps = append(steps, trailStep{"7 retry with the token", false, "no request with a token reached the upstream"})
	} else {
		steps = append(steps, trailStep{"7 retry with the token", retried, "the upstream received " + strings.Join(firstN(withToken, 4), ", ")})
	}
	if len(stepUp) == 0 {
		steps = append(steps, trailStep{"8 step-up", false, "no tools/call reached the upstream"})
	} else {
		steps = append(steps, trailStep{"8 step-up", steppedUp, "the upstream received " + strings.Join(stepUp, ", ")})
	}

	// What the SDK did beyond the spec text, as observed in this run.
	if namedRM != "" && len(prm) > 0 && (prm[0].url != namedRM || prm[0].status != http.StatusOK) {
		for _, x := range prm[1:] {
			if x.url != namedRM {
				notes = append(notes, "after the resource_metadata URL the challenge named ("+namedRM+") gave no usable document, the SDK went on to the well-known URLs; the spec has clients use the named URL when there is one")
				break
			}
		}
	}
	if len(asMeta) > 0 && !strings.HasPrefix(asMeta[0].url, w.as.Issuer()) {
		notes = append(notes, "the SDK looked for authorization-server metadata at "+asMeta[0].url+", not at the issuer the server names ("+w.as.Issuer()+
			"): with no usable protected-resource metadata it falls back to the 2025-03-26 rule that the MCP server's origin is the authorization server")
	}
	if len(regs) > 1 {
		notes = append(notes, fmt.Sprintf("the SDK registered a new client on every authorization (%d registrations), step-up included, instead of reusing its client_id", len(regs)))
	}
	for _, a := range auths {
		if len(a.Resources) == 1 && a.Resources[0] != w.t.MCPURL {
			notes = append(notes, "the SDK sent resource="+a.Resources[0]+" (the metadata's resource), not the URL it connects to ("+w.t.MCPURL+")")
			break
		}
	}
	return steps, notes
}

// stoppedAt is the first step that did not succeed, or "".
func stoppedAt(steps []trailStep) string {
	for _, st := range steps {
		if !st.ok {
			return st.name
		}
	}
	return ""
}

func trailLines(steps []trailStep) []string {
	out := make([]string, len(steps))
	for i, st := range steps {
		mark := "ok"
		switch {
		case st.ok:
		case strings.HasPrefix(st.what, "no") && !strings.HasPrefix(st.what, "no 401"):
			mark = "not reached"
		default:
			mark = "failed"
		}
		out[i] = fmt.Sprintf("%s [%s]: %s", st.name, mark, st.what)
	}
	return out
}

// describeOutcomes summarises n recorded attempts.
func describeOutcomes(n int, at func(int) (outcome, detail string)) string {
	if n == 0 {
		return "none"
	}
	parts := make([]string, n)
	for i := range n {
		o, d := at(i)
		parts[i] = o
		if d = strings.TrimSpace(d); d != "" {
			parts[i] += " (" + d + ")"
		}
	}
	return strings.Join(firstN(parts, 4), ", ")
}
