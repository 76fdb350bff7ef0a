package wwwauth

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Level is a delivery level for a forwarded header: B0 byte-exact, B1
// field-equivalent (lines may be combined, RFC 9110 §5.3), B2 the parsed
// challenges equal (RFC 9110 §11).
type Level int

const (
	// B0: the same field lines, byte for byte, in the same order.
	B0 Level = iota
	// B1: the same combined field value (RFC 9110 §5.3) after trimming OWS
	// at the ends of each line. Lines may be combined or split; quoting,
	// case and parameter order must be kept.
	B1
	// B2: the same parsed challenge list. Scheme and parameter names are
	// compared case-insensitively, values after unescaping, and token and
	// quoted-string forms are equivalent.
	B2
)

func (l Level) String() string {
	switch l {
	case B0:
		return "B0 byte-exact"
	case B1:
		return "B1 field-equivalent"
	case B2:
		return "B2 parsed-equivalent"
	}
	return fmt.Sprintf("Level(%d)", int(l))
}

// Equivalent reports whether got delivers sent at the given level. At every
// level a header that was sent must arrive and one that was not sent must
// not appear, even as an empty line: "absent" and "present but empty" are
// different answers to a client. An unknown level is never satisfied.
func Equivalent(level Level, sent, got []string) bool {
	if (len(sent) == 0) != (len(got) == 0) {
		return false
	}
	switch level {
	case B0:
		return slices.Equal(sent, got)
	case B1:
		return combine(sent) == combine(got)
	case B2:
		s, _ := Parse(sent...)
		g, _ := Parse(got...)
		return equalParsed(s, g)
	}
	return false
}

func equalParsed(a, b []Challenge) bool {
	return slices.EqualFunc(a, b, equalChallenge)
}

func equalChallenge(a, b Challenge) bool {
	if !strings.EqualFold(a.Scheme, b.Scheme) || a.Token68 != b.Token68 {
		return false
	}
	return equalParams(a.Params, b.Params)
}

// equalParams compares parameter lists as B2 defines it. Order between
// different names does not matter (parameters are named), but the order of
// repeated names does: with `realm="mcp", realm="dup"` a recipient that
// takes the first occurrence sees a different realm once they are swapped.
func equalParams(a, b []Param) bool {
	if len(a) != len(b) {
		return false
	}
	ga, gb := groupParams(a), groupParams(b)
	if len(ga) != len(gb) {
		return false
	}
	for name, va := range ga {
		if !slices.Equal(va, gb[name]) {
			return false
		}
	}
	return true
}

func groupParams(ps []Param) map[string][]string {
	m := make(map[string][]string, len(ps))
	for _, p := range ps {
		k := strings.ToLower(p.Name)
		m[k] = append(m[k], p.Value)
	}
	return m
}

// Diff explains, in words a proxy author understands, how got differs from
// sent. It returns nil when got is byte-identical (B0). Messages come most
// important first: lost or changed content, then added content, then
// reordering, then line structure, then cosmetic rewrites that B2 accepts.
func Diff(sent, got []string) []string {
	if slices.Equal(sent, got) {
		return nil
	}
	if len(got) == 0 {
		return []string{fmt.Sprintf("header absent (sent %s)", lines(len(sent)))}
	}
	if len(sent) == 0 {
		return []string{fmt.Sprintf("header present although none was sent (got %s)", lines(len(got)))}
	}

	sc, _ := Parse(sent...)
	gc, _ := Parse(got...)
	d := &differ{}
	d.challenges(sc, gc)

	b1 := combine(sent) == combine(got)
	d.structure(sent, got, b1)

	out := slices.Concat(d.lost, d.changed, d.added, d.order, d.structural, d.cosmetic)
	if len(out) == 0 {
		// Everything the comparison looks at matched, so what differs is
		// invisible to it: whitespace inside the value, empty list
		// elements, or how a character was escaped.
		if equalParsed(sc, gc) {
			out = append(out, "only whitespace, empty list elements or quoted-pair escaping changed (allowed at B2): "+
				contrast(combine(sent), combine(got)))
		} else {
			out = append(out, "field value changed: "+contrast(combine(sent), combine(got)))
		}
	}
	return out
}

