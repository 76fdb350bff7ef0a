package report

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Credentials planted in the fixture; redaction tests check none survive.
const (
	presJWT     = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTEiLCJzY29wZSI6ImZpbGVzOnJlYWQifQ.c2lnbmF0dXJlLWJ5dGVzLWZvci10ZXN0aW5n"
	presRefresh = "rt-7Hq2LmX9vPzA4kR8"
	presAccess  = "at-Qw3rTy8uIoP1aSdF"
	presAPIKey  = "sk-live-4f9a8b7c6d5e"
	presCookie  = "sess-0a1b2c3d4e5f6a7b"
	presHostile = `<script>alert("x")</script><img src=x onerror=alert(1)>`
)

// presFixtureRun builds a realistic run against builtin:strip-auth-params:
// three passes, a failing WWW-Authenticate case where the proxy dropped realm
// and scope (both hops recorded), an SSE case whose events the proxy buffered,
// a warning, a skip and a harness error with a failed exchange.
func presFixtureRun() *Run {
	t0 := time.Date(2026, 3, 14, 9, 26, 53, 589_000_000, time.FixedZone("CET", 3600))
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	authz := Header{Name: "Authorization", Value: "Bearer " + presJWT}
	rpc := `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`

	run := &Run{
		Schema:     SchemaVersion,
		Tool:       Tool{Name: "mcpconform", Version: "v0.3.0-dev"},
		Proxy:      Proxy{Target: "builtin:strip-auth-params", Roles: []string{"forward"}},
		Upstream:   "http://127.0.0.1:41001/mcp",
		Started:    t0,
		Finished:   at(4200),
		DurationMS: 4200,
		Complete:   true,
		ProxyLog: "2026-03-14T09:26:53Z listening on 127.0.0.1:41000\n" +
			"2026-03-14T09:26:54Z forward POST /mcp Authorization: Bearer " + presJWT + "\n" +
			"2026-03-14T09:26:55Z upstream 401, rewriting WWW-Authenticate\n",
		Notes: []string{"proxy started by harness (builtin)"},
	}
	run.Cases = []Case{
		{ID: "AUTH-HDR-001/WWWA-01", Scenario: "AUTH-HDR-001", Row: "WWWA-01", Title: "401 passes WWW-Authenticate through",
			Area: "bridging", Level: "MUST", Outcome: Pass, DurationMS: 12.5},
		{
			ID: "AUTH-HDR-001/WWWA-02", Scenario: "AUTH-HDR-001", Row: "WWWA-02",
			Title: "401 keeps realm and scope auth-params", Area: "bridging", Level: "MUST",
			Requirement: "The proxy MUST forward the WWW-Authenticate challenge of the MCP server unchanged, including realm and scope.",
			Source:      "https://modelcontextprotocol.io/specification/2025-06-18/basic/authorization#error-handling",
			KnownBugs:   []string{"example/proxy#42"},
			Outcome:     Fail,
			Expected:    `WWW-Authenticate: Bearer realm="mcp", scope="files:read", error="invalid_token"`,
			Observed:    `WWW-Authenticate: Bearer error="invalid_token"`,
			Hop:         HopClientProxy,
			Message:     "expected WWW-Authenticate with realm and scope / observed Bearer error=\"invalid_token\" / at hop client→proxy",
			DurationMS:  31.2,
			Exchanges: []Exchange{
				{
					Hop: HopProxyUpstream, Started: at(1000), DurationMS: 4.1,
					Request: Request{Method: "POST", URL: "http://127.0.0.1:41001/mcp", Proto: "HTTP/1.1",
						Headers: []Header{{"Host", "127.0.0.1:41001"}, {"Content-Type", "application/json"}, authz, {"Mcp-Protocol-Version", "2025-06-18"}},
						Body:    rpc},
					Response: &Response{Status: 401, Proto: "HTTP/1.1", Headers: []Header{
						{"WWW-Authenticate", `Bearer realm="mcp", scope="files:read", error="invalid_token", resource_metadata="http://127.0.0.1:41001/.well-known/oauth-protected-resource"`},
						{"Content-Type", "application/json"}},
						Body: `{"error":"invalid_token"}`},
				},
				{
					Hop: HopClientProxy, Started: at(998), DurationMS: 9.8,
					Request: Request{Method: "POST", URL: "http://127.0.0.1:41000/mcp?trace=1&trace=2&q=a%20b", Proto: "HTTP/1.1",
						Headers: []Header{{"Host", "127.0.0.1:41000"}, {"Content-Type", "application/json"}, authz, {"Cookie", "session=" + presCookie + "; theme=dark"}},
						Body:    rpc},
					Response: &Response{Status: 401, Proto: "HTTP/1.1", Headers: []Header{
						{"WWW-Authenticate", `Bearer error="invalid_token"`},
						{"X-Debug", presHostile},
						{"Set-Cookie", "session=" + presCookie + "; Path=/; HttpOnly"},
						{"Content-Type", "application/json"}},
						Body: `{"error":"invalid_token"}`},
				},
			},
			Reproduce: []string{
				"mcpconform serve-mocks --scenario AUTH-HDR-001/WWWA-02",
				"curl -si -X POST http://127.0.0.1:41000/mcp -H 'Authorization: Bearer " + presJWT + "' -H 'Content-Type: application/json' --data '" + rpc + "'",
			},
		},
		{ID: "TRANS-POST-001", Scenario: "TRANS-POST-001", Title: "POST returns JSON", Area: "transport", Level: "MUST", Outcome: Pass, DurationMS: 8},
		{
			ID: "SSE-BUF-001", Scenario: "SSE-BUF-001", Title: "SSE events are not buffered", Area: "sse", Level: "MUST",
			Requirement: "Events MUST reach the client as the server sends them.",
			Source:      "https://html.spec.whatwg.org/multipage/server-sent-events.html",
			Outcome:     Fail,
			Expected:    "4 events arriving about 100 ms apart",
			Observed:    "all 4 events arrived in one read at 305 ms",
			Hop:         HopClientProxy,
			DurationMS:  320,
			Exchanges: []Exchange{
				{
					Hop: HopClientProxy, Started: at(2000), DurationMS: 310,
					Request: Request{Method: "GET", URL: "http://127.0.0.1:41000/mcp", Headers: []Header{{"Accept", "text/event-stream"}, authz}},
					Response: &Response{Status: 200, Headers: []Header{{"Content-Type", "text/event-stream"}},
						Body: "id: 1\nevent: message\ndata: {\"n\":1}\n\nid: 2\nevent: message\ndata: {\"n\":2}\n\nid: 3\nevent: message\ndata: {\"n\":3}\n\nid: 4\nevent: message\ndata: {\"n\":4}\n\n"},
					SSE: []SSEEvent{
						{ID: "1", Event: "message", Data: `{"n":1}`, SentMS: 2, ArrivedMS: 305, Read: 0},
						{ID: "2", Event: "message", Data: `{"n":2}`, SentMS: 102, ArrivedMS: 305, Read: 0},
						{ID: "3", Event: "message", Data: `{"n":3}`, SentMS: 202, ArrivedMS: 305, Read: 0},
						{ID: "4", Event: "message", Data: `{"n":4}`, SentMS: 302, ArrivedMS: 305, Read: 0, Retry: "3000"},
					},
				},
				{
					Hop: HopProxyUpstream, Started: at(2001), DurationMS: 305,
					Request: Request{Method: "GET", URL: "http://127.0.0.1:41001/mcp", Headers: []Header{{"Accept", "text/event-stream"}, authz}},
					Response: &Response{Status: 200, Headers: []Header{{"Content-Type", "text/event-stream"}},
						Body: "id: 1\ndata: {\"n\":1}\n\n"},
					SSE: []SSEEvent{
						{ID: "1", Event: "message", Data: `{"n":1}`, SentMS: 1, ArrivedMS: 1.5, Read: 0},
						{ID: "2", Event: "message", Data: `{"n":2}`, SentMS: 101, ArrivedMS: 101.4, Read: 1},
						{ID: "3", Event: "message", Data: `{"n":3}`, SentMS: 201, ArrivedMS: 201.2, Read: 2},
						{ID: "4", Event: "message", Data: `{"n":4}`, SentMS: 301, ArrivedMS: 301.3, Read: 3},
					},
				},
			},
			Reproduce: []string{"curl -N http://127.0.0.1:41000/mcp -H 'Accept: text/event-stream'"},
		},
		{ID: "CORS-PRE-001", Scenario: "CORS-PRE-001", Title: "Preflight allows Mcp-Session-Id", Area: "cors", Level: "SHOULD",
			Outcome: Skip, Reason: "proxy does not declare the browser role"},
		{
			ID: "REFRESH-001", Scenario: "REFRESH-001", Title: "Expired token is refreshed", Area: "refresh", Level: "MUST",
			Outcome: Error, Reason: "control run failed: the mock authorization server refused the connection",
			Message:    "dial tcp 127.0.0.1:41002: connect: connection refused",
			DurationMS: 1500,
			Exchanges: []Exchange{
				{
					Hop: HopProxyAuthz, Started: at(3000), DurationMS: 2.2,
					Request: Request{Method: "POST", URL: "http://127.0.0.1:41002/token",
						Headers: []Header{{"Content-Type", "application/x-www-form-urlencoded"}},
						Body:    "grant_type=refresh_token&refresh_token=" + presRefresh},
					Response: &Response{Status: 200, Headers: []Header{{"Content-Type", "application/json"}},
						Body: `{"access_token":"` + presAccess + `","token_type":"Bearer","refresh_token":"` + presRefresh + `","expires_in":60}`},
				},
				{
					Hop: HopControl, Started: at(3100), DurationMS: 1.1,
					Request: Request{Method: "POST", URL: "http://127.0.0.1:41002/token?access_token=" + presAccess,
						Headers: []Header{{"Content-Type", "application/x-www-form-urlencoded"}}},
					Error: "dial tcp 127.0.0.1:41002: connect: connection refused",
				},
			},
		},
		{
			ID: "APIKEY-001", Scenario: "APIKEY-001", Title: "API key header is not forwarded upstream", Area: "apikey", Level: "SHOULD",
			Outcome: Warn, Expected: "no X-API-Key at proxy→upstream", Observed: "X-API-Key forwarded unchanged", Hop: HopProxyUpstream,
			Exchanges: []Exchange{{
				Hop: HopProxyUpstream, Started: at(3500), DurationMS: 3,
				Request:  Request{Method: "POST", URL: "http://127.0.0.1:41001/mcp", Headers: []Header{{"X-API-Key", presAPIKey}}, Body: rpc},
				Response: &Response{Status: 200, Headers: []Header{{"Content-Type", "application/json"}}, Body: `{"jsonrpc":"2.0","id":1,"result":{}}`},
			}},
		},
		{ID: "HARNESS-001", Scenario: "HARNESS-001", Title: "Mocks reachable", Area: "harness", Level: "MUST", Outcome: Pass, DurationMS: 1},
	}
	run.Tally()
	return run
}

