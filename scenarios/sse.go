package scenarios

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/r3labs/sse/v2"
	"gopkg.in/cenkalti/backoff.v1"

	"github.com/mcpconform/mcpconform/mockserver"
	"github.com/mcpconform/mcpconform/mockserver/ssescript"
	"github.com/mcpconform/mcpconform/report"
	"github.com/mcpconform/mcpconform/scenarios/sseread"
)

// Area 4: SSE streaming (SSE-*, RES-*, and the HTTP rules that SSE makes
// visible: HTTP-HOP-003, HTTP-E2E-006).
//
// Streams come from two sources: the SDK's progress tool on a POST response
// (the real thing), and ssescript on GET /mcp and GET /sse (exact bytes and a
// send stamp for every event). Every probe runs against the mock directly
// first (the control) and then through the proxy, with the same judge.

// sseEvents is how many events an incremental check sends through the proxy,
// Gap apart: enough to see buffering, few enough to keep the area within
// seconds.
const sseEvents = 4

// The control run of an incremental check only proves that the mock streams
// and the reader times it, so it sends fewer events closer together, judged
// by the same rule (a late event still fails it). This saves about 0.7 s per
// check; the proxy run keeps the full gap so coalesce-200ms still passes.
const (
	controlEvents = 3
	controlGap    = 100 * time.Millisecond
)

