package report

import (
	"strings"
	"testing"
)

func TestPrintable(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain text", "plain text"},
		{"line\nnext\ttab", "line\nnext\ttab"},
		{"bad\x00token", `bad\x00token`},
		{"bad\rtoken", `bad\x0dtoken`},
		{"\x1b[31mred", `\x1b[31mred`},
		{"del\x7f", `del\x7f`},
		{"c1\u0085", `c1\x85`},
		{"bad utf8 \xff\xfe", `bad utf8 \xff\xfe`},
		{"bidi \u202eevil", `bidi \u202eevil`},
		{"ünïcödé ✅", "ünïcödé ✅"},
		// Control bytes after non-ASCII text (an observed value in «…»).
		{"«bad\x00token»", `«bad\x00token»`},
		{"✅ a\rb\x1b[2J\x7f", `✅ a\x0db\x1b[2J\x7f`},
	} {
		if got := Printable(tc.in); got != tc.want {
			t.Errorf("Printable(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got := PrintableOneLine("a\nb\x00"); got != `a\nb\x00` {
		t.Errorf("PrintableOneLine = %q", got)
	}
}

// printableRun escapes every string of the model (also deep in exchanges)
// and leaves the original untouched.
func TestPrintableRunDeepCopy(t *testing.T) {
	run := &Run{Proxy: Proxy{Target: "t\x00"}, Cases: []Case{{ID: "X", Exchanges: []Exchange{{
		Request:  Request{Headers: []Header{{Name: "A", Value: "v\x00"}}},
		Response: &Response{Body: "b\xff", Headers: []Header{{Name: "W", Value: "\x1b"}}},
		SSE:      []SSEEvent{{Data: "d\r"}},
	}}}}}
	cp := printableRun(run)
	x := cp.Cases[0].Exchanges[0]
	for _, s := range []string{cp.Proxy.Target, x.Request.Headers[0].Value, x.Response.Body, x.Response.Headers[0].Value, x.SSE[0].Data} {
		if !strings.Contains(s, `\x`) {
			t.Errorf("not escaped: %q", s)
		}
	}
	if run.Cases[0].Exchanges[0].Response.Body != "b\xff" || run.Cases[0].Exchanges[0].Request.Headers[0].Value != "v\x00" {
		t.Error("the original run was changed")
	}
}

// One proxy judged against several revisions gets one column per revision;
// runs that differ in nothing are numbered.
func TestRunLabels(t *testing.T) {
	runs := []*Run{
		{Proxy: Proxy{Target: "http://127.0.0.1:1/mcp", Name: "nginx"}, SpecVersion: "2025-06-18"},
		{Proxy: Proxy{Target: "http://127.0.0.1:2/mcp", Name: "nginx"}, SpecVersion: "2025-11-25"},
		{Proxy: Proxy{Target: "builtin:reference"}},
		{Proxy: Proxy{Target: "builtin:reference"}},
		{Proxy: Proxy{Target: "x", Name: "caddy"}},
	}
	got := strings.Join(RunLabels(runs), " | ")
	want := "nginx · MCP 2025-06-18 | nginx · MCP 2025-11-25 | builtin:reference #3 | builtin:reference #4 | caddy"
	if got != want {
		t.Errorf("RunLabels\n got %s\nwant %s", got, want)
	}
}
