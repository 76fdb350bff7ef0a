package mockserver

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/mcpconform/mcpconform/mockserver/authz"
)

// The token gate: when on, the mock validates the bearer token of every
// request on its MCP routes (POST, GET, resume GET, DELETE on /mcp; GET /sse;
// POST /messages) against the mock authorization server, as an MCP server
// that implements authorization must (AUTH-TOK-006: "MUST verify all inbound
// requests"), and answers a missing, expired, revoked or wrong-audience token
// with 401 and an RFC 6750 challenge. Whether on or off, every request's
// token is journaled (Entry.TokenFP, TokenErr, TokenExp) so scenarios can say
// which token each request carried.

// Authz client registration the mock AS is created with.
const (
	AuthzClientID = "mcpconform-proxy"
	// PRMRootPath is the root protected-resource-metadata URL path (RFC 9728
	// §3.1 without the resource path); the path-suffixed one is PRMURL().
	PRMRootPath = "/.well-known/oauth-protected-resource"
)

// gateState is the mutable gate configuration. The default (from Options) is
// restored by Disarm after every case.
type gateState struct {
	on bool
	// prm switches which protected-resource-metadata URLs answer.
	prmSuffixed, prmRoot bool
	prmCustom            string // extra path serving the document; "" = none
	// challengeRM is the resource_metadata URL the challenge names; "" means
	// the path-suffixed one.
	challengeRM string
	noChallenge bool // 401 without WWW-Authenticate (WWWA-37)
	// journey, when set, is a login journey (journey.go): it serves the
	// metadata and judges tokens instead of the settings above.
	journey *journeyState
}

type authGate struct {
	mu      sync.Mutex
	def     gateState
	cur     gateState
	control string // bearer the control (harness → mock directly) presents
	asSrv   *http.Server
}

// startAuthz starts the mock authorization server on its own loopback
// listener; its Resource is the mock's MCP URL.
func (m *Mock) startAuthz(opts Options) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("mock authorization server cannot listen: %w", err)
	}
	secret := make([]byte, 16)
	_, _ = rand.Read(secret)
	ctl := make([]byte, 16)
	_, _ = rand.Read(ctl)
	m.AuthzURL = "http://" + ln.Addr().String()
	m.Authz = authz.New(authz.Config{
		Issuer:       m.AuthzURL,
		Resource:     m.MCPURL(),
		ClientID:     AuthzClientID,
		ClientSecret: "cs_" + hex.EncodeToString(secret),
		AccessTTL:    opts.TokenTTL,
	})
	m.authzSecret = "cs_" + hex.EncodeToString(secret)
	st := gateState{on: opts.Gate, prmSuffixed: true, prmRoot: true}
	m.gate = &authGate{def: st, cur: st, control: "ctl_" + hex.EncodeToString(ctl)}
	m.gate.asSrv = &http.Server{Handler: m.Authz, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = m.gate.asSrv.Serve(ln) }()
	return nil
}

// AuthzClientSecret is the registered client's secret at the mock AS.
func (m *Mock) AuthzClientSecret() string { return m.authzSecret }

// GateOn reports whether the token gate currently enforces tokens.
func (m *Mock) GateOn() bool {
	if m.gate == nil {
		return false
	}
	m.gate.mu.Lock()
	defer m.gate.mu.Unlock()
	return m.gate.cur.on
}

// SetGate turns token enforcement on or off until the end of the case
// (Disarm restores the run's default). It needs Options.Authz.
func (m *Mock) SetGate(on bool) {
	if m.gate == nil {
		return
	}
	m.gate.mu.Lock()
	m.gate.cur.on = on
	m.gate.mu.Unlock()
}

// PRMConfig switches which protected-resource-metadata URLs answer and what
// the gate's challenge says, until the end of the case.
type PRMConfig struct {
	Suffixed, Root bool
	// Custom is an extra path serving the document (e.g. "/meta/prm.json").
	Custom string
	// ChallengeRM is the resource_metadata URL the 401 names; "" = PRMURL().
	ChallengeRM string
	// NoChallenge sends 401 without WWW-Authenticate (WWWA-37).
	NoChallenge bool
}