type differ struct {
	lost, changed, added, order, structural, cosmetic []string
}

func lines(n int) string {
	if n == 1 {
		return "1 line"
	}
	return fmt.Sprintf("%d lines", n)
}

var ordinals = []string{"first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth"}

// nthChallenge names the challenge at index i: "second challenge", or
// "challenge 11" once words run out.
func nthChallenge(i int) string {
	if i < len(ordinals) {
		return ordinals[i] + " challenge"
	}
	return fmt.Sprintf("challenge %d", i+1)
}

func schemeName(s string) string {
	if s == "" {
		return "(no scheme)"
	}
	return s
}

func label(i int, c Challenge) string {
	s := c.Scheme
	if s == "" {
		s = "no scheme"
	}
	return fmt.Sprintf("challenge %d (%s)", i+1, s)
}

// show quotes a value for a message, shortening long ones so that an
// 8 KiB scope does not drown the report.
func show(v string) string {
	const limit = 80
	if len(v) <= limit {
		return fmt.Sprintf("%q", v)
	}
	return fmt.Sprintf("%q… (%d bytes)", v[:60], len(v))
}

// contrast shows two field values side by side. Long ones are cut to the
// neighbourhood of their first difference, which is where the reader
// needs to look.
func contrast(a, b string) string {
	const limit = 80
	if len(a) <= limit && len(b) <= limit {
		return fmt.Sprintf("sent %q; got %q", a, b)
	}
	k := 0
	for k < len(a) && k < len(b) && a[k] == b[k] {
		k++
	}
	from := max(0, k-20)
	return fmt.Sprintf("first difference at byte %d: sent %s; got %s", k+1, window(a, from, k+40), window(b, from, k+40))
}

// window quotes s[from:to], marking with "…" the parts left out.
func window(s string, from, to int) string {
	to = min(to, len(s))
	from = min(from, to)
	out := fmt.Sprintf("%q", s[from:to])
	if from > 0 {
		out = "…" + out
	}
	if to < len(s) {
		out += "…"
	}
	return out
}

func paramNames(ps []Param) string {
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = p.Name
	}
	return strings.Join(names, ", ")
}

func schemeList(chs []Challenge) string {
	names := make([]string, len(chs))
	for i, c := range chs {
		names[i] = schemeName(c.Scheme)
	}
	return strings.Join(names, ", ")
}

