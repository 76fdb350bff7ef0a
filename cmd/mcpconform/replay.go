package main

import (
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

	"github.com/mcpconform/mcpconform/report"
)

// The replay upstream: `mcpconform mock --replay results.json --case ID`
// answers the proxy with exactly what the mock answered it in that case, as
// recorded at the proxy→upstream hop of results.json. There is no second
// copy of any fault: whatever the scenario armed, the recording holds its
// bytes. What the recording cannot give back is said when the replay starts
// (replayCaveats).
//
// Matching: each incoming request is keyed by method, path and JSON-RPC
// method; it gets the next recorded answer with the same key, in recorded
// order, starting over when they are used up (so the curl lines can be sent
// again). A request with no recorded counterpart gets 404 with a JSON-RPC
// error that says so, and a line on the log.
//
// Kinds of answer:
//   - plain responses: status, header lines (names as recorded, repeated lines
//     kept) and body; Content-Length is recomputed, Date and framing are the
//     replay's own;
//   - raw answers (HTTP-E2E-002/003/004: NUL, CR, obs-fold, space before the
//     colon): Response.Raw is written as is on the hijacked connection;
//   - event streams: the body is written event by event, each at the time
//     the mock wrote it in the run when the evidence has it (the SSE
//     timeline of the client hop), else with no pause; a stream that was
//     still open when the evidence was taken stays open until the client
//     goes (at most replayHoldOpen);
//   - no answer recorded (the upstream had not answered yet): the request is
//     held open until the client goes (at most replayHoldOpen).

// replayHoldOpen bounds how long a stream or an unanswered request is held.
const replayHoldOpen = 5 * time.Minute

type replayEntry struct {
	ex  *report.Exchange
	key string
	// at is when each event of an event-stream body was written, from the
	// start of the response (nil when unknown).
	at []time.Duration
}

type replayer struct {
	caseID  string
	entries []*replayEntry
	log     io.Writer
	// from → to: the run's mock origin, replaced by the replay's in header
	// values and bodies so links such as resource_metadata resolve.
	from, to string

	mu   sync.Mutex
	next map[string]int
	hold time.Duration
}

// newReplayer reads the proxy→upstream exchanges of c. runUpstream is the
// run's mock MCP URL (results.json "upstream").
func newReplayer(c *report.Case, runUpstream string, log io.Writer) *replayer {
	r := &replayer{caseID: c.ID, log: log, next: map[string]int{}, hold: replayHoldOpen}
	if u, err := url.Parse(runUpstream); err == nil && u.Host != "" {
		r.from = u.Scheme + "://" + u.Host
	}
	var lastClient *report.Exchange
	for i := range c.Exchanges {
		x := &c.Exchanges[i]
		switch x.Hop {
		case report.HopClientProxy:
			lastClient = x
		case report.HopProxyUpstream:
			e := &replayEntry{ex: x, key: replayKey(x.Request.Method, replayPath(x.Request.URL), x.Request.Body)}
			e.at = replayTimes(x, lastClient)
			r.entries = append(r.entries, e)
		}
	}
	return r
}

func replayPath(u string) string {
	if p, err := url.Parse(u); err == nil {
		return p.Path
	}
	return u
}

// replayKey is "METHOD path rpc-method".
func replayKey(method, path, body string) string {
	var msg struct {
		Method string `json:"method"`
	}
	_ = json.Unmarshal([]byte(body), &msg)
	return method + " " + path + " " + msg.Method
}

// replayTimes maps the events of an event-stream answer to when the mock
// wrote them, read off the SSE timeline of the client exchange that caused
// it (SentMS is measured from that exchange's start).
func replayTimes(up, client *report.Exchange) []time.Duration {
	if up.Response == nil || !strings.HasPrefix(headerValue(up.Response.Headers, "Content-Type"), "text/event-stream") || client == nil {
		return nil
	}
	blocks := sseBlocks(up.Response.Body)
	offset := up.Started.Sub(client.Started)
	var at []time.Duration
	var last time.Duration
	used := map[int]bool{}
	for _, b := range blocks {
		data := sseData(b)
		for i, ev := range client.SSE {
			if used[i] || ev.SentMS < 0 || ev.Data != data || data == "" {
				continue
			}
			used[i] = true
			last = max(0, time.Duration(ev.SentMS*float64(time.Millisecond))-offset)
			break
		}
		at = append(at, last)
	}
	return at
}