func TestWriteMarkdownSummary(t *testing.T) {
	run := presFixtureRun()
	var buf bytes.Buffer
	if err := WriteMarkdown(&buf, run, MarkdownOptions{HARDir: "mcpconform-report/har"}); err != nil {
		t.Fatal(err)
	}
	md := buf.String()
	os.WriteFile(filepath.Join(os.TempDir(), "mcpconform-sample.md"), buf.Bytes(), 0o644)

	wantVerdict := "### ❌ 2 failed · 1 error · 1 warning · 3 passed · 1 skipped — proxy builtin:strip-auth-params\n"
	if !strings.HasPrefix(md, wantVerdict) {
		t.Errorf("verdict line:\n got %q\nwant %q", strings.SplitN(md, "\n", 2)[0], wantVerdict)
	}
	if !strings.Contains(md, "| ID | Title | Outcome | Expected | Observed |\n|---|---|---|---|---|\n") {
		t.Error("no table header")
	}
	// Table: one row per non-passing case not shown in full above, worst
	// first; passes absent.
	var rows []string
	for _, l := range strings.Split(md, "\n") {
		if strings.HasPrefix(l, "| `") {
			rows = append(rows, l)
		}
	}
	wantOrder := []string{"CORS-PRE-001"}
	if len(rows) != len(wantOrder) {
		t.Fatalf("table rows = %d, want %d:\n%s", len(rows), len(wantOrder), strings.Join(rows, "\n"))
	}
	for i, id := range wantOrder {
		if !strings.HasPrefix(rows[i], "| `"+id+"`") {
			t.Errorf("row %d = %q, want case %s", i, rows[i], id)
		}
		// Exactly 6 unescaped pipes: cell contents cannot add columns.
		if n := len(regexp.MustCompile(`(^|[^\\])\|`).FindAllString(rows[i], -1)); n != 6 {
			t.Errorf("row %d has %d column separators, want 6: %q", i, n, rows[i])
		}
	}
	if strings.Contains(md, "WWWA-01") || strings.Contains(md, "TRANS-POST-001") {
		t.Error("passing cases listed")
	}
	// Details: the first fail, error and warning of each scenario, worst
	// first, before the table.
	var order []int
	for _, id := range []string{"AUTH-HDR-001/WWWA-02</code>", "SSE-BUF-001</code>", "REFRESH-001</code>", "APIKEY-001</code>", "| `CORS-PRE-001`"} {
		order = append(order, strings.Index(md, id))
	}
	if !sort.IntsAreSorted(order) || order[0] < 0 {
		t.Errorf("details not in order fail, fail, error, warn, then the table: %v", order)
	}
	if n := strings.Count(md, "<details>"); n != 4 {
		t.Errorf("details blocks = %d, want 4", n)
	}
	// The first lines name what failed, by area and level.
	if !strings.Contains(strings.Join(strings.SplitN(md, "\n", 5)[:4], "\n"), "**Failing:** **bridging MUST** AUTH-HDR-001/WWWA-02") {
		t.Errorf("no failing line at the top:\n%s", md[:min(len(md), 600)])
	}
	for _, want := range []string{
		"<details><summary><code>AUTH-HDR-001/WWWA-02</code> 401 keeps realm and scope auth-params — fail</summary>",
		// Both hops, with request line and the header that differs.
		"**proxy→upstream** → 401 · 4.1 ms",
		"**client→proxy** → 401 · 9.8 ms",
		"POST http://127.0.0.1:41001/mcp HTTP/1.1\n",
		`WWW-Authenticate: Bearer realm="mcp", scope="files:read"`,
		"HTTP/1.1 401 Unauthorized\nWWW-Authenticate: Bearer error=\"invalid_token\"\n",
		"- **Hop:** client→proxy",
		"- **HAR:** `mcpconform-report/har/AUTH-HDR-001_WWWA-02.har`",
		// SSE timeline table.
		"| # | event | id | sent | arrived | read | data |",
		"| 4 | message | 4 | 302.0 | 305.0 | 0 |",
		// Reproduce block.
		"```sh\nmcpconform serve-mocks --scenario AUTH-HDR-001/WWWA-02\ncurl -si",
		// Failed exchange of the error case.
		"# error: dial tcp 127.0.0.1:41002: connect: connection refused",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("summary lacks %q", want)
		}
	}
	if strings.Contains(md, "more failures") {
		t.Error("small run reported as cut")
	}
}

