package proxyundertest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"
)

// Specimen is a built-in proxy: the reference with at most one known bug.
type Specimen struct {
	Name        string
	Description string
	// Bug names the real-world bug it reproduces, with its source.
	Bug string
	// Guards lists the scenario IDs written to catch this bug. Self-validation
	// asserts that exactly Guards ∪ AlsoFails fail against this specimen.
	Guards []string
	// AlsoFails lists scenarios that fail as a side effect (a proxy that
	// breaks every path also breaks the session scenarios).
	AlsoFails []string
	// RunArgs are extra `mcpconform run` flags self-validation needs to
	// exercise the bug (e.g. a role, --cors).
	RunArgs []string
	// Modes, when set instead, are several flag sets, each one
	// self-validation run (a conformant built-in must pass in every mode it
	// offers: builtin:bridge alone, browser-facing, behind its key gate).
	Modes map[string][]string
	// Apply installs the fault on a fresh reference. Nil for the reference.
	Apply func(*Reference)
	// Handler, when set, replaces the reference entirely (hostile specimens
	// that are not HTTP proxies at all). It receives the upstream origin.
	Handler func(upstream *url.URL) http.Handler
	// Listen, when set, replaces the HTTP server: it serves raw TCP on ln
	// until ctx ends (for specimens that answer with garbage or hang).
	Listen func(ctx context.Context, ln net.Listener, upstream *url.URL)
	// Bridge, when set, makes the built-in the reference bridge (an
	// MCP-terminating role B proxy, bridge.go) instead of the reference,
	// and installs the specimen's fault on it; builtin:bridge passes a
	// function that changes nothing.
	Bridge func(*Bridge)
}

// ReferenceModes are the `run` flag sets under which builtin:reference is
// self-validated, one run each: "T" (transparent) always; areas add theirs
// from init (e.g. "I" with --role I). In every mode the reference passes
// every case it runs.
var ReferenceModes = map[string][]string{"T": nil}

var (
	regMu     sync.Mutex
	specimens = map[string]*Specimen{}
)

// Register adds a specimen to the builtin:NAME table. Area files call it from
// init; a duplicate name is a programming error.
func Register(s Specimen) {
	regMu.Lock()
	defer regMu.Unlock()
	if _, dup := specimens[s.Name]; dup {
		panic("proxyundertest: duplicate specimen " + s.Name)
	}
	specimens[s.Name] = &s
}