func init() {
	Define(Scenario{
		ID:            "SSE-STREAM-001",
		StdioUpstream: true,
		Title:         "SSE events arrive incrementally, not buffered",
		Area:          "sse",
		Level:         MUST,
		Roles:         anyRoles,
		Requirement:   "A proxy must not accumulate SSE messages before sending them to the client (servers add X-Accel-Buffering: no because proxies may).",
		Source:        "MCP 2026-07-28 Receiving Messages (spec PR #1644); SCENARIOS.md timing rules",
		KnownBugs:     []string{"BerriAI/litellm#22073 (buffered ASGI body)", "elazarl/goproxy#475", "nginx proxy_buffering on by default"},
		Checks:        "The upstream sends events --sse-gap apart (no X-Accel-Buffering); fail when two events sent ≥ gap apart share one body read, or one arrives later than send + --sse-tolerance.",
		Rows: []Row{
			{ID: "post", Title: "POST response: progress notifications of a tools/call"},
			{ID: "get", Title: "GET standalone stream on /mcp", Revisions: sessionLegs},
			{ID: "legacy", Title: "legacy HTTP+SSE stream on /sse"},
		},
		Run: checkIncremental,
	})
	Define(Scenario{
		ID:          "SSE-STREAM-003",
		Title:       "SSE response is re-framed without Content-Length",
		Area:        "sse",
		Level:       MUST,
		Roles:       []Role{RoleT, RoleI, RoleK},
		Requirement: "Since Transfer-Encoding is hop-by-hop the proxy re-frames an SSE stream (chunked on HTTP/1.1) and flushes each write; an open-ended stream never carries Content-Length.",
		Source:      "RFC 9112 §6.1, §6.3",
		KnownBugs:   []string{"BerriAI/litellm#22073 (collected body sent with Content-Length)"},
		Checks:      "Raw HTTP/1.1 GET of a scripted stream through the proxy: the head must not carry Content-Length, the body must be chunked (or close-delimited) and decode to the upstream's bytes.",
		Run:         func(h *H) { checkFraming(h, judgeSSEFraming) },
	})
	Define(Scenario{
		ID:          "HTTP-HOP-003",
		Title:       "no double chunking, no Content-Length with Transfer-Encoding",
		Area:        "sse",
		Level:       MUST,
		Roles:       []Role{RoleT, RoleI, RoleK},
		Requirement: "A sender MUST NOT apply the chunked transfer coding more than once; a sender MUST NOT send Content-Length in a message that contains Transfer-Encoding.",
		Source:      "RFC 9112 §6.1, §6.2",
		KnownBugs:   []string{"raw relays that copy the upstream's Transfer-Encoding and chunk again"},
		Checks:      "Raw HTTP/1.1 GET of a scripted stream through the proxy: 'chunked' appears once, never with Content-Length, and the de-chunked body is the upstream's bytes (not chunk framing).",
		Run:         func(h *H) { checkFraming(h, judgeHopFraming) },
	})
	Define(Scenario{
		ID:          "HTTP-E2E-006",
		Title:       "no-transform SSE is not compressed when the client offers gzip",
		Area:        "sse",
		Level:       MUST,
		Roles:       []Role{RoleT, RoleI, RoleK},
		Requirement: "A proxy MUST NOT transform the content of a response message that contains a no-transform cache directive.",
		Source:      "RFC 9110 §7.7; RFC 9111 §5.2.2.6",
		KnownBugs:   []string{"compression middleware in front of SSE (holds chunks, and transforms no-transform content)"},
		Checks:      "GET with Accept-Encoding: gzip; the upstream streams Cache-Control: no-cache, no-transform; the client must get no Content-Encoding, the upstream's bytes, and the events incrementally.",
		Run:         checkNoTransform,
	})
	Define(Scenario{
		ID:          "SSE-PARSE-001",
		Title:       "event fields survive byte for byte in every line-ending style",
		Area:        "sse",
		Level:       MUST,
		Roles:       []Role{RoleT, RoleI, RoleK},
		Requirement: "Lines end with CRLF, LF or CR, one leading BOM is ignored; a transparent proxy passes the stream through, so id, event, retry, comments and multi-line data reach the client unchanged.",
		Source:      "WHATWG HTML §9.2.5-9.2.6 (event stream format and interpretation)",
		Checks:      "A scripted stream with a comment, event, id, retry, multi-line data and a priming event, in each line-ending style and with a BOM; the client's raw body must equal the upstream's.",
		Rows: []Row{
			{ID: "lf", Title: "LF line endings", Data: ssescript.Script{LineEnding: "\n"}},
			{ID: "crlf", Title: "CRLF line endings", Data: ssescript.Script{LineEnding: "\r\n"}},
			{ID: "cr", Title: "lone CR line endings", Data: ssescript.Script{LineEnding: "\r"}},
			{ID: "bom", Title: "leading UTF-8 BOM", Data: ssescript.Script{BOM: true}},
			{ID: "split", Title: "events split across writes (CRLF split between CR and LF)", Data: ssescript.Script{LineEnding: "\r\n", SplitWrites: true}},
		},
		Run: checkFields,
	})
	Define(Scenario{
		ID:            "SSE-PARSE-003",
		StdioUpstream: true,
		Title:         "large and numerous events arrive whole and in order",
		Area:          "sse",
		Level:         MUST,
		Roles:         anyRoles,
		Requirement:   "Data lines are appended to the data buffer whole; a proxy must not truncate, split or reorder events, whatever their size or number.",
		Source:        "WHATWG HTML §9.2.6 (data lines are appended whole)",
		KnownBugs:     []string{"re-serialisers on bufio.Scanner's 64 KiB default line limit", "r3labs/sse default 64 KiB buffer"},
		Checks:        "A 1 MiB single-line event, and 10 000 small events back to back; the client must get every event, whole, in order.",
		Rows: []Row{
			{ID: "large", Title: "one 1 MiB event"},
			{ID: "many", Title: "10 000 small events"},
		},
		Run: checkLargeMany,
	})
	Define(Scenario{
		ID:          "SSE-PARSE-004",
		Title:       "odd ids and retry values are forwarded unchanged",
		Area:        "sse",
		Level:       MUST,
		Roles:       []Role{RoleT, RoleI, RoleK},
		Requirement: "An id containing NUL is ignored, an empty id clears the last event id, a non-digit retry is ignored: a transparent proxy forwards them unchanged so the client's parser decides.",
		Source:      "WHATWG HTML §9.2.6 (id and retry fields)",
		Checks:      "Raw lines: an id with NUL, an empty id, 'retry: 12a', an id without data; the client's raw body must equal the upstream's.",
		Run:         checkOddFields,
	})
	Define(Scenario{
		ID:          "SSE-PARSE-005",
		Title:       "an upstream cut ends the client's stream, nothing invented",
		Area:        "sse",
		Level:       MUST,
		Roles:       anyRoles,
		Requirement: "Once the end of the stream is reached any pending data is discarded; a proxy whose upstream drops mid-event must end the client's stream promptly, deliver what was sent, and not invent the missing blank line.",
		Source:      "WHATWG HTML §9.2.6 (pending data is discarded at the end of the stream)",
		Checks:      "The upstream sends two events and half of a third, then aborts; the client's stream must end within a bound with both events and no dispatched third event.",
		Run:         checkCut,
	})
	Define(Scenario{
		ID:            "SSE-STREAM-002",
		StdioUpstream: true,
		Revisions:     RevisionRange{Until: Rev20251125},
		Title:         "an idle stream with keep-alive comments stays open",
		Area:          "sse",
		Level:         MUST,
		Roles:         anyRoles,
		Requirement:   "Authors send a comment line every 15 s or so so that proxies do not drop idle streams; clients must ignore such lines, proxies must forward them and keep the stream open.",
		Source:        "WHATWG HTML §9.2.7; MCP 2026-07-28 keep-alives",
		Checks:        "A GET stream idle but for ':' comments (2 s by default, 3 minutes with --long), then an event; every comment and the event must arrive on the same open stream.",
		Timeout:       4 * time.Minute,
		Run:           checkIdle,
	})
	Define(Scenario{
		ID:          "RES-001",
		Revisions:   RevisionRange{Until: Rev20251125},
		Title:       "event ids reach the client verbatim",
		Area:        "sse",
		Level:       MUST,
		Roles:       []Role{RoleT, RoleI, RoleK},
		Requirement: "Event ids are globally unique per session and encode the originating stream; a transparent proxy forwards them verbatim (a bridge maps them bijectively).",
		Source:      "MCP 2025-11-25 Resumability 1",
		Checks:      "A GET stream with MCP-style ids (stream prefixes, punctuation, a long opaque id); the client must see the same ids in order.",
		Run:         checkIDs,
	})
	Define(Scenario{
		ID:          "RES-002",
		Revisions:   RevisionRange{Until: Rev20251125},
		Title:       "Last-Event-ID is forwarded on a resumed GET",
		Area:        "sse",
		Level:       MUST,
		Roles:       []Role{RoleT, RoleI, RoleK},
		Requirement: "The client resumes with GET and Last-Event-ID; the server replays after that id. The proxy must carry the header so the upstream resumes at the right event.",
		Source:      "MCP 2025-11-25 Resumability 2",
		Checks:      "An r3labs client (custom http.Client, bounded reconnects) reads a stream that ends after id s1-3 and reconnects; the upstream must receive Last-Event-ID: s1-3 and the client s1-4, s1-5 once.",
		Run:         checkResume,
	})
	Define(Scenario{
		ID:          "RES-003",
		Revisions:   RevisionRange{Since: Rev20251125, Until: Rev20251125},
		Title:       "priming event and retry field are kept",
		Area:        "sse",
		Level:       MUST,
		Roles:       anyRoles,
		Requirement: "The server SHOULD send a priming event (an id and empty data) and SHOULD send retry before closing; the client MUST respect retry, so a proxy must forward both.",
		Source:      "MCP 2025-11-25 Sending Messages 6",
		Checks:      "The upstream sends 'id: p0 / data:' then 'retry: 1500' and closes; the client must see a dispatched empty event with id p0 and retry 1500.",
		Run:         checkPriming,
	})
	Define(Scenario{
		ID:    "RES-004",
		Title: "a client disconnect reaches the upstream promptly",
		Area:  "sse",
		// Before 2026-07-28 a disconnect is not a cancellation (2025-11-25:
		// it SHOULD NOT be read as one), but a proxy that holds the
		// upstream request open after its client left keeps the server
		// producing for nobody. From 2026-07-28 the close is the
		// cancellation, and a proxy that hides it breaks it.
		Level:       SHOULD,
		LevelFrom:   map[string]Level{Rev20260728: MUST},
		Roles:       anyRoles,
		Requirement: "From MCP 2026-07-28, closing the SSE response stream MUST be treated by the server as cancellation, so a proxy must propagate a downstream close to the upstream; before it, a proxy should still not hold the upstream request open for a client that left.",
		Source:      "MCP 2026-07-28 Streamable HTTP, Cancellation; MCP 2025-11-25 Resumability (disconnection is not cancellation)",
		Checks:      "The client reads the first event of a long stream and hangs up; the upstream must see its request end within 2 s.",
		Run:         checkDisconnect,
	})
}

