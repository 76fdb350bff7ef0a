package scenarios

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/mcpconform/mcpconform/mockserver/ssescript"
	"github.com/mcpconform/mcpconform/report"
	"github.com/mcpconform/mcpconform/scenarios/sseread"
)

// StreamOptions tune one streaming exchange.
type StreamOptions struct {
	// Read bounds the body (sseread defaults when zero).
	Read sseread.Options
	// OnEvent sees each block as it arrives; returning false stops reading
	// and closes the response body (the client hangs up).
	OnEvent func(sseread.Event) bool
	// OnHeaders is called once the response head has arrived, before the
	// body is read: a probe that must act while the stream is open (call a
	// tool that notifies on it) waits for this.
	OnHeaders func(status int)
	// MaxWait bounds the whole exchange (headers and body) below the
	// scenario timeout; 0 means the scenario timeout alone.
	MaxWait time.Duration
	// Recorder, when set, supplies the send time of each block: the i-th
	// stamped step of the upstream script for the i-th block.
	Recorder *ssescript.Recorder
	// Sent, when set instead, computes send times from the blocks
	// themselves (e.g. the progress tool's timestamp in each notification).
	Sent func([]sseread.Event) []time.Time
}

// StreamResult is a streamed response with its arrival timeline.
type StreamResult struct {
	Status           int
	Header           http.Header
	Proto            string
	TransferEncoding []string
	ContentLength    int64
	// Events are the blocks in arrival order, each with its body read index
	// and arrival time; Sent is aligned with them (zero = unknown).
	Events []sseread.Event
	Sent   []time.Time
	// Raw is the body as received (bounded by Read.MaxRaw), RawCut whether
	// more arrived than was kept.
	Raw    []byte
	RawCut bool
	Stats  sseread.Stats
	Start  time.Time
	// HeadersAt is when the response head arrived, Ended when reading
	// stopped.
	HeadersAt time.Time
	Ended     time.Time
	// Err is a transport failure before any response; ReadErr is how the
	// body ended (nil = clean end of stream, or stopped by OnEvent).
	Err      error
	ReadErr  error
	Stopped  bool // OnEvent asked to stop
	TimedOut bool // MaxWait or the scenario timeout ended the read
	// Exchange is the evidence attached to the case (with the timeline).
	Exchange report.Exchange
}

// Describe is a short account for "observed" texts.
func (r *StreamResult) Describe() string {
	if r.Err != nil {
		return "no HTTP response: " + r.Err.Error()
	}
	s := fmt.Sprintf("%d %s, %d blocks in %d body reads", r.Status, http.StatusText(r.Status), len(r.Events), r.Stats.Reads)
	switch {
	case r.TimedOut:
		s += ", still open when the harness gave up"
	case r.ReadErr != nil:
		s += ", body ended with: " + r.ReadErr.Error()
	}
	return s
}

// asResult views a stream's response as a whole-body result, for judges of
// a status and its fields (a GET refused before any stream).
func (r *StreamResult) asResult() *Result {
	return &Result{Status: r.Status, Header: r.Header, Body: r.Raw, Exchange: r.Exchange, Err: r.Err,
		Messages: jsonRPCMessages(r.Header.Get("Content-Type"), r.Raw)}
}

