package main

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/mcpconform/mcpconform/proxyundertest"
	"github.com/mcpconform/mcpconform/report"
)

// reproduceTarget is what the reproduce lines of a run point at.
type reproduceTarget struct {
	// results is the path of results.json as the user will type it.
	results string
	// proxy is what `mock --replay` gets as --proxy: builtin:NAME (it then
	// starts that proxy in front of the replay), else "".
	proxy string
	// origin is the proxy's origin for the curl lines when it outlives the
	// run (a URL the user gave), else "" (a placeholder is printed).
	origin string
}

// addReproduce gives every failing case lines that show the failure by
// hand: start the replay upstream with that case's recorded answers, then
// send the case's requests through the proxy with curl, in order, carrying
// the session id from initialize into later requests. It reads the evidence
// after the run, so scenarios stay free of it.
func addReproduce(run *report.Run, t reproduceTarget) {
	for i := range run.Cases {
		c := &run.Cases[i]
		switch c.Outcome {
		case report.Fail, report.Warn, report.Error, report.ExpectedFail:
		default:
			continue
		}
		if len(c.Reproduce) > 0 {
			continue // a scenario that knows better already set them
		}
		cmd := "mcpconform mock --replay " + shellWord(t.results) + " --case " + shellWord(c.ID)
		if t.proxy != "" {
			cmd += " --proxy " + shellWord(t.proxy) + "   # in another terminal: the recorded upstream answers, that proxy in front; it prints these lines with P set"
		} else {
			cmd += "   # in another terminal: the recorded upstream answers; point the proxy's upstream at the URL it prints"
		}
		lines := []string{cmd}
		lines = append(lines, curlScript(c, t.origin)...)
		lines = append(lines, fmt.Sprintf("# expected: %s / observed: %s",
			oneLineOf(firstNonEmptyStr(c.Expected, "see the requirement")), oneLineOf(firstNonEmptyStr(c.Observed, c.Reason, c.Message))))
		c.Reproduce = lines
	}
}

// reproduceTargetOf decides where the reproduce lines of a run point.
func reproduceTargetOf(run *report.Run, out string, launched bool) reproduceTarget {
	t := reproduceTarget{results: "results.json"}
	if out != "" {
		t.results = strings.TrimPrefix(out+"/results.json", "./")
	}
	target := run.Proxy.Target
	switch {
	case strings.HasPrefix(target, proxyundertest.BuiltinPrefix):
		t.proxy = target
	case !launched:
		if u, err := url.Parse(target); err == nil && u.Host != "" {
			t.origin = u.Scheme + "://" + u.Host
		}
	}
	return t
}

// curlMaxRequests caps the requests printed for one case.
const curlMaxRequests = 12

