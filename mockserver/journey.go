package mockserver

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/mcpconform/mcpconform/mockserver/authz"
)

// The login journey of an MCP client (scenarios/journey.go): the mock acts as
// an MCP server that requires OAuth and is deployed behind the proxy under
// test. Its 401 names its protected-resource metadata (RFC 9728), which it
// serves at the well-known URLs; the metadata names an authorization server
// (a fresh authz.Server per journey, on its own origin or on the mock's);
// tokens must carry the audience the metadata advertised, and one tool needs
// a scope the first login does not ask for, so step-up can be watched.
//
// Which URL the mock advertises as its resource identifier is the crux of a
// deployment behind a proxy: clients compare it with the URL they used
// (RFC 9728 §3.3) and refuse a mismatch. By default the mock advertises the
// URL clients use (Journey.PublicURL, the proxy's), as a server configured
// with its public URL does, so only the proxy is judged.

// ResourceMode says which URL the mock advertises as its resource.
type ResourceMode int

const (
	// ResourceConfigured advertises Journey.PublicURL: a server configured
	// with the public URL it is reached at.
	ResourceConfigured ResourceMode = iota
	// ResourceForwarded builds the URL from the request: the Forwarded
	// field (RFC 7239), else X-Forwarded-Proto and X-Forwarded-Host, else
	// Host; the path is the mock's. This is what servers do that derive
	// their URL per request and trust their proxy's forwarding headers.
	ResourceForwarded
	// ResourceOwn advertises the mock's own URL: a server that was never
	// told it sits behind a proxy.
	ResourceOwn
)

// Journey configures the mock for one login journey. The zero value of each
// knob is the common server: both well-known URLs answer and the challenge
// names the metadata (set by DefaultJourney).
type Journey struct {
	// PublicURL is the MCP URL clients use (the proxy's); "" = the mock's own.
	PublicURL string
	Resource  ResourceMode
	// Suffixed and Root switch the two well-known metadata URLs (RFC 9728
	// §3.1): /.well-known/oauth-protected-resource/<path> and the root one.
	Suffixed, Root bool
	// ChallengeRM makes the 401 name resource_metadata (RFC 9728 §5.1): the
	// path-suffixed URL, or the root one when only that answers.
	ChallengeRM bool
	// ChallengeScope is the scope the 401 asks for (MCP: the client requests
	// it); Scopes are scopes_supported and what the AS may grant.
	ChallengeScope string
	Scopes         []string
	// StepUp maps a tool name to the scope calling it needs; a token without
	// it gets 403 insufficient_scope (RFC 6750 §3.1, MCP step-up).
	StepUp map[string]string
	// CoHosted puts the authorization server on the mock's origin (issuer =
	// the public origin), as MCP servers that are their own AS do: its
	// metadata, /register, /authorize and /token are then reached through
	// the proxy. Otherwise it listens on its own loopback origin.
	CoHosted bool
}

// Journey scope names and the tool that needs step-up.
const (
	ScopeRead   = "mcp:read"
	ScopeWrite  = "mcp:write"
	StepUpTool  = ToolEchoHeaders
	journeyTTL  = 5 * time.Minute
	wellKnownAS = authz.WellKnownPath
)

// DefaultJourney is the common server behind a proxy: it advertises
// publicURL, serves both metadata URLs, names the path-suffixed one in its
// challenge, asks for mcp:read and needs mcp:write for echo_headers.
func DefaultJourney(publicURL string) Journey {
	return Journey{
		PublicURL: publicURL, Suffixed: true, Root: true, ChallengeRM: true,
		ChallengeScope: ScopeRead, Scopes: []string{ScopeRead, ScopeWrite},
		StepUp: map[string]string{StepUpTool: ScopeWrite},
	}
}

// journeyState is a running journey: its configuration and its AS.
type journeyState struct {
	cfg Journey
	as  *authz.Server
	srv *http.Server // the AS's own listener; nil when co-hosted
}

