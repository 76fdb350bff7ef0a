// Package wwwauth parses and compares WWW-Authenticate field values
// (RFC 9110 §11). The harness uses it to judge whether a proxy forwarded
// the challenges of a mock upstream faithfully and to say precisely what
// was lost or rewritten when it did not.
//
// The parser is hand-written because neither net/http nor the rest of the
// standard library parses challenges, and because the harness needs a
// lenient parser: the catalogue sends malformed values on purpose and a
// proxy under test may mangle them further, so parsing must never fail,
// only report problems.
package wwwauth

import (
	"fmt"
	"strings"
)

// Param is one auth-param of a challenge.
type Param struct {
	Name string
	// Value is the unescaped value: quoted-pairs of a quoted-string are
	// resolved, so `"a \"b\""` yields `a "b"`.
	Value string
	// Quoted records whether the value was sent as a quoted-string rather
	// than a token. RFC 9110 §11.2 makes the two forms equivalent, but B1
	// delivery requires the form to be kept, so the parser remembers it.
	Quoted bool
}

// Challenge is one challenge: an auth-scheme followed by either a token68
// or a list of auth-params. A Challenge with an empty Scheme holds
// parameters that appeared before any scheme (a malformed value); it is
// kept rather than dropped so that comparing two malformed values still
// notices when those parameters change.
type Challenge struct {
	Scheme  string
	Token68 string
	Params  []Param
}

// Get returns the value of the first parameter whose name matches name
// case-insensitively (RFC 9110 §11.2). A sender must not repeat a name,
// so the first occurrence is what a typical recipient would use.
func (c Challenge) Get(name string) (string, bool) {
	for _, p := range c.Params {
		if strings.EqualFold(p.Name, name) {
			return p.Value, true
		}
	}
	return "", false
}

// Find returns the first challenge whose scheme matches scheme
// case-insensitively. Clients must find a Bearer challenge even when it is
// not the first one (AUTH-HDR-004), so the harness needs this lookup often.
func Find(chs []Challenge, scheme string) (Challenge, bool) {
	for _, c := range chs {
		if strings.EqualFold(c.Scheme, scheme) {
			return c, true
		}
	}
	return Challenge{}, false
}

// Parse parses one or more field-line values, each element being the value
// of one WWW-Authenticate field line, in order.
//
// The lines are parsed as the single combined field value that RFC 9110
// §5.3 defines (lines joined with ", "), so a line boundary acts like a
// comma and a parameter on line 2 can belong to a challenge that started on
// line 1. Parsing the combined value, rather than each line on its own,
// keeps Parse consistent with level B1: two sets of lines with the same
// combined value always parse the same.
//
// Parse is lenient. It never panics and always returns what it could
// recover; each deviation from the RFC 9110 grammar is reported as a
// human-readable problem. Recovery skips to the next top-level comma.
func Parse(lines ...string) (chs []Challenge, problems []string) {
	p := newParser(lines)
	p.run()
	return p.chs, p.problems
}

// Format serialises challenges as one canonical field value: challenges
// separated by ", ", the scheme followed by a single space, parameters
// separated by ", ", no whitespace around "=". A value is written as a
// quoted-string when it was quoted or when it is not a valid token, so the
// output always parses back to the same challenges.
func Format(chs []Challenge) string {
	var b strings.Builder
	for i, c := range chs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(c.Scheme)
		sep := " "
		if c.Scheme == "" {
			sep = ""
		}
		if c.Token68 != "" {
			b.WriteString(sep)
			b.WriteString(c.Token68)
			sep = ", "
		}
		for _, prm := range c.Params {
			b.WriteString(sep)
			sep = ", "
			b.WriteString(prm.Name)
			b.WriteByte('=')
			if prm.Quoted || !isToken(prm.Value) {
				writeQuoted(&b, prm.Value)
			} else {
				b.WriteString(prm.Value)
			}
		}
	}
	return b.String()
}

func writeQuoted(b *strings.Builder, v string) {
	b.WriteByte('"')
	for i := 0; i < len(v); i++ {
		if v[i] == '"' || v[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(v[i])
	}
	b.WriteByte('"')
}

// isTchar reports whether c may appear in a token (RFC 9110 §5.6.2).
func isTchar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// isToken68Char reports whether c may appear in the body of a token68
// (RFC 9110 §11.2), before its trailing "=" padding.
func isToken68Char(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-._~+/", c) >= 0
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isTchar(s[i]) {
			return false
		}
	}
	return true
}

func isCTL(c byte) bool { return c < 0x20 || c == 0x7f }

// lineSpan maps a region of the combined value back to the line it came
// from, so problems can name the line and column the user sent.
type lineSpan struct {
	start, end int // [start, end) in the combined value
	lead       int // bytes of leading whitespace trimmed from the line
}

type parser struct {
	s        string
	i        int
	spans    []lineSpan
	chs      []Challenge
	problems []string
	cur      int // index in chs of the challenge that receives params; -1 before the first
}