// sseBlocks splits an event-stream body after each blank line, keeping the
// bytes of every block (line endings included) as they were.
func sseBlocks(body string) []string {
	var out []string
	start := 0
	for i := 0; i < len(body); i++ {
		// A blank line: an end of line followed by another.
		for _, sep := range []string{"\r\n\r\n", "\n\n", "\r\r"} {
			if strings.HasPrefix(body[i:], sep) {
				out = append(out, body[start:i+len(sep)])
				start = i + len(sep)
				i = start - 1
				break
			}
		}
	}
	if start < len(body) {
		out = append(out, body[start:])
	}
	return out
}

// sseData is the data of one block as a parser dispatches it.
func sseData(block string) string {
	var data []string
	for _, l := range strings.FieldsFunc(block, func(r rune) bool { return r == '\n' || r == '\r' }) {
		if v, ok := strings.CutPrefix(l, "data:"); ok {
			data = append(data, strings.TrimPrefix(v, " "))
		}
	}
	return strings.Join(data, "\n")
}

func headerValue(hs []report.Header, name string) string {
	for _, h := range hs {
		if strings.EqualFold(strings.TrimSpace(h.Name), name) {
			return h.Value
		}
	}
	return ""
}

// take returns the next recorded answer for a request.
func (r *replayer) take(key string) (*replayEntry, int, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var matching []*replayEntry
	for _, e := range r.entries {
		if e.key == key {
			matching = append(matching, e)
		}
	}
	if len(matching) == 0 {
		return nil, 0, 0
	}
	i := r.next[key] % len(matching)
	r.next[key] = i + 1
	return matching[i], i + 1, len(matching)
}

func (r *replayer) rewrite(s string) string {
	if r.from == "" || r.to == "" || r.from == r.to {
		return s
	}
	return strings.ReplaceAll(s, r.from, r.to)
}

func (r *replayer) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(req.Body, 16<<20))
	key := replayKey(req.Method, req.URL.Path, string(body))
	e, n, of := r.take(key)
	if e == nil {
		fmt.Fprintf(r.log, "replay: %s — nothing recorded for it in %s: 404\n", report.PrintableOneLine(strings.TrimSpace(key)), r.caseID)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		msg, _ := json.Marshal(fmt.Sprintf("mcpconform replay: no answer recorded for %s in %s", strings.TrimSpace(key), r.caseID))
		fmt.Fprintf(w, `{"jsonrpc":"2.0","id":null,"error":{"code":-32601,"message":%s}}`, msg)
		return
	}
	resp := e.ex.Response
	status := "no answer (held open)"
	if resp != nil {
		status = strconv.Itoa(resp.Status)
	}
	fmt.Fprintf(r.log, "replay: %s — recorded answer %d of %d: %s\n", report.PrintableOneLine(strings.TrimSpace(key)), n, of, status)
	switch {
	case resp == nil:
		r.holdOpen(req.Context())
	case resp.Raw != "":
		r.serveRaw(w, r.rewrite(resp.Raw))
	default:
		r.serve(w, req, e)
	}
}

func (r *replayer) holdOpen(ctx context.Context) {
	t := time.NewTimer(r.hold)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func (r *replayer) serveRaw(w http.ResponseWriter, raw string) {
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		http.Error(w, "replay: raw answer: "+err.Error(), http.StatusInternalServerError)
		return
	}
	defer conn.Close()
	_, _ = buf.WriteString(raw)
	_ = buf.Flush()
}

// replayOwnFields are set by the replay's HTTP server for its own connection.
var replayOwnFields = map[string]bool{"content-length": true, "date": true, "transfer-encoding": true, "connection": true, "keep-alive": true}

func (r *replayer) serve(w http.ResponseWriter, req *http.Request, e *replayEntry) {
	resp := e.ex.Response
	body := r.rewrite(resp.Body)
	h := w.Header()
	hadLength := false
	for _, f := range resp.Headers {
		if replayOwnFields[strings.ToLower(strings.TrimSpace(f.Name))] {
			hadLength = hadLength || strings.EqualFold(strings.TrimSpace(f.Name), "Content-Length")
			continue
		}
		// Direct map access keeps the recorded spelling and repetition.
		h[f.Name] = append(h[f.Name], r.rewrite(f.Value))
	}
	stream := e.at != nil
	if hadLength && !stream && !resp.BodyTruncated {
		h["Content-Length"] = []string{strconv.Itoa(len(body))}
	}
	w.WriteHeader(resp.Status)
	if !stream {
		_, _ = io.WriteString(w, body)
		return
	}
	rc := http.NewResponseController(w)
	_ = rc.Flush()
	start := time.Now()
	for i, b := range sseBlocks(body) {
		if i < len(e.at) {
			if d := time.Until(start.Add(e.at[i])); d > 0 {
				t := time.NewTimer(d)
				select {
				case <-req.Context().Done():
					t.Stop()
					return
				case <-t.C:
				}
			}
		}
		if _, err := io.WriteString(w, b); err != nil {
			return
		}
		_ = rc.Flush()
	}
	if e.ex.DurationMS == 0 {
		// Still open when the evidence was taken: keep it open.
		r.holdOpen(req.Context())
	}
}