// challenges pairs sent and received challenges and describes the
// differences. Challenges can only correspond when their schemes match;
// among several candidates (the same scheme twice, as in WWWA-15) the pair
// with the most parameters in common wins, so that dropping the first of
// two Bearer challenges is reported as a drop rather than as the first
// one's parameters all changing.
func (d *differ) challenges(sc, gc []Challenge) {
	type cand struct{ s, g, score int }
	var cands []cand
	for i, s := range sc {
		for j, g := range gc {
			if strings.EqualFold(s.Scheme, g.Scheme) {
				cands = append(cands, cand{i, j, similarity(s, g)})
			}
		}
	}
	sort.SliceStable(cands, func(a, b int) bool {
		x, y := cands[a], cands[b]
		if x.score != y.score {
			return x.score > y.score
		}
		dx, dy := abs(x.s-x.g), abs(y.s-y.g)
		if dx != dy {
			return dx < dy
		}
		if x.s != y.s {
			return x.s < y.s
		}
		return x.g < y.g
	})
	sMatch := make([]int, len(sc))
	gMatch := make([]int, len(gc))
	for i := range sMatch {
		sMatch[i] = -1
	}
	for j := range gMatch {
		gMatch[j] = -1
	}
	for _, c := range cands {
		if sMatch[c.s] < 0 && gMatch[c.g] < 0 {
			sMatch[c.s], gMatch[c.g] = c.g, c.s
		}
	}

	lastG := -1
	reordered := false
	for i, s := range sc {
		j := sMatch[i]
		if j < 0 {
			msg := fmt.Sprintf("%s `%s` dropped", nthChallenge(i), schemeName(s.Scheme))
			if len(s.Params) > 0 {
				msg += fmt.Sprintf(" (with parameters %s)", paramNames(s.Params))
			}
			d.lost = append(d.lost, msg)
			continue
		}
		if j < lastG {
			reordered = true
		}
		lastG = j
		d.challenge(label(i, s), s, gc[j])
	}
	for j, g := range gc {
		if gMatch[j] < 0 {
			d.added = append(d.added, fmt.Sprintf("challenge `%s` added as the %s", schemeName(g.Scheme), nthChallenge(j)))
		}
	}
	if reordered {
		d.order = append(d.order, fmt.Sprintf("challenge order changed: sent %s; got %s", schemeList(sc), schemeList(gc)))
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// similarity scores how alike two challenges with the same scheme are:
// two points per parameter with the same name and value, one per name
// that is only present in both.
func similarity(a, b Challenge) int {
	score := 0
	if a.Token68 != "" && a.Token68 == b.Token68 {
		score += 2
	}
	gb := groupParams(b.Params)
	for name, va := range groupParams(a.Params) {
		vb := gb[name]
		for k := range min(len(va), len(vb)) {
			score++
			if va[k] == vb[k] {
				score++
			}
		}
	}
	return score
}

// occurrence identifies a parameter by its lower-cased name and how many
// parameters of that name precede it, so duplicates pair up in order.
type occurrence struct {
	name string
	n    int
}

func occurrences(ps []Param) []occurrence {
	seen := map[string]int{}
	out := make([]occurrence, len(ps))
	for i, p := range ps {
		k := strings.ToLower(p.Name)
		out[i] = occurrence{k, seen[k]}
		seen[k]++
	}
	return out
}

func paramRef(name string, n int) string {
	if n == 0 {
		return fmt.Sprintf("`%s`", name)
	}
	return fmt.Sprintf("`%s` (occurrence %d)", name, n+1)
}

func form(quoted bool) string {
	if quoted {
		return "quoted-string"
	}
	return "token"
}

// challenge describes the differences between two corresponding challenges.
func (d *differ) challenge(where string, s, g Challenge) {
	switch {
	case s.Token68 != "" && g.Token68 == "":
		d.lost = append(d.lost, fmt.Sprintf("token68 %s lost from %s", show(s.Token68), where))
	case s.Token68 == "" && g.Token68 != "":
		d.added = append(d.added, fmt.Sprintf("token68 %s added to %s", show(g.Token68), where))
	case s.Token68 != g.Token68:
		d.changed = append(d.changed, fmt.Sprintf("token68 of %s changed from %s to %s", where, show(s.Token68), show(g.Token68)))
	}
	if s.Scheme != g.Scheme {
		d.cosmetic = append(d.cosmetic, fmt.Sprintf("scheme case changed from `%s` to `%s` in %s", s.Scheme, g.Scheme, where))
	}

	so, goc := occurrences(s.Params), occurrences(g.Params)
	gIndex := make(map[occurrence]int, len(goc))
	for j, o := range goc {
		gIndex[o] = j
	}
	matchedG := make([]bool, len(g.Params))
	var gOrder []int // got indices of matched params, in sent order
	for i, sp := range s.Params {
		j, ok := gIndex[so[i]]
		if !ok {
			if so[i].n == 0 {
				d.lost = append(d.lost, fmt.Sprintf("parameter `%s` lost from %s", sp.Name, where))
			} else {
				d.lost = append(d.lost, fmt.Sprintf("duplicate parameter `%s` (occurrence %d) lost from %s", sp.Name, so[i].n+1, where))
			}
			continue
		}
		matchedG[j] = true
		gOrder = append(gOrder, j)
		gp := g.Params[j]
		ref := paramRef(sp.Name, so[i].n)
		if sp.Value != gp.Value {
			d.changed = append(d.changed, valueChange(ref, where, sp.Value, gp.Value))
		}
		if sp.Name != gp.Name {
			d.cosmetic = append(d.cosmetic, fmt.Sprintf("case of parameter name `%s` changed to `%s` in %s", sp.Name, gp.Name, where))
		}
		if sp.Quoted != gp.Quoted {
			d.cosmetic = append(d.cosmetic, fmt.Sprintf("quoting of %s changed (%s → %s) in %s", ref, form(sp.Quoted), form(gp.Quoted), where))
		}
	}
	for j, gp := range g.Params {
		if !matchedG[j] {
			if goc[j].n == 0 {
				d.added = append(d.added, fmt.Sprintf("parameter `%s` added to %s", gp.Name, where))
			} else {
				d.added = append(d.added, fmt.Sprintf("duplicate parameter `%s` (occurrence %d) added to %s", gp.Name, goc[j].n+1, where))
			}
		}
	}
	if !sort.IntsAreSorted(gOrder) {
		d.cosmetic = append(d.cosmetic, fmt.Sprintf("parameter order changed in %s: sent %s; got %s", where, paramNames(s.Params), paramNames(g.Params)))
	}
}

// valueChange names a changed value. Long values are not printed whole;
// the message says where they start to differ and how long each is, which
// is what matters for truncation (WWWA-30).
func valueChange(ref, where, from, to string) string {
	if len(from) <= 80 && len(to) <= 80 {
		return fmt.Sprintf("%s value changed from %q to %q in %s", ref, from, to, where)
	}
	k := 0
	for k < len(from) && k < len(to) && from[k] == to[k] {
		k++
	}
	return fmt.Sprintf("%s value changed in %s: sent %d bytes, got %d bytes, first difference at byte %d (sent %s, got %s)",
		ref, where, len(from), len(to), k+1, show(from[k:]), show(to[k:]))
}

// structure describes how the field lines themselves were rearranged:
// combined, split, reordered or trimmed. b1 says whether the combined
// values are identical, in which case such changes are allowed at B1.
func (d *differ) structure(sent, got []string, b1 bool) {
	ns, ng := len(sent), len(got)
	if !b1 {
		ts, tg := trimAll(sent), trimAll(got)
		st, gt := slices.Clone(ts), slices.Clone(tg)
		slices.Sort(st)
		slices.Sort(gt)
		switch {
		case ns > 1 && slices.Equal(st, gt):
			d.structural = append(d.structural, "header line order changed")
		case ns != ng:
			d.structural = append(d.structural, fmt.Sprintf("line count changed from %d to %d", ns, ng))
		}
		return
	}
	switch {
	case ns > ng && ng == 1:
		d.structural = append(d.structural, fmt.Sprintf("%d lines combined into 1 (allowed at B1)", ns))
	case ns > ng:
		d.structural = append(d.structural, fmt.Sprintf("%d lines combined into %d (allowed at B1)", ns, ng))
	case ns < ng && ns == 1:
		d.structural = append(d.structural, fmt.Sprintf("a line was split into %d (allowed at B1)", ng))
	case ns < ng:
		d.structural = append(d.structural, fmt.Sprintf("%d lines split into %d (allowed at B1)", ns, ng))
	case !slices.Equal(trimAll(sent), trimAll(got)):
		d.structural = append(d.structural, "line boundaries moved; the combined value is unchanged (allowed at B1)")
	default:
		for i := range sent {
			if sent[i] != got[i] {
				d.structural = append(d.structural, fmt.Sprintf("whitespace at the ends of line %d changed (allowed at B1)", i+1))
			}
		}
	}
	// A split inside a quoted-string keeps the combined value, but every
	// client that parses lines one at a time (rather than combining them
	// first) now sees broken values. That is worth saying even at B1.
	openS := 0
	for _, l := range sent {
		if endsInsideQuote(l) {
			openS++
		}
	}
	for i, l := range got {
		if openS == 0 && endsInsideQuote(l) {
			d.structural = append(d.structural, fmt.Sprintf("line %d of %d ends inside a quoted-string: a comma inside quotes was treated as a separator, so the lines cannot be parsed one by one", i+1, ng))
		}
	}
}

func trimAll(ls []string) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = trimOWS(l)
	}
	return out
}
