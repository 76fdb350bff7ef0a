package report

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// HAR 1.2 (softwareishard.com/blog/har-12-spec) as written by WriteHAR. Only
// the fields we fill are declared; custom fields start with "_" as the spec
// requires.
type harFile struct {
	Log harLog `json:"log"`
}

type harLog struct {
	Version string     `json:"version"`
	Creator harCreator `json:"creator"`
	// Pages is optional in the spec but Chrome's and Firefox's importers
	// iterate it without a nil check, so it is always an array.
	Pages   []struct{} `json:"pages"`
	Entries []harEntry `json:"entries"`
	Comment string     `json:"comment,omitempty"`
	Case    harCase    `json:"_case"`
}

type harCreator struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// harCase says which conformance case the exchanges are evidence for, so a
// HAR file passed around on its own still explains itself.
type harCase struct {
	ID          string  `json:"id"`
	Title       string  `json:"title,omitempty"`
	Outcome     Outcome `json:"outcome"`
	Level       string  `json:"level,omitempty"`
	Requirement string  `json:"requirement,omitempty"`
	Source      string  `json:"source,omitempty"`
	Expected    string  `json:"expected,omitempty"`
	Observed    string  `json:"observed,omitempty"`
	Hop         string  `json:"hop,omitempty"`
	Reason      string  `json:"reason,omitempty"`
}

type harEntry struct {
	StartedDateTime string        `json:"startedDateTime"`
	Time            float64       `json:"time"`
	Request         harRequest    `json:"request"`
	Response        harResponse   `json:"response"`
	Cache           struct{}      `json:"cache"`
	Timings         harTimings    `json:"timings"`
	Hop             string        `json:"_hop"`
	Error           string        `json:"_error,omitempty"`
	SSEEvents       []harSSEEvent `json:"_sseEvents,omitempty"`
}

type harNV struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type harRequest struct {
	Method      string       `json:"method"`
	URL         string       `json:"url"`
	HTTPVersion string       `json:"httpVersion"`
	Cookies     []harNV      `json:"cookies"`
	Headers     []harNV      `json:"headers"`
	QueryString []harNV      `json:"queryString"`
	PostData    *harPostData `json:"postData,omitempty"`
	HeadersSize int          `json:"headersSize"`
	BodySize    int          `json:"bodySize"`
}

type harPostData struct {
	MimeType string `json:"mimeType"`
	Text     string `json:"text"`
}

type harResponse struct {
	Status      int        `json:"status"`
	StatusText  string     `json:"statusText"`
	HTTPVersion string     `json:"httpVersion"`
	Cookies     []harNV    `json:"cookies"`
	Headers     []harNV    `json:"headers"`
	Content     harContent `json:"content"`
	RedirectURL string     `json:"redirectURL"`
	HeadersSize int        `json:"headersSize"`
	BodySize    int        `json:"bodySize"`
}

type harContent struct {
	Size     int    `json:"size"`
	MimeType string `json:"mimeType"`
	Text     string `json:"text,omitempty"`
	Encoding string `json:"encoding,omitempty"`
	// Truncated marks a body cut at the per-case evidence cap: Size is then
	// what was kept, not what the server sent.
	Truncated bool `json:"_truncated,omitempty"`
}

// harTimings: send, wait and receive are required and must be non-negative;
// blocked, dns, connect and ssl may be -1 ("does not apply / unknown").
type harTimings struct {
	Blocked float64 `json:"blocked"`
	DNS     float64 `json:"dns"`
	Connect float64 `json:"connect"`
	SSL     float64 `json:"ssl"`
	Send    float64 `json:"send"`
	Wait    float64 `json:"wait"`
	Receive float64 `json:"receive"`
	Comment string  `json:"comment,omitempty"`
}