// sseGap and sseTolerance are the run's timing rule.
func (h *H) sseGap() time.Duration {
	if g := h.Params().SSEGap; g > 0 {
		return g
	}
	return sseread.DefaultGap
}

func (h *H) sseTolerance() time.Duration {
	if t := h.Params().SSETolerance; t > 0 {
		return t
	}
	return sseread.DefaultTolerance
}

// streamGet is the GET request of a standalone stream.
func streamGet(u string) Request {
	return Request{Method: http.MethodGet, URL: u, Header: http.Header{"Accept": {"text/event-stream"}}}
}

// derivedLegacyURL is the /sse endpoint next to an /mcp endpoint, or ""
// when it cannot be derived: the path does not end in /mcp, or the URL
// carries a query (proxies that take the target per request have one URL per
// transport, with its own query).
func derivedLegacyURL(mcpURL string) string {
	u, err := url.Parse(mcpURL)
	if err != nil || u.RawQuery != "" || !strings.HasSuffix(u.Path, mockserver.MCPPath) {
		return ""
	}
	u.Path = strings.TrimSuffix(u.Path, mockserver.MCPPath) + mockserver.SSEPath
	return u.String()
}

// legacyURLOrSkip is t's legacy HTTP+SSE endpoint. When it is unknown it
// ends the case as a skip (it does not return): the legacy route of such a
// proxy can only be named by the user (--proxy-sse).
func (h *H) legacyURLOrSkip(t Target) string {
	if t.SSEURL == "" {
		h.Skip(fmt.Sprintf("the proxy's legacy HTTP+SSE URL is unknown: its MCP URL %s does not end in /mcp or carries a query; name the legacy endpoint with --proxy-sse", t.MCPURL))
	}
	return t.SSEURL
}

// judgeIncremental applies the streaming rule to a timeline of want events.
func (h *H) judgeIncremental(hop string, res *StreamResult, want int) *Mismatch {
	expect := fmt.Sprintf("%d events, each arriving within %dms of its send and none sharing a body read with one sent ≥%dms earlier",
		want, h.sseTolerance().Milliseconds(), h.sseGap().Milliseconds())
	if res.Err != nil || res.Status != http.StatusOK {
		return Mismatchf(hop, expect, res.Describe())
	}
	// Count only events the upstream is known to have sent (matched by id or
	// send stamp): a stream of other events must not pass for a live one.
	known := 0
	for i := range res.Events {
		if i < len(res.Sent) && !res.Sent[i].IsZero() {
			known++
		}
	}
	if known < want {
		return Mismatchf(hop, expect, fmt.Sprintf("%d of %d events sent by the upstream arrived, among %d received (%s)", known, want, len(res.Events), res.Describe()), res.Timeline())
	}
	if buffered, why := sseread.Buffered(res.Events, res.Sent, h.sseGap(), h.sseTolerance()); buffered {
		return Mismatchf(hop, expect, "the stream was buffered: "+why, "timeline: "+res.Timeline())
	}
	return nil
}

func checkIncremental(h *H) {
	gap := h.sseGap()
	switch h.Row.ID {
	case "post":
		probe := func(t Target, n int, gap time.Duration) *Mismatch {
			if h.Bridge() {
				return h.probeBridgeProgress(t, n, gap)
			}
			s, bad := h.Open(t)
			if s == nil {
				return Mismatchf(t.Hop, "an MCP session opens", "initialize failed: "+bad.describeAnswer())
			}
			defer s.Close()
			res := h.Stream(t, Request{Header: postHeaders(s.ID), Body: rpcRequest(9, "tools/call", progressCall(n, gap, "mcpconform-"+randomToken()))},
				StreamOptions{Sent: progressSent, MaxWait: time.Duration(n)*gap + 5*time.Second})
			if ct := res.Header.Get("Content-Type"); res.Err == nil && !strings.HasPrefix(ct, "text/event-stream") {
				return Mismatchf(t.Hop, "a text/event-stream response to a tools/call with a progress token", "Content-Type "+ct+"; "+res.Describe())
			}
			return h.judgeIncremental(t.Hop, res, n)
		}
		h.Control(probe(h.Upstream(), controlEvents, controlGap))
		h.Verdict(probe(h.Proxy(), sseEvents, gap))
	case "get", "legacy":
		if h.Bridge() {
			if h.Row.ID == "get" {
				checkIncrementalGetBridge(h)
			} else {
				checkIncrementalLegacyBridge(h)
			}
			return
		}
		path := mockserver.MCPPath
		urlOf := func(t Target) string { return t.MCPURL }
		if h.Row.ID == "legacy" {
			path, urlOf = mockserver.SSEPath, h.legacyURLOrSkip
		}
		probe := func(t Target, n int, gap time.Duration) (*StreamResult, *Mismatch, bool) {
			mark := h.Mock().Journal.Mark()
			rec := h.Mock().ArmStream("sse-incremental", mockserver.StreamMatch(path), ssescript.Script{Steps: ssescript.Sequence(n, gap, nil)})
			res := h.Stream(t, streamGet(urlOf(t)), StreamOptions{Recorder: rec, MaxWait: time.Duration(n)*gap + 5*time.Second})
			asked := false
			for _, e := range h.Mock().Journal.Since(mark) {
				asked = asked || (e.Method == http.MethodGet && e.Path == path)
			}
			return res, h.judgeIncremental(t.Hop, res, n), asked
		}
		_, m, _ := probe(h.Upstream(), controlEvents, controlGap)
		h.Control(m)
		res, m, asked := probe(h.Proxy(), sseEvents, gap)
		if h.Row.ID == "legacy" && res.Err == nil && res.Status == http.StatusNotFound && !asked {
			h.Skip("the proxy answers 404 on /sse without asking the upstream: it does not expose the legacy HTTP+SSE endpoint (name it with --proxy-sse if it has one elsewhere)")
		}
		h.Verdict(m)
	default:
		h.Errorf("SSE-STREAM-001 row %q has no check", h.Row.ID)
	}
}

