package browserprobe

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/mcpconform/mcpconform/report"
)

// Target is what one case's client page talks to.
type Target struct {
	Title  string      // shown on the page: the case ID
	URL    string      // the proxy's MCP endpoint
	Header http.Header // sent on every request (--header values, the API key)
	Token  string      // the bearer token of steps with Auth
}

// Step is one request of the client page. The page adds the MCP fields from
// what its script could read so far, as a real client does.
type Step struct {
	Label  string          `json:"label"`
	Method string          `json:"method"`
	RPC    json.RawMessage `json:"rpc,omitempty"` // the JSON-RPC message of a POST
	// Auth sends Authorization: Bearer Token (unless Target.Header has one).
	Auth bool `json:"auth,omitempty"`
	// Session sends the Mcp-Session-Id the script read; SessionID stands in
	// when it could not read one (the case judges that elsewhere).
	Session   bool   `json:"session,omitempty"`
	SessionID string `json:"sessionId,omitempty"`
	// Version sends MCP-Protocol-Version as negotiated, or ProtocolVersion.
	Version         bool   `json:"version,omitempty"`
	ProtocolVersion string `json:"protocolVersion,omitempty"`
	LastEventID     string `json:"lastEventId,omitempty"`
	// Credentials makes it a credentialed request (withCredentials, or
	// credentials: "include").
	Credentials bool `json:"credentials,omitempty"`
	// Read names the response fields the script reads.
	Read []string `json:"read"`
	// Stream sends with fetch and reads the body incrementally (SSE),
	// stopping after MaxEvents events (0: until the stream ends); otherwise
	// the step uses XMLHttpRequest, which, unlike fetch, makes Chromium say
	// in the console when it hides a field.
	Stream    bool `json:"stream,omitempty"`
	MaxEvents int  `json:"maxEvents,omitempty"`
	// TimeoutMS bounds the request in the page (default: 3 s, less when the
	// case has less time left).
	TimeoutMS int `json:"timeoutMs"`
}

// Result is what one step's script could do and read, and what the browser
// did for it (refreshed by Settle).
type Result struct {
	Label     string   `json:"label"`
	Transport string   `json:"transport"` // XMLHttpRequest or fetch
	Method    string   `json:"method"`
	URL       string   `json:"url"`
	Sent      []string `json:"sent"` // the field names the script set
	// Reached is true when a response reached the script; Error says what
	// it got instead.
	Reached     bool    `json:"reached"`
	Status      int     `json:"status"`
	StatusText  string  `json:"statusText"`
	Error       string  `json:"error"`
	Read        []Field `json:"read"`
	ContentType string  `json:"contentType"`
	Body        string  `json:"body"`
	Events      []Event `json:"events"`
	StreamEnded bool    `json:"streamEnded"`
	StreamError string  `json:"streamError"`
	// The client's state after the step.
	SessionID       string  `json:"sessionId"`
	ProtocolVersion string  `json:"protocolVersion"`
	MS              float64 `json:"ms"`

	// From DevTools.
	Console []string `json:"-"` // printed during the step
	Issues  []string `json:"-"`
	// CORSError is the browser's CORS error for the step's requests, e.g.
	// "MethodDisallowedByPreflightResponse (DELETE)"; CORSCode the bare code.
	CORSError string `json:"-"`
	CORSCode  string `json:"-"`
	CORSParam string `json:"-"` // the method or field name it names, if any
	// NetError is the browser's network error for the step when it is not
	// a CORS one, e.g. "net::ERR_CONNECTION_RESET".
	NetError string `json:"-"`
	// Responses are the responses the browser received for the step, a
	// preflight's first, with every field as received: also those hidden
	// from the script.
	Responses []WireResponse `json:"-"`
}

// Field is a response field as the script read it; Value is nil when the
// browser gave the script null.
type Field struct {
	Name  string  `json:"name"`
	Value *string `json:"value"`
}

// Event is an SSE event the script read, with when it arrived (ms after the
// request started) and which body read delivered it.
type Event struct {
	ID    string  `json:"id"`
	Event string  `json:"event"`
	Data  string  `json:"data"`
	MS    float64 `json:"ms"`
	Read  int     `json:"read"`
}

// WireResponse is one response the browser received.
type WireResponse struct {
	Preflight bool
	Status    int
	Header    http.Header
}

// Value returns what the script read for name, and whether it was non-null.
func (r *Result) Value(name string) (string, bool) {
	for _, f := range r.Read {
		if strings.EqualFold(f.Name, name) && f.Value != nil {
			return *f.Value, true
		}
	}
	return "", false
}

// Wire returns the field name as the browser received it on the step's
// actual response (not the preflight), hidden from the script or not.
func (r *Result) Wire(name string) (string, bool) {
	for i := len(r.Responses) - 1; i >= 0; i-- {
		if w := r.Responses[i]; !w.Preflight {
			vs, ok := w.Header[http.CanonicalHeaderKey(name)]
			if !ok {
				for k, v := range w.Header {
					if strings.EqualFold(k, name) {
						vs, ok = v, true
					}
				}
			}
			return strings.Join(vs, ", "), ok
		}
	}
	return "", false
}