// trimOWS removes optional whitespace (SP, HTAB; RFC 9110 §5.6.3) from both
// ends. CR and LF are deliberately not trimmed: they are never legitimate in
// a field value and the parser reports them.
func trimOWS(s string) string { return strings.Trim(s, " \t") }

// combine joins field lines into the single field value of RFC 9110 §5.3.
func combine(lines []string) string {
	s, _ := combineSpans(lines)
	return s
}

func combineSpans(lines []string) (string, []lineSpan) {
	var b strings.Builder
	spans := make([]lineSpan, 0, len(lines))
	for n, l := range lines {
		if n > 0 {
			b.WriteString(", ")
		}
		t := trimOWS(l)
		lead := len(l) - len(strings.TrimLeft(l, " \t"))
		spans = append(spans, lineSpan{start: b.Len(), end: b.Len() + len(t), lead: lead})
		b.WriteString(t)
	}
	return b.String(), spans
}

func newParser(lines []string) *parser {
	s, spans := combineSpans(lines)
	p := &parser{s: s, spans: spans, cur: -1}
	for n, l := range lines {
		where := ""
		if len(lines) > 1 {
			where = fmt.Sprintf("line %d: ", n+1)
		}
		if strings.ContainsAny(l, "\r\n") {
			p.problems = append(p.problems, where+"contains CR or LF (an obs-fold or an injected line break); treated as whitespace outside quoted-strings")
		}
		// Only lines before the last are checked here: an open quote on the
		// last line is reported by the quoted-string parser itself.
		if n < len(lines)-1 && endsInsideQuote(l) {
			p.problems = append(p.problems, where+"ends inside a quoted-string, so the quoted-string continues on the next line")
		}
	}
	return p
}

// endsInsideQuote reports whether a quoted-string opened in s is still open
// at its end. A proxy that splits a value on commas without honouring
// quotes produces such lines.
func endsInsideQuote(s string) bool {
	in := false
	for i := 0; i < len(s); i++ {
		switch {
		case in && s[i] == '\\':
			i++
		case s[i] == '"':
			in = !in
		}
	}
	return in
}

// where renders an offset of the combined value as a position in the
// caller's lines (1-based columns).
func (p *parser) where(off int) string {
	for n, sp := range p.spans {
		last := n == len(p.spans)-1
		if off < sp.end || last || off < p.spans[n+1].start {
			col := off - sp.start
			if col < 0 {
				col = 0
			}
			if col > sp.end-sp.start {
				col = sp.end - sp.start
			}
			col += sp.lead + 1
			if len(p.spans) > 1 {
				return fmt.Sprintf("line %d, column %d", n+1, col)
			}
			return fmt.Sprintf("column %d", col)
		}
	}
	return fmt.Sprintf("offset %d", off)
}

func (p *parser) problemf(off int, format string, args ...any) {
	p.problems = append(p.problems, p.where(off)+": "+fmt.Sprintf(format, args...))
}

func (p *parser) eof() bool { return p.i >= len(p.s) }

// skipWS skips OWS and returns how many bytes it skipped. CR and LF count
// as whitespace so that an obs-fold (WWWA-33) is read as RFC 9112 §5.2 asks
// recipients to read it: as SP.
func (p *parser) skipWS() int {
	start := p.i
	for !p.eof() {
		switch p.s[p.i] {
		case ' ', '\t', '\r', '\n':
			p.i++
			continue
		}
		break
	}
	return p.i - start
}

func (p *parser) token() string {
	start := p.i
	for !p.eof() && isTchar(p.s[p.i]) {
		p.i++
	}
	return p.s[start:p.i]
}

func (p *parser) run() {
	for {
		p.skipWS()
		if p.eof() {
			return
		}
		if p.s[p.i] == ',' {
			// A separator or an empty list element; RFC 9110 §5.6.1 tells
			// recipients to ignore empty elements.
			p.i++
			continue
		}
		p.element()
	}
}

func (p *parser) label(idx int) string {
	s := p.chs[idx].Scheme
	if s == "" {
		s = "no scheme"
	}
	return fmt.Sprintf("challenge %d (%s)", idx+1, s)
}

// element parses one list element: either the start of a new challenge
// (auth-scheme, optionally followed by SP and a token68 or a first
// auth-param) or a further auth-param of the current challenge. The two are
// told apart by what follows the leading token: "=" (after optional BWS)
// makes it a parameter name, anything else makes it a scheme. This is the
// only reading of RFC 9110 §11.3 that works, because a token68 or an
// auth-param can only directly follow a scheme, never a comma.
func (p *parser) element() {
	start := p.i
	name := p.token()
	if name == "" {
		p.unexpected("at the start of a list element")
		return
	}
	afterName := p.i
	p.skipWS()
	if !p.eof() && p.s[p.i] == '=' {
		p.i++
		p.param(start, name)
		p.endElement(name)
		return
	}
	p.i = afterName

	p.chs = append(p.chs, Challenge{Scheme: name})
	p.cur = len(p.chs) - 1
	n := p.skipWS()
	if p.eof() || p.s[p.i] == ',' {
		return // a scheme without token68 or parameters
	}
	if n == 0 {
		p.problemf(p.i, "expected a space after auth-scheme %s, found %q", name, p.s[p.i:p.i+1])
	}
	if t, ok := p.token68(); ok {
		p.chs[p.cur].Token68 = t
		return
	}
	pstart := p.i
	pname := p.token()
	if pname == "" {
		p.unexpected("after auth-scheme " + name)
		return
	}
	p.skipWS()
	if p.eof() || p.s[p.i] != '=' {
		p.problemf(pstart, "%q after auth-scheme %s is neither a token68 nor a parameter (no \"=\")", pname, name)
		p.skipElement()
		return
	}
	p.i++
	p.param(pstart, pname)
	p.endElement(pname)
}