// progressSent reads the send stamp the progress tool puts in each
// notification's message; the final result has none.
func progressSent(events []sseread.Event) []time.Time {
	out := make([]time.Time, len(events))
	for i, e := range events {
		var msg struct {
			Method string `json:"method"`
			Params struct {
				Message string `json:"message"`
			} `json:"params"`
		}
		if json.Unmarshal([]byte(e.Data), &msg) != nil || msg.Method != "notifications/progress" {
			continue
		}
		if t, err := time.Parse(time.RFC3339Nano, msg.Params.Message); err == nil {
			out[i] = t
		}
	}
	return out
}

// rawResponse is an HTTP/1.1 response read off the socket, before any client
// library interprets its framing.
type rawResponse struct {
	Status  int
	Head    []string // field lines as received
	Body    []byte   // de-chunked when chunked once
	RawBody []byte   // as received after the head
	Err     error
}

func (r *rawResponse) fields(name string) []string {
	var out []string
	for _, l := range r.Head {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.EqualFold(strings.TrimSpace(k), name) {
			out = append(out, strings.TrimSpace(v))
		}
	}
	return out
}

// rawGet sends a GET over a fresh TCP connection and reads the whole
// response until the server closes, within d.
func (h *H) rawGet(t Target, d time.Duration) *rawResponse {
	out := &rawResponse{}
	u, err := url.Parse(t.MCPURL)
	if err != nil || u.Scheme != "http" {
		out.Err = fmt.Errorf("raw framing probe needs an http:// URL, have %q", t.MCPURL)
		return out
	}
	host := u.Host
	if u.Port() == "" {
		host += ":80"
	}
	ctx, cancel := context.WithTimeout(h.Ctx(), d)
	defer cancel()
	var dl net.Dialer
	conn, err := dl.DialContext(ctx, "tcp", host)
	if err != nil {
		out.Err = err
		return out
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	var req strings.Builder
	fmt.Fprintf(&req, "GET %s HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\nConnection: close\r\n", u.RequestURI(), u.Host)
	for k, vs := range t.Header {
		for _, v := range vs {
			fmt.Fprintf(&req, "%s: %s\r\n", k, v)
		}
	}
	req.WriteString("\r\n")
	if _, err := io.WriteString(conn, req.String()); err != nil {
		out.Err = err
		return out
	}
	all, err := io.ReadAll(io.LimitReader(conn, 4<<20))
	if err != nil && ctx.Err() != nil {
		out.Err = fmt.Errorf("the response did not end within %s: %w", d, err)
	}
	head, body, ok := bytes.Cut(all, []byte("\r\n\r\n"))
	if !ok {
		if out.Err == nil {
			out.Err = fmt.Errorf("no complete response head in %d bytes", len(all))
		}
		return out
	}
	lines := strings.Split(string(head), "\r\n")
	if f := strings.Fields(lines[0]); len(f) >= 2 {
		out.Status, _ = strconv.Atoi(f[1])
	}
	out.Head = lines[1:]
	out.RawBody = body
	out.Body = body
	if te := out.fields("Transfer-Encoding"); len(te) > 0 && strings.Contains(strings.ToLower(strings.Join(te, ",")), "chunked") {
		dec, derr := dechunk(body)
		if derr != nil && out.Err == nil {
			out.Err = fmt.Errorf("chunked body: %w", derr)
		}
		out.Body = dec
	}
	return out
}

// dechunk decodes one layer of chunked transfer coding.
func dechunk(b []byte) ([]byte, error) {
	var out []byte
	r := bufio.NewReader(bytes.NewReader(b))
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return out, fmt.Errorf("truncated before the last chunk: %w", err)
		}
		sz, _, _ := strings.Cut(strings.TrimSpace(line), ";")
		n, err := strconv.ParseInt(sz, 16, 64)
		if err != nil {
			return out, fmt.Errorf("bad chunk size %q", strings.TrimSpace(line))
		}
		if n == 0 {
			return out, nil
		}
		chunk := make([]byte, n+2)
		if _, err := io.ReadFull(r, chunk); err != nil {
			return out, fmt.Errorf("truncated chunk: %w", err)
		}
		out = append(out, chunk[:n]...)
	}
}

// framingScript is a short stream with no waits: framing needs bytes, not
// time.
func framingScript() ssescript.Script {
	return ssescript.Script{Steps: ssescript.Sequence(3, 0, nil)}
}

func checkFraming(h *H, judge func(hop string, r *rawResponse, want []byte) *Mismatch) {
	probe := func(t Target) *Mismatch {
		s := framingScript()
		rec := h.Mock().ArmStream("sse-framing", mockserver.StreamMatch(mockserver.MCPPath), s)
		r := h.rawGet(t, 5*time.Second)
		_, _ = rec.Wait(2 * time.Second)
		ex := report.Exchange{Hop: t.Hop, Started: time.Now(), Request: report.Request{Method: "GET", URL: t.MCPURL, Proto: "HTTP/1.1"}}
		ex.Response = &report.Response{Status: r.Status, Proto: "HTTP/1.1", Body: string(r.RawBody[:min(len(r.RawBody), maxEvidenceBody)])}
		for _, l := range r.Head {
			k, v, _ := strings.Cut(l, ":")
			ex.Response.Headers = append(ex.Response.Headers, report.Header{Name: k, Value: strings.TrimSpace(v)})
		}
		if r.Err != nil {
			ex.Error = r.Err.Error()
		}
		h.Evidence(ex)
		return judge(t.Hop, r, s.Bytes())
	}
	h.Control(probe(h.Upstream()))
	h.Verdict(probe(h.Proxy()))
}

