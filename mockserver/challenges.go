package mockserver

import (
	"fmt"
	"net/http"
	"strings"
)

// Challenge is one row of the catalogue of WWW-Authenticate shapes a proxy
// must carry, each with its source in Why (`mcpconform explain
// AUTH-HDR-001/WWWA-NN` prints it). Adding a variant is adding a row.
type Challenge struct {
	ID     string
	Status int
	// Lines are the field values, one per WWW-Authenticate line, with {RM}
	// standing for the quoted protected-resource-metadata URL and {ORIGIN}
	// for the mock's origin.
	Lines []string
	// Extra are other response fields sent with the challenge (DPoP-Nonce).
	Extra []Field
	// Deliver is the minimum level a T proxy must reach: "B0", "B1" or "B2".
	Deliver string
	// RawLines, when set, are complete header lines written on a raw socket,
	// for shapes net/http cannot emit (obs-fold, NUL, space before colon).
	RawLines []string
	// ErrorOK: an intermediary may refuse the message with an explicit
	// 5xx or 431 instead of delivering it (obs-fold, oversized fields).
	ErrorOK bool
	Why     string
}

// Challenges is the catalogue, in ID order. WWWA-38 is not here: it is
// WWWA-03 sent on the GET resume leg (see LegChallenge in the scenarios).
var Challenges = []Challenge{
	{ID: "WWWA-01", Status: 401, Deliver: "B1", Why: "baseline, RFC 9728 §5.1",
		Lines: []string{`Bearer resource_metadata={RM}`}},
	{ID: "WWWA-02", Status: 401, Deliver: "B1", Why: "[ii] realm and scope stripped by mcp-proxy 5.10.0; MCP scope SHOULD",
		Lines: []string{`Bearer realm="mcp", scope="files:read files:write", resource_metadata={RM}`}},
	{ID: "WWWA-03", Status: 401, Deliver: "B1", Why: "RFC 6750 §3 example; the refresh trigger [vii]",
		Lines: []string{`Bearer realm="mcp", error="invalid_token", error_description="The access token expired", resource_metadata={RM}`}},
	{ID: "WWWA-04", Status: 403, Deliver: "B1", Why: "MCP 2025-11-25 step-up example [ii]",
		Lines: []string{`Bearer error="insufficient_scope", scope="files:read files:write user:profile", resource_metadata={RM}, error_description="Additional file write permission required"`}},
	{ID: "WWWA-05", Status: 400, Deliver: "B1", Why: "RFC 6750 §3.1 invalid_request",
		Lines: []string{`Bearer error="invalid_request", error_description="Multiple methods used to include access token"`}},
	{ID: "WWWA-06", Status: 401, Deliver: "B1", Why: "⚠ bare scheme: valid RFC 9110 grammar, violates RFC 6750 'one or more auth-param'",
		Lines: []string{`Bearer`}},
	{ID: "WWWA-07", Status: 401, Deliver: "B0", Why: "scheme is case-insensitive (RFC 9110 §11.1); its case is kept",
		Lines: []string{`bearer resource_metadata={RM}`}},
	{ID: "WWWA-08", Status: 401, Deliver: "B0", Why: "parameter names are case-insensitive (RFC 9110 §11.2); their case is kept",
		Lines: []string{`BEARER Resource_Metadata={RM}, SCOPE="mcp"`}},
	{ID: "WWWA-09", Status: 401, Deliver: "B1", Why: "⚠ token form kept, not re-quoted (RFC 9110 §11.2, §11.5)",
		Lines: []string{`Bearer realm=mcp, error=invalid_token, scope=mcp`}},
	{ID: "WWWA-10", Status: 401, Deliver: "B0", Why: "⚠ quoted-pairs (RFC 9110 §5.6.4); RFC 6750 forbids \" and \\",
		Lines: []string{`Bearer realm="a \"quoted\" realm", error_description="say \"hi\" \\ bye", resource_metadata={RM}`}},
	{ID: "WWWA-11", Status: 401, Deliver: "B1", Why: "commas inside a quoted-string; naive split-on-comma proxies fail",
		Lines: []string{`Bearer error="invalid_token", error_description="expired, revoked, or malformed", scope="a b", resource_metadata={RM}`}},
	{ID: "WWWA-12", Status: 401, Deliver: "B1", Why: "challenge-looking text inside quotes stays one challenge",
		Lines: []string{`Bearer error_description="Basic realm=x, Bearer scope=y", resource_metadata={RM}`}},
	{ID: "WWWA-13", Status: 401, Deliver: "B1", Why: "two challenges on one line, Basic first (RFC 9110 §11.3 note)",
		Lines: []string{`Basic realm="legacy", Bearer resource_metadata={RM}, scope="mcp"`}},
	{ID: "WWWA-14", Status: 401, Deliver: "B1", Why: "multiple field lines, RFC 9110 §11.6.1, §5.2-5.3",
		Lines: []string{`Basic realm="legacy"`, `Bearer resource_metadata={RM}, scope="mcp"`}},
	{ID: "WWWA-15", Status: 401, Deliver: "B1", Why: "same scheme twice with different realms, RFC 9110 §11.5",
		Lines: []string{`Bearer realm="a", Bearer realm="b", resource_metadata={RM}`}},
	{ID: "WWWA-16", Status: 401, Deliver: "B1", Why: "token68 intact including '==' (RFC 9110 §11.3)",
		Lines: []string{`Negotiate YIIB9gYGKwYBBQUCoIIB6jCCAeag==`, `Bearer resource_metadata={RM}`}},
	{ID: "WWWA-17", Status: 401, Deliver: "B0", Why: "RFC 9110 §11.6.1 example",
		Lines: []string{`Newauth realm="apps", type=1, title="Login to \"apps\"", Basic realm="simple"`}},
	{ID: "WWWA-18", Status: 401, Deliver: "B1", Why: "DPoP challenge, RFC 9449 §7.1",
		Lines: []string{`DPoP algs="ES256 PS256"`}},
	{ID: "WWWA-19", Status: 401, Deliver: "B1", Why: "Bearer without params, then DPoP, RFC 9449 §7.2",
		Lines: []string{`Bearer, DPoP algs="ES256 PS256"`}},
	{ID: "WWWA-20", Status: 401, Deliver: "B1", Why: "DPoP nonce challenge; DPoP-Nonce forwarded too (RFC 9449 §8, §9)",
		Lines: []string{`DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof"`},
		Extra: []Field{{Name: "DPoP-Nonce", Value: "eyJ7S_zG.eyJH0-Z.HX4w-7v"}}},
	{ID: "WWWA-21", Status: 400, Deliver: "B1", Why: "the same param names recur in different challenges (legal), RFC 9449 §7.2",
		Lines: []string{`Bearer error="invalid_request", error_description="Multiple methods used to include access token", DPoP algs="ES256 PS256", error="invalid_request", error_description="Multiple methods used to include access token"`}},
	{ID: "WWWA-22", Status: 401, Deliver: "B1", Why: "RFC 9470 step-up authentication",
		Lines: []string{`Bearer error="insufficient_user_authentication", error_description="A different authentication level is required", acr_values="myACR"`}},
	{ID: "WWWA-23", Status: 401, Deliver: "B1", Why: "RFC 9470 max_age with RFC 9728 resource_metadata",
		Lines: []string{`Bearer error="insufficient_user_authentication", error_description="More recent authentication is required", max_age="5", resource_metadata={RM}`}},
	{ID: "WWWA-24", Status: 401, Deliver: "B1", Why: "unknown params kept, RFC 9449 §7.1 / RFC 6750 §3 [ii]",
		Lines: []string{`Bearer resource_metadata={RM}, x_vendor_hint="relogin", foo=bar, ext-param="1;2;3"`}},
	{ID: "WWWA-25", Status: 401, Deliver: "B0", Why: "⚠ UTF-8 obs-text is opaque (RFC 9110 §5.5): no mojibake, no '?', no dropping",
		Lines: []string{`Bearer error="invalid_token", error_description="Jeton expiré — réessayez 🔑"`}},
	{ID: "WWWA-26", Status: 401, Deliver: "B1", Why: "empty quoted-strings",
		Lines: []string{`Bearer realm="", error_description="", resource_metadata={RM}`}},
	{ID: "WWWA-27", Status: 401, Deliver: "B1", Why: "empty scope; the client falls back to scopes_supported",
		Lines: []string{`Bearer scope="", resource_metadata={RM}`}},
	{ID: "WWWA-28", Status: 401, Deliver: "B2", Why: "⚠ empty list elements (RFC 9110 §5.6.1) may be normalised",
		Lines: []string{`Bearer ,, resource_metadata={RM} ,`}},
	{ID: "WWWA-29", Status: 401, Deliver: "B2", Why: "⚠ BWS around '=' (RFC 9110 §5.6.3) may be normalised",
		Lines: []string{`Bearer resource_metadata = {RM} ,  scope =  "mcp"`}},
	{ID: "WWWA-30", Status: 401, Deliver: "B0", ErrorOK: true, Why: "~8 KiB challenge (RFC 9110 §5.4): delivered whole, or an explicit 502/431-class error; never truncated, never 200",
		Lines: []string{`Bearer resource_metadata={RM}, scope="` + bigScope(8<<10) + `"`}},
	{ID: "WWWA-31", Status: 401, Deliver: "B0", Why: "cross-origin PRM URL with a query; a T proxy must not rewrite it [iv]",
		Lines: []string{`Bearer resource_metadata="https://other.example/.well-known/oauth-protected-resource/tenant/a?x=1"`}},
	{ID: "WWWA-32", Status: 401, Deliver: "B0", Why: "non-default PRM path [iv]",
		Lines: []string{`Bearer resource_metadata="{ORIGIN}/custom/prm-xyz"`}},
	{ID: "WWWA-33", Status: 401, Deliver: "B2", ErrorOK: true, Why: "⚠ obs-fold (RFC 9112 §5.2): a 502, or the fold replaced by SP",
		Lines:    []string{`Bearer realm="mcp", resource_metadata={RM}`},
		RawLines: []string{`WWW-Authenticate: Bearer realm="mcp",`, `  resource_metadata={RM}`}},
	{ID: "WWWA-34", Status: 200, Deliver: "B1", Why: "a challenge on a successful response (RFC 9110 §11.6.1 MAY)",
		Lines: []string{`Bearer scope="files:write"`}},
	{ID: "WWWA-35", Status: 401, Deliver: "B0", Why: "error_uri is a URI-reference; no re-encoding of %20",
		Lines: []string{`Bearer error="invalid_token", error_uri="https://example.com/errors/token%20expired?lang=en", resource_metadata={RM}`}},
	{ID: "WWWA-36", Status: 401, Deliver: "B0", Why: "⚠ duplicate realm is a sender error; the proxy must not de-duplicate",
		Lines: []string{`Bearer realm="mcp", realm="dup", resource_metadata={RM}`}},
	{ID: "WWWA-37", Status: 401, Deliver: "B0", Why: "non-conformant upstream: 401 without any challenge; T keeps it as is, B may add one",
		Lines: nil},
}

