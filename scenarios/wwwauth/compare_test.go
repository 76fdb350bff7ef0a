package wwwauth

import (
	"slices"
	"strings"
	"testing"
)

// Catalogue rows used by the proxy simulations below (mockserver.Challenges).
var (
	wwwa02 = []string{`Bearer realm="mcp", scope="files:read files:write", resource_metadata=` + rm}
	wwwa03 = []string{`Bearer realm="mcp", error="invalid_token", error_description="The access token expired", resource_metadata=` + rm}
	wwwa04 = []string{`Bearer error="insufficient_scope", scope="files:read files:write user:profile", resource_metadata=` + rm + `, error_description="Additional file write permission required"`}
	wwwa07 = []string{`bearer resource_metadata=` + rm}
	wwwa08 = []string{`BEARER Resource_Metadata=` + rm + `, SCOPE="mcp"`}
	wwwa09 = []string{`Bearer realm=mcp, error=invalid_token, scope=mcp`}
	wwwa11 = []string{`Bearer error="invalid_token", error_description="expired, revoked, or malformed", scope="a b", resource_metadata=` + rm}
	wwwa13 = []string{`Basic realm="legacy", Bearer resource_metadata=` + rm + `, scope="mcp"`}
	wwwa14 = []string{`Basic realm="legacy"`, `Bearer resource_metadata=` + rm + `, scope="mcp"`}
	wwwa15 = []string{`Bearer realm="a", Bearer realm="b", resource_metadata=` + rm}
	wwwa16 = []string{`Negotiate YIIB9gYGKwYBBQUCoIIB6jCCAeag==`, `Bearer resource_metadata=` + rm}
	wwwa24 = []string{`Bearer resource_metadata=` + rm + `, x_vendor_hint="relogin", foo=bar, ext-param="1;2;3"`}
	wwwa28 = []string{`Bearer ,, resource_metadata=` + rm + ` ,`}
	wwwa36 = []string{`Bearer realm="mcp", realm="dup", resource_metadata=` + rm}
)

// onlyResourceMetadata imitates mcp-proxy 5.10.0 (punkpeye/mcp-proxy#44):
// it fishes resource_metadata out of the header and rebuilds a Bearer
// challenge that carries nothing else.
func onlyResourceMetadata(lines []string) []string {
	v := strings.Join(lines, ", ")
	_, after, ok := strings.Cut(v, `resource_metadata="`)
	if !ok {
		return nil
	}
	url, _, _ := strings.Cut(after, `"`)
	return []string{`Bearer resource_metadata="` + url + `"`}
}

// splitOnCommas imitates a proxy that splits the value on every comma,
// quotes or not, and emits each piece as its own field line.
func splitOnCommas(lines []string) []string {
	var out []string
	for _, piece := range strings.Split(strings.Join(lines, ", "), ",") {
		out = append(out, strings.TrimSpace(piece))
	}
	return out
}

// rebuildFromPieces imitates a proxy that splits on every comma, keeps the
// scheme and every piece that looks like name=value, and joins them again:
// pieces of a quoted value that contain no "=" silently disappear.
func rebuildFromPieces(lines []string) []string {
	pieces := strings.Split(strings.Join(lines, ", "), ",")
	kept := []string{strings.TrimSpace(pieces[0])}
	for _, piece := range pieces[1:] {
		if strings.Contains(piece, "=") {
			kept = append(kept, strings.TrimSpace(piece))
		}
	}
	return []string{strings.Join(kept, ", ")}
}

func TestLevelString(t *testing.T) {
	for l, want := range map[Level]string{B0: "B0 byte-exact", B1: "B1 field-equivalent", B2: "B2 parsed-equivalent", Level(7): "Level(7)"} {
		if got := l.String(); got != want {
			t.Errorf("Level(%d).String() = %q, want %q", int(l), got, want)
		}
	}
}