// Timeline renders the send/arrival timeline for failure details.
func (r *StreamResult) Timeline() string {
	var b strings.Builder
	for i, e := range r.Events {
		if i == 12 {
			fmt.Fprintf(&b, "; … %d more", len(r.Events)-i)
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		name := fmt.Sprintf("#%d", e.Index)
		if e.HasID {
			name += fmt.Sprintf(" id %q", e.ID)
		}
		sent := "sent ?"
		if i < len(r.Sent) && !r.Sent[i].IsZero() {
			sent = fmt.Sprintf("sent +%dms", r.Sent[i].Sub(r.Start).Milliseconds())
		}
		fmt.Fprintf(&b, "%s %s arrived +%dms in read %d", name, sent, e.Arrived.Sub(r.Start).Milliseconds(), e.Read)
	}
	if len(r.Events) == 0 {
		b.WriteString("no event arrived")
	}
	return b.String()
}

// Stream sends one request and reads its body incrementally as SSE, stamping
// every block with the body read that delivered it. The exchange, with the
// send/arrival timeline, is attached as evidence, and so are the upstream
// requests it caused when t is the proxy. The harness client never
// decompresses, so a compressed stream shows as such.
func (h *H) Stream(t Target, req Request, opt StreamOptions) *StreamResult {
	mark := h.env.Mock.Journal.Mark()
	res := h.stream(t, req, opt)
	h.Evidence(res.Exchange)
	if t.Name == "proxy" {
		h.UpstreamEvidence(h.env.Mock.Journal.Since(mark)...)
	}
	return res
}

func (h *H) stream(t Target, req Request, opt StreamOptions) *StreamResult {
	ctx := h.ctx
	if opt.MaxWait > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opt.MaxWait)
		defer cancel()
	}
	u, method := req.resolve(t)
	start := time.Now()
	res := &StreamResult{Start: start, Exchange: report.Exchange{Hop: t.Hop, Started: start}}
	var body io.Reader
	if req.Body != nil {
		body = bytes.NewReader(req.Body)
	}
	hr, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		res.Err = err
		res.Exchange.Error = err.Error()
		return res
	}
	for k, vs := range t.Header {
		hr.Header[k] = append([]string(nil), vs...)
	}
	for k, vs := range req.Header {
		hr.Header[k] = append([]string(nil), vs...)
	}
	reqBody, reqCut := evidenceBody(req.Body)
	res.Exchange.Request = report.Request{Method: method, URL: u, Proto: "HTTP/1.1", Headers: headerList(hr.Header), Body: reqBody, BodyTruncated: reqCut}
	resp, err := h.run.client.http.Do(hr)
	if err != nil {
		res.Err = describeErr(ctx, err)
		res.TimedOut = ctx.Err() != nil
		res.Exchange.Error = res.Err.Error()
		res.Exchange.DurationMS = ms(time.Since(start))
		return res
	}
	defer resp.Body.Close()
	res.HeadersAt = time.Now()
	res.Status, res.Header, res.Proto = resp.StatusCode, resp.Header, resp.Proto
	res.TransferEncoding, res.ContentLength = resp.TransferEncoding, resp.ContentLength
	if opt.OnHeaders != nil {
		opt.OnHeaders(resp.StatusCode)
	}

	ro := opt.Read
	ro.Start = start
	rd := sseread.NewReader(resp.Body, ro)
	res.Events, res.ReadErr = rd.ReadAll(ctx, func(e sseread.Event) bool {
		if opt.OnEvent != nil && !opt.OnEvent(e) {
			res.Stopped = true
			return false
		}
		return true
	})
	res.Ended = time.Now()
	if ctx.Err() != nil && !res.Stopped {
		res.TimedOut = true
	}
	res.Raw, res.RawCut = rd.Raw()
	res.Stats = rd.Stats()
	switch {
	case opt.Recorder != nil:
		res.Sent = alignStamps(res.Events, opt.Recorder.Stamps())
	case opt.Sent != nil:
		res.Sent = opt.Sent(res.Events)
	}

	res.Exchange.DurationMS = ms(res.Ended.Sub(start))
	evBody, evCut := evidenceBody(res.Raw)
	res.Exchange.Response = &report.Response{
		Status: resp.StatusCode, StatusText: http.StatusText(resp.StatusCode), Proto: resp.Proto,
		Headers: headerList(withFraming(resp)), Body: evBody, BodyTruncated: evCut || res.RawCut,
	}
	res.Exchange.SSE = sseread.ToReport(res.Events, start, res.Sent)
	switch {
	case res.TimedOut:
		res.Exchange.Error = fmt.Sprintf("stream still open after %dms: the harness stopped reading", res.Ended.Sub(start).Milliseconds())
	case res.ReadErr != nil && !errors.Is(res.ReadErr, context.Canceled):
		res.Exchange.Error = "stream body: " + res.ReadErr.Error()
	}
	return res
}

// withFraming adds the framing Go's client moves out of the header map
// (Transfer-Encoding, Content-Length), so the evidence shows them.
func withFraming(resp *http.Response) http.Header {
	h := resp.Header.Clone()
	if len(resp.TransferEncoding) > 0 && h.Get("Transfer-Encoding") == "" {
		h["Transfer-Encoding"] = append([]string(nil), resp.TransferEncoding...)
	}
	if resp.ContentLength >= 0 && h.Get("Content-Length") == "" {
		h.Set("Content-Length", fmt.Sprint(resp.ContentLength))
	}
	return h
}

// alignStamps gives each received block the send time of the script step
// that produced it: by id when the block has one the script sent (so a
// dropped block does not shift the rest), else by position.
func alignStamps(events []sseread.Event, stamps []ssescript.Stamp) []time.Time {
	byID := map[string]time.Time{}
	for _, s := range stamps {
		if s.ID != "" {
			if _, dup := byID[s.ID]; !dup {
				byID[s.ID] = s.Sent
			}
		}
	}
	out := make([]time.Time, len(events))
	for i, e := range events {
		if e.HasID {
			if t, ok := byID[e.ID]; ok {
				out[i] = t
				continue
			}
		}
		if i < len(stamps) && (!e.HasID || stamps[i].ID == "") {
			out[i] = stamps[i].Sent
		}
	}
	return out
}
