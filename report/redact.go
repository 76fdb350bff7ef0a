package report

import (
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"regexp"
	"sort"
	"strings"
)

// Fingerprint returns the placeholder that replaces secret in reports:
// "<redacted:" + the first 8 hex digits of its SHA-256 + ">".
//
// A fingerprint rather than a fixed "<redacted>" lets a reader see that the
// token the proxy forwarded upstream is (or is not) the one the client sent,
// which is exactly what several bridging cases are about. Eight hex digits are
// enough to tell the handful of tokens in one run apart while giving away too
// little to confirm a guess of a high-entropy token.
func Fingerprint(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return rdPlaceholderPrefix + hex.EncodeToString(sum[:4]) + ">"
}

const rdPlaceholderPrefix = "<redacted:"

// Minimum lengths below which a value is not treated as a secret to hunt for
// everywhere: replacing every "1" or "abc" in the report would shred it.
// Explicit secrets are trusted more than values harvested from headers.
const (
	rdMinExplicitSecret  = 4
	rdMinHarvestedSecret = 8
)

// rdSensitiveHeaders are the headers whose values are always redacted.
var rdSensitiveHeaders = map[string]bool{
	"authorization":       true,
	"proxy-authorization": true,
	"x-api-key":           true,
	"x-mcp-proxy-auth":    true,
	"cookie":              true,
	"set-cookie":          true,
}

var (
	// A JWS compact serialisation: base64url JSON header (always starts
	// "eyJ", i.e. `{"`), payload, signature (empty for alg "none").
	rdJWT = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*`)
	// Token members in JSON, also when the JSON is itself quoted inside a
	// string (a message that embeds a body has `\"access_token\":\"…\"`).
	// The value class stops at '<' so an existing placeholder never matches.
	rdJSONToken = regexp.MustCompile(`(?i)(\\?"(?:access_token|refresh_token|id_token|client_secret)\\?"\s*:\s*\\?")([^"\\<]+)`)
	// Token fields in form bodies and query strings.
	rdFormToken = regexp.MustCompile(`(?i)\b((?:access_token|refresh_token|id_token|client_secret)=)([^&\s#"'<]+)`)
	// "Authorization: Bearer xyz" written out in free text (curl -H lines in
	// reproduce commands, proxy logs). Only credential-shaped values count,
	// so messages such as "Authorization: <absent>" stay readable.
	rdHeaderLine = regexp.MustCompile(`(?i)\b((?:proxy-)?authorization"?\s*:\s*"?[A-Za-z][A-Za-z0-9_-]*\s+)([A-Za-z0-9._~+/=-]{8,})`)
	rdKeyLine    = regexp.MustCompile(`(?i)\b((?:x-api-key|x-mcp-proxy-auth)"?\s*:\s*"?)([A-Za-z0-9._~+/=-]{8,})`)
	// Password in URL userinfo: scheme://user:password@host.
	rdUserinfo = regexp.MustCompile(`(://[^/\s:@]+:)([^/\s@<]+)(@)`)
)

