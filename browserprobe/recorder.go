package browserprobe

import (
	"fmt"
	"math"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/chromedp/cdproto/audits"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"

	"github.com/mcpconform/mcpconform/report"
)

// recorder collects what DevTools reports about the tab: the requests the
// browser made (preflights included, with the raw fields it sent and
// received), the console and the issues. Each is tied to the step during
// which it happened. Its handle runs in chromedp's read loop, in the order
// Chromium sent the events.
type recorder struct {
	pageOrigin string

	mu sync.Mutex
	// step is the step whose script is running; events that name no
	// request belong to it.
	step  int
	reqs  map[network.RequestID]*wireRequest
	order []*wireRequest
	// ExtraInfo events may come before the request they belong to.
	pendingReq  map[network.RequestID]network.Headers
	pendingResp map[network.RequestID]*network.EventResponseReceivedExtraInfo
	console     []tagged
	issues      []tagged
	// changed is closed (and replaced) when a request ends, for settle.
	changed chan struct{}
}

type tagged struct {
	step int
	text string
}

// wireRequest is one request as the browser made it.
type wireRequest struct {
	id        network.RequestID
	step      int
	preflight bool
	forID     network.RequestID // the request a preflight is for
	started   time.Time
	t0, t1    float64 // DevTools monotonic seconds
	method    string
	url       string
	reqHeader []report.Header
	status    int
	statusTxt string
	proto     string
	respHdr   []report.Header
	rawResp   bool
	ended     bool
	failed    string
	canceled  bool
	cors      *network.CorsErrorStatus
}

func newRecorder() *recorder {
	r := &recorder{}
	r.reset()
	return r
}

// reset forgets everything: a new case starts.
func (r *recorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.step = 0
	r.reqs = map[network.RequestID]*wireRequest{}
	r.order = nil
	r.pendingReq = map[network.RequestID]network.Headers{}
	r.pendingResp = map[network.RequestID]*network.EventResponseReceivedExtraInfo{}
	r.console, r.issues = nil, nil
	r.changed = make(chan struct{})
}

func (r *recorder) setStep(n int) {
	r.mu.Lock()
	r.step = n
	r.mu.Unlock()
}

// stepOf is the step a request belongs to, or the running step.
func (r *recorder) stepOf(id network.RequestID) int {
	if w, ok := r.reqs[id]; ok && id != "" {
		return w.step
	}
	return r.step
}

func (r *recorder) handle(ev any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch e := ev.(type) {
	case *network.EventRequestWillBeSent:
		r.requestWillBeSent(e)
	case *network.EventRequestWillBeSentExtraInfo:
		if w, ok := r.reqs[e.RequestID]; ok {
			w.reqHeader = fields(e.Headers)
		} else {
			r.pendingReq[e.RequestID] = e.Headers
		}
	case *network.EventResponseReceived:
		if w, ok := r.reqs[e.RequestID]; ok && e.Response != nil {
			if w.status == 0 {
				w.status = int(e.Response.Status)
			}
			w.statusTxt, w.proto = e.Response.StatusText, e.Response.Protocol
			if !w.rawResp {
				w.respHdr = fields(e.Response.Headers)
			}
		}
	case *network.EventResponseReceivedExtraInfo:
		if w, ok := r.reqs[e.RequestID]; ok {
			w.rawResponse(e)
		} else {
			r.pendingResp[e.RequestID] = e
		}
	case *network.EventLoadingFinished:
		if w, ok := r.reqs[e.RequestID]; ok {
			w.ended, w.t1 = true, e.Timestamp.Float64()
			r.signal()
		}
	case *network.EventLoadingFailed:
		if w, ok := r.reqs[e.RequestID]; ok {
			w.ended, w.t1 = true, e.Timestamp.Float64()
			w.failed, w.canceled, w.cors = e.ErrorText, e.Canceled, e.CorsErrorStatus
			r.signal()
		}
	case *log.EventEntryAdded:
		if e.Entry == nil || (e.Entry.Level != log.EntryLevelError && e.Entry.Level != log.EntryLevelWarning) {
			return
		}
		text := e.Entry.Text
		if e.Entry.Level == log.EntryLevelWarning {
			text = "[warning] " + text
		}
		r.console = append(r.console, tagged{r.stepOf(e.Entry.NetworkRequestID), text})
	case *runtime.EventExceptionThrown:
		// The client page's own script failed: a harness bug, shown as is.
		if d := e.ExceptionDetails; d != nil {
			text := d.Text
			if d.Exception != nil && d.Exception.Description != "" {
				text += " " + d.Exception.Description
			}
			r.console = append(r.console, tagged{r.step, text})
		}
	case *audits.EventIssueAdded:
		if text, id := issueText(e.Issue); text != "" {
			r.issues = append(r.issues, tagged{r.stepOf(id), text})
		}
	}
}

