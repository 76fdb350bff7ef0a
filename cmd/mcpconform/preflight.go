package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/mcpconform/mcpconform/mockserver"
	"github.com/mcpconform/mcpconform/scenarios"
	"github.com/mcpconform/mcpconform/scenarios/sseread"
)

// The preflight: before the suite, one plain initialize POST through the
// proxy, to see that the proxy forwards to the mock at all. A proxy with its
// upstream set wrong (https on the mock's port, another port, a typo in the
// path) would otherwise fail every case with the same symptom ("status
// changed from 401 to 400") and bury the cause in the evidence. When nothing
// reaches the mock, the run stops with one message saying what came back
// and what to check (exit 3). --no-preflight skips it.

// preflightTimeout bounds the preflight request when the run's per-case
// timeout is longer.
const preflightTimeout = 10 * time.Second

// maxPreflightBody is how much of the proxy's answer the preflight reads:
// enough for an initialize result or an error page.
const maxPreflightBody = 64 << 10

// preflightError is a failed preflight: a setup mistake, not a proxy
// failure.
type preflightError struct{ msg string }

func (e *preflightError) Error() string { return e.msg }

// preflightAnswer is what came back to the preflight request.
type preflightAnswer struct {
	status int
	proto  string
	ctype  string
	body   []byte
	err    error // transport error: no (complete) answer
}

// describe is the answer in one line: status line and a short body
// excerpt, or the transport error.
func (a preflightAnswer) describe() string {
	if a.err != nil {
		return "no HTTP answer: " + a.err.Error()
	}
	s := fmt.Sprintf("%s %d %s", a.proto, a.status, http.StatusText(a.status))
	if ex := excerpt(a.body, 160); ex != "" {
		s += fmt.Sprintf(", body %q", ex)
	}
	return s
}

// excerpt is the start of a body on one line.
func excerpt(b []byte, n int) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if r := []rune(s); len(r) > n {
		s = string(r[:n]) + "…"
	}
	return s
}

// preflight sends the initialize POST to proxyURL with the run's proxy
// headers (the API key of a role K proxy among them) and checks that it
// reached the mock; with stdio (the proxy bridges to `mcpconform mock
// --stdio`, so the HTTP mock is out of the loop) that the proxy answered it
// with the mock's initialize result instead.
func preflight(ctx context.Context, proxyURL string, hdr http.Header, m *mockserver.Mock, stdio bool, timeout time.Duration) error {
	timeout = min(timeout, preflightTimeout)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ans := sendPreflight(ctx, proxyURL, hdr)
	if errors.Is(ans.err, context.DeadlineExceeded) {
		ans.err = fmt.Errorf("no answer within %s", timeout)
	}
	// Anything since the mock started counts: a bridge may have opened its
	// upstream session at its own start and answer initialize from it.
	reached := len(m.Journal.Since(0)) > 0
	if stdio {
		if ans.err == nil && ans.status/100 == 2 && scenarios.MockInitializeAnswer(ans.ctype, ans.body) {
			return nil
		}
		return &preflightError{msg: fmt.Sprintf(`preflight: an initialize POST to the proxy at %s did not come back with the mock's initialize result (the run declares --upstream-stdio).
  the proxy answered: %s
  check: the proxy must spawn `+"`mcpconform mock --stdio`"+` as its upstream and serve MCP at %s; with an HTTP upstream, drop --upstream-stdio and point it at %s`,
			proxyURL, ans.describe(), proxyURL, m.MCPURL())}
	}
	if reached {
		return nil
	}
	return &preflightError{msg: fmt.Sprintf(`preflight: an initialize POST to the proxy at %s never reached the mock upstream, so no case could judge the proxy.
  the proxy answered: %s
  check: %s
  (--no-preflight runs the cases anyway)`, proxyURL, ans.describe(), preflightHint(ans, m))}
}

// sendPreflight sends the initialize POST and reads the answer, bounded.
func sendPreflight(ctx context.Context, proxyURL string, hdr http.Header) preflightAnswer {
	body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": map[string]any{
		"protocolVersion": scenarios.ProtocolVersion,
		"capabilities":    map[string]any{},
		"clientInfo":      map[string]any{"name": "mcpconform-preflight", "version": "1"},
	}})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, proxyURL, bytes.NewReader(body))
	if err != nil {
		return preflightAnswer{err: err}
	}
	for k, vs := range hdr {
		req.Header[k] = append([]string(nil), vs...)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	tr := &http.Transport{Proxy: nil, DisableCompression: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return preflightAnswer{err: err}
	}
	defer resp.Body.Close()
	ans := preflightAnswer{status: resp.StatusCode, proto: resp.Proto, ctype: resp.Header.Get("Content-Type")}
	if strings.HasPrefix(ans.ctype, "text/event-stream") {
		// An MCP stream: the initialize result is its first message.
		ans.body = readFirstEvent(resp.Body)
	} else {
		ans.body, _ = io.ReadAll(io.LimitReader(resp.Body, maxPreflightBody))
	}
	return ans
}