func judgeSSEFraming(hop string, r *rawResponse, want []byte) *Mismatch {
	expect := "200 text/event-stream, no Content-Length, body framed by chunks or by close and equal to the upstream's bytes"
	if r.Status != http.StatusOK {
		return Mismatchf(hop, expect, fmt.Sprintf("status %d (%v)", r.Status, r.Err))
	}
	if cl := r.fields("Content-Length"); len(cl) > 0 {
		return Mismatchf(hop, expect, "Content-Length: "+strings.Join(cl, ", ")+" on an SSE stream",
			"an open-ended stream cannot know its length: the proxy collected the whole body before sending it")
	}
	if r.Err != nil {
		return Mismatchf(hop, expect, r.Err.Error())
	}
	if !bytes.Equal(r.Body, want) {
		return Mismatchf(hop, expect, fmt.Sprintf("a body of %d bytes that differs from the upstream's %d", len(r.Body), len(want)), firstDiff(want, r.Body))
	}
	return nil
}

func judgeHopFraming(hop string, r *rawResponse, want []byte) *Mismatch {
	expect := "'chunked' applied once, no Content-Length next to Transfer-Encoding, de-chunked body equal to the upstream's bytes"
	if r.Status != http.StatusOK {
		return Mismatchf(hop, expect, fmt.Sprintf("status %d (%v)", r.Status, r.Err))
	}
	te := r.fields("Transfer-Encoding")
	cl := r.fields("Content-Length")
	chunked := 0
	for _, v := range te {
		for c := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(c), "chunked") {
				chunked++
			}
		}
	}
	if len(te) > 0 && len(cl) > 0 {
		return Mismatchf(hop, expect, fmt.Sprintf("Transfer-Encoding: %s with Content-Length: %s", strings.Join(te, ", "), strings.Join(cl, ", ")))
	}
	if chunked > 1 {
		return Mismatchf(hop, expect, "Transfer-Encoding lists chunked "+strconv.Itoa(chunked)+" times: "+strings.Join(te, ", "))
	}
	if r.Err != nil {
		return Mismatchf(hop, expect, r.Err.Error())
	}
	if !bytes.Equal(r.Body, want) {
		if _, err := dechunk(r.Body); err == nil {
			return Mismatchf(hop, expect, "the de-chunked body is itself chunk-framed: the proxy chunked the upstream's chunked bytes again", firstDiff(want, r.Body))
		}
		return Mismatchf(hop, expect, fmt.Sprintf("a body of %d bytes that differs from the upstream's %d", len(r.Body), len(want)), firstDiff(want, r.Body))
	}
	return nil
}

// firstDiff names the first differing byte of two bodies.
func firstDiff(want, got []byte) string {
	i := 0
	for i < len(want) && i < len(got) && want[i] == got[i] {
		i++
	}
	snip := func(b []byte) string {
		if i >= len(b) {
			return "(end)"
		}
		return strconv.Quote(string(b[i:min(len(b), i+40)]))
	}
	return fmt.Sprintf("first difference at byte %d: upstream sent %s, client got %s", i, snip(want), snip(got))
}

func checkNoTransform(h *H) {
	gap := h.sseGap()
	probe := func(t Target, n int, gap time.Duration) *Mismatch {
		s := ssescript.Script{Steps: ssescript.Sequence(n, gap, nil), NoTransform: true}
		rec := h.Mock().ArmStream("sse-no-transform", mockserver.StreamMatch(mockserver.MCPPath), s)
		req := streamGet(t.MCPURL)
		req.Header.Set("Accept-Encoding", "gzip")
		res := h.Stream(t, req, StreamOptions{Recorder: rec, MaxWait: time.Duration(n)*gap + 5*time.Second})
		if ce := res.Header.Get("Content-Encoding"); ce != "" && ce != "identity" {
			return Mismatchf(t.Hop, "no Content-Encoding on a Cache-Control: no-transform stream",
				"Content-Encoding: "+ce, "the upstream sent Cache-Control: no-cache, no-transform; the client offered Accept-Encoding: gzip")
		}
		if res.Err == nil && !bytes.Equal(res.Raw, s.Bytes()) {
			return Mismatchf(t.Hop, "the upstream's bytes unchanged", fmt.Sprintf("%d bytes that differ from the upstream's %d", len(res.Raw), len(s.Bytes())), firstDiff(s.Bytes(), res.Raw))
		}
		return h.judgeIncremental(t.Hop, res, n)
	}
	h.Control(probe(h.Upstream(), controlEvents, controlGap))
	h.Verdict(probe(h.Proxy(), sseEvents, gap))
}

// fieldSteps exercise every field a proxy could drop or rewrite.
func fieldSteps() []ssescript.Step {
	multi := ssescript.Message("f-2", "{\"jsonrpc\":\"2.0\",\n\"method\":\"notifications/message\",\n\"params\":{\"level\":\"info\",\"data\":\"a: b\"}}")
	return []ssescript.Step{
		ssescript.Priming("f-0"),
		ssescript.Comment("keep-alive from the upstream"),
		{Kind: ssescript.KindEvent, Event: "message", ID: "f-1", HasID: true, Retry: "2500", Data: `{"jsonrpc":"2.0","method":"notifications/progress","params":{"progress":1}}`, HasData: true},
		multi,
		{Kind: ssescript.KindEvent, Comment: "two\ncomment lines", HasComment: true, Event: "custom-type", Data: " leading space kept", HasData: true},
	}
}

// judgeBytes compares the client's raw body with the script's bytes.
func judgeBytes(hop, what string, res *StreamResult, want []byte) *Mismatch {
	expect := what + " byte for byte"
	if res.Err != nil || res.Status != http.StatusOK {
		return Mismatchf(hop, expect, res.Describe())
	}
	if bytes.Equal(res.Raw, want) {
		return nil
	}
	var d []string
	d = append(d, firstDiff(want, res.Raw))
	up, _ := sseread.Read(context.Background(), bytes.NewReader(want), sseread.Options{}, nil)
	d = append(d, diffEvents(up, res.Events)...)
	return Mismatchf(hop, expect, fmt.Sprintf("%d bytes that differ from the upstream's %d", len(res.Raw), len(want)), d...)
}