func (r *recorder) requestWillBeSent(e *network.EventRequestWillBeSent) {
	if e.Request == nil || strings.HasPrefix(e.Request.URL, r.pageOrigin) || strings.HasPrefix(e.Request.URL, "data:") {
		return // the client page itself is not evidence
	}
	if old, ok := r.reqs[e.RequestID]; ok {
		// A redirect reuses the request ID: the old hop ends here with the
		// redirect response, and a new entry follows.
		if e.RedirectResponse != nil {
			old.status, old.statusTxt = int(e.RedirectResponse.Status), e.RedirectResponse.StatusText
			if !old.rawResp {
				old.respHdr = fields(e.RedirectResponse.Headers)
			}
		}
		old.ended, old.t1 = true, e.Timestamp.Float64()
		old.id = old.id + "-redirected"
	}
	w := &wireRequest{
		id: e.RequestID, step: r.step, method: e.Request.Method, url: e.Request.URL + e.Request.URLFragment,
		reqHeader: fields(e.Request.Headers), t0: e.Timestamp.Float64(), started: wallTime(e.WallTime.Float64()),
	}
	if e.Initiator != nil && e.Initiator.Type == network.InitiatorTypePreflight {
		w.preflight, w.forID = true, e.Initiator.RequestID
		if actual, ok := r.reqs[e.Initiator.RequestID]; ok {
			w.step = actual.step
		}
	}
	if h, ok := r.pendingReq[e.RequestID]; ok {
		w.reqHeader = fields(h)
		delete(r.pendingReq, e.RequestID)
	}
	if x, ok := r.pendingResp[e.RequestID]; ok {
		w.rawResponse(x)
		delete(r.pendingResp, e.RequestID)
	}
	r.reqs[e.RequestID] = w
	r.order = append(r.order, w)
}

// rawResponse keeps the fields as received: also those a CORS failure kept
// from responseReceived, and those hidden from the script.
func (w *wireRequest) rawResponse(e *network.EventResponseReceivedExtraInfo) {
	w.status = int(e.StatusCode)
	w.respHdr = fields(e.Headers)
	w.rawResp = true
}

// inOrder lists the requests as they went out: each preflight before the
// request it is for (DevTools may report it after that request). The
// caller holds mu.
func (r *recorder) inOrder() []*wireRequest {
	var out []*wireRequest
	placed := map[*wireRequest]bool{}
	for _, w := range r.order {
		if w.preflight && r.reqs[w.forID] != nil {
			continue // placed with its request
		}
		if !w.preflight {
			for _, pf := range r.order {
				if pf.preflight && pf.forID == w.id && !placed[pf] {
					out = append(out, pf)
					placed[pf] = true
				}
			}
		}
		out = append(out, w)
	}
	return out
}

func (r *recorder) signal() {
	close(r.changed)
	r.changed = make(chan struct{})
}

// open reports how many requests of step (all for -1) have not ended yet,
// and a channel closed when one more ends.
func (r *recorder) open(step int) (int, <-chan struct{}) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, w := range r.order {
		if !w.ended && (step < 0 || w.step == step) {
			n++
		}
	}
	return n, r.changed
}

// wallTime converts DevTools' seconds since the epoch.
func wallTime(sec float64) time.Time {
	if sec <= 0 {
		return time.Now().UTC()
	}
	s, frac := math.Modf(sec)
	return time.Unix(int64(s), int64(frac*1e9)).UTC()
}

// fields turns DevTools' header map into field lines, sorted by name. Raw
// headers join repeated fields with "\n"; they become separate lines again.
func fields(h network.Headers) []report.Header {
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k)
	}
	sort.Strings(names)
	var out []report.Header
	for _, k := range names {
		v, ok := h[k].(string)
		if !ok {
			v = fmt.Sprint(h[k])
		}
		for _, line := range strings.Split(v, "\n") {
			out = append(out, report.Header{Name: k, Value: line})
		}
	}
	return out
}

// header turns field lines into an http.Header, for lookups.
func header(hs []report.Header) http.Header {
	h := http.Header{}
	for _, f := range hs {
		h.Add(f.Name, f.Value)
	}
	return h
}

// devtoolsText is what DevTools' Issues panel says for deprecations the
// protocol names only by type; the protocol carries no text for them.
var devtoolsText = map[string]string{
	"AuthorizationCoveredByWildcard": "Authorization will not be covered by the wildcard symbol (*) in CORS `Access-Control-Allow-Headers` handling.",
}

// issueText renders a DevTools issue and names the request it is about.
func issueText(is *audits.InspectorIssue) (string, network.RequestID) {
	if is == nil || is.Details == nil {
		return "", ""
	}
	d := is.Details
	switch {
	case d.CorsIssueDetails != nil:
		c := d.CorsIssueDetails
		text := "CorsIssue"
		if c.CorsErrorStatus != nil {
			text += " " + corsErrorText(c.CorsErrorStatus)
		}
		if c.IsWarning {
			text += " (warning)"
		}
		var id network.RequestID
		if c.Request != nil {
			text += " for " + c.Request.URL
			id = c.Request.RequestID
		}
		return text, id
	case d.DeprecationIssueDetails != nil:
		t := d.DeprecationIssueDetails.Type
		text := "DeprecationIssue " + t
		if msg := devtoolsText[t]; msg != "" {
			text += ": " + msg
		}
		return text, ""
	}
	return string(is.Code), ""
}

// corsErrorText is "MethodDisallowedByPreflightResponse (DELETE)".
func corsErrorText(s *network.CorsErrorStatus) string {
	if s == nil {
		return ""
	}
	if s.FailedParameter != "" {
		return fmt.Sprintf("%s (%s)", s.CorsError, s.FailedParameter)
	}
	return string(s.CorsError)
}