// Redact removes credentials from run in place so its reports can be shared:
//
//   - values of Authorization, Proxy-Authorization, X-API-Key,
//     X-MCP-Proxy-Auth, Cookie and Set-Cookie headers (the auth scheme word,
//     cookie names and Set-Cookie attributes are kept, since they are
//     conformance evidence);
//   - every exact occurrence, also URL-escaped, of each given secret and of
//     every credential found in those headers, anywhere in the run: URLs,
//     headers, bodies, SSE events, messages, reproduce commands, notes, the
//     proxy log;
//   - JWT-shaped strings, access_token/refresh_token/id_token/client_secret
//     values in JSON and in form or query encoding, URL passwords.
//
// Each secret becomes Fingerprint(secret), so the same token is recognisable
// across hops and files. Redact is idempotent. Secrets shorter than 4 bytes are
// ignored (they would match all over the report).
func Redact(run *Run, secrets []string) {
	if run == nil {
		return
	}
	rd := &rdRedactor{known: map[string]bool{}}
	for _, s := range secrets {
		if len(s) >= rdMinExplicitSecret {
			rd.known[s] = true
		}
	}
	// Pass 1: harvest credentials from headers and token fields, so that a
	// token seen in an Authorization header is also scrubbed from the
	// message or curl line that quotes it, even where no pattern would match.
	for i := range run.Cases {
		for j := range run.Cases[i].Exchanges {
			x := &run.Cases[i].Exchanges[j]
			rd.harvestHeaders(x.Request.Headers)
			rd.harvestText(x.Request.URL)
			rd.harvestText(x.Request.Body)
			if x.Response != nil {
				rd.harvestHeaders(x.Response.Headers)
				rd.harvestText(x.Response.Body)
			}
			for k := range x.SSE {
				rd.harvestText(x.SSE[k].Data)
			}
		}
	}
	rd.build()

	// Pass 2: rewrite.
	run.Proxy.Target = rd.text(run.Proxy.Target)
	run.Upstream = rd.text(run.Upstream)
	run.ProxyLog = rd.text(run.ProxyLog)
	rd.texts(run.Notes)
	for i := range run.Cases {
		c := &run.Cases[i]
		c.Reason = rd.text(c.Reason)
		c.Expected = rd.text(c.Expected)
		c.Observed = rd.text(c.Observed)
		c.Message = rd.text(c.Message)
		c.BaselineReason = rd.text(c.BaselineReason)
		rd.texts(c.Reproduce)
		for j := range c.Exchanges {
			x := &c.Exchanges[j]
			x.Error = rd.text(x.Error)
			x.Request.URL = rd.text(x.Request.URL)
			rd.headers(x.Request.Headers)
			x.Request.Body = rd.body(x.Request.Body, x.Request.BodyTruncated)
			if x.Response != nil {
				rd.headers(x.Response.Headers)
				x.Response.Body = rd.body(x.Response.Body, x.Response.BodyTruncated)
				x.Response.Raw = rd.text(x.Response.Raw)
			}
			for k := range x.SSE {
				e := &x.SSE[k]
				e.ID = rd.text(e.ID)
				e.Data = rd.text(e.Data)
				e.Comment = rd.text(e.Comment)
			}
		}
		if b := c.Browser; b != nil {
			// Browser console lines quote request URLs, which may carry a key.
			b.Summary = rd.text(b.Summary)
			rd.texts(b.Console)
			rd.texts(b.Issues)
			for k := range b.Steps {
				st := &b.Steps[k]
				st.Request, st.Error, st.Note = rd.text(st.Request), rd.text(st.Error), rd.text(st.Note)
				rd.headers(st.Read)
			}
		}
	}
}

type rdRedactor struct {
	known    map[string]bool
	replacer *strings.Replacer
	sorted   []string // known secrets, longest first
}

func rdIsPlaceholder(s string) bool { return strings.HasPrefix(s, rdPlaceholderPrefix) }

func (rd *rdRedactor) add(secret string) {
	secret = strings.TrimSpace(secret)
	if len(secret) >= rdMinHarvestedSecret && !rdIsPlaceholder(secret) {
		rd.known[secret] = true
	}
}

func (rd *rdRedactor) harvestHeaders(hs []Header) {
	for _, h := range hs {
		name := strings.ToLower(h.Name)
		if !rdSensitiveHeaders[name] {
			continue
		}
		switch name {
		case "cookie", "set-cookie":
			rdEachCookieValue(h.Value, name == "set-cookie", func(v string) string {
				rd.add(v)
				return v
			})
		default:
			_, cred := rdSplitScheme(h.Value)
			rd.add(cred)
		}
	}
}

func (rd *rdRedactor) harvestText(s string) {
	for _, m := range rdJSONToken.FindAllStringSubmatch(s, -1) {
		rd.add(m[2])
	}
	for _, m := range rdFormToken.FindAllStringSubmatch(s, -1) {
		if v, err := url.QueryUnescape(m[2]); err == nil {
			rd.add(v)
		}
		rd.add(m[2])
	}
}

// build prepares one replacer for all known secrets and their URL-escaped
// spellings (a token in a query string arrives percent-encoded).
func (rd *rdRedactor) build() {
	for s := range rd.known {
		rd.sorted = append(rd.sorted, s)
	}
	// Longest first: strings.Replacer tries old strings in argument order at
	// each position, so a secret that contains another is replaced whole.
	sort.Slice(rd.sorted, func(i, j int) bool {
		if len(rd.sorted[i]) != len(rd.sorted[j]) {
			return len(rd.sorted[i]) > len(rd.sorted[j])
		}
		return rd.sorted[i] < rd.sorted[j]
	})
	type pair struct{ old, fp string }
	var pairs []pair
	seen := map[string]bool{}
	for _, s := range rd.sorted {
		fp := Fingerprint(s)
		for _, v := range []string{s, url.QueryEscape(s), url.PathEscape(s)} {
			if !seen[v] {
				seen[v] = true
				pairs = append(pairs, pair{v, fp})
			}
		}
	}
	sort.SliceStable(pairs, func(i, j int) bool { return len(pairs[i].old) > len(pairs[j].old) })
	args := make([]string, 0, 2*len(pairs))
	for _, p := range pairs {
		args = append(args, p.old, p.fp)
	}
	if len(args) > 0 {
		rd.replacer = strings.NewReplacer(args...)
	}
}