// bigScope is a space-separated scope list of about n bytes, for WWWA-30.
func bigScope(n int) string {
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "scope:%04d", i)
	}
	return b.String()
}

// ChallengeByID finds a catalogue row.
func ChallengeByID(id string) (Challenge, bool) {
	for _, c := range Challenges {
		if c.ID == id {
			return c, true
		}
	}
	return Challenge{}, false
}

// PRMURL is the path-suffixed protected-resource-metadata URL of the mock's
// MCP endpoint (RFC 9728 §3.1 insertion rule).
func (m *Mock) PRMURL() string {
	return m.BaseURL + "/.well-known/oauth-protected-resource" + MCPPath
}

// Values expands the placeholders of a row for this mock.
func (c Challenge) Values(m *Mock) []string {
	r := strings.NewReplacer("{RM}", `"`+m.PRMURL()+`"`, "{ORIGIN}", m.BaseURL)
	out := make([]string, len(c.Lines))
	for i, l := range c.Lines {
		out[i] = r.Replace(l)
	}
	return out
}

// Fault builds the armed answer for this row: its status, its
// WWW-Authenticate lines in order, its extra fields and a JSON-RPC error body.
func (c Challenge) Fault(m *Mock, match Match) Fault {
	f := Fault{Name: c.ID, Match: match, Status: c.Status, Body: errorBody(c.Status)}
	for _, v := range c.Values(m) {
		f.Fields = append(f.Fields, Field{Name: "WWW-Authenticate", Value: v})
	}
	f.Fields = append(f.Fields, c.Extra...)
	f.Fields = append(f.Fields, Field{Name: "Content-Type", Value: "application/json"})
	if len(c.RawLines) > 0 {
		r := strings.NewReplacer("{RM}", `"`+m.PRMURL()+`"`, "{ORIGIN}", m.BaseURL)
		lines := []string{"Content-Type: application/json"}
		for _, l := range c.RawLines {
			lines = append(lines, r.Replace(l))
		}
		f.Raw = RawResponse(c.Status, lines, f.Body)
	}
	return f
}

// errorBody is a JSON-RPC error body matching the status, as SDK servers send.
func errorBody(status int) string {
	if status/100 == 2 {
		return `{"jsonrpc":"2.0","id":1,"result":{}}`
	}
	return `{"jsonrpc":"2.0","id":null,"error":{"code":-32001,"message":"` + http.StatusText(status) + ` (mcpconform mock)"}}`
}

// ErrorBody is the JSON-RPC error body the mock sends with a status.
func ErrorBody(status int) string { return errorBody(status) }