// clip shortens a value for a failure message (1 MiB events exist).
func clip(s string) string {
	if len(s) > 80 {
		return fmt.Sprintf("%s…[%d bytes]", s[:80], len(s))
	}
	return s
}

// diffEvents names the fields that changed, block by block.
func diffEvents(want, got []sseread.Event) []string {
	var d []string
	if len(want) != len(got) {
		d = append(d, fmt.Sprintf("%d blocks sent, %d received", len(want), len(got)))
	}
	for i := range min(len(want), len(got)) {
		w, g := want[i], got[i]
		add := func(field, a, b string) {
			if a != b {
				a, b = clip(a), clip(b)
				d = append(d, fmt.Sprintf("block #%d %s: sent %q, received %q", i, field, a, b))
			}
		}
		add("id", w.ID, g.ID)
		add("event", w.Event, g.Event)
		add("retry", w.Retry, g.Retry)
		add("comment", w.Comment, g.Comment)
		add("data", w.Data, g.Data)
		if len(d) > 8 {
			break
		}
	}
	return d
}

func checkFields(h *H) {
	base := h.Row.Data.(ssescript.Script)
	probe := func(t Target) *Mismatch {
		s := base
		s.Steps = fieldSteps()
		rec := h.Mock().ArmStream("sse-fields-"+h.Row.ID, mockserver.StreamMatch(mockserver.MCPPath), s)
		res := h.Stream(t, streamGet(t.MCPURL), StreamOptions{Recorder: rec, MaxWait: 5 * time.Second})
		return judgeBytes(t.Hop, "id, event, retry, comments and multi-line data ("+h.Row.Title+")", res, s.Bytes())
	}
	h.Control(probe(h.Upstream()))
	h.Verdict(probe(h.Proxy()))
}

func checkOddFields(h *H) {
	probe := func(t Target) *Mismatch {
		s := ssescript.Script{Steps: []ssescript.Step{
			ssescript.Raw("id: a\x00b\ndata: id with NUL is ignored\n\n"),
			ssescript.Raw("id: kept-1\ndata: x\n\n"),
			ssescript.Raw("id\ndata: a bare id clears the last event id\n\n"),
			ssescript.Raw("retry: 12a\ndata: retry with a letter is ignored\n\n"),
			ssescript.Raw("id: 7\n\n"),
			ssescript.Raw("unknown: field\ndata\n\n"),
		}}
		rec := h.Mock().ArmStream("sse-odd-fields", mockserver.StreamMatch(mockserver.MCPPath), s)
		res := h.Stream(t, streamGet(t.MCPURL), StreamOptions{Recorder: rec, MaxWait: 5 * time.Second})
		return judgeBytes(t.Hop, "NUL id, empty id, 'retry: 12a', id without data and unknown fields", res, s.Bytes())
	}
	h.Control(probe(h.Upstream()))
	h.Verdict(probe(h.Proxy()))
}

func checkLargeMany(h *H) {
	if h.Bridge() {
		checkLargeManyBridge(h)
		return
	}
	var s ssescript.Script
	want := 0
	switch h.Row.ID {
	case "large":
		s = ssescript.Script{Steps: []ssescript.Step{ssescript.Event("1", "small before"), ssescript.Big("2", 1<<20), ssescript.Event("3", "small after")}}
		want = 3
	case "many":
		s = ssescript.Script{Steps: ssescript.Many(10000, 40)}
		want = 10000
	default:
		h.Errorf("SSE-PARSE-003 row %q has no check", h.Row.ID)
	}
	probe := func(t Target) *Mismatch {
		rec := h.Mock().ArmStream("sse-"+h.Row.ID, mockserver.StreamMatch(mockserver.MCPPath), s)
		res := h.Stream(t, streamGet(t.MCPURL), StreamOptions{Recorder: rec, MaxWait: 8 * time.Second})
		expect := fmt.Sprintf("%d events, whole and in order", want)
		if res.Err != nil || res.Status != http.StatusOK {
			return Mismatchf(t.Hop, expect, res.Describe())
		}
		var up []sseread.Event
		up, _ = sseread.Read(context.Background(), bytes.NewReader(s.Bytes()), sseread.Options{}, nil)
		got := res.Events
		if res.ReadErr != nil || len(got) != len(up) {
			return Mismatchf(t.Hop, expect, fmt.Sprintf("%d events (%s)", len(got), res.Describe()), diffEvents(up, got)...)
		}
		for i := range up {
			if up[i].ID != got[i].ID || up[i].Data != got[i].Data || got[i].Incomplete {
				return Mismatchf(t.Hop, expect, fmt.Sprintf("event #%d differs: sent id %q with %d data bytes, received id %q with %d data bytes",
					i, up[i].ID, len(up[i].Data), got[i].ID, len(got[i].Data)), firstDiff([]byte(up[i].Data), []byte(got[i].Data)))
			}
		}
		return nil
	}
	h.Control(probe(h.Upstream()))
	h.Verdict(probe(h.Proxy()))
}