func TestMarkdownHostileTextStaysText(t *testing.T) {
	run := &Run{Proxy: Proxy{Target: "builtin:x"}, Complete: true, Cases: []Case{{
		ID: "X-1", Title: "t</summary><script>", Outcome: Fail, Expected: "a | b", Observed: presHostile + "\n[link](javascript:alert(1))",
		Message:   "m",
		Reproduce: []string{"echo '```'", "```"},
	}}}
	run.Tally()
	var buf bytes.Buffer
	if err := WriteMarkdown(&buf, run, MarkdownOptions{}); err != nil {
		t.Fatal(err)
	}
	md := buf.String()
	if strings.Contains(md, "</summary><script>") {
		t.Error("title broke out of <summary>")
	}
	if strings.Contains(md, "[link](javascript") {
		t.Error("markdown link from observed text not escaped")
	}
	// The reproduce block holds ``` lines, so its fence must be longer.
	if !strings.Contains(md, "````sh\necho '```'\n```\n````\n") {
		t.Errorf("reproduce fence not lengthened:\n%s", md)
	}
}

func TestWriteMarkdownCap(t *testing.T) {
	run := &Run{Proxy: Proxy{Target: "builtin:strip-auth-params"}, Complete: true}
	big := strings.Repeat("0123456789abcdef", 4096) // 64 KiB bodies
	for i := range 5000 {
		run.Cases = append(run.Cases, Case{
			ID: fmt.Sprintf("BULK-%04d", i), Title: "bulk failure", Area: "bridging", Outcome: Fail,
			Expected: strings.Repeat("e", 500), Observed: strings.Repeat("o", 500), Hop: HopClientProxy,
			Exchanges: []Exchange{{Hop: HopClientProxy, Request: Request{Method: "POST", URL: "http://p/mcp", Body: big},
				Response: &Response{Status: 500, Body: big}}},
			Reproduce: []string{"curl http://p/mcp"},
		})
	}
	run.Tally()

	for _, limit := range []int{0, 20 << 10} {
		var buf bytes.Buffer
		if err := WriteMarkdown(&buf, run, MarkdownOptions{MaxBytes: limit}); err != nil {
			t.Fatal(err)
		}
		want := limit
		if want == 0 {
			want = DefaultMarkdownMaxBytes
		}
		md := buf.String()
		if len(md) > want {
			t.Errorf("cap %d: wrote %d bytes", want, len(md))
		}
		if len(md) < want/2 {
			t.Errorf("cap %d: wrote only %d bytes; the budget is wasted", want, len(md))
		}
		if !strings.HasPrefix(md, "### ❌ 5000 failed — proxy builtin:strip-auth-params") {
			t.Errorf("cap %d: verdict line missing", want)
		}
		shown := strings.Count(md, "<details>")
		if shown == 0 {
			t.Errorf("cap %d: no details at all", want)
		}
		note := fmt.Sprintf("_… %d more failures without details here (listed below); see report.html or results.json._", 5000-shown)
		if !strings.Contains(md, note) {
			t.Errorf("cap %d: %d details shown, note %q missing", want, shown, note)
		}
		rows := strings.Count(md, "\n| `BULK-")
		if m := regexp.MustCompile(`_… (\d+) more rows not shown, see results\.json\._`).FindStringSubmatch(md); m == nil {
			t.Errorf("cap %d: no note about cut table rows", want)
		} else if n, _ := strconv.Atoi(m[1]); n+rows+shown != 5000 {
			t.Errorf("cap %d: %d details + %d rows shown + %d cut != 5000", want, shown, rows, n)
		}
	}

	var buf bytes.Buffer
	if err := WriteMarkdown(&buf, run, MarkdownOptions{MaxBytes: 10}); err != ErrMarkdownBudget || buf.Len() != 0 {
		t.Errorf("cap 10: err %v, %d bytes written; want ErrMarkdownBudget and nothing", err, buf.Len())
	}
	// Caps below the room kept for notes (a step summary nearly full):
	// whatever is written stays within the cap.
	for _, limit := range []int{80, 199, 400, 700} {
		buf.Reset()
		if err := WriteMarkdown(&buf, run, MarkdownOptions{MaxBytes: limit}); err == nil && buf.Len() > limit {
			t.Errorf("cap %d: wrote %d bytes", limit, buf.Len())
		}
	}

	// Many runs side by side: the per-run table and the runs' own
	// summaries share the cap; what does not fit is said, never written.
	runs := make([]*Run, 0, 200)
	for i := range 200 {
		r := &Run{Proxy: Proxy{Target: "builtin:strip-auth-params", Name: fmt.Sprintf("proxy-%03d", i)}, Complete: true}
		r.Cases = run.Cases[:40]
		r.Tally()
		runs = append(runs, r)
	}
	for _, n := range []int{3, 70, 200} {
		buf.Reset()
		if err := WriteMarkdownRuns(&buf, runs[:n], MarkdownOptions{}); err != nil {
			t.Fatal(err)
		}
		if buf.Len() > DefaultMarkdownMaxBytes {
			t.Errorf("%d runs: wrote %d bytes, cap %d", n, buf.Len(), DefaultMarkdownMaxBytes)
		}
		md := buf.String()
		summaries := strings.Count(md, "\n### ❌ 40 failed")
		switch {
		case n == 3 && summaries != 3:
			t.Errorf("3 runs: %d own summaries, want 3", summaries)
		case summaries < n && !strings.Contains(md, "more runs not shown") && !strings.Contains(md, "summaries do not fit here"):
			t.Errorf("%d runs: %d own summaries and no note saying the rest do not fit", n, summaries)
		}
	}
}

