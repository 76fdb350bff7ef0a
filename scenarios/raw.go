package scenarios

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/mcpconform/mcpconform/mockserver"
	"github.com/mcpconform/mcpconform/report"
	"github.com/mcpconform/mcpconform/scenarios/wwwauth"
)

// Malformed response field lines (HTTP-E2E-002/003/004). The mock writes them
// on a raw socket; the harness reads the proxy's answer on a raw socket too,
// because Go's client would unfold an obs-fold or refuse the line before a
// judge could see what the proxy actually sent.

// rawHeadLimit bounds the response head read on a raw socket.
const rawHeadLimit = 64 << 10

// rawWait bounds one raw exchange below the scenario timeout.
const rawWait = 10 * time.Second

// malformedCase is one malformed challenge: the raw line(s) the mock sends
// and the well-formed value a proxy may deliver instead (SP in place).
type malformedCase struct {
	Raw   []string // header lines as written, {RM} expanded
	Clean string   // the WWW-Authenticate value with the defect repaired
	What  string   // the defect, for messages
}

func malformedRows(id string) []Row {
	switch id {
	case "HTTP-E2E-002":
		return []Row{
			{ID: "nul", Title: "NUL inside error_description", Data: malformedCase{
				Raw:   []string{"WWW-Authenticate: Bearer error=\"invalid_token\", error_description=\"bad\x00token\", resource_metadata={RM}"},
				Clean: `Bearer error="invalid_token", error_description="bad token", resource_metadata={RM}`, What: "a NUL in the field value"}},
			{ID: "cr", Title: "bare CR inside error_description", Data: malformedCase{
				Raw:   []string{"WWW-Authenticate: Bearer error=\"invalid_token\", error_description=\"bad\rtoken\", resource_metadata={RM}"},
				Clean: `Bearer error="invalid_token", error_description="bad token", resource_metadata={RM}`, What: "a bare CR in the field value"}},
		}
	case "HTTP-E2E-003":
		w33, _ := mockserver.ChallengeByID("WWWA-33")
		return []Row{{ID: "obs-fold", Title: "WWWA-33 folded over two lines", Data: malformedCase{
			Raw: w33.RawLines, Clean: w33.Lines[0], What: "an obs-fold (continuation line)"}}}
	}
	return []Row{{ID: "space-colon", Title: "WWW-Authenticate : Bearer …", Data: malformedCase{
		Raw:   []string{`WWW-Authenticate : Bearer realm="mcp", resource_metadata={RM}`},
		Clean: `Bearer realm="mcp", resource_metadata={RM}`, What: "whitespace between the field name and the colon"}}}
}

func init() {
	for _, s := range []struct{ id, title, req, src string }{
		{"HTTP-E2E-002", "CR or NUL in a response field value is rejected or replaced by SP",
			"Field values containing CR, LF, or NUL characters are invalid and dangerous; a recipient MUST either reject the message or replace each of those characters with SP before further processing or forwarding.", "RFC 9110 §5.5"},
		{"HTTP-E2E-003", "an obs-fold in a response is answered 502 or replaced by SP",
			"A proxy or gateway that receives an obs-fold in a response message MUST either discard the message and replace it with a 502 (Bad Gateway) response or replace each received obs-fold with one or more SP octets prior to forwarding.", "RFC 9112 §5.2"},
		{"HTTP-E2E-004", "whitespace before the colon is removed from a response",
			"A proxy MUST remove any such whitespace from a response message before forwarding the message downstream.", "RFC 9112 §5.1"},
	} {
		Define(Scenario{
			ID: s.id, Title: s.title, Area: "bridging", Level: MUST, Roles: []Role{RoleT},
			Requirement: s.req, Source: s.src,
			KnownBugs: []string{"L4 relays and byte-copying bridges forward malformed lines; header-splitting and cache-poisoning follow"},
			Checks:    "The mock answers initialize with 401 and the malformed WWW-Authenticate line on a raw socket; the harness reads the proxy's answer on a raw socket. It passes as a 5xx, or as the 401 whose head is well-formed with the challenge repaired (SP in place, B2).",
			Rows:      malformedRows(s.id),
			Run:       checkMalformedField,
		})
	}
}