func TestEquivalent(t *testing.T) {
	for _, tc := range []struct {
		name       string
		sent, got  []string
		b0, b1, b2 bool
	}{
		{"identical", wwwa03, wwwa03, true, true, true},
		{"both absent", nil, nil, true, true, true},
		{"absent", wwwa03, nil, false, false, false},
		{"added although none sent", nil, []string{`Bearer`}, false, false, false},
		{"empty line is not absence", nil, []string{""}, false, false, false},
		{"lines combined", wwwa14, []string{strings.Join(wwwa14, ", ")}, false, true, true},
		{"line split at challenge boundary", wwwa13, []string{`Basic realm="legacy"`, `Bearer resource_metadata=` + rm + `, scope="mcp"`}, false, true, true},
		{"OWS at line ends", []string{`Bearer a=b`}, []string{" Bearer a=b\t"}, false, true, true},
		{"OWS inside the line", []string{`Bearer a=b, c=d`}, []string{`Bearer a=b,c=d`}, false, false, true},
		{"line order swapped", wwwa14, []string{wwwa14[1], wwwa14[0]}, false, false, false},
		{"split inside quotes keeps combined value", wwwa11, splitOnCommas(wwwa11), false, true, true},
		{"rebuilt from comma pieces", wwwa11, rebuildFromPieces(wwwa11), false, false, false},
		{"only resource_metadata", wwwa03, onlyResourceMetadata(wwwa03), false, false, false},
		{"only first challenge", wwwa13, []string{`Basic realm="legacy"`}, false, false, false},
		{"param names lower-cased", wwwa08, []string{`BEARER resource_metadata=` + rm + `, scope="mcp"`}, false, false, true},
		{"scheme case normalised", wwwa07, []string{`Bearer resource_metadata=` + rm}, false, false, true},
		{"token re-quoted", wwwa09, []string{`Bearer realm="mcp", error="invalid_token", scope="mcp"`}, false, false, true},
		{"params reordered", wwwa02, []string{`Bearer scope="files:read files:write", realm="mcp", resource_metadata=` + rm}, false, false, true},
		{"empty elements removed", wwwa28, []string{`Bearer resource_metadata=` + rm}, false, false, true},
		{"escape removed", []string{`Bearer realm="a\bc"`}, []string{`Bearer realm="abc"`}, false, false, true},
		{"value case changed", wwwa03, []string{strings.ToLower(wwwa03[0])}, false, false, false},
		{"duplicate removed", wwwa36, []string{`Bearer realm="mcp", resource_metadata=` + rm}, false, false, false},
		{"duplicates swapped", wwwa36, []string{`Bearer realm="dup", realm="mcp", resource_metadata=` + rm}, false, false, false},
		{"token68 padding dropped", wwwa16, []string{`Negotiate YIIB9gYGKwYBBQUCoIIB6jCCAeag`, wwwa16[1]}, false, false, false},
		{"challenge order swapped on one line", wwwa13, []string{`Bearer resource_metadata=` + rm + `, scope="mcp", Basic realm="legacy"`}, false, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, c := range []struct {
				l    Level
				want bool
			}{{B0, tc.b0}, {B1, tc.b1}, {B2, tc.b2}} {
				if got := Equivalent(c.l, tc.sent, tc.got); got != c.want {
					t.Errorf("Equivalent(%v, %q, %q) = %v, want %v", c.l, tc.sent, tc.got, got, c.want)
				}
			}
		})
	}
	if Equivalent(Level(9), wwwa03, wwwa03) {
		t.Errorf("an unknown level must never be satisfied")
	}
}