// Specimens lists every built-in proxy, sorted by name.
func Specimens() []*Specimen {
	regMu.Lock()
	defer regMu.Unlock()
	out := make([]*Specimen, 0, len(specimens))
	for _, s := range specimens {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Lookup finds a built-in by name.
func Lookup(name string) (*Specimen, bool) {
	regMu.Lock()
	defer regMu.Unlock()
	s, ok := specimens[name]
	return s, ok
}

// Target is a proxy the harness can send requests to.
type Target struct {
	// MCPURL is the Streamable HTTP endpoint on the proxy.
	MCPURL string
	// Display is what reports show (secrets already substituted out).
	Display string
	// Specimen is set for builtin targets.
	Specimen *Specimen
	// Errors is a built-in reference-based proxy's error log (nil for
	// external proxies and for built-ins that are not HTTP proxies).
	Errors *ErrorLog
	close  func() error
}

// Close stops a built-in proxy; a no-op for external ones.
func (t *Target) Close() error {
	if t.close == nil {
		return nil
	}
	return t.close()
}

// BuiltinPrefix marks a built-in proxy in --proxy.
const BuiltinPrefix = "builtin:"

// Options tell a built-in proxy what the run declared: its roles and the
// credentials it needs in those roles. External proxies get the same values
// through launch placeholders.
type Options struct {
	Roles []string // "T", "B", "I", "K"
	// Role I: where and how to get tokens (the mock authorization server).
	TokenURL, ClientID, ClientSecret, RefreshToken, Resource string
	// Role K: the API key gate.
	APIKey       string
	APIKeyHeader string   // default X-API-Key
	Exempt       []string // routes answered without the key, e.g. /status
	NamedServer  string   // serve /servers/NAME/{mcp,sse} too
	// CORS: the run declared the proxy browser-facing (--cors).
	CORS bool
	// UpstreamCommand, when set, is a stdio MCP server a bridge runs as its
	// upstream (one child per client session) instead of the upstream URL,
	// e.g. [/path/to/mcpconform mock --stdio].
	UpstreamCommand []string
	// UpstreamEnv is added to that child's environment.
	UpstreamEnv []string
}

// HasRole reports whether the options declare role r.
func (o Options) HasRole(r string) bool {
	for _, x := range o.Roles {
		if strings.EqualFold(x, r) {
			return true
		}
	}
	return false
}

// Open resolves --proxy. spec is a URL (which may hold {upstream}, replaced
// by the URL-escaped upstream MCP URL) or builtin:NAME, which is started
// in-process on a free loopback port in front of upstreamMCP.
func Open(spec, upstreamMCP string, opt Options) (*Target, error) {
	if name, ok := strings.CutPrefix(spec, BuiltinPrefix); ok {
		return startBuiltin(name, upstreamMCP, opt)
	}
	raw := strings.ReplaceAll(spec, "{upstream}", url.QueryEscape(upstreamMCP))
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--proxy %q: want an http(s) URL such as http://127.0.0.1:8080/mcp, or builtin:NAME (see `mcpconform list --builtins`)", spec)
	}
	return &Target{MCPURL: raw, Display: spec}, nil
}

// LegacyURL resolves --proxy-sse, the proxy's legacy HTTP+SSE endpoint, for
// proxies whose legacy URL cannot be derived from their MCP URL (those that
// take the target per request, /sse?url=…&transportType=sse). {upstream} and
// {upstream_sse} become the URL-escaped mock MCP and legacy URLs; the other
// placeholders take values (nil before a launch).
func LegacyURL(spec string, values map[string]string, upstreamMCP, upstreamSSE string) (string, error) {
	if strings.HasPrefix(spec, BuiltinPrefix) {
		return "", fmt.Errorf("--proxy-sse %q: want the proxy's legacy endpoint URL; a built-in proxy serves /sse next to /mcp", spec)
	}
	v := map[string]string{}
	for k, x := range values {
		v[k] = x
	}
	v["upstream"], v["upstream_sse"] = url.QueryEscape(upstreamMCP), url.QueryEscape(upstreamSSE)
	raw, err := Expand(spec, v)
	if err != nil {
		return "", fmt.Errorf("--proxy-sse: %w", err)
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("--proxy-sse %q: want an http(s) URL such as http://127.0.0.1:6277/sse?url={upstream_sse}&transportType=sse", spec)
	}
	return raw, nil
}

func startBuiltin(name, upstreamMCP string, opt Options) (*Target, error) {
	s, ok := Lookup(name)
	if !ok {
		var names []string
		for _, x := range Specimens() {
			names = append(names, x.Name)
		}
		return nil, fmt.Errorf("unknown built-in proxy %q; known: %s", name, strings.Join(names, ", "))
	}
	up, err := url.Parse(upstreamMCP)
	if err != nil {
		return nil, err
	}
	origin := &url.URL{Scheme: up.Scheme, Host: up.Host}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("built-in proxy: %w", err)
	}
	t := &Target{
		MCPURL:   "http://" + ln.Addr().String() + up.Path,
		Display:  BuiltinPrefix + name,
		Specimen: s,
	}
	if s.Listen != nil {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); s.Listen(ctx, ln, origin) }()
		t.close = func() error { cancel(); ln.Close(); <-done; return nil }
		return t, nil
	}
	var h http.Handler
	var ref *Reference
	var bridge *Bridge
	switch {
	case s.Bridge != nil:
		// A bridge needs the whole MCP URL: it opens its own sessions there.
		bridge = NewBridge(up, opt)
		s.Bridge(bridge)
		h = bridge.Handler()
	case s.Handler != nil:
		h = s.Handler(origin)
	default:
		ref = NewReference(origin, opt)
		t.Errors = ref.Errors
		if s.Apply != nil {
			s.Apply(ref)
		}
		h = ref.Handler()
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	if ref != nil && ref.Server != nil {
		ln = ref.Server(srv, ln)
	}
	go func() { _ = srv.Serve(ln) }()
	t.close = func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if bridge != nil {
			// Its sessions hold streams open (Shutdown would wait for them)
			// and stdio children running.
			bridge.Close()
		}
		if err := srv.Shutdown(ctx); errors.Is(err, context.DeadlineExceeded) {
			return srv.Close()
		}
		return nil
	}
	return t, nil
}

// Reachable dials the proxy's host:port once, to tell "nothing listens there"
// (exit 3) from a proxy that misbehaves (a conformance result).
func Reachable(ctx context.Context, mcpURL string) error {
	u, err := url.Parse(mcpURL)
	if err != nil {
		return err
	}
	host := u.Host
	if u.Port() == "" {
		if u.Scheme == "https" {
			host += ":443"
		} else {
			host += ":80"
		}
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return err
	}
	return c.Close()
}