// replayCaveats says what the replay cannot give back byte for byte.
func replayCaveats(c *report.Case, r *replayer) []string {
	var out []string
	redacted, cut, open, rewritten := 0, 0, 0, 0
	for _, e := range r.entries {
		x := e.ex
		if x.Response == nil {
			open++
			continue
		}
		all := x.Response.Body + x.Response.Raw
		for _, h := range x.Response.Headers {
			all += "\n" + h.Value
		}
		if strings.Contains(all, "<redacted:") {
			redacted++
		}
		if x.Response.BodyTruncated {
			cut++
		}
		if r.from != "" && r.from != r.to && strings.Contains(all, r.from) {
			rewritten++
		}
	}
	if len(r.entries) == 0 {
		out = append(out, "the proxy sent nothing to the upstream in this case: every request gets 404 'not recorded' (the failure is in what the proxy answered by itself; the curl lines show it)")
	}
	if redacted > 0 {
		out = append(out, fmt.Sprintf("%d recorded answer(s) hold credentials redacted as <redacted:…>: those values are replayed as the placeholder (rerun with --unredacted for the exact bytes)", redacted))
	}
	if cut > 0 {
		out = append(out, fmt.Sprintf("%d recorded body(ies) were cut at the evidence cap (64 KiB): the replay sends what was kept", cut))
	}
	if open > 0 {
		out = append(out, fmt.Sprintf("%d request(s) had no answer yet when the evidence was taken: the replay holds them open", open))
	}
	if rewritten > 0 {
		out = append(out, fmt.Sprintf("the run's mock origin %s is replaced by the replay's %s in %d answer(s), so links such as resource_metadata resolve", r.from, r.to, rewritten))
	}
	for _, e := range r.entries {
		if e.ex.Response != nil && e.ex.Response.Raw != "" {
			out = append(out, "a raw answer (bytes net/http cannot write) is written as recorded on the socket")
			break
		}
	}
	return out
}

// replayDescribe lists the recorded answers, one line each.
func replayDescribe(r *replayer) []string {
	var out []string
	for i, e := range r.entries {
		s := "no answer recorded"
		if resp := e.ex.Response; resp != nil {
			s = fmt.Sprintf("%d", resp.Status)
			if ct := headerValue(resp.Headers, "Content-Type"); ct != "" {
				s += " " + ct
			}
			if wa := headerValue(resp.Headers, "WWW-Authenticate"); wa != "" {
				s += ", WWW-Authenticate: " + wa
			}
			if resp.Raw != "" {
				s += " (raw bytes)"
			}
			if e.at != nil {
				s += fmt.Sprintf(" (%d events, paced as recorded)", len(e.at))
			}
		}
		out = append(out, fmt.Sprintf("%2d. %s → %s", i+1, strings.TrimSpace(e.key), report.PrintableOneLine(s)))
	}
	return out
}

// listenReplay binds the replay upstream on addr (loopback only).
func listenReplay(addr string) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if ip := net.ParseIP(host); (ip == nil || !ip.IsLoopback()) && host != "localhost" {
		return nil, fmt.Errorf("replay address %q is not loopback", addr)
	}
	return net.Listen("tcp", addr)
}

// findCase returns the case id of run (case-insensitive).
func findCase(run *report.Run, id string) (*report.Case, error) {
	for i := range run.Cases {
		if strings.EqualFold(run.Cases[i].ID, id) {
			return &run.Cases[i], nil
		}
	}
	var failing []string
	for _, c := range run.Cases {
		if c.Outcome == report.Fail || c.Outcome == report.Error || c.Outcome == report.Warn {
			failing = append(failing, c.ID)
		}
	}
	return nil, fmt.Errorf("no case %q in this results file; its failing cases: %s", id, report.CaseList(failing, 20))
}