// SetJourney configures the mock for a login journey until the end of the
// case (Disarm), with the token gate on, and returns the journey's
// authorization server. A second call replaces the first (a case runs its
// control with the mock's own URL, then the proxy with the proxy's).
func (m *Mock) SetJourney(j Journey) (*authz.Server, error) {
	if m.gate == nil {
		return nil, fmt.Errorf("the mock runs without its authorization server (Options.Authz)")
	}
	if j.PublicURL == "" {
		j.PublicURL = m.MCPURL()
	}
	pu, err := url.Parse(j.PublicURL)
	if err != nil || pu.Host == "" {
		return nil, fmt.Errorf("journey public URL %q is not an absolute URL", j.PublicURL)
	}
	st := &journeyState{cfg: j}
	issuer := pu.Scheme + "://" + pu.Host
	var ln net.Listener
	if !j.CoHosted {
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			return nil, fmt.Errorf("journey authorization server cannot listen: %w", err)
		}
		issuer = "http://" + ln.Addr().String()
	}
	// The AS knows every identifier the mock may advertise: the public URL
	// and origin, and its own (ResourceOwn, ResourceForwarded).
	pub := m.journeyResource(st, nil, "")
	st.as = authz.New(authz.Config{
		Issuer:         issuer,
		Resource:       pub,
		OtherResources: []string{originOf(pub), j.PublicURL, originOf(j.PublicURL), m.MCPURL(), m.BaseURL},
		Scopes:         j.Scopes,
		AccessTTL:      journeyTTL,
	})
	if ln != nil {
		st.srv = &http.Server{Handler: st.as, ReadHeaderTimeout: 10 * time.Second}
		go func(srv *http.Server) { _ = srv.Serve(ln) }(st.srv)
	}
	m.gate.mu.Lock()
	old := m.gate.cur.journey
	m.gate.cur.journey, m.gate.cur.on = st, true
	m.gate.mu.Unlock()
	old.close()
	return st.as, nil
}

func (st *journeyState) close() {
	if st != nil && st.srv != nil {
		_ = st.srv.Close()
	}
}

// journey returns the running journey, or nil.
func (m *Mock) journey() *journeyState {
	if m.gate == nil {
		return nil
	}
	m.gate.mu.Lock()
	defer m.gate.mu.Unlock()
	return m.gate.cur.journey
}

// JourneyResource is the resource identifier the mock advertises for a
// request with these header fields and Host (its path-suffixed metadata
// and its audience): the public URL, the forwarded one or its own.
func (m *Mock) JourneyResource(h http.Header, host string) string {
	st := m.journey()
	if st == nil {
		return ""
	}
	return m.journeyResource(st, h, host)
}

func (m *Mock) journeyResource(st *journeyState, h http.Header, host string) string {
	switch st.cfg.Resource {
	case ResourceOwn:
		return m.MCPURL()
	case ResourceForwarded:
		if h == nil {
			return m.MCPURL()
		}
		return ForwardedOrigin(h, host) + MCPPath
	}
	return st.cfg.PublicURL
}

// ForwardedOrigin is the origin a server that trusts its proxy derives from
// a request: the first Forwarded element's proto and host (RFC 7239), else
// the first X-Forwarded-Proto and X-Forwarded-Host values, else http and
// the Host field.
func ForwardedOrigin(h http.Header, host string) string {
	proto, fhost := "", ""
	if f := h.Get("Forwarded"); f != "" {
		first, _, _ := strings.Cut(f, ",")
		for _, pair := range strings.Split(first, ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(pair), "=")
			v = strings.Trim(v, `"`)
			switch strings.ToLower(k) {
			case "proto":
				proto = v
			case "host":
				fhost = v
			}
		}
	}
	firstValue := func(name string) string {
		v, _, _ := strings.Cut(h.Get(name), ",")
		return strings.TrimSpace(v)
	}
	if proto == "" {
		proto = firstValue("X-Forwarded-Proto")
	}
	if fhost == "" {
		fhost = firstValue("X-Forwarded-Host")
	}
	if proto == "" {
		proto = "http"
	}
	if fhost == "" {
		fhost = host
	}
	return proto + "://" + fhost
}

// originOf is scheme://host of an absolute URL.
func originOf(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return u
	}
	return p.Scheme + "://" + p.Host
}

// JourneyMetadataURLs are the two well-known metadata URLs (RFC 9728 §3.1)
// for a resource URL: path-suffixed and root.
func JourneyMetadataURLs(resource string) (suffixed, root string) {
	p, err := url.Parse(resource)
	if err != nil {
		return "", ""
	}
	o := p.Scheme + "://" + p.Host
	path := strings.TrimSuffix(p.EscapedPath(), "/")
	return o + PRMRootPath + path, o + PRMRootPath
}

// serveJourney answers the metadata URLs and, when co-hosted, the
// authorization server's endpoints; it reports whether it answered.
func (m *Mock) serveJourney(w http.ResponseWriter, r *http.Request, st *journeyState) bool {
	p := r.URL.Path
	if st.cfg.CoHosted {
		switch p {
		case wellKnownAS, authz.AuthorizePath, authz.TokenPath, authz.RegisterPath:
			st.as.ServeHTTP(w, r)
			return true
		}
	}
	if p != PRMRootPath && !strings.HasPrefix(p, PRMRootPath+"/") {
		return false
	}
	res := m.journeyResource(st, r.Header, r.Host)
	suffixedURL, _ := JourneyMetadataURLs(res)
	ownSuffixed, _ := JourneyMetadataURLs(m.MCPURL())
	var doc []byte
	switch {
	case st.cfg.Root && p == PRMRootPath:
		// RFC 9728 §3.3: the resource is the identifier the well-known
		// path was inserted into; for the root URL that is the origin.
		doc = authz.ProtectedResourceMetadata(originOf(res), []string{st.as.Issuer()}, st.cfg.Scopes)
	case st.cfg.Suffixed && p != PRMRootPath && (p == pathOf(suffixedURL) || p == pathOf(ownSuffixed)):
		doc = authz.ProtectedResourceMetadata(res, []string{st.as.Issuer()}, st.cfg.Scopes)
	default:
		http.NotFound(w, r)
		return true
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(doc)
	return true
}

func pathOf(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return ""
	}
	return p.EscapedPath()
}

