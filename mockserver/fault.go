package mockserver

import (
	"bufio"
	"fmt"
	"net/http"
	"strings"
	"sync"
)

// Field is one response field line. Order and repetition matter: a challenge
// split over two WWW-Authenticate lines is a different message from one line.
type Field struct{ Name, Value string }

// Match selects which incoming requests an armed fault answers. Empty fields
// match anything.
type Match struct {
	Method    string // HTTP method
	Path      string // exact request path
	RPCMethod string // JSON-RPC method in the body ("initialize", "tools/list", ...)
	// Header requires a request header with this name to be present.
	Header string
}

func (m Match) matches(e *Entry) bool {
	if m.Method != "" && m.Method != e.Method {
		return false
	}
	if m.Path != "" && m.Path != e.Path {
		return false
	}
	if m.RPCMethod != "" && m.RPCMethod != e.RPCMethod {
		return false
	}
	if m.Header != "" && e.Header.Get(m.Header) == "" {
		return false
	}
	return true
}

// Fault is a canned answer the mock gives instead of the MCP server, for the
// next Times matching requests.
type Fault struct {
	Name   string // shown in the journal and in evidence
	Match  Match
	Times  int // 0 means once; negative means until disarmed
	Status int
	Fields []Field
	Body   string
	// Raw, when set, is written verbatim on the hijacked connection instead of
	// a net/http response: for field lines Go refuses to emit (obs-fold, NUL,
	// space before the colon). It must be a complete HTTP/1.1 response.
	Raw []byte
	// Handler, when set, answers instead of Status/Fields/Body/Raw: for
	// scripted SSE streams (ArmStream) that need the request and a flusher.
	Handler http.Handler
	// Decorate, when set, lets the mock answer as it would and adds these
	// fields to its response head: for probes of fields on a real answer
	// (a bridge must be able to open its session through them).
	Decorate []Field
}

type faultQueue struct {
	mu     sync.Mutex
	faults []*armed
}

type armed struct {
	Fault
	left int
}

func (q *faultQueue) arm(f Fault) {
	n := f.Times
	if n == 0 {
		n = 1
	}
	q.mu.Lock()
	q.faults = append(q.faults, &armed{Fault: f, left: n})
	q.mu.Unlock()
}

func (q *faultQueue) reset() {
	q.mu.Lock()
	q.faults = nil
	q.mu.Unlock()
}

// take returns the first armed fault matching e and consumes one use of it.
func (q *faultQueue) take(e *Entry) *Fault {
	q.mu.Lock()
	defer q.mu.Unlock()
	for i, a := range q.faults {
		if !a.Match.matches(e) {
			continue
		}
		f := a.Fault
		if a.left > 0 {
			a.left--
			if a.left == 0 {
				q.faults = append(q.faults[:i], q.faults[i+1:]...)
			}
		}
		return &f
	}
	return nil
}

// serve writes the fault's answer.
func (f *Fault) serve(w http.ResponseWriter) {
	if f.Raw != nil {
		serveRaw(w, f.Raw)
		return
	}
	h := w.Header()
	for _, fl := range f.Fields {
		// Direct map access keeps the exact name spelling and the order of
		// repeated lines; Set/Add would canonicalise and could merge.
		h[fl.Name] = append(h[fl.Name], fl.Value)
	}
	if f.Body != "" && h.Get("Content-Type") == "" {
		h.Set("Content-Type", "application/json")
	}
	status := f.Status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, _ = w.Write([]byte(f.Body))
}

// serveRaw hijacks the connection and writes bytes net/http would refuse.
func serveRaw(w http.ResponseWriter, raw []byte) {
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		http.Error(w, "raw responder: "+err.Error(), http.StatusInternalServerError)
		return
	}
	defer conn.Close()
	_, _ = buf.Write(raw)
	_ = buf.Flush()
}

// RawResponse builds a complete HTTP/1.1 response from exact header lines
// (each written as given, followed by CRLF) and a body. It closes the
// connection afterwards so framing cannot leak into the next request.
func RawResponse(status int, headerLines []string, body string) []byte {
	var b strings.Builder
	w := bufio.NewWriter(&b)
	fmt.Fprintf(w, "HTTP/1.1 %d %s\r\n", status, http.StatusText(status))
	for _, l := range headerLines {
		fmt.Fprintf(w, "%s\r\n", l)
	}
	fmt.Fprintf(w, "Content-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body)
	_ = w.Flush()
	return []byte(b.String())
}

// decorator adds a Decorate fault's fields to the head of the mock's own
// answer, keeping their spelling and order.
type decorator struct {
	http.ResponseWriter
	fields []Field
	done   bool
}

func (d *decorator) WriteHeader(code int) {
	if !d.done {
		d.done = true
		h := d.ResponseWriter.Header()
		for _, f := range d.fields {
			h[f.Name] = append(h[f.Name], f.Value)
		}
	}
	d.ResponseWriter.WriteHeader(code)
}

func (d *decorator) Write(p []byte) (int, error) {
	if !d.done {
		d.WriteHeader(http.StatusOK)
	}
	return d.ResponseWriter.Write(p)
}

func (d *decorator) Flush() {
	if !d.done {
		d.WriteHeader(http.StatusOK)
	}
	if f, ok := d.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the recorder and below.
func (d *decorator) Unwrap() http.ResponseWriter { return d.ResponseWriter }