func TestAppendStepSummary(t *testing.T) {
	run := presFixtureRun()
	dir := t.TempDir()

	t.Setenv("GITHUB_STEP_SUMMARY", "")
	if err := AppendStepSummary(run); err != nil {
		t.Fatalf("no-op outside Actions: %v", err)
	}

	p := filepath.Join(dir, "summary.md")
	t.Setenv("GITHUB_STEP_SUMMARY", p)
	prior := "## earlier step output\n"
	os.WriteFile(p, []byte(prior), 0o644)
	if err := AppendStepSummary(run); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(p)
	if !strings.HasPrefix(string(got), prior+"\n### ❌ 2 failed") {
		t.Errorf("summary not appended after earlier content:\n%.200s", got)
	}

	// A file already near the per-step limit: the total must still fit.
	full := bytes.Repeat([]byte("x"), StepSummaryMaxBytes-6000)
	os.WriteFile(p, full, 0o644)
	if err := AppendStepSummary(run); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(p)
	if st.Size() > StepSummaryMaxBytes || st.Size() <= int64(len(full)) {
		t.Errorf("size after append = %d, want in (%d, %d]", st.Size(), len(full), StepSummaryMaxBytes)
	}

	// A file already at the limit: nothing is appended, and the caller hears why.
	full = bytes.Repeat([]byte("x"), StepSummaryMaxBytes)
	os.WriteFile(p, full, 0o644)
	if err := AppendStepSummary(run); !errors.Is(err, ErrMarkdownBudget) {
		t.Errorf("full file: err = %v, want ErrMarkdownBudget", err)
	}
	if st, _ := os.Stat(p); st.Size() != int64(len(full)) {
		t.Errorf("full file grew to %d bytes", st.Size())
	}
}

