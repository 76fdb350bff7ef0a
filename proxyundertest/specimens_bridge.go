package proxyundertest

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// The reference bridge and the bridge specimens: role B proxies, each the
// bridge plus one bug seen in a real MCP-terminating bridge. What a client
// observes of each is in its Description, so a probe can be checked
// against it.
func init() {
	roleB := []string{"--role", "B"}
	Register(Specimen{
		Name:        "bridge",
		Description: "MCP-terminating bridge on the official Go SDK (own sessions, per-request credentials, upstream refusals relayed with their status and challenge, progress on the call's stream); passes every role B scenario",
		RunArgs:     roleB,
		Modes: map[string][]string{
			"B":      roleB,
			"B+cors": {"--role", "B", "--cors"},
			"B,K":    {"--role", "B,K", "--cors", "--named-server", "alpha"},
			// A stdio child of its own (`mcpconform mock --stdio`).
			"B+stdio": {"--role", "B,K", "--upstream-stdio"},
		},
		Bridge: func(*Bridge) {},
	})
	Register(Specimen{
		Name: "bridge-401-as-200",
		Description: "answers a request whose upstream request got 401 with HTTP 200 and a JSON-RPC error (code -32001, the upstream's message, " +
			"data {status, www-authenticate}) and no WWW-Authenticate field; the client never sees the 401",
		Bug:       "(i) MCP Inspector 0.16 proxy (server/src/mcpProxy.ts): a failed send upstream becomes a JSON-RPC error -32001 with the error as data, on the client's 200 stream",
		Guards:    []string{"AUTH-HDR-001", "HTTP-E2E-010"},
		AlsoFails: []string{"AUTH-JRN-001", "AUTH-JRN-011", "AUTH-HDR-012", "LSSE-004"},
		RunArgs:   roleB,
		Bridge: func(b *Bridge) {
			b.ErrorHooks = append(b.ErrorHooks, func(e *RelayedError) {
				if e.Status != http.StatusUnauthorized {
					return
				}
				data, _ := json.Marshal(map[string]any{"status": e.Status, "www-authenticate": e.Header.Values("WWW-Authenticate")})
				e.RPC.Code, e.RPC.Data = -32001, data
				e.Status = http.StatusOK
				e.Header.Del("WWW-Authenticate")
			})
		},
	})
	Register(Specimen{
		Name:        "bridge-drops-challenge",
		Description: "keeps the upstream's 401 (and 403, 400) but sends no WWW-Authenticate: the client cannot discover how to authenticate",
		Bug:         "(i) MCP Inspector proxy: an upstream 401 relayed as res.status(401).json(error) (server/src/index.ts 0.16 for SSE, 0.19 is401Error for both transports), without the challenge",
		Guards:      []string{"AUTH-HDR-001", "HTTP-E2E-008"},
		AlsoFails:   []string{"AUTH-JRN-001", "AUTH-JRN-010", "AUTH-HDR-012", "LSSE-004"},
		RunArgs:     roleB,
		Bridge: func(b *Bridge) {
			b.ErrorHooks = append(b.ErrorHooks, func(e *RelayedError) { e.Header.Del("WWW-Authenticate") })
		},
	})
	Register(Specimen{
		Name: "bridge-rebuilds-from-resource-metadata",
		Description: "re-emits every challenge as the single line Bearer resource_metadata=\"<upstream origin>/.well-known/oauth-protected-resource\" " +
			"(the root well-known URL): realm, scope, error, error_description, other schemes and the path-suffixed metadata URL are lost",
		Bug:       "(ii) mcp-proxy 5.10.0 (npm) rebuilt WWW-Authenticate from resource_metadata alone (punkpeye/mcp-proxy#44)",
		Guards:    []string{"AUTH-HDR-001"},
		AlsoFails: []string{"AUTH-JRN-002", "AUTH-JRN-010", "AUTH-HDR-012", "LSSE-004"},
		RunArgs:   roleB,
		Bridge: func(b *Bridge) {
			root := b.Upstream.Scheme + "://" + b.Upstream.Host + "/.well-known/oauth-protected-resource"
			b.ErrorHooks = append(b.ErrorHooks, func(e *RelayedError) {
				if len(e.Header.Values("WWW-Authenticate")) > 0 {
					e.Header.Set("WWW-Authenticate", `Bearer resource_metadata="`+root+`"`)
				}
			})
		},
	})
	Register(Specimen{
		Name:        "bridge-rewrites-description",
		Description: "replaces the value of every error_description parameter with its own text (\"Authentication required\"); the rest of the challenge is kept",
		Bug:         "bridges that re-word the upstream's error for their UI and write it back into the challenge: RFC 6750 §3 error_description is the server's text for the developer",
		Guards:      []string{"AUTH-HDR-001"},
		AlsoFails:   []string{"AUTH-HDR-012", "LSSE-004"},
		RunArgs:     roleB,
		Bridge: func(b *Bridge) {
			desc := regexp.MustCompile(`(?i)(error_description\s*=\s*)("(?:[^"\\]|\\.)*"|[^\s,]*)`)
			b.ErrorHooks = append(b.ErrorHooks, func(e *RelayedError) {
				lines := e.Header.Values("WWW-Authenticate")
				for i, l := range lines {
					lines[i] = desc.ReplaceAllString(l, `${1}"Authentication required"`)
				}
			})
		},
	})
	Register(Specimen{
		Name: "bridge-500-on-upstream-error",
		Description: "answers an initialize whose upstream session could not be opened (any refusal, 4xx or 5xx, or no answer) with 500 " +
			"{\"error\":\"Error creating server\"}: no challenge, no upstream status, no JSON-RPC error",
		Bug:       "(i) MCP Inspector 0.16 proxy (server/src/index.ts, POST /mcp): connect errors other than its own 401 check end in res.status(500).json(error) (inspector#168)",
		Guards:    []string{"AUTH-HDR-001", "HTTP-E2E-010"},
		AlsoFails: []string{"AUTH-JRN-001", "AUTH-JRN-011", "AUTH-HDR-012", "LSSE-004"},
		RunArgs:   roleB,
		Bridge: func(b *Bridge) {
			b.ErrorHooks = append(b.ErrorHooks, func(e *RelayedError) {
				if e.Method == "initialize" {
					e.Status, e.Header = http.StatusInternalServerError, http.Header{}
					e.Body = []byte(`{"error":"Error creating server"}`)
				}
			})
		},
	})
	Register(Specimen{
		Name: "bridge-pins-token",
		Description: "sends the Authorization of the client's initialize on every upstream request of the session (calls, GET, DELETE): " +
			"a token the client refreshes never reaches the upstream, and once the first one expires every call is refused",
		Bug:       "(vii) MCP Inspector 0.16 proxy (server/src/index.ts createTransport): the upstream transport is built once per session with requestInit.headers copied from the initialize request",
		Guards:    []string{"AUTH-TOK-006"},
		AlsoFails: []string{"AUTH-JRN-010", "AUTH-JRN-011"},
		RunArgs:   roleB,
		Bridge: func(b *Bridge) {
			b.Credentials = func(c CredentialChoice) []string { return c.Initial }
		},
	})
	Register(Specimen{
		Name:        "bridge-drops-progress",
		Description: "relays no notifications/progress: a tools/call with a progress token gets only its result on the POST stream, when the upstream finishes",
		Bug:         "bridges whose upstream client has no progress handler (the SDK clients drop notifications nobody handles, e.g. go-sdk without ClientOptions.ProgressNotificationHandler)",
		Guards:      []string{"SSE-STREAM-001"},
		AlsoFails:   []string{"SSE-PARSE-003"},
		RunArgs:     roleB,
		Bridge: func(b *Bridge) {
			b.NotificationHooks = append(b.NotificationHooks, func(n *RelayedNotification) {
				n.Drop = n.Drop || n.Method == "notifications/progress"
			})
		},
	})
	Register(Specimen{
		Name:        "bridge-drops-resource-updates",
		Description: "relays what belongs to a client request (progress, the result) but drops notifications/resources/updated, which the upstream sends unprompted on its standalone stream",
		Bug:         "bridges that only forward request/response traffic: a subscribed client never hears of a change (its GET stream stays silent)",
		Guards:      []string{"SSE-STREAM-001", "SSE-STREAM-002"},
		RunArgs:     roleB,
		Bridge: func(b *Bridge) {
			b.NotificationHooks = append(b.NotificationHooks, func(n *RelayedNotification) {
				n.Drop = n.Drop || n.Method == "notifications/resources/updated"
			})
		},
	})
	Register(Specimen{
		Name: "bridge-progress-on-get-stream",
		Description: "relays notifications/progress on the session's standalone GET stream instead of the call's POST stream " +
			"(a client without a GET stream never sees them; with one, they arrive unrelated to the call)",
		Bug:    "bridges that relay every upstream notification with a context unrelated to the client's request (go-sdk sends such a notification on the standalone stream)",
		Guards: []string{"SSE-STREAM-001"},
		// A SHOULD (related messages on the request's stream): a warning,
		// which --strict makes gate the run.
		RunArgs: []string{"--role", "B", "--strict"},
		Bridge: func(b *Bridge) {
			b.NotificationHooks = append(b.NotificationHooks, func(n *RelayedNotification) {
				if n.Method == "notifications/progress" {
					n.OnRequestStream = false
				}
			})
		},
	})
	Register(Specimen{
		Name: "bridge-loses-last-progress",
		Description: "relays progress notifications asynchronously (100 ms later) and ends a call's POST stream as soon as the upstream's result arrives: " +
			"the progress sent just before the result (the last one, all of a burst's tail, the one before a cut) never reaches the client; earlier ones arrive 100 ms late",
		Bug:     "mcp-proxy 6.7.19 (npm) over a stdio upstream: the last notification before the result missing in 3 of 4 calls (see README, Tried against mcp-proxy)",
		Guards:  []string{"SSE-STREAM-001", "SSE-PARSE-003"},
		RunArgs: roleB,
		Bridge: func(b *Bridge) {
			b.ProgressDrain = 0
			b.NotificationHooks = append(b.NotificationHooks, func(n *RelayedNotification) {
				if n.Method == "notifications/progress" {
					n.Delay = 100 * time.Millisecond
				}
			})
		},
	})
	Register(Specimen{
		Name: "bridge-stale-content-length",
		Description: "copies the upstream's Content-Length onto the re-encoded error it relays (the client's id instead of null: 3 bytes shorter); " +
			"the body ends before the declared length: Go's server then closes the connection (the client reads an unexpected EOF), Node keeps it open and the client hangs",
		Bug:       "bridges that copy upstream response fields wholesale onto a body they re-encoded (a stale Content-Length)",
		Guards:    []string{"AUTH-HDR-001", "HTTP-E2E-010"},
		AlsoFails: []string{"AUTH-JRN-001", "AUTH-JRN-010", "HTTP-E2E-008", "AUTH-HDR-012", "LSSE-004", "SESS-003"},
		RunArgs:   roleB,
		Bridge: func(b *Bridge) {
			b.ErrorHooks = append(b.ErrorHooks, func(e *RelayedError) {
				if e.Upstream != nil && e.Upstream.ContentLength >= 0 {
					e.Header.Set("Content-Length", strconv.FormatInt(e.Upstream.ContentLength, 10))
				}
			})
		},
	})
	Register(Specimen{
		Name:        "bridge-wildcard-with-credentials",
		Description: "the bridge behind CORS with Access-Control-Allow-Origin: * and Access-Control-Allow-Credentials: true: browsers reject every credentialed response",
		Bug:         "punkpeye/mcp-proxy default CORS options (origin *, credentials true)",
		Guards:      []string{"CORS-003"},
		RunArgs:     []string{"--role", "B", "--cors"},
		Bridge:      func(b *Bridge) { b.replaceCORS(corsPolicy{WildcardCredentials: true}) },
	})
	Register(Specimen{
		Name:        "bridge-expose-session-only",
		Description: "the bridge behind CORS exposing only Mcp-Session-Id: a browser client cannot read WWW-Authenticate (nor DPoP-Nonce) of a 401",
		Bug:         "MCP Inspector 0.16 proxy (cors() plus Access-Control-Expose-Headers: mcp-session-id) and mcp-proxy 6.7.19 (see README)",
		Guards:      []string{"CORS-001", "CORS-002"},
		RunArgs:     []string{"--role", "B", "--cors"},
		Bridge:      func(b *Bridge) { b.replaceCORS(corsPolicy{Expose: []string{"Mcp-Session-Id"}}) },
	})
	Register(Specimen{
		Name: "bridge-404-in-band",
		Description: "answers a request whose upstream session is gone (upstream 404) with 200 and a JSON-RPC error (the upstream's 404 message) " +
			"instead of 404, and keeps the client session for now: the client is not told to re-initialize",
		Bug:    "MCP Inspector 0.16 proxy (server/src/mcpProxy.ts): every failed send upstream, a 404 included, becomes an in-band JSON-RPC error",
		Guards: []string{"SESS-003"},
		// The initialize row: an upstream 404 there is answered 200 too.
		AlsoFails: []string{"HTTP-E2E-010"},
		RunArgs:   roleB,
		Bridge: func(b *Bridge) {
			b.ErrorHooks = append(b.ErrorHooks, func(e *RelayedError) {
				if e.Status == http.StatusNotFound {
					e.Status, e.EndSession = http.StatusOK, false
				}
			})
		},
	})
	Register(Specimen{
		Name:        "bridge-mcp-only",
		Description: "serves only its MCP endpoints and answers 404 on every other path: the upstream's protected-resource metadata and its co-hosted authorization server are unreachable through it",
		Bug:         "bridges that mount only /mcp and /sse (the MCP Inspector's proxy, mcp-proxy): a client behind them that cannot reach the upstream directly can never discover how to log in",
		Guards:      []string{"AUTH-JRN-003"},
		AlsoFails:   []string{"AUTH-JRN-005", "AUTH-JRN-006", "AUTH-JRN-007", "AUTH-JRN-008", "AUTH-JRN-011"},
		RunArgs:     roleB,
		Bridge: func(b *Bridge) {
			b.Middleware = append(b.Middleware, func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.URL.Path != b.MCPPath && r.URL.Path != b.LegacyPath {
						http.NotFound(w, r)
						return
					}
					next.ServeHTTP(w, r)
				})
			})
		},
	})
	Register(Specimen{
		Name:        "bridge-trailing-slash",
		Description: "appends / to the upstream path: every upstream request gets 404, so every initialize through the bridge is answered 404",
		Bug:         "(v) bridges that join the configured URL with a path and send /mcp/ (open-webui/mcpo#209)",
		Guards:      []string{"HTTP-E2E-005"},
		// Every initialize fails, so every scenario that opens a session.
		AlsoFails: []string{"AUTH-JRN-001", "AUTH-JRN-009", "AUTH-JRN-011", "AUTH-HDR-001", "AUTH-HDR-012", "HTTP-E2E-007", "HTTP-E2E-008", "HTTP-E2E-010", "HTTP-HOP-001", "HTTP-HOP-002",
			"LSSE-001", "LSSE-002", "LSSE-004", "SESS-002", "SESS-003", "SESS-004", "SHTTP-003", "SSE-PARSE-003", "SSE-PARSE-005",
			"SSE-STREAM-001", "SSE-STREAM-002", "VER-002"},
		RunArgs: roleB,
		Bridge: func(b *Bridge) {
			b.UpstreamRequestHooks = append(b.UpstreamRequestHooks, func(r *http.Request) {
				if !strings.HasSuffix(r.URL.Path, "/") {
					r.URL.Path += "/"
					r.URL.RawPath = ""
				}
			})
		},
	})
}

// replaceCORS swaps the bridge's CORS layer (the outermost middleware, see
// NewBridge) for one with a policy fault. Without --cors the bridge is not
// browser-facing and there is nothing to break (as for the CORS specimens).
func (b *Bridge) replaceCORS(p corsPolicy) {
	if !b.Opt.CORS || len(b.Middleware) == 0 {
		return
	}
	b.Middleware[len(b.Middleware)-1] = corsMiddleware(p)
}