func TestDiff(t *testing.T) {
	const b1 = "challenge 1 (Bearer)"
	for _, tc := range []struct {
		name      string
		sent, got []string
		want      []string
	}{
		{"identical", wwwa03, wwwa03, nil},
		{"absent", wwwa03, nil, []string{"header absent (sent 1 line)"}},
		{"absent, two lines", wwwa14, []string{}, []string{"header absent (sent 2 lines)"}},
		{"present although none sent", nil, []string{`Bearer`}, []string{"header present although none was sent (got 1 line)"}},

		// mcp-proxy 5.10.0 keeps only resource_metadata.
		{"mcp-proxy 5.10.0 on WWWA-02", wwwa02, onlyResourceMetadata(wwwa02), []string{
			"parameter `realm` lost from " + b1,
			"parameter `scope` lost from " + b1,
		}},
		{"mcp-proxy 5.10.0 on WWWA-03", wwwa03, onlyResourceMetadata(wwwa03), []string{
			"parameter `realm` lost from " + b1,
			"parameter `error` lost from " + b1,
			"parameter `error_description` lost from " + b1,
		}},
		{"mcp-proxy 5.10.0 on WWWA-04", wwwa04, onlyResourceMetadata(wwwa04), []string{
			"parameter `error` lost from " + b1,
			"parameter `scope` lost from " + b1,
			"parameter `error_description` lost from " + b1,
		}},
		{"mcp-proxy 5.10.0 on WWWA-13 also drops Basic", wwwa13, onlyResourceMetadata(wwwa13), []string{
			"first challenge `Basic` dropped (with parameters realm)",
			"parameter `scope` lost from challenge 2 (Bearer)",
		}},

		// Splitting on commas inside quotes.
		{"split into lines on every comma", wwwa11, splitOnCommas(wwwa11), []string{
			"a line was split into 6 (allowed at B1)",
			"line 2 of 6 ends inside a quoted-string: a comma inside quotes was treated as a separator, so the lines cannot be parsed one by one",
			"line 4 of 6 ends inside a quoted-string: a comma inside quotes was treated as a separator, so the lines cannot be parsed one by one",
		}},
		{"rebuilt from comma pieces", wwwa11, rebuildFromPieces(wwwa11), []string{
			"parameter `scope` lost from " + b1,
			"parameter `resource_metadata` lost from " + b1,
			"`error_description` value changed from \"expired, revoked, or malformed\" to \"expired, scope=\" in " + b1,
		}},

		// Keeping only the first challenge.
		{"first challenge only, one line", wwwa13, []string{`Basic realm="legacy"`}, []string{
			"second challenge `Bearer` dropped (with parameters resource_metadata, scope)",
		}},
		{"first line only", wwwa14, wwwa14[:1], []string{
			"second challenge `Bearer` dropped (with parameters resource_metadata, scope)",
			"line count changed from 2 to 1",
		}},
		{"first Bearer of two dropped", wwwa15, []string{`Bearer realm="b", resource_metadata=` + rm}, []string{
			"first challenge `Bearer` dropped (with parameters realm)",
		}},

		// Lower-casing.
		{"param names lower-cased", wwwa08, []string{`BEARER resource_metadata=` + rm + `, scope="mcp"`}, []string{
			"case of parameter name `Resource_Metadata` changed to `resource_metadata` in challenge 1 (BEARER)",
			"case of parameter name `SCOPE` changed to `scope` in challenge 1 (BEARER)",
		}},
		{"whole value lower-cased", wwwa03, []string{strings.ToLower(wwwa03[0])}, []string{
			"`error_description` value changed from \"The access token expired\" to \"the access token expired\" in " + b1,
			"scheme case changed from `Bearer` to `bearer` in " + b1,
		}},
		{"scheme case normalised", wwwa07, []string{`Bearer resource_metadata=` + rm}, []string{
			"scheme case changed from `bearer` to `Bearer` in challenge 1 (bearer)",
		}},

		// Rebuilt from an allow-list (realm, scope, error, resource_metadata).
		{"allow-list drops unknown params", wwwa24, []string{`Bearer resource_metadata=` + rm}, []string{
			"parameter `x_vendor_hint` lost from " + b1,
			"parameter `foo` lost from " + b1,
			"parameter `ext-param` lost from " + b1,
		}},
		{"allow-list drops error_description", wwwa03, []string{`Bearer realm="mcp", error="invalid_token", resource_metadata=` + rm}, []string{
			"parameter `error_description` lost from " + b1,
		}},
		{"allow-list re-quotes and reorders", wwwa09, []string{`Bearer realm="mcp", scope="mcp", error="invalid_token"`}, []string{
			"quoting of `realm` changed (token → quoted-string) in " + b1,
			"quoting of `error` changed (token → quoted-string) in " + b1,
			"quoting of `scope` changed (token → quoted-string) in " + b1,
			"parameter order changed in " + b1 + ": sent realm, error, scope; got realm, scope, error",
		}},

		// Other single faults.
		{"value shortened", wwwa03, []string{`Bearer realm="mcp", error="invalid_token", error_description="expired", resource_metadata=` + rm}, []string{
			"`error_description` value changed from \"The access token expired\" to \"expired\" in " + b1,
		}},
		{"param added", []string{`Bearer resource_metadata=` + rm}, []string{`Bearer resource_metadata=` + rm + `, x_vendor_hint="relogin"`}, []string{
			"parameter `x_vendor_hint` added to " + b1,
		}},
		{"challenge added", []string{`Bearer resource_metadata=` + rm}, []string{`Bearer resource_metadata=` + rm + `, Basic realm="proxy"`}, []string{
			"challenge `Basic` added as the second challenge",
		}},
		{"duplicate removed", wwwa36, []string{`Bearer realm="mcp", resource_metadata=` + rm}, []string{
			"duplicate parameter `realm` (occurrence 2) lost from " + b1,
		}},
		{"token68 padding dropped", wwwa16, []string{`Negotiate YIIB9gYGKwYBBQUCoIIB6jCCAeag`, wwwa16[1]}, []string{
			"token68 of challenge 1 (Negotiate) changed from \"YIIB9gYGKwYBBQUCoIIB6jCCAeag==\" to \"YIIB9gYGKwYBBQUCoIIB6jCCAeag\"",
		}},
		{"line order swapped", wwwa14, []string{wwwa14[1], wwwa14[0]}, []string{
			"challenge order changed: sent Basic, Bearer; got Bearer, Basic",
			"header line order changed",
		}},
		{"lines combined", wwwa14, []string{strings.Join(wwwa14, ", ")}, []string{
			"2 lines combined into 1 (allowed at B1)",
		}},
		{"line split", wwwa13, wwwa14, []string{
			"a line was split into 2 (allowed at B1)",
		}},
		{"OWS at line end", []string{`Bearer a=b`}, []string{`Bearer a=b `}, []string{
			"whitespace at the ends of line 1 changed (allowed at B1)",
		}},
		{"empty elements removed", wwwa28, []string{`Bearer resource_metadata=` + rm}, []string{
			"only whitespace, empty list elements or quoted-pair escaping changed (allowed at B2): first difference at byte 8: " +
				`sent "Bearer ,, resource_metadata=\"http://127.0.0.1:7"…; got "Bearer resource_metadata=\"http://127.0.0.1:7411"…`,
		}},
		{"truncated long scope", []string{`Bearer scope="` + bigScope + `"`}, []string{`Bearer scope="` + bigScope[:4096]}, []string{
			"`scope` value changed in " + b1 + ": sent 8183 bytes, got 4096 bytes, first difference at byte 4097 (sent \"s:read files:read files:read files:read files:read files:rea\"… (4087 bytes), got \"\")",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Diff(tc.sent, tc.got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("Diff(%q, %q):\n got  %q\n want %q", tc.sent, tc.got, got, tc.want)
			}
		})
	}
}

// TestCatalogueSelfConsistent checks every parse case against itself: it
// must be equivalent at every level, Diff must be silent, and the
// canonical serialisation must still deliver it at B2.
func TestCatalogueSelfConsistent(t *testing.T) {
	for _, tc := range parseCases {
		for _, l := range []Level{B0, B1, B2} {
			if !Equivalent(l, tc.lines, tc.lines) {
				t.Errorf("%s: not %v-equivalent to itself", tc.name, l)
			}
		}
		if d := Diff(tc.lines, tc.lines); d != nil {
			t.Errorf("%s: Diff with itself = %q", tc.name, d)
		}
		if len(tc.lines) == 0 {
			continue
		}
		chs, _ := Parse(tc.lines...)
		canon := []string{Format(chs)}
		if !Equivalent(B2, tc.lines, canon) {
			t.Errorf("%s: canonical form %q not B2-equivalent", tc.name, canon[0])
		}
	}
}