// journeyAudiences are the audiences a token may carry for this request:
// the advertised resource and its origin (the root metadata's identifier).
func (m *Mock) journeyAudiences(st *journeyState, h http.Header, host string) []string {
	res := m.journeyResource(st, h, host)
	return []string{res, originOf(res)}
}

// inspectJourneyToken journals the request's token as the journey's AS
// judges it for the audience advertised to this request.
func (m *Mock) inspectJourneyToken(e *Entry, st *journeyState, tok string) {
	e.TokenFP = authz.Fingerprint(tok)
	var firstErr error
	for _, aud := range m.journeyAudiences(st, e.Header, e.Host) {
		c, err := st.as.VerifyFor(tok, aud)
		if err == nil {
			e.TokenExp, e.TokenErr = c.ExpiresAt, ""
			return
		}
		if firstErr == nil {
			firstErr = err
			e.TokenExp = c.ExpiresAt
		}
	}
	e.TokenErr = authz.Reason(firstErr)
}

// journeyGate answers a guarded request that may not pass: 401 without a
// valid token, 403 insufficient_scope for a step-up tool the token's scope
// does not cover. It reports whether it answered.
func (m *Mock) journeyGate(w http.ResponseWriter, e *Entry, st *journeyState) bool {
	if !gated(e.Path) {
		return false
	}
	if e.TokenErr != "" {
		// RFC 6750 §3.1: no error code when no credentials were sent.
		errCode, desc := "", ""
		if e.TokenErr != "missing" {
			errCode, desc = "invalid_token", "The access token is "+e.TokenErr
		}
		m.journeyChallenge(w, e, st, http.StatusUnauthorized, errCode, desc, st.cfg.ChallengeScope)
		return true
	}
	need := ""
	if e.Method == http.MethodPost && e.RPCMethod == "tools/call" {
		need = st.cfg.StepUp[toolName(e.Body)]
	}
	if need == "" || e.TokenFP == "control" {
		return false
	}
	var granted []string
	for _, aud := range m.journeyAudiences(st, e.Header, e.Host) {
		if c, err := st.as.VerifyFor(bearer(e.Header), aud); err == nil {
			granted = strings.Fields(c.Scope)
			break
		}
	}
	if slices.Contains(granted, need) {
		return false
	}
	scope := strings.Fields(st.cfg.ChallengeScope)
	if !slices.Contains(scope, need) {
		scope = append(scope, need)
	}
	m.journeyChallenge(w, e, st, http.StatusForbidden, "insufficient_scope",
		"calling "+toolName(e.Body)+" needs scope "+need, strings.Join(scope, " "))
	return true
}

// JourneyChallenge is the WWW-Authenticate value the mock sends for a
// request with these fields, without error parameters: what a proxy must
// pass on intact.
func (m *Mock) journeyChallenge(w http.ResponseWriter, e *Entry, st *journeyState, status int, errCode, desc, scope string) {
	parts := []string{`Bearer realm="mcp"`}
	if errCode != "" {
		parts = append(parts, fmt.Sprintf(`error=%q`, errCode), fmt.Sprintf(`error_description=%q`, desc))
	}
	if scope != "" {
		parts = append(parts, fmt.Sprintf(`scope=%q`, scope))
	}
	if rm := m.journeyChallengeRM(st, e.Header, e.Host); rm != "" {
		parts = append(parts, fmt.Sprintf(`resource_metadata=%q`, rm))
	}
	w.Header().Set("WWW-Authenticate", strings.Join(parts, ", "))
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	code := errCode
	if code == "" {
		code = "unauthorized"
	}
	fmt.Fprintf(w, `{"error":%q}`, code)
}

// journeyChallengeRM is the resource_metadata URL the challenge names, or "".
func (m *Mock) journeyChallengeRM(st *journeyState, h http.Header, host string) string {
	if !st.cfg.ChallengeRM {
		return ""
	}
	suffixed, root := JourneyMetadataURLs(m.journeyResource(st, h, host))
	if !st.cfg.Suffixed && st.cfg.Root {
		return root
	}
	return suffixed
}

// toolName is params.name of a tools/call body, or "".
func toolName(body []byte) string {
	var msg struct {
		Params struct {
			Name string `json:"name"`
		} `json:"params"`
	}
	_ = json.Unmarshal(body, &msg)
	return msg.Params.Name
}
