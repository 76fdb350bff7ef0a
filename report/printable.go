package report

import (
	"fmt"
	"reflect"
	"strings"
	"unicode/utf8"
)

// Printable returns s with every byte a reader's terminal, Markdown renderer
// or browser would act on or hide shown as an escape instead: C0 controls
// other than newline and tab (NUL as `\x00`, CR as `\x0d`, ESC as `\x1b`),
// DEL, C1 controls and invalid UTF-8 as `\xNN`, and the Unicode bidi
// controls (which can reorder what a reader sees) as `\u202e` and the like.
//
// It is the one escaping function of every human-readable output (console,
// summary.md, report.html, junit.xml): header values and bodies come from
// the proxy under test, and a NUL or an ESC in them is evidence to show, not
// bytes to pass on. results.json and HAR files keep the exact bytes (JSON
// escapes them itself).
func Printable(s string) string {
	if printableAlready(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\n' || r == '\t':
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			fmt.Fprintf(&b, `\x%02x`, r)
		case printableBidi(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// printableAlready is the fast path: most strings hold nothing to escape.
func printableAlready(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 {
			// Non-ASCII: decide rune by rune.
			for _, r := range s[i:] {
				if r == utf8.RuneError || (r < 0x20 && r != '\n' && r != '\t') || r == 0x7f || (r >= 0x80 && r < 0xa0) || printableBidi(r) {
					return false
				}
			}
			return utf8.ValidString(s[i:])
		}
		if (c < 0x20 && c != '\n' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// printableBidi reports the explicit directional formatting characters
// (embeddings, overrides, isolates, marks).
func printableBidi(r rune) bool {
	return (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) || r == 0x200e || r == 0x200f || r == 0x061c
}

// PrintableOneLine is Printable for a context that must stay on one line (a
// console line, a table cell): newline and tab are escaped too.
func PrintableOneLine(s string) string {
	s = Printable(s)
	if !strings.ContainsAny(s, "\n\t") {
		return s
	}
	return strings.NewReplacer("\n", `\n`, "\t", `\t`).Replace(s)
}

// printableRun returns a deep copy of run in which every string has passed
// through Printable, so a writer cannot forget a field. (A copy through JSON
// would not do: encoding/json turns invalid UTF-8 into U+FFFD first.)
func printableRun(run *Run) *Run {
	if run == nil {
		return nil
	}
	cp := *run
	printableWalk(reflect.ValueOf(&cp).Elem())
	return &cp
}

// printableWalk escapes the strings of v, which is settable and already a
// shallow copy: slices and pointers below it are copied before they are
// changed, so the original run is left as it was.
func printableWalk(v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		if s := v.String(); !printableAlready(s) {
			v.SetString(Printable(s))
		}
	case reflect.Pointer:
		if !v.IsNil() {
			n := reflect.New(v.Type().Elem())
			n.Elem().Set(v.Elem())
			printableWalk(n.Elem())
			v.Set(n)
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				printableWalk(v.Field(i))
			}
		}
	case reflect.Slice:
		if !v.IsNil() {
			n := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
			reflect.Copy(n, v)
			for i := 0; i < n.Len(); i++ {
				printableWalk(n.Index(i))
			}
			v.Set(n)
		}
	}
	// Maps (Counts, keyed by our own outcome words) are shared unchanged.
}
