package wwwauth

import (
	"reflect"
	"strings"
	"testing"
)

// rmURL stands in for {RM} of the challenge catalogue (mockserver.Challenges);
// the port is arbitrary.
const rmURL = "http://127.0.0.1:7411/.well-known/oauth-protected-resource/mcp"

// rm is {RM} as the catalogue sends it: a quoted-string.
const rm = `"` + rmURL + `"`

// Short constructors keep the expected values in the table readable.
func q(name, value string) Param { return Param{Name: name, Value: value, Quoted: true} }
func t(name, value string) Param { return Param{Name: name, Value: value} }
func ch(scheme string, ps ...Param) Challenge {
	return Challenge{Scheme: scheme, Params: ps}
}

var bigScope = strings.TrimSpace(strings.Repeat("files:read ", 8192/11))

type parseCase struct {
	name     string
	lines    []string
	want     []Challenge
	problems bool // whether Parse must report at least one problem
}

// parseCases holds the RFC examples and every challenge catalogue row that can be
// written as a Go string. It doubles as the fuzz seed corpus.
var parseCases = []parseCase{
	// RFC 9110 §11.6.1.
	{name: "RFC9110 11.6.1 / WWWA-17",
		lines: []string{`Newauth realm="apps", type=1, title="Login to \"apps\"", Basic realm="simple"`},
		want: []Challenge{
			ch("Newauth", q("realm", "apps"), t("type", "1"), q("title", `Login to "apps"`)),
			ch("Basic", q("realm", "simple")),
		}},
	// RFC 6750 §3.
	{name: "RFC6750 3 no token",
		lines: []string{`Bearer realm="example"`},
		want:  []Challenge{ch("Bearer", q("realm", "example"))}},
	{name: "RFC6750 3 expired",
		lines: []string{`Bearer realm="example", error="invalid_token", error_description="The access token expired"`},
		want: []Challenge{ch("Bearer", q("realm", "example"), q("error", "invalid_token"),
			q("error_description", "The access token expired"))}},
	// RFC 9449 §7.1, §7.2, §9.
	{name: "RFC9449 7.1 / WWWA-18",
		lines: []string{`DPoP algs="ES256 PS256"`},
		want:  []Challenge{ch("DPoP", q("algs", "ES256 PS256"))}},
	{name: "RFC9449 7.1 invalid key binding",
		lines: []string{`DPoP error="invalid_token", error_description="Invalid DPoP key binding", algs="ES256"`},
		want: []Challenge{ch("DPoP", q("error", "invalid_token"),
			q("error_description", "Invalid DPoP key binding"), q("algs", "ES256"))}},
	{name: "RFC9449 7.2 / WWWA-19",
		lines: []string{`Bearer, DPoP algs="ES256 PS256"`},
		want:  []Challenge{ch("Bearer"), ch("DPoP", q("algs", "ES256 PS256"))}},
	{name: "RFC9449 9 / WWWA-20",
		lines: []string{`DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof"`},
		want: []Challenge{ch("DPoP", q("error", "use_dpop_nonce"),
			q("error_description", "Resource server requires nonce in DPoP proof"))}},
	{name: "RFC9449 7.2 / WWWA-21",
		lines: []string{`Bearer error="invalid_request", error_description="Multiple methods used to include access token", DPoP algs="ES256 PS256", error="invalid_request", error_description="Multiple methods used to include access token"`},
		want: []Challenge{
			ch("Bearer", q("error", "invalid_request"), q("error_description", "Multiple methods used to include access token")),
			ch("DPoP", q("algs", "ES256 PS256"), q("error", "invalid_request"), q("error_description", "Multiple methods used to include access token")),
		}},

	// The challenge catalogue (mockserver.Challenges).
	{name: "WWWA-01",
		lines: []string{`Bearer resource_metadata=` + rm},
		want:  []Challenge{ch("Bearer", q("resource_metadata", rmURL))}},
	{name: "WWWA-02",
		lines: []string{`Bearer realm="mcp", scope="files:read files:write", resource_metadata=` + rm},
		want:  []Challenge{ch("Bearer", q("realm", "mcp"), q("scope", "files:read files:write"), q("resource_metadata", rmURL))}},
	{name: "WWWA-03 / WWWA-38",
		lines: []string{`Bearer realm="mcp", error="invalid_token", error_description="The access token expired", resource_metadata=` + rm},
		want: []Challenge{ch("Bearer", q("realm", "mcp"), q("error", "invalid_token"),
			q("error_description", "The access token expired"), q("resource_metadata", rmURL))}},
	{name: "WWWA-04",
		lines: []string{`Bearer error="insufficient_scope", scope="files:read files:write user:profile", resource_metadata=` + rm + `, error_description="Additional file write permission required"`},
		want: []Challenge{ch("Bearer", q("error", "insufficient_scope"), q("scope", "files:read files:write user:profile"),
			q("resource_metadata", rmURL), q("error_description", "Additional file write permission required"))}},
	{name: "WWWA-05",
		lines: []string{`Bearer error="invalid_request", error_description="Multiple methods used to include access token"`},
		want:  []Challenge{ch("Bearer", q("error", "invalid_request"), q("error_description", "Multiple methods used to include access token"))}},
	{name: "WWWA-06 bare scheme",
		lines: []string{`Bearer`},
		want:  []Challenge{ch("Bearer")}},
	{name: "WWWA-07 lower-case scheme",
		lines: []string{`bearer resource_metadata=` + rm},
		want:  []Challenge{ch("bearer", q("resource_metadata", rmURL))}},
	{name: "WWWA-08 upper-case names",
		lines: []string{`BEARER Resource_Metadata=` + rm + `, SCOPE="mcp"`},
		want:  []Challenge{ch("BEARER", q("Resource_Metadata", rmURL), q("SCOPE", "mcp"))}},
	{name: "WWWA-09 token values",
		lines: []string{`Bearer realm=mcp, error=invalid_token, scope=mcp`},
		want:  []Challenge{ch("Bearer", t("realm", "mcp"), t("error", "invalid_token"), t("scope", "mcp"))}},
	{name: "WWWA-10 quoted-pairs",
		lines: []string{`Bearer realm="a \"quoted\" realm", error_description="say \"hi\" \\ bye", resource_metadata=` + rm},
		want: []Challenge{ch("Bearer", q("realm", `a "quoted" realm`), q("error_description", `say "hi" \ bye`),
			q("resource_metadata", rmURL))}},
	{name: "WWWA-11 commas in quotes",
		lines: []string{`Bearer error="invalid_token", error_description="expired, revoked, or malformed", scope="a b", resource_metadata=` + rm},
		want: []Challenge{ch("Bearer", q("error", "invalid_token"), q("error_description", "expired, revoked, or malformed"),
			q("scope", "a b"), q("resource_metadata", rmURL))}},
	{name: "WWWA-12 challenge-like text in quotes",
		lines: []string{`Bearer error_description="Basic realm=x, Bearer scope=y", resource_metadata=` + rm},
		want:  []Challenge{ch("Bearer", q("error_description", "Basic realm=x, Bearer scope=y"), q("resource_metadata", rmURL))}},
	{name: "WWWA-13 two challenges on one line",
		lines: []string{`Basic realm="legacy", Bearer resource_metadata=` + rm + `, scope="mcp"`},
		want:  []Challenge{ch("Basic", q("realm", "legacy")), ch("Bearer", q("resource_metadata", rmURL), q("scope", "mcp"))}},
	{name: "WWWA-14 two lines",
		lines: []string{`Basic realm="legacy"`, `Bearer resource_metadata=` + rm + `, scope="mcp"`},
		want:  []Challenge{ch("Basic", q("realm", "legacy")), ch("Bearer", q("resource_metadata", rmURL), q("scope", "mcp"))}},
	{name: "WWWA-15 same scheme twice",
		lines: []string{`Bearer realm="a", Bearer realm="b", resource_metadata=` + rm},
		want:  []Challenge{ch("Bearer", q("realm", "a")), ch("Bearer", q("realm", "b"), q("resource_metadata", rmURL))}},
	{name: "WWWA-16 token68",
		lines: []string{`Negotiate YIIB9gYGKwYBBQUCoIIB6jCCAeag==`, `Bearer resource_metadata=` + rm},
		want:  []Challenge{{Scheme: "Negotiate", Token68: "YIIB9gYGKwYBBQUCoIIB6jCCAeag=="}, ch("Bearer", q("resource_metadata", rmURL))}},
	{name: "WWWA-22",
		lines: []string{`Bearer error="insufficient_user_authentication", error_description="A different authentication level is required", acr_values="myACR"`},
		want: []Challenge{ch("Bearer", q("error", "insufficient_user_authentication"),
			q("error_description", "A different authentication level is required"), q("acr_values", "myACR"))}},
	{name: "WWWA-23",
		lines: []string{`Bearer error="insufficient_user_authentication", error_description="More recent authentication is required", max_age="5", resource_metadata=` + rm},
		want: []Challenge{ch("Bearer", q("error", "insufficient_user_authentication"),
			q("error_description", "More recent authentication is required"), q("max_age", "5"), q("resource_metadata", rmURL))}},
	{name: "WWWA-24 unknown params",
		lines: []string{`Bearer resource_metadata=` + rm + `, x_vendor_hint="relogin", foo=bar, ext-param="1;2;3"`},
		want: []Challenge{ch("Bearer", q("resource_metadata", rmURL), q("x_vendor_hint", "relogin"), t("foo", "bar"),
			q("ext-param", "1;2;3"))}},
	{name: "WWWA-25 obs-text",
		lines: []string{`Bearer error="invalid_token", error_description="Jeton expiré — réessayez 🔑"`},
		want:  []Challenge{ch("Bearer", q("error", "invalid_token"), q("error_description", "Jeton expiré — réessayez 🔑"))}},
	{name: "WWWA-26 empty quoted-strings",
		lines: []string{`Bearer realm="", error_description="", resource_metadata=` + rm},
		want:  []Challenge{ch("Bearer", q("realm", ""), q("error_description", ""), q("resource_metadata", rmURL))}},
	{name: "WWWA-27 empty scope",
		lines: []string{`Bearer scope="", resource_metadata=` + rm},
		want:  []Challenge{ch("Bearer", q("scope", ""), q("resource_metadata", rmURL))}},
	{name: "WWWA-28 empty elements",
		lines: []string{`Bearer ,, resource_metadata=` + rm + ` ,`},
		want:  []Challenge{ch("Bearer", q("resource_metadata", rmURL))}},
	{name: "WWWA-29 BWS",
		lines: []string{`Bearer resource_metadata = ` + rm + ` ,  scope =  "mcp"`},
		want:  []Challenge{ch("Bearer", q("resource_metadata", rmURL), q("scope", "mcp"))}},
	{name: "WWWA-30 8 KiB scope",
		lines: []string{`Bearer resource_metadata=` + rm + `, scope="` + bigScope + `"`},
		want:  []Challenge{ch("Bearer", q("resource_metadata", rmURL), q("scope", bigScope))}},
	{name: "WWWA-31 cross-origin PRM",
		lines: []string{`Bearer resource_metadata="https://other.example/.well-known/oauth-protected-resource/tenant/a?x=1"`},
		want:  []Challenge{ch("Bearer", q("resource_metadata", "https://other.example/.well-known/oauth-protected-resource/tenant/a?x=1"))}},
	{name: "WWWA-32 custom PRM path",
		lines: []string{`Bearer resource_metadata="http://127.0.0.1:7411/custom/prm-xyz"`},
		want:  []Challenge{ch("Bearer", q("resource_metadata", "http://127.0.0.1:7411/custom/prm-xyz"))}},
	{name: "WWWA-33 obs-fold",
		lines:    []string{"Bearer realm=\"mcp\",\r\n  resource_metadata=" + rm},
		want:     []Challenge{ch("Bearer", q("realm", "mcp"), q("resource_metadata", rmURL))},
		problems: true},
	{name: "WWWA-34",
		lines: []string{`Bearer scope="files:write"`},
		want:  []Challenge{ch("Bearer", q("scope", "files:write"))}},
	{name: "WWWA-35 error_uri",
		lines: []string{`Bearer error="invalid_token", error_uri="https://example.com/errors/token%20expired?lang=en", resource_metadata=` + rm},
		want: []Challenge{ch("Bearer", q("error", "invalid_token"), q("error_uri", "https://example.com/errors/token%20expired?lang=en"),
			q("resource_metadata", rmURL))}},
	{name: "WWWA-36 duplicate realm",
		lines:    []string{`Bearer realm="mcp", realm="dup", resource_metadata=` + rm},
		want:     []Challenge{ch("Bearer", q("realm", "mcp"), q("realm", "dup"), q("resource_metadata", rmURL))},
		problems: true},
	{name: "WWWA-37 no header",
		lines: nil,
		want:  nil},

	// Grammar corners that decide where one challenge ends.
	{name: "token param after quoted param stays in challenge",
		lines: []string{`Bearer realm="a", error=x`},
		want:  []Challenge{ch("Bearer", q("realm", "a"), t("error", "x"))}},
	{name: "second scheme starts a challenge",
		lines: []string{`Basic realm="x", Bearer scope="y"`},
		want:  []Challenge{ch("Basic", q("realm", "x")), ch("Bearer", q("scope", "y"))}},
	{name: "line boundary acts as a comma inside one challenge",
		lines: []string{`Bearer realm="a"`, `scope="b"`},
		want:  []Challenge{ch("Bearer", q("realm", "a"), q("scope", "b"))}},
	{name: "empty elements everywhere",
		lines: []string{` , Bearer ,, a=b ,`, ``, `,`},
		want:  []Challenge{ch("Bearer", t("a", "b"))}},
	{name: "token68 followed by a challenge",
		lines: []string{`Negotiate abc+/def=, Basic realm="x"`},
		want:  []Challenge{{Scheme: "Negotiate", Token68: "abc+/def="}, ch("Basic", q("realm", "x"))}},
	{name: "token68 padding before BWS equals is a parameter",
		lines: []string{`Foo a= b`},
		want:  []Challenge{ch("Foo", t("a", "b"))}},
	{name: "bare word after params is a new challenge",
		lines: []string{`Bearer realm="a", Negotiate`},
		want:  []Challenge{ch("Bearer", q("realm", "a")), ch("Negotiate")}},
	{name: "tab as whitespace",
		lines: []string{"\tBearer\trealm\t=\t\"a\"\t"},
		want:  []Challenge{ch("Bearer", q("realm", "a"))}},

	// Malformed input: recovered, with problems.
	{name: "unterminated quoted-string",
		lines:    []string{`Bearer realm="abc`},
		want:     []Challenge{ch("Bearer", q("realm", "abc"))},
		problems: true},
	{name: "unterminated quote swallows the next line as the combined value does",
		lines:    []string{`Bearer realm="a`, `b"`},
		want:     []Challenge{ch("Bearer", q("realm", "a, b"))},
		problems: true},
	{name: "param before any scheme",
		lines:    []string{`realm="x", Bearer a=b`},
		want:     []Challenge{ch("", q("realm", "x")), ch("Bearer", t("a", "b"))},
		problems: true},
	{name: "missing comma skips to the next comma",
		lines:    []string{`Bearer realm="a" junk "x,y", scope="s"`},
		want:     []Challenge{ch("Bearer", q("realm", "a"), q("scope", "s"))},
		problems: true},
	{name: "unquoted URL kept whole",
		lines:    []string{`Bearer resource_metadata=` + rmURL},
		want:     []Challenge{ch("Bearer", t("resource_metadata", rmURL))},
		problems: true},
	{name: "token68 with padding then a parameter",
		lines:    []string{`Bearer a=, b="c"`},
		want:     []Challenge{{Scheme: "Bearer", Token68: "a=", Params: []Param{q("b", "c")}}},
		problems: true},
	{name: "param without value",
		lines:    []string{`Bearer x=y, a=, b="c"`},
		want:     []Challenge{ch("Bearer", t("x", "y"), t("a", ""), q("b", "c"))},
		problems: true},
	{name: "token68 and params",
		lines:    []string{`Negotiate abc, realm="x"`},
		want:     []Challenge{{Scheme: "Negotiate", Token68: "abc", Params: []Param{q("realm", "x")}}},
		problems: true},
	{name: "scheme then garbage",
		lines:    []string{`Bearer @@, Basic`},
		want:     []Challenge{ch("Bearer"), ch("Basic")},
		problems: true},
	{name: "lone backslash",
		lines:    []string{`Bearer realm="a\`},
		want:     []Challenge{ch("Bearer", q("realm", "a"))},
		problems: true},
	{name: "control character kept in quoted-string",
		lines:    []string{"Bearer realm=\"a\x00b\""},
		want:     []Challenge{ch("Bearer", q("realm", "a\x00b"))},
		problems: true},
	{name: "invalid UTF-8 kept as-is",
		lines: []string{"Bearer realm=\"\xff\xfe\""},
		want:  []Challenge{ch("Bearer", q("realm", "\xff\xfe"))}},
}

func TestParse(t *testing.T) {
	for _, tc := range parseCases {
		t.Run(tc.name, func(t *testing.T) {
			got, problems := Parse(tc.lines...)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Parse(%q)\n got  %#v\n want %#v", tc.lines, got, tc.want)
			}
			if tc.problems && len(problems) == 0 {
				t.Errorf("Parse(%q) reported no problems, want some", tc.lines)
			}
			if !tc.problems && len(problems) > 0 {
				t.Errorf("Parse(%q) reported problems %q, want none", tc.lines, problems)
			}
		})
	}
}

// TestParseProblemsNamePosition checks that problems point at the line and
// column the caller sent, which is what makes them usable in a report.
func TestParseProblemsNamePosition(t *testing.T) {
	for _, tc := range []struct {
		lines []string
		want  string
	}{
		{[]string{`Bearer realm="a" junk`}, `column 18: unexpected "j" after realm`},
		{[]string{`Basic realm="x"`, `  Bearer a=b c`}, `line 2, column 14: unexpected "c" after a`},
		{[]string{`Bearer realm="mcp", realm="dup"`}, `column 21: parameter realm occurs more than once in challenge 1 (Bearer)`},
		{[]string{`realm=x`}, `column 1: parameter realm appears before any auth-scheme`},
		{[]string{`Bearer error_description="expired`, `revoked"`}, `line 1: ends inside a quoted-string`},
		{[]string{"Bearer a=\"x\",\r\n b=c"}, `contains CR or LF`},
	} {
		_, problems := Parse(tc.lines...)
		found := false
		for _, p := range problems {
			if strings.Contains(p, tc.want) {
				found = true
			}
		}
		if !found {
			t.Errorf("Parse(%q) problems %q, want one containing %q", tc.lines, problems, tc.want)
		}
	}
}

func TestGetAndFind(t *testing.T) {
	chs, _ := Parse(`Basic realm="legacy", BEARER Resource_Metadata=` + rm + `, realm="one", realm="two"`)
	b, ok := Find(chs, "bearer")
	if !ok || b.Scheme != "BEARER" {
		t.Fatalf("Find(bearer) = %#v, %v", b, ok)
	}
	if v, ok := b.Get("resource_metadata"); !ok || v != rmURL {
		t.Errorf("Get(resource_metadata) = %q, %v; want %q", v, ok, rmURL)
	}
	if v, ok := b.Get("REALM"); !ok || v != "one" {
		t.Errorf("Get(REALM) = %q, %v; want first occurrence \"one\"", v, ok)
	}
	if _, ok := b.Get("scope"); ok {
		t.Errorf("Get(scope) found a parameter that was not sent")
	}
	if _, ok := Find(chs, "DPoP"); ok {
		t.Errorf("Find(DPoP) found a challenge that was not sent")
	}
}

func TestFormat(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want string
	}{
		{[]string{`Newauth realm="apps", type=1, title="Login to \"apps\"", Basic realm="simple"`},
			`Newauth realm="apps", type=1, title="Login to \"apps\"", Basic realm="simple"`},
		{[]string{`Bearer ,, resource_metadata = ` + rm + ` ,`}, `Bearer resource_metadata=` + rm},
		{[]string{`Negotiate abc==`, `Bearer`}, `Negotiate abc==, Bearer`},
		// Values that are not tokens get quoted even when sent bare, and
		// backslashes and quotes are escaped again.
		{[]string{`Bearer resource_metadata=` + rmURL + `, a=`}, `Bearer resource_metadata=` + rm + `, a=""`},
		{[]string{`Bearer d="a\\b\"c"`}, `Bearer d="a\\b\"c"`},
		{[]string{`realm=x, Bearer`}, `realm=x, Bearer`},
		{nil, ``},
	} {
		chs, _ := Parse(tc.in...)
		if got := Format(chs); got != tc.want {
			t.Errorf("Format(Parse(%q)) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
