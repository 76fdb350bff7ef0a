package main

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/mcpconform/mcpconform/report"
)

func TestBaselineApply(t *testing.T) {
	cases := func() []report.Case {
		return []report.Case{
			{ID: "AUTH-HDR-001/WWWA-01", Scenario: "AUTH-HDR-001", Outcome: report.Fail},
			{ID: "AUTH-HDR-001/WWWA-02", Scenario: "AUTH-HDR-001", Outcome: report.Pass},
			{ID: "VER-001", Scenario: "VER-001", Outcome: report.Pass},
			{ID: "SESS-001", Scenario: "SESS-001", Outcome: report.Warn},
			{ID: "HTTP-E2E-005", Scenario: "HTTP-E2E-005", Outcome: report.Skip},
		}
	}
	for _, tc := range []struct {
		name     string
		entries  []BaselineEntry
		outcomes []report.Outcome
		stale    []string
	}{
		{"scenario entry covers its rows, the passing row does not make it stale",
			[]BaselineEntry{{ID: "AUTH-HDR-001", Reason: "r"}},
			[]report.Outcome{report.ExpectedFail, report.Pass, report.Pass, report.Warn, report.Skip}, nil},
		{"row entry covers that row only",
			[]BaselineEntry{{ID: "AUTH-HDR-001/WWWA-01", Reason: "r"}},
			[]report.Outcome{report.ExpectedFail, report.Pass, report.Pass, report.Warn, report.Skip}, nil},
		{"a listed case that passes is stale",
			[]BaselineEntry{{ID: "VER-001", Reason: "fixed"}, {ID: "AUTH-HDR-001/WWWA-02", Reason: ""}},
			[]report.Outcome{report.Fail, report.Pass, report.Pass, report.Warn, report.Skip},
			[]string{"VER-001 (fixed)", "AUTH-HDR-001/WWWA-02 (no reason given)"}},
		{"warnings are accepted too; a case that did not run is not stale",
			[]BaselineEntry{{ID: "SESS-001", Reason: "w"}, {ID: "HTTP-E2E-005", Reason: "s"}},
			[]report.Outcome{report.Fail, report.Pass, report.Pass, report.ExpectedFail, report.Skip}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run := &report.Run{Cases: cases()}
			stale := (&Baseline{ExpectedFailures: tc.entries}).apply(run)
			var got []report.Outcome
			for _, c := range run.Cases {
				got = append(got, c.Outcome)
			}
			if !reflect.DeepEqual(got, tc.outcomes) || !reflect.DeepEqual(stale, tc.stale) {
				t.Errorf("outcomes %v stale %q; want %v %q", got, stale, tc.outcomes, tc.stale)
			}
		})
	}
}

func TestLoadBaselineRejectsUnknownIDs(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"typo.yml":   "expected-failures:\n  - id: VER-0001\n    reason: x\n",
		"badrow.yml": "expected-failures:\n  - id: AUTH-HDR-001/WWWA-99\n    reason: x\n",
		"key.yml":    "expected_failures:\n  - id: VER-001\n",
	} {
		p := filepath.Join(dir, name)
		_ = os.WriteFile(p, []byte(body), 0o644)
		if _, err := loadBaseline(p); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
	p := filepath.Join(dir, "ok.yml")
	_ = os.WriteFile(p, []byte("expected-failures:\n  - id: AUTH-HDR-001/WWWA-13\n    reason: x\n  - id: VER-001\n    reason: y\n"), 0o644)
	if b, err := loadBaseline(p); err != nil || len(b.ExpectedFailures) != 2 {
		t.Errorf("ok.yml: %v %+v", err, b)
	}
}

// Flags given on the command line win over the profile.
func TestProfileFlagsOverride(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "p.yml")
	_ = os.WriteFile(p, []byte("name: demo\nversion: \"2\"\nlaunch: demo --port {port}\nroles: [T, K]\napi-key:\n  value: k-123456\nbrowser-facing: true\ntolerance:\n  timeout: 30s\n  sse-tolerance: 1s\nbaseline: b.yml\n"), 0o644)
	o := &runOptions{profile: p, timeout: 10 * time.Second, role: "T", sseTolerance: time.Second / 4}
	explicit := map[string]bool{"timeout": true}
	if err := o.applyProfile(func(f string) bool { return explicit[f] }); err != nil {
		t.Fatal(err)
	}
	if o.proxyCmd != "demo --port {port}" || o.role != "T,K" || o.apiKey != "k-123456" || !o.cors ||
		o.timeout != 10*time.Second || o.sseTolerance != time.Second || o.baseline != filepath.Join(dir, "b.yml") ||
		o.proxyName != "demo" || o.profileDir != dir {
		t.Errorf("options after profile: %+v", o)
	}
}

func TestCurlLineQuotes(t *testing.T) {
	got, redacted := curlLine(&report.Request{Method: "POST", URL: "http://127.0.0.1:1/mcp?a=1&b=2",
		Headers: []report.Header{{Name: "Host", Value: "x"}, {Name: "Content-Length", Value: "9"}, {Name: "X-Q", Value: "it's"},
			{Name: "Mcp-Session-Id", Value: "s-1"}, {Name: "X-API-Key", Value: "<redacted:1a2b3c4d>"}},
		Body: `{"a":"b"}`}, "", map[string]string{"s-1": "SID"}, "H_SID", 2500)
	want := `curl -i -sS -N --http1.1 --max-time 5 -D "$H_SID" -X POST "$P"'/mcp?a=1&b=2' -H 'X-Q: it'\''s' -H "Mcp-Session-Id: $SID" -H 'X-API-Key: <redacted:1a2b3c4d>' --data-raw '{"a":"b"}'`
	if got != want || !redacted {
		t.Errorf("curl line (redacted %v)\n got %s\nwant %s", redacted, got, want)
	}
}