// rawRequest writes an initialize on a fresh TCP connection to t and reads
// the response head (up to the blank line) as raw bytes.
func (h *H) rawInitialize(t Target) ([]byte, *report.Exchange, error) {
	u, err := url.Parse(t.MCPURL)
	if err != nil {
		return nil, nil, err
	}
	if u.Scheme != "http" {
		h.Skip("raw-socket checks need an http:// proxy URL")
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "80")
	}
	body := rpcRequest(1, "initialize", initializeParams())
	hdr := postHeaders("")
	for k, vs := range t.Header {
		hdr[k] = vs
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "POST %s HTTP/1.1\r\nHost: %s\r\n", u.RequestURI(), u.Host)
	ex := &report.Exchange{Hop: t.Hop, Started: time.Now(), Request: report.Request{Method: http.MethodPost, URL: t.MCPURL, Proto: "HTTP/1.1", Body: string(body)}}
	for k, vs := range hdr {
		for _, v := range vs {
			fmt.Fprintf(&b, "%s: %s\r\n", k, v)
			ex.Request.Headers = append(ex.Request.Headers, report.Header{Name: k, Value: v})
		}
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body)

	ctx, cancel := context.WithTimeout(h.ctx, rawWait)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		ex.Error = err.Error()
		return nil, ex, err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	if _, err := conn.Write(b.Bytes()); err != nil {
		ex.Error = err.Error()
		return nil, ex, err
	}
	var head []byte
	buf := make([]byte, 4096)
	for len(head) < rawHeadLimit && !bytes.Contains(head, []byte("\r\n\r\n")) {
		n, err := conn.Read(buf)
		head = append(head, buf[:n]...)
		if err != nil {
			if err != io.EOF || len(head) == 0 {
				ex.Error = fmt.Sprintf("after %d bytes: %v", len(head), err)
				return head, ex, fmt.Errorf("reading the response head after %d bytes: %w", len(head), err)
			}
			break
		}
	}
	if i := bytes.Index(head, []byte("\r\n\r\n")); i >= 0 {
		head = head[:i+2]
	}
	ex.DurationMS = ms(time.Since(ex.Started))
	status, lines := splitRawHead(head)
	ex.Response = &report.Response{Status: status, StatusText: http.StatusText(status), Proto: "HTTP/1.1"}
	for _, l := range lines {
		name, value, _ := strings.Cut(l, ":")
		ex.Response.Headers = append(ex.Response.Headers, report.Header{Name: name, Value: strings.TrimLeft(value, " \t")})
	}
	return head, ex, nil
}

// splitRawHead returns the status code and the field lines (split on CRLF
// only, so a bare CR or LF stays inside its line).
func splitRawHead(head []byte) (int, []string) {
	lines := strings.Split(strings.TrimSuffix(string(head), "\r\n"), "\r\n")
	if len(lines) == 0 {
		return 0, nil
	}
	parts := strings.SplitN(lines[0], " ", 3)
	status := 0
	if len(parts) >= 2 && strings.HasPrefix(parts[0], "HTTP/") {
		status, _ = strconv.Atoi(parts[1])
	}
	return status, lines[1:]
}

// malformedLine names the first defect in a raw field line, or "".
func malformedLine(l string) string {
	switch {
	case l == "":
		return ""
	case l[0] == ' ' || l[0] == '\t':
		return "an obs-fold (a line starting with whitespace)"
	case strings.ContainsRune(l, 0):
		return "a NUL"
	case strings.ContainsAny(l, "\r\n"):
		return "a bare CR or LF"
	}
	name, _, ok := strings.Cut(l, ":")
	if !ok {
		return "a line without a colon"
	}
	if strings.TrimRight(name, " \t") != name {
		return "whitespace before the colon"
	}
	return ""
}