// SetPRM applies a PRMConfig for the current case.
func (m *Mock) SetPRM(c PRMConfig) {
	if m.gate == nil {
		return
	}
	m.gate.mu.Lock()
	m.gate.cur.prmSuffixed, m.gate.cur.prmRoot, m.gate.cur.prmCustom = c.Suffixed, c.Root, c.Custom
	m.gate.cur.challengeRM, m.gate.cur.noChallenge = c.ChallengeRM, c.NoChallenge
	m.gate.mu.Unlock()
}

// ControlToken is a bearer the gate accepts from the harness talking to the
// mock directly (the control). It is never given to a proxy, so a proxy that
// forwards the client's token cannot pass with it; it is journaled as
// TokenFP "control".
func (m *Mock) ControlToken() string {
	if m.gate == nil {
		return ""
	}
	return m.gate.control
}

// resetGate restores the run's default gate and AS faults after a case.
func (m *Mock) resetGate() {
	if m.gate == nil {
		return
	}
	m.gate.mu.Lock()
	j := m.gate.cur.journey
	m.gate.cur = m.gate.def
	m.gate.mu.Unlock()
	j.close()
	m.Authz.Reset()
}

func (m *Mock) closeAuthz() {
	if m.gate != nil {
		_ = m.gate.asSrv.Close()
	}
}

// gated reports whether a path is one of the MCP routes the gate guards.
func gated(path string) bool {
	return path == MCPPath || path == SSEPath || path == MessagesPath
}

// bearer extracts the token of an "Authorization: Bearer x" field, or "".
func bearer(h http.Header) string {
	v := h.Get("Authorization")
	scheme, tok, ok := strings.Cut(v, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

// inspectToken journals the request's token; it runs for every request
// when the AS exists.
func (m *Mock) inspectToken(e *Entry) {
	tok := bearer(e.Header)
	if tok == "" {
		if e.Header.Get("Authorization") != "" {
			e.TokenFP = authz.Fingerprint(e.Header.Get("Authorization"))
			e.TokenErr = "not a Bearer credential"
		} else {
			e.TokenErr = "missing"
		}
		return
	}
	if m.gate != nil && tok == m.gate.control {
		e.TokenFP = "control"
		return
	}
	if st := m.journey(); st != nil {
		m.inspectJourneyToken(e, st, tok)
		return
	}
	e.TokenFP = authz.Fingerprint(tok)
	if m.Authz == nil {
		return
	}
	c, err := m.Authz.Verify(tok)
	e.TokenExp = c.ExpiresAt
	if err != nil {
		e.TokenErr = authz.Reason(err)
	}
}

// serveGate answers the request with 401 when the gate is on and the token
// is not valid; it reports whether it answered.
func (m *Mock) serveGate(w http.ResponseWriter, e *Entry) bool {
	if m.gate == nil {
		return false
	}
	m.gate.mu.Lock()
	st := m.gate.cur
	m.gate.mu.Unlock()
	if st.journey != nil {
		return m.journeyGate(w, e, st.journey)
	}
	if !gated(e.Path) || e.TokenErr == "" {
		return false
	}
	if !st.on {
		return false
	}
	if !st.noChallenge {
		rm := st.challengeRM
		if rm == "" {
			rm = m.PRMURL()
		}
		desc := "The access token is " + e.TokenErr
		if e.TokenErr == "missing" {
			desc = "No access token was sent"
		}
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="mcp", error="invalid_token", error_description=%q, resource_metadata=%q`, desc, rm))
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusUnauthorized)
	fmt.Fprintf(w, `{"error":"invalid_token","error_description":%q}`, e.TokenErr)
	return true
}

// servePRM answers the protected-resource-metadata URLs that are switched on.
func (m *Mock) servePRM(w http.ResponseWriter, r *http.Request) bool {
	if m.gate == nil {
		return false
	}
	m.gate.mu.Lock()
	st := m.gate.cur
	m.gate.mu.Unlock()
	if st.journey != nil {
		return m.serveJourney(w, r, st.journey)
	}
	p := r.URL.Path
	suffixed := strings.TrimPrefix(m.PRMURL(), m.BaseURL)
	on := (p == suffixed && st.prmSuffixed) || (p == PRMRootPath && st.prmRoot) || (st.prmCustom != "" && p == st.prmCustom)
	if !on {
		if p == suffixed || p == PRMRootPath || strings.HasPrefix(p, "/.well-known/") {
			http.NotFound(w, r)
			return true
		}
		return false
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(authz.ProtectedResourceMetadata(m.MCPURL(), []string{m.AuthzURL}, nil))
	return true
}