func TestWriteAnnotations(t *testing.T) {
	run := &Run{StaleBaseline: []string{"OLD-1"}}
	for i := range 15 {
		run.Cases = append(run.Cases, Case{ID: fmt.Sprintf("F-%02d", i), Title: "fails", Outcome: Fail, Expected: "a", Observed: "b", Hop: HopClientProxy})
	}
	for i := range 3 {
		run.Cases = append(run.Cases, Case{ID: fmt.Sprintf("E-%02d", i), Outcome: Error, Reason: "boom"})
	}
	for i := range 12 {
		run.Cases = append(run.Cases, Case{ID: fmt.Sprintf("W-%02d", i), Outcome: Warn, Message: "should"})
	}
	run.Cases = append(run.Cases, Case{ID: "P-1", Outcome: Pass}, Case{ID: "S-1", Outcome: Skip})
	// The first warning carries every character GitHub needs escaped.
	run.Cases[18].ID = "W:odd,id"
	run.Cases[18].Message = "100% broken\r\nsecond line"

	var buf bytes.Buffer
	WriteAnnotations(&buf, run)
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	var errs, warns, notices int
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, "::error title="):
			errs++
		case strings.HasPrefix(l, "::warning title="):
			warns++
		case strings.HasPrefix(l, "::notice title="):
			notices++
		default:
			t.Errorf("line is not a workflow command (unescaped newline?): %q", l)
		}
	}
	if errs != 10 || warns != 10 || notices != 1 {
		t.Errorf("errors %d, warnings %d, notices %d; want 10, 10, 1", errs, warns, notices)
	}
	for _, want := range []string{
		"::error title=stale baseline::1 baseline entries now pass; remove them from the baseline: OLD-1\n",
		"::error title=F-00::fails%0Aexpected a / observed b / at hop client→proxy\n",
		"::warning title=W%3Aodd%2Cid::100%25 broken%0D%0Asecond line\n",
		// 15 fails + 3 errors + stale = 19 errors, 10 shown; 12 warnings, 10 shown.
		"::notice title=mcpconform::9 more failures/errors and 2 more warnings are not annotated",
	} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("annotations lack %q", want)
		}
	}
	if strings.Contains(buf.String(), "file=") {
		t.Error("annotation names a file")
	}
}
