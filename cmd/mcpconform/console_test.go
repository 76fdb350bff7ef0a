package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/mcpconform/mcpconform/report"
)

// In a pipe the console prints plain lines: no escape sequences, skips and
// not-run cases folded into the summary, baselined failures as one XFAIL
// line, a shared root cause said once, and proxy bytes escaped.
func TestConsolePipe(t *testing.T) {
	var buf bytes.Buffer
	b := &Baseline{ExpectedFailures: []BaselineEntry{{ID: "HTTP-E2E-010", Reason: "rewrites 401 to 500\nsecond line"}}}
	con := newConsole(&buf, false, b)
	con.begin(5)
	cases := []report.Case{
		{ID: "AUTH-HDR-001/WWWA-02", Scenario: "AUTH-HDR-001", Area: "bridging", Level: "MUST", Title: "t", Outcome: report.Fail,
			Message: "expected: x\nobserved: bad\x00token \x1b[31m"},
		{ID: "HTTP-E2E-010/401", Scenario: "HTTP-E2E-010", Area: "bridging", Level: "MUST", Outcome: report.Fail, Message: "should not print"},
		{ID: "APIKEY-001", Scenario: "APIKEY-001", Area: "apikey", Outcome: report.Skip, Reason: "applies to role K"},
		{ID: "SESS-001", Scenario: "SESS-001", Area: "transport", Level: "MUST", Outcome: report.Error, Reason: "r", RootCause: "initialize through the proxy failed: 502 Bad Gateway", Message: "first"},
		{ID: "SESS-002", Scenario: "SESS-002", Area: "transport", Level: "MUST", Outcome: report.Error, Reason: "r", RootCause: "initialize through the proxy failed: 502 Bad Gateway", Message: "second"},
	}
	for _, c := range cases {
		con.start(c.ID, c.Title)
		con.finished(c)
	}
	run := &report.Run{Cases: cases, Proxy: report.Proxy{Target: "http://127.0.0.1:33475/mcp", Name: "nginx"},
		SpecVersion: "2025-11-25", Hints: []string{"this looks like an MCP-terminating bridge; rerun with --role B"}}
	run.Tally()
	con.summary(run, "out", false)
	out := buf.String()
	if strings.ContainsAny(out, "\x00\x1b\r") {
		t.Errorf("raw control bytes in pipe output:\n%q", out)
	}
	for _, want := range []string{
		`observed: bad\x00token \x1b[31m`,
		"XFAIL HTTP-E2E-010/401  rewrites 401 to 500\n",
		"blocked: initialize through the proxy failed: 502 Bad Gateway (as above)",
		"root cause, blocked 2 case(s): initialize through the proxy failed: 502 Bad Gateway\n    SESS-001, SESS-002",
		"1 skipped (not applicable): applies to role K: 1; -v lists them",
		"hint: this looks like an MCP-terminating bridge; rerun with --role B",
		"nginx (http://127.0.0.1:33475/mcp)", "(MCP 2025-11-25)",
		"  bridging MUST: AUTH-HDR-001/WWWA-02",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	for _, not := range []string{"should not print", "SKIP", "second"} {
		if strings.Contains(out, not) {
			t.Errorf("unexpected %q in:\n%s", not, out)
		}
	}
}

// On a terminal the live line is drawn and cleared before each finished
// line, so no finished line carries progress text; passes are folded into
// the live line.
func TestConsoleTTY(t *testing.T) {
	var buf bytes.Buffer
	con := newConsole(&buf, false, nil)
	con.tty, con.color = true, true
	con.begin(2)
	con.start("SESS-001", "title")
	con.finished(report.Case{ID: "SESS-001", Outcome: report.Pass})
	con.start("VER-001", "title")
	con.finished(report.Case{ID: "VER-001", Outcome: report.Fail, Message: "expected: x"})
	con.close()
	out := buf.String()
	if !strings.Contains(out, "[0/2] SESS-001") || !strings.Contains(out, "[1/2] VER-001") {
		t.Errorf("no live line: %q", out)
	}
	if !strings.Contains(out, "\r\x1b[K\x1b[1;31mFAIL \x1b[0m VER-001") {
		t.Errorf("finished line not drawn over a cleared live line in colour: %q", out)
	}
	if strings.Contains(out, "PASS") {
		t.Errorf("a pass printed on a terminal: %q", out)
	}
}