// curlScript renders the requests the harness sent to the proxy in case c,
// in order, as a POSIX shell sequence against "$P" (the proxy's origin).
// A request that carries a session id a previous answer issued gets it
// from that answer's Mcp-Session-Id, captured with -D.
func curlScript(c *report.Case, origin string) []string {
	var reqs []*report.Exchange
	for i := range c.Exchanges {
		if c.Exchanges[i].Hop == report.HopClientProxy {
			reqs = append(reqs, &c.Exchanges[i])
		}
	}
	if len(reqs) == 0 {
		return []string{"# the harness sent nothing to the proxy in this case"}
	}
	var lines []string
	if origin != "" {
		lines = append(lines, "P="+shellQuote(origin))
	} else {
		lines = append(lines, "P='http://127.0.0.1:PORT'   # the proxy under test, its upstream pointed at the replay")
	}
	more := 0
	if len(reqs) > curlMaxRequests {
		more = len(reqs) - curlMaxRequests
		reqs = reqs[:curlMaxRequests]
	}
	// Which session ids come back later, and from which answer.
	sidVar := map[string]string{}
	issuer := map[int]string{}
	for i, x := range reqs {
		if x.Response == nil {
			continue
		}
		sid := headerValue(x.Response.Headers, "Mcp-Session-Id")
		if sid == "" || sidVar[sid] != "" {
			continue
		}
		for _, y := range reqs[i+1:] {
			if headerValue(y.Request.Headers, "Mcp-Session-Id") == sid {
				name := "SID"
				if n := len(sidVar); n > 0 {
					name = fmt.Sprintf("SID%d", n+1)
				}
				sidVar[sid], issuer[i] = name, name
				break
			}
		}
	}
	redacted := false
	for i, x := range reqs {
		dump := ""
		if name := issuer[i]; name != "" {
			dump = "H_" + name
			lines = append(lines, dump+"=$(mktemp)")
		}
		line, red := curlLine(&x.Request, origin, sidVar, dump, x.DurationMS)
		redacted = redacted || red
		lines = append(lines, line)
		if name := issuer[i]; name != "" {
			lines = append(lines, name+`=$(tr -d '\r' < "$`+dump+`" | awk -F': *' 'tolower($1)=="mcp-session-id"{print $2}')`)
		}
	}
	if more > 0 {
		lines = append(lines, fmt.Sprintf("# … %d more requests in results.json", more))
	}
	for _, x := range c.Exchanges {
		if x.Hop == report.HopProxyUpstream && x.Response != nil && x.Response.Raw != "" {
			lines = append(lines, "# the upstream's answer is malformed on purpose: when curl refuses what the proxy passed on ('Nul byte in header', 'Weird server reply', exit 8), that refusal is the failure")
			break
		}
	}
	if redacted {
		lines = append(lines, "# <redacted:…> stands for a credential of the run: put the real value back (or rerun with --unredacted)")
	}
	return lines
}

// curlSkip are headers curl computes itself.
var curlSkip = map[string]bool{"host": true, "content-length": true, "connection": true, "transfer-encoding": true}

// curlLine renders req as `curl -i` with the same method, headers and body,
// its URL on "$P". It reports whether a redacted value is in it.
func curlLine(req *report.Request, origin string, sidVar map[string]string, dump string, durationMS float64) (string, bool) {
	parts := []string{"curl", "-i", "-sS", "-N", "--http1.1"}
	// A stream would block the sequence: bound each request a little above
	// what it took in the run.
	parts = append(parts, "--max-time", fmt.Sprint(max(5, int(durationMS/1000)+3)))
	if dump != "" {
		parts = append(parts, "-D", `"$`+dump+`"`)
	}
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	if method != http.MethodGet || req.Body != "" {
		parts = append(parts, "-X", method)
	}
	parts = append(parts, curlURL(req.URL))
	redacted := strings.Contains(req.URL, "<redacted:") || strings.Contains(req.Body, "<redacted:")
	for _, h := range req.Headers {
		if curlSkip[strings.ToLower(h.Name)] {
			continue
		}
		redacted = redacted || strings.Contains(h.Value, "<redacted:")
		if v := sidVar[h.Value]; v != "" && strings.EqualFold(h.Name, "Mcp-Session-Id") {
			parts = append(parts, "-H", `"`+h.Name+`: $`+v+`"`)
			continue
		}
		parts = append(parts, "-H", shellQuote(h.Name+": "+h.Value))
	}
	if req.Body != "" {
		parts = append(parts, "--data-raw", shellQuote(req.Body))
	}
	return strings.Join(parts, " "), redacted
}

// curlURL is u with its origin replaced by "$P".
func curlURL(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.Host == "" {
		return shellQuote(u)
	}
	rest := p.RequestURI()
	if p.Fragment != "" {
		rest += "#" + p.EscapedFragment()
	}
	return `"$P"` + shellQuote(rest)
}

// shellQuote wraps s in single quotes for POSIX shells.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// shellWord quotes s only when it needs it.
func shellWord(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@,+") == "" {
		return s
	}
	return shellQuote(s)
}

func oneLineOf(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 300 {
		s = s[:299] + "…"
	}
	return report.PrintableOneLine(s)
}