func checkMalformedField(h *H) {
	mc := h.Row.Data.(malformedCase)
	rm := strings.NewReplacer("{RM}", `"`+h.Mock().PRMURL()+`"`)
	var raw []string
	for _, l := range mc.Raw {
		raw = append(raw, rm.Replace(l))
	}
	clean := rm.Replace(mc.Clean)
	fault := mockserver.Fault{Name: "malformed-" + h.Row.ID, Match: matchInitialize, Status: http.StatusUnauthorized,
		Raw: mockserver.RawResponse(http.StatusUnauthorized, append([]string{"Content-Type: application/json"}, raw...), mockserver.ErrorBody(401))}

	// Control: the mock really sends the malformed bytes.
	h.Mock().Arm(fault)
	head, ex, err := h.rawInitialize(h.Upstream())
	if ex != nil {
		h.Evidence(*ex)
	}
	if err != nil || !bytes.Contains(head, []byte(strings.Join(raw, "\r\n")+"\r\n")) {
		h.Control(Mismatchf(report.HopControl, "the mock's raw 401 with "+mc.What, fmt.Sprintf("%q (err %v)", shorten(string(head), 300), err)))
	}

	mark := h.Mock().Journal.Mark()
	h.Mock().Arm(fault)
	head, ex, err = h.rawInitialize(h.Proxy())
	if ex != nil {
		h.Evidence(*ex)
	}
	before := len(h.c.Exchanges)
	h.UpstreamEvidence(h.Mock().Journal.Since(mark)...)
	rawFaultAnswer(h.c.Exchanges[before:], fault)
	want := fmt.Sprintf("a 5xx, or 401 with a well-formed head and WWW-Authenticate «%s» (B2)", clean)
	if err != nil {
		h.Verdict(Mismatchf(report.HopClientProxy, want, "no complete response head: "+err.Error(), fmt.Sprintf("received %q", shorten(string(head), 300))))
	}
	status, lines := splitRawHead(head)
	switch {
	case status == 0:
		h.Verdict(Mismatchf(report.HopClientProxy, want, fmt.Sprintf("no HTTP status line: %q", shorten(string(head), 300))))
	case status/100 == 5:
		h.Note("the proxy refused the malformed response with %d", status)
		return
	}
	var d []string
	var got []string
	for _, l := range lines {
		if bad := malformedLine(l); bad != "" {
			d = append(d, fmt.Sprintf("the proxy forwarded a field line with %s: %q", bad, shorten(l, 200)))
		}
		if name, v, ok := strings.Cut(l, ":"); ok && strings.EqualFold(strings.TrimSpace(name), "WWW-Authenticate") {
			got = append(got, strings.Trim(v, " \t"))
		}
	}
	if status != http.StatusUnauthorized {
		d = append(d, fmt.Sprintf("status changed from 401 to %d", status))
	}
	if len(d) == 0 && !wwwauth.Equivalent(wwwauth.B2, []string{clean}, got) {
		d = append(d, wwwauth.Diff([]string{clean}, got)...)
	}
	if len(d) > 0 {
		h.Verdict(Mismatchf(report.HopClientProxy, want, fmt.Sprintf("%d with WWW-Authenticate %s", status, quoteLines(got)), d...))
	}
}

// rawFaultAnswer fills in the answer of the raw fault at the
// proxy→upstream hop: the journal saw no response (the bytes went to the
// hijacked socket), so it is read from the fault's bytes and kept whole in
// Response.Raw, for the diff between the hops and for `mock --replay`.
func rawFaultAnswer(exs []report.Exchange, fault mockserver.Fault) {
	for i := range exs {
		ex := &exs[i]
		if ex.Hop != report.HopProxyUpstream || ex.Response != nil || fault.Raw == nil {
			continue
		}
		head, body, _ := bytes.Cut(fault.Raw, []byte("\r\n\r\n"))
		status, lines := splitRawHead(append(head, '\r', '\n'))
		ex.Response = &report.Response{Status: status, StatusText: http.StatusText(status), Proto: "HTTP/1.1", Body: string(body), Raw: string(fault.Raw)}
		for _, l := range lines {
			name, value, _ := strings.Cut(l, ":")
			ex.Response.Headers = append(ex.Response.Headers, report.Header{Name: name, Value: strings.TrimLeft(value, " \t")})
		}
	}
}
