package mockserver

import (
	"net/http"
	"strings"
)

// Challenge is one row of the WWW-Authenticate catalogue
// (research/spec-requirements.md §16). Adding a variant is adding a row.
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
	Why      string
}

// Challenges is the catalogue, in ID order.
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
	{ID: "WWWA-11", Status: 401, Deliver: "B1", Why: "commas inside a quoted-string; naive split-on-comma proxies fail",
		Lines: []string{`Bearer error="invalid_token", error_description="expired, revoked, or malformed", scope="a b", resource_metadata={RM}`}},
	{ID: "WWWA-13", Status: 401, Deliver: "B1", Why: "two challenges on one line, Basic first (RFC 9110 §11.3 note)",
		Lines: []string{`Basic realm="legacy", Bearer resource_metadata={RM}, scope="mcp"`}},
	{ID: "WWWA-14", Status: 401, Deliver: "B1", Why: "multiple field lines, RFC 9110 §11.6.1, §5.2-5.3",
		Lines: []string{`Basic realm="legacy"`, `Bearer resource_metadata={RM}, scope="mcp"`}},
	{ID: "WWWA-24", Status: 401, Deliver: "B1", Why: "unknown params kept, RFC 9449 §7.1 / RFC 6750 §3 [ii]",
		Lines: []string{`Bearer resource_metadata={RM}, x_vendor_hint="relogin", foo=bar, ext-param="1;2;3"`}},
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
