package scenarios

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/mcpconform/mcpconform/mockserver"
	"github.com/mcpconform/mcpconform/proxyundertest"
	"github.com/mcpconform/mcpconform/report"
)

// The harness client against each hostile built-in: every request ends
// within its deadline with an error that says what the proxy did, and once
// the client, the targets and the mock are closed no goroutine is left.
func TestClientAgainstHostileTargets(t *testing.T) {
	const deadline = 400 * time.Millisecond
	cases := []struct {
		specimen string
		// want is a fragment of the error; "" means a 2xx answer.
		want string
	}{
		{"hang", "timed out waiting"},
		{"stall-body", "timed out waiting"},
		{"slowloris", "timed out waiting"},
		{"reset", "reset by peer"},
		{"garbage", "malformed HTTP"},
		{"huge-headers", "headers exceeded"},
		{"endless-junk", "larger than"},
		{"no-keepalive", ""},
	}
	base := runtime.NumGoroutine()
	m, err := mockserver.Start(mockserver.Options{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	// A small maximum keeps endless-junk quick; the bound is what matters.
	c := newClient(1 << 20)
	for _, tc := range cases {
		tg, err := proxyundertest.Open(proxyundertest.BuiltinPrefix+tc.specimen, m.MCPURL(), proxyundertest.Options{Roles: []string{"T"}})
		if err != nil {
			t.Fatalf("%s: %v", tc.specimen, err)
		}
		target := Target{Name: "proxy", MCPURL: tg.MCPURL, Hop: report.HopClientProxy}
		// Several requests, so a connection the previous one broke would
		// show up if it were reused.
		for i := range 3 {
			ctx, cancel := context.WithTimeout(context.Background(), deadline)
			start := time.Now()
			res := c.do(ctx, target, Request{Header: postHeaders(""), Body: rpcRequest(1, "initialize", initializeParams())})
			took := time.Since(start)
			cancel()
			if took > deadline+2*time.Second {
				t.Errorf("%s #%d: took %s with a %s deadline", tc.specimen, i, took, deadline)
			}
			switch {
			case tc.want == "" && !res.OK():
				t.Errorf("%s #%d: %s, want 2xx", tc.specimen, i, res.Describe())
			case tc.want != "" && (res.Err == nil || !strings.Contains(res.Err.Error(), tc.want)):
				t.Errorf("%s #%d: %s, want an error with %q", tc.specimen, i, res.Describe(), tc.want)
			}
			if res.Exchange.Response != nil && len(res.Exchange.Response.Body) > maxEvidenceBody {
				t.Errorf("%s #%d: evidence keeps %d body bytes, cap %d", tc.specimen, i, len(res.Exchange.Response.Body), maxEvidenceBody)
			}
			if tc.specimen == "endless-junk" && (res.Exchange.Response == nil || !res.Exchange.Response.BodyTruncated) {
				t.Errorf("endless-junk #%d: evidence does not say the body was truncated", i)
			}
		}
		c.close()
		if err := tg.Close(); err != nil {
			t.Errorf("%s: close: %v", tc.specimen, err)
		}
	}
	if err := m.Close(); err != nil {
		t.Errorf("mock close: %v", err)
	}
	// Goroutines end asynchronously after Close (conn readers, server
	// loops); wait for the count to come back, bounded.
	until := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > base && time.Now().Before(until) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > base {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		t.Errorf("goroutine leak: %d goroutines, %d before the targets started:\n%s", n, base, buf)
	}
}

func TestCapExchange(t *testing.T) {
	big := strings.Repeat("b", maxEvidenceBody+10)
	hs := make([]report.Header, maxEvidenceHeaders+5)
	for i := range hs {
		hs[i] = report.Header{Name: "X", Value: "v"}
	}
	hs[0].Value = strings.Repeat("h", maxEvidenceHeaderValue+1)
	e := report.Exchange{
		Request:  report.Request{Body: big},
		Response: &report.Response{Body: "small", Headers: hs},
		SSE:      make([]report.SSEEvent, maxEvidenceSSE+1),
	}
	if !capExchange(&e) {
		t.Fatal("capExchange reported nothing cut")
	}
	if len(e.Request.Body) != maxEvidenceBody || !e.Request.BodyTruncated {
		t.Errorf("request body %d bytes, truncated=%v", len(e.Request.Body), e.Request.BodyTruncated)
	}
	if e.Response.Body != "small" || e.Response.BodyTruncated {
		t.Errorf("small response body changed: %q %v", e.Response.Body, e.Response.BodyTruncated)
	}
	if n := len(e.Response.Headers); n != maxEvidenceHeaders+1 || !strings.Contains(e.Response.Headers[n-1].Value, "5 more header fields") {
		t.Errorf("headers: %d kept, last %+v", n, e.Response.Headers[n-1])
	}
	if v := e.Response.Headers[0].Value; !strings.Contains(v, "truncated") || len(v) > maxEvidenceHeaderValue+100 {
		t.Errorf("long header value kept %d bytes", len(v))
	}
	if len(e.SSE) != maxEvidenceSSE {
		t.Errorf("SSE events kept: %d", len(e.SSE))
	}
	small := report.Exchange{Request: report.Request{Body: "x"}, Response: &report.Response{Body: "y"}}
	if capExchange(&small) {
		t.Error("capExchange cut an exchange within the caps")
	}
	small.Response.BodyTruncated = true // cut when read (--max-body)
	if !capExchange(&small) {
		t.Error("capExchange does not report a body already cut when read")
	}
}