// Page is one case's client page. Steps run one after another; Settle,
// Mark and Close end the case. The tab is the case's until Close.
type Page struct {
	b      *Browser
	t      Target
	specs  []Step
	steps  []*Result
	closed bool
}

// Open waits for the browser and the tab (bounded by ctx) and gives the
// client page a fresh client for the case. Close must follow.
func (b *Browser) Open(ctx context.Context, t Target) (*Page, error) {
	if err := b.acquire(ctx); err != nil {
		return nil, err
	}
	if err := b.Ready(ctx); err != nil {
		<-b.busy
		return nil, err
	}
	p := &Page{b: b, t: t}
	hdr := map[string]string{}
	for k, vs := range t.Header {
		hdr[k] = strings.Join(vs, ", ")
	}
	cfg, _ := json.Marshal(map[string]any{"url": t.URL, "shown": Shown(t.URL), "headers": hdr, "token": t.Token, "title": t.Title, "engine": b.engine})
	configure := chromedp.Evaluate[bool]("configure(" + string(cfg) + ")")
	b.rec.reset()
	// The page loaded for an earlier case is reused: configure() gives it
	// a fresh client and table, which costs a fraction of loading it anew.
	// A page that does not answer (never loaded, or broken) is loaded again.
	load := func() error {
		_, err := do(b, ctx, chromedp.Navigate(b.origin+"/"))
		b.loaded = err == nil
		if err != nil {
			return fmt.Errorf("loading the client page: %w", err)
		}
		return nil
	}
	err := errNotLoaded
	if b.loaded {
		_, err = do(b, ctx, configure)
	}
	if err != nil {
		if err = load(); err == nil {
			_, err = do(b, ctx, configure)
		}
	}
	if err != nil {
		p.release()
		return nil, fmt.Errorf("configuring the client page: %w", err)
	}
	b.rec.reset() // nothing of the page's load is evidence
	return p, nil
}

// errNotLoaded stands for the page before its first load.
var errNotLoaded = fmt.Errorf("the client page is not loaded")

// Origin is the page's origin.
func (p *Page) Origin() string { return p.b.origin }

// Engine names the browser.
func (p *Page) Engine() string { return p.b.engine }

// Step runs one request in the page. A request the browser refused or that
// failed is a Result, not an error; the error is for a browser that could
// not run the step at all (gone, or out of time).
func (p *Page) Step(ctx context.Context, s Step) (*Result, error) {
	if s.TimeoutMS <= 0 {
		s.TimeoutMS = 3000
		if d, ok := ctx.Deadline(); ok {
			// Leave the page time to answer before the case's deadline.
			if left := time.Until(d) - 500*time.Millisecond; left < 3*time.Second {
				s.TimeoutMS = max(int(left.Milliseconds()), 100)
			}
		}
	}
	if s.Read == nil {
		s.Read = []string{}
	}
	arg, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	p.b.rec.setStep(len(p.steps))
	raw, err := do(p.b, ctx, chromedp.Evaluate[[]byte]("step("+string(arg)+")", chromedp.EvalAwaitPromise))
	if err != nil {
		return nil, fmt.Errorf("step %q: %w", s.Label, err)
	}
	var r Result
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("step %q: the page answered %s: %w", s.Label, raw, err)
	}
	p.specs = append(p.specs, s)
	p.steps = append(p.steps, &r)
	// The script has its answer; the browser's account of the same requests
	// follows within moments.
	p.wait(ctx, len(p.steps)-1, 300*time.Millisecond)
	p.fill(len(p.steps) - 1)
	return &r, nil
}

// Settle waits (briefly, bounded by ctx) until the browser reported the end
// of every request, then fills each step's DevTools evidence anew: some
// events (the raw fields, DevTools issues) may come after the script's
// answer.
func (p *Page) Settle(ctx context.Context) {
	p.wait(ctx, -1, time.Second)
	for i := range p.steps {
		p.fill(i)
	}
}

// wait waits until step's requests (every request for step -1) ended, at
// most d.
func (p *Page) wait(ctx context.Context, step int, d time.Duration) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		n, changed := p.b.rec.open(step)
		if n == 0 {
			return
		}
		select {
		case <-changed:
		case <-timer.C:
			return
		case <-ctx.Done():
			return
		}
	}
}

