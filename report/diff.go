package report

import (
	"fmt"
	"strings"

	"github.com/mcpconform/mcpconform/scenarios/wwwauth"
)

// A Diff compares one message as it left one end with the same message as it
// reached the other: the request the client sent with what the upstream
// received, the response the upstream sent with what the client got. It is
// what a reader of a failing case wants to see first: which fields were
// lost, added or changed, and, for WWW-Authenticate, which challenge
// parameters.
type Diff struct {
	Title     string // "response", "request"
	FromLabel string // "upstream sent"
	ToLabel   string // "client got"
	Status    []string
	Fields    []DiffField
	Params    []DiffParam
	Body      string // "" when equal
	Changes   int    // fields, params, status and body that differ
}

// DiffKind says how one field or parameter fared between the two ends.
type DiffKind string

const (
	DiffSame    DiffKind = "same"
	DiffLost    DiffKind = "lost"
	DiffAdded   DiffKind = "added"
	DiffChanged DiffKind = "changed"
	// DiffHop is a field each hop sets for itself (Date, Content-Length,
	// Connection, Host, …): a difference there is expected, shown muted.
	DiffHop DiffKind = "hop"
)

// DiffField is one header field name with its values at both ends (values
// of a repeated field joined by newlines).
type DiffField struct {
	Name     string
	From, To string
	Kind     DiffKind
}

// DiffParam is one auth-param of one challenge at both ends.
type DiffParam struct {
	Challenge string // "1 Bearer"
	Name      string
	From, To  string
	Kind      DiffKind
}

// diffHopFields are set per connection or per hop; a proxy legitimately
// changes them.
var diffHopFields = map[string]bool{
	"date": true, "content-length": true, "connection": true, "transfer-encoding": true, "keep-alive": true,
	"host": true, "accept-encoding": true, "user-agent": true, "via": true, "forwarded": true,
	"x-forwarded-for": true, "x-forwarded-host": true, "x-forwarded-proto": true, "x-real-ip": true,
	"te": true, "trailer": true, "upgrade": true, "proxy-connection": true,
}

// CaseDiffs pairs each exchange at the client→proxy hop with the
// proxy→upstream exchange the harness recorded right after it and compares
// both directions. When the upstream saw nothing for a request, the
// response is compared with the control (the mock answered directly), if a
// control exchange sent the same request. Only pairs with a difference are
// returned, plus the first pair when none differs, so the reader sees that
// the hops were compared.
func CaseDiffs(c *Case) []Diff {
	var out []Diff
	var firstSame []Diff
	for i := range c.Exchanges {
		cx := &c.Exchanges[i]
		if cx.Hop != HopClientProxy {
			continue
		}
		var up *Exchange
		for j := i + 1; j < len(c.Exchanges) && c.Exchanges[j].Hop == HopProxyUpstream; j++ {
			if up == nil || (up.Response == nil && c.Exchanges[j].Response != nil) {
				up = &c.Exchanges[j]
			}
		}
		var ds []Diff
		if up != nil {
			ds = append(ds, diffMessage("request", "client sent", "upstream received", nil, nil,
				cx.Request.Headers, up.Request.Headers, cx.Request.Body, up.Request.Body, cx.Request.BodyTruncated || up.Request.BodyTruncated))
			if up.Response != nil && cx.Response != nil {
				ds = append(ds, diffMessage("response", "upstream sent", "client got", &up.Response.Status, &cx.Response.Status,
					up.Response.Headers, cx.Response.Headers, up.Response.Body, cx.Response.Body, up.Response.BodyTruncated || cx.Response.BodyTruncated))
			}
		} else if ctl := diffControlFor(c, cx); ctl != nil && cx.Response != nil {
			ds = append(ds, diffMessage("response", "mock answered directly (control)", "client got through the proxy",
				&ctl.Response.Status, &cx.Response.Status, ctl.Response.Headers, cx.Response.Headers, ctl.Response.Body, cx.Response.Body, true))
		}
		for k := range ds {
			ds[k].Title = cx.Request.Method + " " + diffPath(cx.Request.URL) + ": " + ds[k].Title
			if ds[k].Changes > 0 {
				out = append(out, ds[k])
			} else if firstSame == nil {
				firstSame = ds[k : k+1]
			}
		}
	}
	if len(out) == 0 {
		return firstSame
	}
	return out
}

// diffControlFor finds the control exchange that sent the same request as
// cx (method and body), the mock's own answer to it.
func diffControlFor(c *Case, cx *Exchange) *Exchange {
	for i := range c.Exchanges {
		x := &c.Exchanges[i]
		if x.Hop == HopControl && x.Response != nil && x.Request.Method == cx.Request.Method && x.Request.Body == cx.Request.Body {
			return x
		}
	}
	return nil
}

func diffPath(u string) string {
	if i := strings.Index(u, "://"); i >= 0 {
		if j := strings.Index(u[i+3:], "/"); j >= 0 {
			return u[i+3+j:]
		}
	}
	return u
}

