package wwwauth

import (
	"strings"
	"testing"
)

// The fuzz targets take one string and split it on "\n" into field lines,
// so the fuzzer explores multi-line headers too. A line can still contain
// CR, which is enough to exercise the obs-fold handling.
func fuzzLines(s string) []string { return strings.Split(s, "\n") }

func addSeeds(f *testing.F) {
	for _, tc := range parseCases {
		f.Add(strings.Join(tc.lines, "\n"))
	}
}

// sameChallenges compares parse results exactly, except that a value the
// sender left unquoted although it is not a token (an unquoted URL, an
// empty value) comes back quoted: Format has to quote it to produce a
// valid field value.
func sameChallenges(a, b []Challenge) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Scheme != b[i].Scheme || a[i].Token68 != b[i].Token68 || len(a[i].Params) != len(b[i].Params) {
			return false
		}
		for j, p := range a[i].Params {
			r := b[i].Params[j]
			if p.Name != r.Name || p.Value != r.Value {
				return false
			}
			if p.Quoted != r.Quoted && (p.Quoted || isToken(p.Value)) {
				return false
			}
		}
	}
	return true
}

// semantic reports whether a Diff message describes a change that B2
// rejects (as opposed to line structure or cosmetics, which B2 accepts).
func semantic(msg string) bool {
	for _, s := range []string{" lost from ", "` dropped", " value changed", " added to ", " added as the ",
		"challenge order changed", "token68 of ", "header absent", "header present"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

func FuzzParse(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, s string) {
		lines := fuzzLines(s)
		chs, _ := Parse(lines...)
		canon := Format(chs)
		again, _ := Parse(canon)
		if !sameChallenges(chs, again) {
			t.Fatalf("parse → Format → parse is not stable for %q:\n first  %#v\n format %q\n second %#v", lines, chs, canon, again)
		}
		if c2 := Format(again); c2 != canon {
			t.Fatalf("Format is not idempotent: %q then %q", canon, c2)
		}
		if d := Diff(lines, lines); len(d) != 0 {
			t.Fatalf("Diff(x, x) = %q for %q", d, lines)
		}
		for _, l := range []Level{B0, B1, B2} {
			if !Equivalent(l, lines, lines) {
				t.Fatalf("%q is not %v-equivalent to itself", lines, l)
			}
		}
		if !Equivalent(B2, lines, []string{canon}) {
			t.Fatalf("canonical form %q does not deliver %q at B2", canon, lines)
		}
		for _, m := range Diff(lines, []string{canon}) {
			if semantic(m) {
				t.Fatalf("Diff(%q, canonical %q) reports a B2 change although B2 holds: %q", lines, canon, m)
			}
		}
	})
}

// FuzzCompare checks that the three levels nest (B0 ⇒ B1 ⇒ B2) and that
// Diff agrees with Equivalent: silent exactly at B0, naming a semantic
// change exactly when B2 fails.
func FuzzCompare(f *testing.F) {
	for _, tc := range parseCases {
		f.Add(strings.Join(tc.lines, "\n"), strings.ToLower(strings.Join(tc.lines, ", ")))
	}
	f.Add(strings.Join(wwwa11, "\n"), strings.Join(rebuildFromPieces(wwwa11), "\n"))
	f.Add(strings.Join(wwwa14, "\n"), wwwa14[1]+"\n"+wwwa14[0])
	f.Add(strings.Join(wwwa15, "\n"), `Bearer realm="b", resource_metadata=`+rm)
	f.Fuzz(func(t *testing.T, a, b string) {
		sent, got := fuzzLines(a), fuzzLines(b)
		e0, e1, e2 := Equivalent(B0, sent, got), Equivalent(B1, sent, got), Equivalent(B2, sent, got)
		if (e0 && !e1) || (e1 && !e2) {
			t.Fatalf("levels do not nest for %q vs %q: B0=%v B1=%v B2=%v", sent, got, e0, e1, e2)
		}
		d := Diff(sent, got)
		if e0 != (len(d) == 0) {
			t.Fatalf("B0=%v but Diff(%q, %q) = %q", e0, sent, got, d)
		}
		sem := false
		for _, m := range d {
			sem = sem || semantic(m)
		}
		if sem == e2 {
			t.Fatalf("B2=%v but Diff(%q, %q) = %q", e2, sent, got, d)
		}
	})
}
