package mockserver

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/mcpconform/mcpconform/report"
)

// maxJournalBody caps how much of each request and response body the journal
// keeps: enough for JSON-RPC evidence, bounded against endless streams.
const maxJournalBody = 64 << 10

// Entry is one request the upstream received, and what it answered.
type Entry struct {
	Seq      int
	Time     time.Time
	Method   string
	Host     string
	Path     string
	RawQuery string
	Proto    string
	Header   http.Header
	Body     []byte
	// RPCMethod is the JSON-RPC method of the body, when it parses as one.
	RPCMethod string
	// Fault names the armed fault that answered instead of the MCP server.
	Fault string
	// TokenFP is the fingerprint of the bearer token the request carried
	// ("control" for the harness's own), TokenErr why the mock AS rejects it
	// ("" = valid, "missing", "expired", "revoked", "wrong audience", ...),
	// TokenExp its exact expiry. Set only when the mock AS runs.
	TokenFP  string
	TokenErr string
	TokenExp time.Time

	mu           sync.Mutex
	done         bool
	status       int
	respHeader   http.Header
	respBody     []byte
	respTrunc    bool
	finished     time.Time
	clientGoneAt time.Time
	// respBytes counts the body bytes written; writeErr is the first
	// failed write and writeErrAt when it failed: the proxy had closed the
	// connection while the upstream was still answering.
	respBytes  int64
	writeErr   error
	writeErrAt time.Time
	// ended is closed once the handler has returned (see Ended).
	ended chan struct{}
}

// Ended is closed once the upstream has finished with the request: its
// answer is complete, or the connection is gone.
func (e *Entry) Ended() <-chan struct{} { return e.ended }

// Response returns what the upstream answered so far: status, header, body
// (capped), and whether the handler has finished.
func (e *Entry) Response() (status int, h http.Header, body []byte, done bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.status, e.respHeader.Clone(), append([]byte(nil), e.respBody...), e.done
}

// ClientGone reports when the upstream saw the request's context end before
// the handler finished (the downstream disconnected), or the zero time.
func (e *Entry) ClientGone() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.clientGoneAt
}

// Exchange renders the entry as report evidence for the proxy→upstream hop.
func (e *Entry) Exchange() report.Exchange {
	status, rh, body, _ := e.Response()
	e.mu.Lock()
	trunc, fin := e.respTrunc, e.finished
	cut := e.cutReasonLocked()
	e.mu.Unlock()
	u := e.Path
	if e.RawQuery != "" {
		u += "?" + e.RawQuery
	}
	ex := report.Exchange{
		Hop:     report.HopProxyUpstream,
		Started: e.Time,
		Request: report.Request{
			Method:  e.Method,
			URL:     "http://" + e.Host + u,
			Proto:   e.Proto,
			Headers: headerList(e.Header),
			Body:    string(e.Body),
		},
		Error: cut,
	}
	if !fin.IsZero() {
		ex.DurationMS = float64(fin.Sub(e.Time).Microseconds()) / 1000
	}
	if status != 0 {
		ex.Response = &report.Response{
			Status:        status,
			StatusText:    http.StatusText(status),
			Headers:       headerList(rh),
			Body:          string(body),
			BodyTruncated: trunc,
		}
	}
	return ex
}

// cutReasonLocked says how the upstream's answer was cut short by the proxy
// hanging up, or "" when it was not: the upstream's side of a stream that
// ended early at the client. e.mu must be held.
func (e *Entry) cutReasonLocked() string {
	switch {
	case e.writeErr != nil:
		return fmt.Sprintf("the upstream's response was cut: a write after %d body bytes failed at +%dms (%v); the proxy had closed the connection while the upstream was still answering",
			e.respBytes, e.writeErrAt.Sub(e.Time).Milliseconds(), e.writeErr)
	case !e.clientGoneAt.IsZero():
		return fmt.Sprintf("the proxy closed the connection at +%dms, after %d response body bytes, before the upstream had finished answering",
			e.clientGoneAt.Sub(e.Time).Milliseconds(), e.respBytes)
	}
	return ""
}

// headerList flattens a header map into field lines, names sorted as Go writes
// them, values of one name in their original order.
func headerList(h http.Header) []report.Header {
	var out []report.Header
	for _, k := range sortedKeys(h) {
		for _, v := range h[k] {
			out = append(out, report.Header{Name: k, Value: v})
		}
	}
	return out
}

// Journal records every request the mock upstream receives. Scenarios take a
// Mark before a probe and read or wait for what arrived after it.
type Journal struct {
	mu      sync.Mutex
	entries []*Entry
	changed chan struct{} // closed and replaced on every append: a broadcast
}

func newJournal() *Journal { return &Journal{changed: make(chan struct{})} }

func (j *Journal) add(e *Entry) {
	j.mu.Lock()
	e.Seq = len(j.entries)
	j.entries = append(j.entries, e)
	close(j.changed)
	j.changed = make(chan struct{})
	j.mu.Unlock()
}

// Mark returns a position; Since(mark) lists entries that arrived after it.
func (j *Journal) Mark() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return len(j.entries)
}

// Since lists the entries recorded at or after mark.
func (j *Journal) Since(mark int) []*Entry {
	j.mu.Lock()
	defer j.mu.Unlock()
	if mark > len(j.entries) {
		return nil
	}
	return append([]*Entry(nil), j.entries[mark:]...)
}

// WaitFor returns the first entry after mark that satisfies pred, waiting for
// new arrivals until ctx ends.
func (j *Journal) WaitFor(ctx context.Context, mark int, pred func(*Entry) bool) (*Entry, error) {
	for {
		j.mu.Lock()
		for _, e := range j.entries[min(mark, len(j.entries)):] {
			if pred(e) {
				j.mu.Unlock()
				return e, nil
			}
		}
		mark = len(j.entries)
		ch := j.changed
		j.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// recorder wraps the ResponseWriter to copy status, header and a capped body
// into the journal entry. It keeps Flush and Hijack reachable, because the MCP
// SDK flushes SSE events and the raw responder hijacks the connection.
type recorder struct {
	http.ResponseWriter
	e           *Entry
	wroteHeader bool
}

func (r *recorder) WriteHeader(code int) {
	if !r.wroteHeader {
		r.wroteHeader = true
		r.e.mu.Lock()
		r.e.status = code
		r.e.respHeader = r.ResponseWriter.Header().Clone()
		r.e.mu.Unlock()
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(p []byte) (int, error) {
	if !r.wroteHeader {
		r.WriteHeader(http.StatusOK)
	}
	r.e.mu.Lock()
	if room := maxJournalBody - len(r.e.respBody); room > 0 {
		r.e.respBody = append(r.e.respBody, p[:min(room, len(p))]...)
	}
	if len(r.e.respBody)+len(p) > maxJournalBody {
		r.e.respTrunc = true
	}
	r.e.mu.Unlock()
	n, err := r.ResponseWriter.Write(p)
	r.e.mu.Lock()
	r.e.respBytes += int64(n)
	if err != nil && r.e.writeErr == nil {
		r.e.writeErr, r.e.writeErrAt = err, time.Now()
	}
	r.e.mu.Unlock()
	return n, err
}

func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach Hijack and deadlines.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