// token68 consumes a token68 if one starts here and is the whole rest of
// the list element. Otherwise it consumes nothing: `realm="x"` starts like
// the token68 `realm=` but is followed by more text, so it is a parameter.
func (p *parser) token68() (string, bool) {
	j := p.i
	for j < len(p.s) && isToken68Char(p.s[j]) {
		j++
	}
	if j == p.i {
		return "", false
	}
	for j < len(p.s) && p.s[j] == '=' {
		j++
	}
	k := j
	for k < len(p.s) && strings.IndexByte(" \t\r\n", p.s[k]) >= 0 {
		k++
	}
	if k < len(p.s) && p.s[k] != ',' {
		return "", false
	}
	t := p.s[p.i:j]
	p.i = j
	return t, true
}

// param parses the value after "=" and attaches the parameter to the
// current challenge.
func (p *parser) param(start int, name string) {
	p.skipWS()
	prm := Param{Name: name}
	if !p.eof() && p.s[p.i] == '"' {
		prm.Value = p.quoted(name)
		prm.Quoted = true
	} else {
		vstart := p.i
		for !p.eof() {
			c := p.s[p.i]
			if c == ' ' || c == '\t' || c == ',' || c == '"' || isCTL(c) {
				break
			}
			p.i++
		}
		prm.Value = p.s[vstart:p.i]
		switch {
		case prm.Value == "":
			p.problemf(vstart, "parameter %s has no value", name)
		case !isToken(prm.Value):
			// Kept as one value because that is what a recipient would most
			// plausibly mean (an unquoted URL, for instance).
			p.problemf(vstart, "value %q of parameter %s is not a token and must be a quoted-string", prm.Value, name)
		}
	}

	if p.cur < 0 {
		p.problemf(start, "parameter %s appears before any auth-scheme", name)
		p.chs = append(p.chs, Challenge{})
		p.cur = len(p.chs) - 1
	}
	ch := &p.chs[p.cur]
	if ch.Token68 != "" && len(ch.Params) == 0 {
		p.problemf(start, "%s has both a token68 and parameters", p.label(p.cur))
	}
	for _, q := range ch.Params {
		if strings.EqualFold(q.Name, name) {
			p.problemf(start, "parameter %s occurs more than once in %s (RFC 9110 §11.2)", name, p.label(p.cur))
			break
		}
	}
	ch.Params = append(ch.Params, prm)
}

// quoted parses a quoted-string starting at the opening DQUOTE and returns
// its unescaped content. Bytes that qdtext does not allow are kept as they
// are (with a problem) because the harness compares values byte for byte.
func (p *parser) quoted(name string) string {
	start := p.i
	p.i++
	var b strings.Builder
	ctl := false
	for !p.eof() {
		c := p.s[p.i]
		switch {
		case c == '"':
			p.i++
			return b.String()
		case c == '\\':
			if p.i+1 >= len(p.s) {
				p.problemf(p.i, "quoted-string of %s ends with a lone backslash", name)
				p.i++
				continue
			}
			b.WriteByte(p.s[p.i+1])
			p.i += 2
			continue
		case isCTL(c) && c != '\t' && !ctl:
			ctl = true
			p.problemf(p.i, "quoted-string of %s contains control character %q", name, p.s[p.i:p.i+1])
		}
		b.WriteByte(c)
		p.i++
	}
	p.problemf(start, "quoted-string of %s is not terminated", name)
	return b.String()
}

// endElement expects the end of a list element. Anything else is reported
// and skipped up to the next top-level comma.
func (p *parser) endElement(after string) {
	p.skipWS()
	if p.eof() || p.s[p.i] == ',' {
		return
	}
	p.problemf(p.i, "unexpected %q after %s (missing comma?); skipped to the next comma", p.s[p.i:p.i+1], after)
	p.skipElement()
}

func (p *parser) unexpected(context string) {
	p.problemf(p.i, "unexpected %q %s; skipped to the next comma", p.s[p.i:p.i+1], context)
	p.skipElement()
}

// skipElement advances to the next comma that is not inside a quoted
// string. Callers are positioned on a byte that is not a comma, so it
// always makes progress.
func (p *parser) skipElement() {
	in := false
	for !p.eof() {
		c := p.s[p.i]
		switch {
		case in && c == '\\':
			p.i++
		case c == '"':
			in = !in
		case !in && c == ',':
			return
		}
		p.i++
	}
}