// fill copies what DevTools reported for step i into its Result.
func (p *Page) fill(i int) {
	rec := p.b.rec
	rec.mu.Lock()
	defer rec.mu.Unlock()
	r := p.steps[i]
	r.Console, r.Issues, r.CORSError, r.CORSCode, r.CORSParam, r.NetError, r.Responses = nil, nil, "", "", "", "", nil
	for _, c := range rec.console {
		if c.step == i {
			r.Console = append(r.Console, c.text)
		}
	}
	for _, c := range rec.issues {
		if c.step == i {
			r.Issues = append(r.Issues, c.text)
		}
	}
	for _, w := range rec.order {
		if w.step != i {
			continue
		}
		if w.cors != nil && r.CORSCode == "" {
			r.CORSError, r.CORSCode, r.CORSParam = corsErrorText(w.cors), string(w.cors.CorsError), w.cors.FailedParameter
		}
		if w.cors == nil && w.failed != "" && !w.canceled && r.NetError == "" {
			r.NetError = w.failed
		}
		if w.status > 0 {
			r.Responses = append(r.Responses, WireResponse{Preflight: w.preflight, Status: w.status, Header: header(w.respHdr)})
		}
	}
}

// Shown is url as the page and its screenshot show it: without its query,
// which may carry a credential (a screenshot cannot be redacted later).
func Shown(u string) string {
	if base, _, ok := strings.Cut(u, "?"); ok {
		return base + "?…"
	}
	return u
}

// Mark writes the harness's verdict of step i into the page's table
// (class pass, fail, warn, blocked or expected), for the screenshot.
func (p *Page) Mark(ctx context.Context, i int, class, text string) error {
	text = strings.ReplaceAll(text, p.t.URL, Shown(p.t.URL))
	arg, _ := json.Marshal([]any{i + 1, class, text})
	_, err := do(p.b, ctx, chromedp.Evaluate[bool]("mark(..."+string(arg)+")"))
	return err
}

// Evidence is what the browser showed during a case.
type Evidence struct {
	Console []string
	Issues  []string
	// Exchanges are the requests the browser made, preflights included, at
	// report.HopBrowserProxy.
	Exchanges []report.Exchange
	// Screenshot is a PNG of the page's result table; nil when it could not
	// be taken (ScreenshotErr says why).
	Screenshot    []byte
	ScreenshotErr error
}

// Close takes the screenshot when shot is set, collects the evidence and
// gives the tab back.
func (p *Page) Close(ctx context.Context, shot bool) Evidence {
	if p.closed {
		return Evidence{}
	}
	var ev Evidence
	if shot {
		ev.Screenshot, ev.ScreenshotErr = do(p.b, ctx, chromedp.Screenshot(chromedp.ID("result")))
	}
	rec := p.b.rec
	rec.mu.Lock()
	for _, c := range rec.console {
		ev.Console = append(ev.Console, c.text)
	}
	for _, c := range rec.issues {
		ev.Issues = append(ev.Issues, c.text)
		if strings.HasPrefix(c.text, "DeprecationIssue") {
			// Chromium reports a deprecation once per document: the next
			// case gets a fresh one, or it would not hear of it again.
			p.b.loaded = false
		}
	}
	for _, w := range rec.inOrder() {
		ev.Exchanges = append(ev.Exchanges, p.exchange(w))
	}
	rec.mu.Unlock()
	p.release()
	return ev
}

func (p *Page) release() {
	if !p.closed {
		p.closed = true
		<-p.b.busy
	}
}

// exchange is one browser request as evidence. The bodies are what the
// script sent and read (DevTools would need a call per body for them).
func (p *Page) exchange(w *wireRequest) report.Exchange {
	ex := report.Exchange{
		Hop: report.HopBrowserProxy, Started: w.started,
		Request: report.Request{Method: w.method, URL: w.url, Proto: w.proto, Headers: w.reqHeader},
	}
	if w.t1 > w.t0 {
		ex.DurationMS = (w.t1 - w.t0) * 1000
	}
	if w.status > 0 {
		ex.Response = &report.Response{Status: w.status, StatusText: w.statusTxt, Proto: w.proto, Headers: w.respHdr}
	}
	switch {
	case w.cors != nil:
		ex.Error = fmt.Sprintf("%s: CORS error %s", w.failed, corsErrorText(w.cors))
	case w.canceled:
		ex.Error = "canceled by the page (it had read what it needed, or ran out of time)"
	case w.failed != "":
		ex.Error = w.failed
	case !w.ended:
		ex.Error = "no end reported by the browser"
	}
	if w.preflight {
		if ex.Error != "" {
			ex.Error = "preflight: " + ex.Error
		}
		return ex
	}
	if w.step >= 0 && w.step < len(p.steps) {
		s, r := p.specs[w.step], p.steps[w.step]
		ex.Request.Body = string(s.RPC)
		if ex.Response != nil && r.Reached {
			ex.Response.Body = r.Body
			for _, e := range r.Events {
				ex.SSE = append(ex.SSE, report.SSEEvent{ID: e.ID, Event: e.Event, Data: e.Data, SentMS: -1, ArrivedMS: e.MS, Read: e.Read})
			}
		}
	}
	return ex
}