func (rd *rdRedactor) texts(ss []string) {
	for i := range ss {
		ss[i] = rd.text(ss[i])
	}
}

// text applies every string-level rule to s.
func (rd *rdRedactor) text(s string) string {
	if s == "" {
		return s
	}
	if rd.replacer != nil {
		s = rd.replacer.Replace(s)
	}
	s = rdJWT.ReplaceAllStringFunc(s, Fingerprint)
	s = rdReplaceGroup(rdJSONToken, s)
	s = rdReplaceGroup(rdFormToken, s)
	s = rdReplaceGroup(rdHeaderLine, s)
	s = rdReplaceGroup(rdKeyLine, s)
	s = rdUserinfo.ReplaceAllStringFunc(s, func(m string) string {
		sm := rdUserinfo.FindStringSubmatch(m)
		return sm[1] + Fingerprint(sm[2]) + sm[3]
	})
	return s
}

// rdReplaceGroup fingerprints the second capture group of every match of re,
// keeping the first (the field name) as it is.
func rdReplaceGroup(re *regexp.Regexp, s string) string {
	return re.ReplaceAllStringFunc(s, func(m string) string {
		sm := re.FindStringSubmatch(m)
		return sm[1] + Fingerprint(sm[2])
	})
}

// body is text plus care for a body cut at the evidence cap: a secret split
// by the cut leaves its prefix at the very end, which no exact match finds.
func (rd *rdRedactor) body(s string, truncated bool) string {
	s = rd.text(s)
	if !truncated {
		return s
	}
	for _, sec := range rd.sorted {
		for n := len(sec) - 1; n >= rdMinExplicitSecret; n-- {
			if strings.HasSuffix(s, sec[:n]) {
				return s[:len(s)-n] + Fingerprint(sec)
			}
		}
	}
	return s
}

func (rd *rdRedactor) headers(hs []Header) {
	for i := range hs {
		h := &hs[i]
		name := strings.ToLower(h.Name)
		if rdSensitiveHeaders[name] {
			switch name {
			case "cookie", "set-cookie":
				h.Value = rdEachCookieValue(h.Value, name == "set-cookie", func(v string) string {
					if v == "" || rdIsPlaceholder(v) {
						return v
					}
					return Fingerprint(v)
				})
			default:
				scheme, cred := rdSplitScheme(h.Value)
				if cred != "" && !rdIsPlaceholder(cred) {
					h.Value = scheme + Fingerprint(cred)
				}
			}
		}
		h.Value = rd.text(h.Value)
	}
}

// rdSplitScheme splits "Bearer abc" into ("Bearer ", "abc"); a value without
// a scheme word is all credential. The scheme is kept in reports because a
// proxy that rewrites or drops it is a conformance finding.
func rdSplitScheme(v string) (scheme, cred string) {
	v = strings.TrimSpace(v)
	word, rest, ok := strings.Cut(v, " ")
	if !ok {
		// "Bearer" with nothing after it is what a proxy that lost the
		// token sends; it is evidence, not a secret.
		if rdBareSchemes[strings.ToLower(v)] {
			return v, ""
		}
		return "", v
	}
	if !rdIsToken68Scheme(word) {
		return "", v
	}
	return word + " ", strings.TrimSpace(rest)
}

var rdBareSchemes = map[string]bool{
	"bearer": true, "basic": true, "digest": true, "negotiate": true,
	"dpop": true, "token": true, "apikey": true, "hoba": true, "mutual": true,
}

func rdIsToken68Scheme(w string) bool {
	if w == "" {
		return false
	}
	for _, r := range w {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// rdEachCookieValue rewrites the value of every name=value pair of a Cookie
// header, or only the first pair of a Set-Cookie header (the rest are
// attributes such as Path and HttpOnly, which are not secret).
func rdEachCookieValue(v string, setCookie bool, f func(string) string) string {
	parts := strings.Split(v, ";")
	for i, p := range parts {
		if setCookie && i > 0 {
			break
		}
		name, val, ok := strings.Cut(p, "=")
		if !ok {
			// A bare value with no name: treat it all as the value.
			lead := p[:len(p)-len(strings.TrimLeft(p, " "))]
			if t := strings.TrimSpace(p); t != "" {
				parts[i] = lead + f(t)
			}
			continue
		}
		parts[i] = name + "=" + f(strings.TrimSpace(val))
	}
	return strings.Join(parts, ";")
}