// readFirstEvent reads an event stream up to the end of its first event
// with data (a priming event has none; the stream may stay open after the
// result), bounded by maxPreflightBody and the request's context.
func readFirstEvent(r io.Reader) []byte {
	rd := sseread.NewReader(io.LimitReader(r, maxPreflightBody), sseread.Options{MaxRaw: maxPreflightBody})
	for {
		if e, err := rd.Next(); err != nil || e.Data != "" {
			break
		}
	}
	raw, _ := rd.Raw()
	return raw
}

// preflightHint says what to check, from what came back.
func preflightHint(a preflightAnswer, m *mockserver.Mock) string {
	up := m.MCPURL()
	body := strings.ToLower(string(a.body))
	var nerr net.Error
	switch {
	case strings.Contains(body, "http request to an https server"):
		return fmt.Sprintf("the proxy serves TLS on this port: give --proxy as https://…; its upstream, the mock, is plain http: %s", up)
	case strings.Contains(body, "http response to https client") || strings.Contains(body, "first record does not look like a tls handshake"):
		return fmt.Sprintf("the proxy speaks https to its upstream, but the mock speaks plain http: its upstream must be %s (http://, not https://)", up)
	case a.err != nil && errors.As(a.err, &nerr) && nerr.Timeout(), a.err != nil && strings.Contains(a.err.Error(), "no answer within"):
		return fmt.Sprintf("the proxy accepted the connection but did not answer; is it waiting on an upstream that does not answer? Its upstream must be %s", up)
	case a.err != nil:
		return fmt.Sprintf("that the proxy speaks HTTP/1.1 on this URL (an https:// URL for a TLS proxy), and that its upstream is %s", up)
	case a.status == http.StatusNotFound || a.status == http.StatusMethodNotAllowed:
		return fmt.Sprintf("the path: the proxy does not route POST %s; --proxy must be the proxy's MCP endpoint, and the proxy must forward it to %s with the path kept", pathOf(up), up)
	case a.status == http.StatusBadGateway || a.status == http.StatusServiceUnavailable || a.status == http.StatusGatewayTimeout:
		return fmt.Sprintf("the proxy could not reach its upstream: it must be %s (this host and port; the mock listens only while mcpconform runs, --upstream fixes the port)", up)
	case a.status == http.StatusUnauthorized || a.status == http.StatusForbidden:
		return fmt.Sprintf("the proxy refused the harness itself: a proxy guarded by an API key needs --role K --api-key KEY (and --api-key-header), one that wants its own credential --header 'Name: value'; its upstream must be %s", up)
	case a.status/100 == 2:
		return fmt.Sprintf("the proxy answered without asking the mock (a cached or canned answer, or another upstream): its upstream must be %s; a bridge to a stdio server spawning `mcpconform mock --stdio` is declared with --upstream-stdio", up)
	}
	return fmt.Sprintf("the proxy's upstream must be %s (http, this port, the path kept)", up)
}

func pathOf(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return u
	}
	return p.Path
}

// setupStop records how setup ended a run before its cases.
type setupStop struct {
	err       error
	preflight bool // the preflight failed (a setup mistake: exit 3)
}

// code is the exit code of a run that setup stopped, given what run.go
// already classified (usage: setupCode; unreachable or exited: 3), or 0 if
// setup did not stop it.
func (s *setupStop) code(setupCode int, unreachable bool, interrupted bool) int {
	switch {
	case s.err == nil:
		return exitOK
	case setupCode != exitOK:
		return setupCode
	case unreachable || s.preflight:
		return exitUnreachable
	case interrupted:
		return exitOK // the interrupt decides
	}
	return exitUsage // a harness failure (a panic, the mock): nothing was judged
}

// guardSetup runs setup and then, unless --no-preflight, the preflight. A
// failure is said once, on stderr, as it happens (say turns it into the
// message); the cases then end not-run without a line each.
func (o *runOptions) guardSetup(setup func(context.Context) (*scenarios.Env, error), hdr http.Header, stderr io.Writer,
	say func(error) string, stop *setupStop) func(context.Context) (*scenarios.Env, error) {
	return func(ctx context.Context) (env *scenarios.Env, err error) {
		defer func() {
			// A setup that panics (a built-in proxy that cannot start as
			// asked) is a harness error, said like any other.
			if r := recover(); r != nil {
				env, err = nil, fmt.Errorf("setup panicked: %v", r)
			}
			if err != nil {
				stop.err = err
				fmt.Fprintln(stderr, "mcpconform: "+say(err))
			}
		}()
		env, err = setup(ctx)
		if err == nil && !o.noPreflight {
			perr := preflight(ctx, env.ProxyMCPURL, hdr, env.Mock, o.upstreamStdio, o.timeout)
			switch {
			case perr != nil && ctx.Err() != nil:
				// Ctrl-C during the preflight: an interrupted run, not a
				// setup mistake.
				err = fmt.Errorf("interrupted during the preflight")
			case perr != nil:
				err, stop.preflight = perr, true
			}
		}
		return env, err
	}
}