// harSSEEvent is one server-sent event with its arrival time T (ms since the
// request started). The object lives under the custom "_sseEvents" field, so
// its own member names are ours; Sent and Read carry the rest of the
// timeline: when the mock wrote it, and which body read delivered it.
type harSSEEvent struct {
	T       float64  `json:"t"`
	ID      string   `json:"id,omitempty"`
	Event   string   `json:"event,omitempty"`
	Data    string   `json:"data"`
	Retry   string   `json:"retry,omitempty"`
	Comment string   `json:"comment,omitempty"`
	Sent    *float64 `json:"sent,omitempty"`
	Read    int      `json:"read"`
}

// HARFileName returns a file name for the HAR of c that is safe on every
// file system: "AUTH-HDR-001/WWWA-13" becomes "AUTH-HDR-001_WWWA-13.har".
func HARFileName(c *Case) string {
	var b strings.Builder
	for _, r := range c.ID {
		switch {
		case r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '.', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	name := strings.TrimLeft(b.String(), ".") // no hidden files, no ".."
	if len(name) > 200 {
		name = name[:200]
	}
	if name == "" {
		name = "case"
	}
	return name + ".har"
}

// WriteHAR writes the exchanges of c as a HAR 1.2 log: one entry per
// Exchange, both hops as separate entries told apart by "_hop", SSE
// responses with "_sseEvents" arrival times. A Chrome or Firefox network
// panel imports it. WriteHAR does not redact; call Redact first.
func WriteHAR(w io.Writer, c *Case, tool Tool) error {
	f := harFile{Log: harLog{
		Version: "1.2",
		Creator: harCreator(tool),
		Pages:   []struct{}{},
		Entries: []harEntry{},
		Comment: "mcpconform evidence for " + c.ID,
		Case: harCase{
			ID: c.ID, Title: c.Title, Outcome: c.Outcome, Level: c.Level,
			Requirement: c.Requirement, Source: c.Source,
			Expected: c.Expected, Observed: c.Observed, Hop: c.Hop, Reason: c.Reason,
		},
	}}
	if f.Log.Creator.Name == "" {
		f.Log.Creator.Name = "mcpconform"
	}
	// An exchange without a start time (not recorded) borrows the earliest
	// known one, so startedDateTime stays a plausible, parseable instant.
	var fallback time.Time
	for _, x := range c.Exchanges {
		if !x.Started.IsZero() && (fallback.IsZero() || x.Started.Before(fallback)) {
			fallback = x.Started
		}
	}
	if fallback.IsZero() {
		fallback = time.Unix(0, 0).UTC()
	}
	for i := range c.Exchanges {
		f.Log.Entries = append(f.Log.Entries, harEntryOf(&c.Exchanges[i], fallback))
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // HAR is read by people too; keep '<' as '<'
	enc.SetIndent("", "  ")
	return enc.Encode(f)
}

func harEntryOf(x *Exchange, fallback time.Time) harEntry {
	started := x.Started
	if started.IsZero() {
		started = fallback
	}
	e := harEntry{
		StartedDateTime: started.Format("2006-01-02T15:04:05.000Z07:00"),
		Request:         harRequestOf(&x.Request),
		Hop:             x.Hop,
		Error:           x.Error,
	}
	if x.Response != nil {
		e.Response = harResponseOf(x.Response)
	} else {
		// HAR has no "no response": browsers write status 0 for a request
		// that failed, and so do we, with the reason in _error.
		e.Response = harResponse{
			Cookies: []harNV{}, Headers: []harNV{},
			Content:     harContent{MimeType: "x-unknown"},
			HeadersSize: -1, BodySize: -1,
		}
		if e.Error == "" {
			e.Error = "no response recorded"
		}
	}

	total := harNonNeg(x.DurationMS)
	e.Timings = harTimings{Blocked: -1, DNS: -1, Connect: -1, SSL: -1, Send: 0, Wait: total}
	if len(x.SSE) > 0 {
		// The model does not record when the response headers arrived. For
		// a stream the first event is the best bound we have for the end of
		// "wait"; the rest of the stream is "receive", which makes a
		// network panel draw the streaming phase.
		first := total
		for _, ev := range x.SSE {
			first = math.Min(first, harNonNeg(ev.ArrivedMS))
		}
		e.Timings.Wait = first
		e.Timings.Receive = total - first
		e.Timings.Comment = "wait ends at the first SSE event's arrival; header arrival is not recorded"
		for _, ev := range x.SSE {
			se := harSSEEvent{
				T: harNonNeg(ev.ArrivedMS), ID: ev.ID, Event: ev.Event, Data: ev.Data,
				Retry: ev.Retry, Comment: ev.Comment, Read: ev.Read,
			}
			if ev.SentMS >= 0 {
				s := ev.SentMS
				se.Sent = &s
			}
			e.SSEEvents = append(e.SSEEvents, se)
		}
	}
	// "time" is by definition the sum of the non-negative timings.
	e.Time = e.Timings.Send + e.Timings.Wait + e.Timings.Receive
	return e
}

func harNonNeg(v float64) float64 {
	if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return v
}

func harHeaders(hs []Header) []harNV {
	out := make([]harNV, 0, len(hs))
	for _, h := range hs {
		out = append(out, harNV(h))
	}
	return out
}

func harHeader(hs []Header, name string) string {
	for _, h := range hs {
		if strings.EqualFold(h.Name, name) {
			return h.Value
		}
	}
	return ""
}

// harQuery parses the query of u in order, keeping repeated names, which
// url.Values (a map) would not.
func harQuery(u string) []harNV {
	out := []harNV{}
	_, q, ok := strings.Cut(u, "?")
	if !ok {
		return out
	}
	q, _, _ = strings.Cut(q, "#")
	for _, part := range strings.Split(q, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		out = append(out, harNV{Name: harUnescape(k), Value: harUnescape(v)})
	}
	return out
}

func harUnescape(s string) string {
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return s
}

func harRequestOf(r *Request) harRequest {
	hr := harRequest{
		Method:      r.Method,
		URL:         r.URL,
		HTTPVersion: r.Proto,
		Cookies:     []harNV{},
		Headers:     harHeaders(r.Headers),
		QueryString: harQuery(r.URL),
		HeadersSize: -1,
		BodySize:    harBodySize(r.Body, r.BodyTruncated),
	}
	if r.Body != "" {
		mt := harHeader(r.Headers, "Content-Type")
		if mt == "" {
			mt = "application/octet-stream"
		}
		hr.PostData = &harPostData{MimeType: mt, Text: r.Body}
	}
	return hr
}

func harResponseOf(r *Response) harResponse {
	st := r.StatusText
	if st == "" {
		st = http.StatusText(r.Status)
	}
	mt := harHeader(r.Headers, "Content-Type")
	if mt == "" {
		mt = "x-unknown"
	}
	c := harContent{Size: len(r.Body), MimeType: mt, Text: r.Body, Truncated: r.BodyTruncated}
	if !utf8.ValidString(r.Body) {
		// JSON strings cannot carry arbitrary bytes; HAR's answer is base64.
		c.Text = base64.StdEncoding.EncodeToString([]byte(r.Body))
		c.Encoding = "base64"
	}
	return harResponse{
		Status:      r.Status,
		StatusText:  st,
		HTTPVersion: r.Proto,
		Cookies:     []harNV{},
		Headers:     harHeaders(r.Headers),
		Content:     c,
		RedirectURL: harHeader(r.Headers, "Location"),
		HeadersSize: -1,
		BodySize:    harBodySize(r.Body, r.BodyTruncated),
	}
}

// harBodySize is the byte count on the wire when we know it: a body cut at
// the evidence cap has an unknown size (-1).
func harBodySize(body string, truncated bool) int {
	if truncated {
		return -1
	}
	return len(body)
}