func checkCut(h *H) {
	if h.Bridge() {
		checkCutBridge(h)
		return
	}
	probe := func(t Target) *Mismatch {
		s := ssescript.Script{Steps: []ssescript.Step{
			ssescript.Event("c-1", "one"),
			ssescript.Event("c-2", "two"),
			ssescript.Raw("id: c-3\ndata: half of an event"),
			ssescript.Cut(),
		}}
		rec := h.Mock().ArmStream("sse-cut", mockserver.StreamMatch(mockserver.MCPPath), s)
		const bound = 3 * time.Second
		res := h.Stream(t, streamGet(t.MCPURL), StreamOptions{Recorder: rec, MaxWait: bound})
		expect := fmt.Sprintf("events c-1 and c-2, then the stream ends within %s without dispatching the half event", bound)
		if res.Err != nil || res.Status != http.StatusOK {
			return Mismatchf(t.Hop, expect, res.Describe())
		}
		if res.TimedOut {
			return Mismatchf(t.Hop, expect, fmt.Sprintf("the stream was still open %s after the upstream cut it", bound), "timeline: "+res.Timeline())
		}
		var ids []string
		for _, e := range res.Events {
			if e.Dispatched {
				ids = append(ids, e.ID)
			}
		}
		if strings.Join(ids, ",") != "c-1,c-2" {
			return Mismatchf(t.Hop, expect, fmt.Sprintf("dispatched events %q", ids),
				"the upstream sent c-1 and c-2 whole and c-3 without its blank line; "+res.Timeline())
		}
		return nil
	}
	h.Control(probe(h.Upstream()))
	h.Verdict(probe(h.Proxy()))
}

func checkIdle(h *H) {
	every, total := 500*time.Millisecond, 2*time.Second
	if h.Params().Long {
		every, total = 15*time.Second, 3*time.Minute
	}
	if h.Bridge() {
		checkIdleBridge(h, total)
		return
	}
	probe := func(t Target, every, total time.Duration) *Mismatch {
		steps := append(ssescript.Heartbeat(every, total, ""), ssescript.Event("idle-end", "still here"))
		s := ssescript.Script{Steps: steps}
		rec := h.Mock().ArmStream("sse-idle", mockserver.StreamMatch(mockserver.MCPPath), s)
		res := h.Stream(t, streamGet(t.MCPURL), StreamOptions{Recorder: rec, MaxWait: total + 5*time.Second})
		comments := int(total / every)
		expect := fmt.Sprintf("the stream open for %s: %d keep-alive comments %s apart, then event idle-end", total, comments, every)
		if res.Err != nil || res.Status != http.StatusOK {
			return Mismatchf(t.Hop, expect, res.Describe())
		}
		got := 0
		end := false
		for _, e := range res.Events {
			if e.HasComment && !e.HasData {
				got++
			}
			if e.ID == "idle-end" && e.Dispatched {
				end = true
			}
		}
		switch {
		case !end:
			return Mismatchf(t.Hop, expect, fmt.Sprintf("the stream ended after %dms without the final event (%s)", res.Ended.Sub(res.Start).Milliseconds(), res.Describe()), res.Timeline())
		case got != comments:
			return Mismatchf(t.Hop, expect, fmt.Sprintf("%d of %d keep-alive comments arrived", got, comments), "the proxy dropped comment lines: a client behind another intermediary then sees an idle stream and may be cut")
		}
		return nil
	}
	// The control proves the script and reader; it need not idle as long.
	h.Control(probe(h.Upstream(), 100*time.Millisecond, 300*time.Millisecond))
	h.Verdict(probe(h.Proxy(), every, total))
}

// getStreamIDs reads a scripted GET stream and returns the dispatched ids.
func checkIDs(h *H) {
	ids := []string{"0_1", "s1-1", "stream/a:2", "c2VydmVyLTE=.42", strings.Repeat("opaque", 20)}
	probe := func(t Target) *Mismatch {
		var steps []ssescript.Step
		for i, id := range ids {
			steps = append(steps, ssescript.Message(id, fmt.Sprintf(`{"jsonrpc":"2.0","method":"notifications/message","params":{"n":%d}}`, i)))
		}
		rec := h.Mock().ArmStream("sse-ids", mockserver.StreamMatch(mockserver.MCPPath), ssescript.Script{Steps: steps})
		res := h.Stream(t, streamGet(t.MCPURL), StreamOptions{Recorder: rec, MaxWait: 5 * time.Second})
		expect := "ids " + strings.Join(ids[:4], ", ") + ", … verbatim and in order"
		if res.Err != nil || res.Status != http.StatusOK {
			return Mismatchf(t.Hop, expect, res.Describe())
		}
		var got []string
		for _, e := range res.Events {
			if e.HasID {
				got = append(got, e.ID)
			}
		}
		var d []string
		for i := range ids {
			if i >= len(got) {
				d = append(d, fmt.Sprintf("id %q never arrived", ids[i]))
			} else if got[i] != ids[i] {
				d = append(d, fmt.Sprintf("event %d: upstream id %q, client id %q", i, ids[i], got[i]))
			}
		}
		if len(d) > 0 {
			return Mismatchf(t.Hop, expect, fmt.Sprintf("ids %q", got), d...)
		}
		return nil
	}
	h.Control(probe(h.Upstream()))
	h.Verdict(probe(h.Proxy()))
}

func checkResume(h *H) {
	probe := func(t Target) *Mismatch {
		first := ssescript.Script{Steps: []ssescript.Step{
			ssescript.Priming("s1-0"), ssescript.Event("s1-1", "one"), ssescript.Event("s1-2", "two"), ssescript.Event("s1-3", "three"),
		}}
		second := ssescript.Script{Steps: []ssescript.Step{ssescript.Event("s1-4", "four"), ssescript.Event("s1-5", "five")}}
		mark := h.Mock().Journal.Mark()
		h.Mock().ArmStream("sse-resume-1", mockserver.StreamMatch(mockserver.MCPPath), first)
		h.Mock().ArmStream("sse-resume-2", mockserver.Match{Method: http.MethodGet, Path: mockserver.MCPPath, Header: "Last-Event-ID"}, second)
		got, err := h.subscribe(t, t.MCPURL, "s1-5", 3)
		expect := "the upstream's reconnect carries Last-Event-ID: s1-3, and the client receives s1-4 and s1-5 once"
		var gets []*mockserver.Entry
		for _, e := range h.Mock().Journal.Since(mark) {
			if e.Method == http.MethodGet {
				gets = append(gets, e)
				h.UpstreamEvidence(e)
			}
		}
		if len(gets) < 2 {
			return Mismatchf(report.HopProxyUpstream, expect, fmt.Sprintf("the upstream saw %d GET(s); client events %q (%v)", len(gets), got, err))
		}
		if lei := gets[1].Header.Values("Last-Event-ID"); len(lei) != 1 || lei[0] != "s1-3" {
			return Mismatchf(report.HopProxyUpstream, expect, fmt.Sprintf("the reconnect reached the upstream with Last-Event-ID %q", lei),
				"the client sent Last-Event-ID: "+lastOf(got, 3))
		}
		want := "s1-0,s1-1,s1-2,s1-3,s1-4,s1-5"
		if strings.Join(got, ",") != want {
			return Mismatchf(t.Hop, expect, fmt.Sprintf("client events %q (%v)", got, err))
		}
		return nil
	}
	h.Control(probe(h.Upstream()))
	h.Verdict(probe(h.Proxy()))
}

