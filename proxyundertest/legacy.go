package proxyundertest

import (
	"bytes"
	"io"
	"net/http"
	"strings"
)

// The legacy HTTP+SSE transport (2024-11-05) announces its message URI in
// an `endpoint` event. An upstream that sends it as an absolute URL on its
// own origin would send clients around the proxy (or, with SDK clients, make
// them refuse the endpoint), so the reference rewrites that origin to its
// own. Relative endpoints are left alone: they already resolve to the proxy.
func init() {
	RegisterFeature(Feature{Name: "legacy-endpoint", Order: 20, Install: func(r *Reference) {
		upstreamOrigin := r.Upstream.Scheme + "://" + r.Upstream.Host
		r.ResponseHooks = append(r.ResponseHooks, func(resp *http.Response) error {
			if resp.Body == nil || !strings.HasPrefix(strings.ToLower(resp.Header.Get("Content-Type")), "text/event-stream") || resp.Request == nil {
				return nil
			}
			// The inbound origin, as SetXForwarded recorded it on the
			// outbound request.
			host := resp.Request.Header.Get("X-Forwarded-Host")
			if host == "" {
				return nil
			}
			proto := resp.Request.Header.Get("X-Forwarded-Proto")
			if proto == "" {
				proto = "http"
			}
			// A stream of known length is left alone: the rewrite would
			// change its length, and legacy streams never have one.
			if resp.ContentLength >= 0 {
				return nil
			}
			resp.Body = &endpointRewriter{src: resp.Body, from: []byte(upstreamOrigin), to: []byte(proto + "://" + host)}
			return nil
		})
	}})
}

// endpointRewriter passes an SSE body through as it arrives, except the data
// lines of `event: endpoint` blocks, whose leading upstream origin it
// replaces. Only such a data line is ever held back (until its line end), so
// every other byte leaves as soon as it was read: streaming is unaffected.
type endpointRewriter struct {
	src      io.ReadCloser
	from, to []byte

	inEndpoint bool   // the current block had `event: endpoint`
	midLine    bool   // inside a line already passed through
	line       []byte // the start of the current line, not yet emitted
	out        []byte // processed bytes waiting for the caller
	err        error
}

func (e *endpointRewriter) Close() error { return e.src.Close() }

func (e *endpointRewriter) Read(p []byte) (int, error) {
	for len(e.out) == 0 && e.err == nil {
		buf := make([]byte, max(len(p), 512))
		n, err := e.src.Read(buf)
		e.feed(buf[:n])
		if err != nil {
			e.out = append(e.out, e.line...) // an unterminated tail goes as is
			e.line = nil
			e.err = err
		}
	}
	n := copy(p, e.out)
	e.out = e.out[n:]
	if len(e.out) == 0 && e.err != nil {
		return n, e.err
	}
	return n, nil
}

// feed processes newly read bytes into e.out.
func (e *endpointRewriter) feed(b []byte) {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if e.midLine {
			if i < 0 {
				e.out = append(e.out, b...)
				return
			}
			e.out = append(e.out, b[:i+1]...)
			b = b[i+1:]
			e.midLine = false
			continue
		}
		if i < 0 {
			e.line = append(e.line, b...)
			if !e.mayHold() {
				e.out = append(e.out, e.line...)
				e.line = e.line[:0]
				e.midLine = true
			}
			return
		}
		e.line = append(e.line, b[:i+1]...)
		b = b[i+1:]
		e.out = append(e.out, e.complete(e.line)...)
		e.line = e.line[:0]
	}
}

// mayHold says whether a partial line could still turn out to be a line
// the rewrite acts on: `event: endpoint` (until a byte rules it out) or,
// inside an endpoint block, a data line. Only those wait for their line end.
func (e *endpointRewriter) mayHold() bool {
	l := string(e.line)
	if strings.HasPrefix("event: endpoint\r", l) || strings.HasPrefix("event:endpoint\r", l) {
		return true
	}
	if !e.inEndpoint {
		return false
	}
	const data = "data:"
	if len(l) < len(data) {
		return strings.HasPrefix(data, l)
	}
	return strings.HasPrefix(l, data)
}

// complete handles one whole line (with its LF) and returns what to emit.
func (e *endpointRewriter) complete(line []byte) []byte {
	text := bytes.TrimRight(line, "\r\n")
	switch {
	case len(text) == 0:
		e.inEndpoint = false // a blank line ends the block
	case bytes.Equal(text, []byte("event: endpoint")) || bytes.Equal(text, []byte("event:endpoint")):
		e.inEndpoint = true
	case e.inEndpoint && bytes.HasPrefix(text, []byte("data:")):
		v := text[len("data:"):]
		prefix := len("data:")
		if len(v) > 0 && v[0] == ' ' {
			v, prefix = v[1:], prefix+1
		}
		// Only the origin itself: "http://host:port" followed by a path,
		// a query or nothing, never a longer host name.
		if bytes.HasPrefix(v, e.from) && (len(v) == len(e.from) || v[len(e.from)] == '/' || v[len(e.from)] == '?') {
			out := append([]byte(nil), line[:prefix]...)
			out = append(out, e.to...)
			return append(out, line[prefix+len(e.from):]...)
		}
	}
	return line
}

// unwrapLegacyRewrite undoes the reference's endpoint rewrite on a response
// (for the specimen that lacks it).
func unwrapLegacyRewrite(resp *http.Response) {
	if rw, ok := resp.Body.(*endpointRewriter); ok {
		resp.Body = rw.src
	}
}