// diffMessage compares one message at both ends. bodyLoose is set when a
// body may differ for reasons other than the proxy (a cut, or a control run
// whose ids differ), so a body difference is then only mentioned.
func diffMessage(title, fromLabel, toLabel string, fromStatus, toStatus *int, from, to []Header, fromBody, toBody string, bodyLoose bool) Diff {
	d := Diff{Title: title, FromLabel: fromLabel, ToLabel: toLabel}
	if fromStatus != nil && toStatus != nil && *fromStatus != *toStatus {
		d.Status = []string{fmt.Sprint(*fromStatus), fmt.Sprint(*toStatus)}
		d.Changes++
	}
	type vals struct {
		name string
		vs   []string
	}
	index := func(hs []Header) (map[string]*vals, []string) {
		m := map[string]*vals{}
		var order []string
		for _, h := range hs {
			k := strings.ToLower(strings.TrimSpace(h.Name))
			if m[k] == nil {
				m[k] = &vals{name: h.Name}
				order = append(order, k)
			}
			m[k].vs = append(m[k].vs, h.Value)
		}
		return m, order
	}
	fm, forder := index(from)
	tm, torder := index(to)
	seen := map[string]bool{}
	for _, k := range append(forder, torder...) {
		if seen[k] {
			continue
		}
		seen[k] = true
		f, t := fm[k], tm[k]
		row := DiffField{}
		switch {
		case f != nil && t != nil:
			row.Name, row.From, row.To = f.name, strings.Join(f.vs, "\n"), strings.Join(t.vs, "\n")
			row.Kind = DiffSame
			// Field names are case-insensitive (RFC 9110 §5.1) and Go's
			// client canonicalizes them on read (WWW-Authenticate comes
			// back Www-Authenticate): only the values count.
			if row.From != row.To {
				row.Kind = DiffChanged
			}
		case f != nil:
			row.Name, row.From, row.Kind = f.name, strings.Join(f.vs, "\n"), DiffLost
		default:
			row.Name, row.To, row.Kind = t.name, strings.Join(t.vs, "\n"), DiffAdded
		}
		if row.Kind != DiffSame && diffHopFields[k] {
			row.Kind = DiffHop
		}
		if row.Kind == DiffLost || row.Kind == DiffAdded || row.Kind == DiffChanged {
			d.Changes++
		}
		d.Fields = append(d.Fields, row)
		if k == "www-authenticate" && row.Kind == DiffChanged || k == "www-authenticate" && row.Kind == DiffLost {
			var fv, tv []string
			if f != nil {
				fv = f.vs
			}
			if t != nil {
				tv = t.vs
			}
			d.Params = diffChallenges(fv, tv)
		}
	}
	if fromBody != toBody {
		msg := fmt.Sprintf("%d bytes → %d bytes", len(fromBody), len(toBody))
		n := 0
		for n < len(fromBody) && n < len(toBody) && fromBody[n] == toBody[n] {
			n++
		}
		msg += fmt.Sprintf(", first difference at byte %d", n)
		if bodyLoose {
			msg += " (may differ for reasons of the harness: a cut body or a separate control request)"
		} else {
			d.Changes++
		}
		d.Body = msg
	}
	return d
}

// diffChallenges compares the challenges parameter by parameter, pairing
// challenges by position.
func diffChallenges(from, to []string) []DiffParam {
	fc, _ := wwwauth.Parse(from...)
	tc, _ := wwwauth.Parse(to...)
	var out []DiffParam
	for i := 0; i < max(len(fc), len(tc)); i++ {
		var f, t wwwauth.Challenge
		if i < len(fc) {
			f = fc[i]
		}
		if i < len(tc) {
			t = tc[i]
		}
		label := fmt.Sprintf("%d %s", i+1, firstNonEmpty(f.Scheme, t.Scheme))
		if f.Scheme != t.Scheme {
			kind := DiffChanged
			switch {
			case i >= len(fc):
				kind = DiffAdded
			case i >= len(tc):
				kind = DiffLost
			}
			out = append(out, DiffParam{Challenge: label, Name: "(scheme)", From: f.Scheme, To: t.Scheme, Kind: kind})
		}
		if f.Token68 != t.Token68 {
			out = append(out, DiffParam{Challenge: label, Name: "(token68)", From: f.Token68, To: t.Token68, Kind: DiffChanged})
		}
		seen := map[string]bool{}
		for _, p := range f.Params {
			k := strings.ToLower(p.Name)
			seen[k] = true
			row := DiffParam{Challenge: label, Name: p.Name, From: diffParamText(p), Kind: DiffLost}
			for _, q := range t.Params {
				if strings.EqualFold(q.Name, p.Name) {
					row.To, row.Kind = diffParamText(q), DiffSame
					if row.From != row.To {
						row.Kind = DiffChanged
					}
					break
				}
			}
			out = append(out, row)
		}
		for _, q := range t.Params {
			if !seen[strings.ToLower(q.Name)] {
				out = append(out, DiffParam{Challenge: label, Name: q.Name, To: diffParamText(q), Kind: DiffAdded})
			}
		}
	}
	return out
}

func diffParamText(p wwwauth.Param) string {
	if p.Quoted {
		return `"` + p.Value + `"`
	}
	return p.Value
}