func lastOf(ids []string, n int) string {
	if len(ids) >= n+1 {
		return ids[n]
	}
	return "(unknown)"
}

// subscribe reads a GET stream with the r3labs client, reconnecting (at
// most tries connections) with Last-Event-ID until an event with id stopID
// arrives. r3labs reconnects only after errors, and an MCP server ends a
// stream cleanly before the client resumes, so the loop reconnects after a
// clean end too, keeping the client's last event id.
func (h *H) subscribe(t Target, u, stopID string, tries int) ([]string, error) {
	ctx, cancel := context.WithTimeout(h.Ctx(), 6*time.Second)
	defer cancel()
	c := sse.NewClient(u)
	c.Connection = h.run.client.http
	c.Headers = map[string]string{}
	for k, vs := range t.Header {
		if len(vs) > 0 {
			c.Headers[k] = vs[0]
		}
	}
	c.ReconnectStrategy = backoff.WithMaxTries(backoff.NewConstantBackOff(50*time.Millisecond), 1)
	var mu sync.Mutex
	var ids []string
	var err error
	for range tries {
		err = c.SubscribeRawWithContext(ctx, func(msg *sse.Event) {
			mu.Lock()
			ids = append(ids, string(msg.ID))
			mu.Unlock()
			if string(msg.ID) == stopID {
				cancel()
			}
		})
		if ctx.Err() != nil {
			break
		}
	}
	mu.Lock()
	defer mu.Unlock()
	return append([]string(nil), ids...), err
}

func checkPriming(h *H) {
	if h.Bridge() {
		h.Skip("a bridge frames its own streams: its priming events and retry field are its own server behaviour, not the upstream's forwarded (an MCP server conformance suite checks them)")
	}
	probe := func(t Target) *Mismatch {
		s := ssescript.Script{Steps: []ssescript.Step{ssescript.Priming("p0"), ssescript.Retry(1500)}}
		rec := h.Mock().ArmStream("sse-priming", mockserver.StreamMatch(mockserver.MCPPath), s)
		res := h.Stream(t, streamGet(t.MCPURL), StreamOptions{Recorder: rec, MaxWait: 5 * time.Second})
		expect := "a dispatched event with id p0 and empty data, then retry 1500"
		if res.Err != nil || res.Status != http.StatusOK {
			return Mismatchf(t.Hop, expect, res.Describe())
		}
		primed, retry := false, false
		for _, e := range res.Events {
			if e.HasID && e.ID == "p0" && e.Dispatched && e.Data == "" {
				primed = true
			}
			if e.Retry == "1500" {
				retry = true
			}
		}
		var d []string
		if !primed {
			d = append(d, "the priming event (id p0, empty data) did not arrive as such: a client cannot resume from it")
		}
		if !retry {
			d = append(d, "retry: 1500 did not arrive: the client reconnects on its own schedule")
		}
		if len(d) > 0 {
			return Mismatchf(t.Hop, expect, fmt.Sprintf("%d blocks: %q", len(res.Events), res.Raw), d...)
		}
		return nil
	}
	h.Control(probe(h.Upstream()))
	h.Verdict(probe(h.Proxy()))
}

func checkDisconnect(h *H) {
	if h.Bridge() {
		h.Skip("below MCP 2026-07-28 a disconnection is not a cancellation (2025-11-25: it SHOULD NOT be interpreted as one), so a bridge, the server of its client, may keep the upstream request running")
	}
	const bound = 2 * time.Second
	probe := func(t Target) *Mismatch {
		s := ssescript.Script{Steps: []ssescript.Step{ssescript.Event("d-1", "first"), ssescript.Wait(30 * time.Second), ssescript.Event("d-2", "never")}}
		rec := h.Mock().ArmStream("sse-disconnect", mockserver.StreamMatch(mockserver.MCPPath), s)
		// Hang up after the first event, or after a second if it does not
		// come (a buffering proxy is another scenario's business).
		res := h.Stream(t, streamGet(t.MCPURL), StreamOptions{Recorder: rec, MaxWait: time.Second, OnEvent: func(sseread.Event) bool { return false }})
		left := res.Ended
		if left.IsZero() {
			left = time.Now()
		}
		expect := fmt.Sprintf("the upstream sees its request end within %s of the client hanging up", bound)
		// A proxy that has not even sent the head after a second is hung up
		// on all the same: propagation is what is judged here.
		if (res.Err != nil && !res.TimedOut) || (res.Err == nil && res.Status != http.StatusOK) {
			return Mismatchf(t.Hop, expect, res.Describe())
		}
		d, ok := rec.Wait(bound)
		if !ok {
			return Mismatchf(report.HopProxyUpstream, expect, fmt.Sprintf("the upstream's stream was still open %s after the client hung up", bound),
				"the proxy keeps the upstream request alive: a 2026-07-28 server cannot treat the close as cancellation, and the stream leaks")
		}
		if !d.ClientGone {
			return Mismatchf(report.HopProxyUpstream, expect, fmt.Sprintf("the upstream's script ended without seeing the client leave (%+v)", d))
		}
		h.Note("%s: the upstream saw the hang-up %dms after the client", t.Name, d.At.Sub(left).Milliseconds())
		return nil
	}
	h.Control(probe(h.Upstream()))
	h.Verdict(probe(h.Proxy()))
}
