package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpconform/mcpconform/browserprobe"
	"github.com/mcpconform/mcpconform/proxyundertest"
	"github.com/mcpconform/mcpconform/report"
)

// browserText is what Chromium itself says about each CORS specimen's bug,
// verbatim (console) or as DevTools' Issues panel words it: every failing
// case of the specimen's browser run must show it. agrees is whether the
// browser fails it too (false: Chromium lets it through, with a warning).
var browserText = map[string]struct {
	text   string
	agrees bool
}{
	"no-expose-headers":      {`Refused to get unsafe header "WWW-Authenticate"`, true},
	"expose-on-success-only": {`Refused to get unsafe header "WWW-Authenticate"`, true},
	"wildcard-credentials":   {`must not be the wildcard '*' when the request's credentials mode is 'include'`, true},
	"allow-headers-wildcard": {"Authorization will not be covered by the wildcard symbol (*)", false},
	"no-delete-method":       {"Method DELETE is not allowed by Access-Control-Allow-Methods in preflight response.", true},
	"preflight-needs-auth":   {"Response to preflight request doesn't pass access control check", true},
	"401-without-cors":       {"No 'Access-Control-Allow-Origin' header is present on the requested resource.", true},
	// The bridge's CORS bugs, as Chromium words them.
	"bridge-wildcard-with-credentials": {`must not be the wildcard '*' when the request's credentials mode is 'include'`, true},
	"bridge-expose-session-only":       {`Refused to get unsafe header "WWW-Authenticate"`, true},
}

// TestBrowserSelfValidation runs the CORS area in headless Chromium
// (--browser): the reference passes there too, and each CORS specimen fails
// exactly its declared scenarios with the browser's own words in the
// evidence. Without Chromium it skips (make test says so up front), unless
// MCPCONFORM_REQUIRE_BROWSER is set, as CI does.
func TestBrowserSelfValidation(t *testing.T) {
	if _, err := browserprobe.Find(os.Getenv("MCPCONFORM_BROWSER_PATH")); err != nil {
		if os.Getenv("MCPCONFORM_REQUIRE_BROWSER") != "" {
			t.Fatalf("MCPCONFORM_REQUIRE_BROWSER is set but: %v", err)
		}
		t.Skipf("SKIPPED, browser checks not run: %v", err)
	}
	type job struct {
		name string
		s    *proxyundertest.Specimen
		args []string
	}
	var jobs []job
	for _, s := range proxyundertest.Specimens() {
		switch {
		case s.Name == "reference":
			// Also behind its API-key gate: the page then sends the key.
			jobs = append(jobs, job{"reference", s, []string{"--cors"}}, job{"reference-K", s, []string{"--role", "K", "--cors"}})
		case s.Name == "bridge":
			jobs = append(jobs, job{"bridge", s, []string{"--role", "B", "--cors"}})
		case slices.Contains(s.RunArgs, "--cors"):
			jobs = append(jobs, job{s.Name, s, s.RunArgs})
		}
	}
	// Each child starts its own Chromium; three at a time keep two cores busy.
	sem := make(chan struct{}, 3)
	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			// Done once t.Run returned: the subtest's result is reported by then.
			defer wg.Done()
			defer func() { <-sem }()
			t.Run(j.name, func(t *testing.T) { runBrowserChild(t, j.s, j.args) })
		}()
	}
	wg.Wait()
}

// runBrowserChild runs the CORS area against s in a browser and judges it.
func runBrowserChild(t *testing.T, s *proxyundertest.Specimen, extra []string) {
	args := append([]string{"run", "--proxy", "builtin:" + s.Name, "--browser", "--label-filter", "cors || apikey"}, extra...)
	if p := os.Getenv("MCPCONFORM_BROWSER_PATH"); p != "" {
		args = append(args, "--browser-path", p)
	}
	cr := runChild(t, 2*time.Minute, args...)
	want := map[string]bool{}
	for _, id := range append(append([]string{}, s.Guards...), s.AlsoFails...) {
		want[id] = true
	}
	for _, p := range judgeChild(s, cr, want) {
		t.Error(p)
	}
	checkBrowserCases(t, s, cr.run)
}

// checkBrowserCases holds every CORS case of one run to its browser check.
func checkBrowserCases(t *testing.T, s *proxyundertest.Specimen, run *report.Run) {
	t.Helper()
	har := t.TempDir()
	if _, err := writeHARs(har, run); err != nil {
		t.Fatal(err)
	}
	exp, listed := browserText[s.Name]
	preflights := 0
	for _, c := range run.Cases {
		b := c.Browser
		if b == nil {
			if c.Area == "cors" {
				t.Errorf("%s: no browser check", c.ID)
			}
			continue // a case the browser does not judge
		}
		for _, ex := range c.Exchanges {
			if ex.Hop == report.HopBrowserProxy && ex.Request.Method == "OPTIONS" {
				preflights++
			}
		}
		if c.Outcome != report.Fail {
			if b.Outcome == report.Fail || b.Outcome == report.Error || !b.Agrees {
				t.Errorf("%s passed, but its browser check is %s (agrees %v): %s", c.ID, b.Outcome, b.Agrees, b.Summary)
			}
			continue
		}
		if !listed {
			t.Errorf("builtin:%s fails %s in the browser, but has no entry in browserText: say what Chromium reports for its bug", s.Name, c.ID)
			continue
		}
		if exp.agrees != b.Agrees || (b.Outcome != report.Fail && b.Outcome != report.Warn) {
			t.Errorf("%s: browser outcome %s, agrees %v; want fail or warn, agrees %v: %s", c.ID, b.Outcome, b.Agrees, exp.agrees, b.Summary)
		}
		said := strings.Join(append(append([]string{}, b.Console...), b.Issues...), "\n")
		if !strings.Contains(said, exp.text) || !strings.Contains(c.Message, exp.text) {
			t.Errorf("%s: the browser's words %q are not in its evidence and message:\n%s\n--- message:\n%s", c.ID, exp.text, said, c.Message)
		}
		if !exp.agrees && !strings.Contains(c.Message, "disagreement") {
			t.Errorf("%s: the disagreement is not reported: %s", c.ID, c.Message)
		}
		png, err := os.ReadFile(filepath.Join(har, strings.TrimSuffix(report.HARFileName(&c), ".har")+".png"))
		if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG")) {
			t.Errorf("%s: no screenshot next to the HAR: %v", c.ID, err)
		}
	}
	if preflights == 0 {
		t.Error("no preflight among the browser's requests")
	}
}

// Without Chromium, --browser is a usage error that says how to install it,
// before anything starts.
func TestBrowserWithoutChromiumIsUsageError(t *testing.T) {
	var out, errb bytes.Buffer
	code := execute([]string{"run", "--proxy", "builtin:reference", "--cors", "--browser", "--browser-path", "/nonexistent/chromium", "--upstream", "127.0.0.1:0"}, &out, &errb)
	if code != exitUsage || !strings.Contains(errb.String(), "apt-get install chromium") {
		t.Fatalf("exit %d, stderr %q; want %d and the install hint", code, errb.String(), exitUsage)
	}
	if strings.Contains(out.String(), "mock upstream") {
		t.Error("the run started before the usage error")
	}
	// --browser where no case would use it says so.
	errb.Reset()
	if code := execute([]string{"run", "--proxy", "builtin:reference", "--browser", "--upstream", "127.0.0.1:0"}, &out, &errb); code != exitUsage || !strings.Contains(errb.String(), "add --cors") {
		t.Errorf("--browser alone: exit %d, %q", code, errb.String())
	}
}

// BenchmarkBrowserOverhead measures what --browser adds to a run of the
// CORS area against the reference: the whole run's wall time with and
// without the browser (which includes starting Chromium), and the CORS
// cases' own time.
//
//	go test -run='^$' -bench=BrowserOverhead -benchtime=5x ./cmd/mcpconform/
func BenchmarkBrowserOverhead(b *testing.B) {
	if _, err := browserprobe.Find(os.Getenv("MCPCONFORM_BROWSER_PATH")); err != nil {
		b.Skip(err)
	}
	for _, mode := range []struct {
		name string
		args []string
	}{
		{"headers", []string{"--cors"}},
		{"browser", []string{"--cors", "--browser"}},
		// The full default suite: Chromium starts while the other areas run.
		{"full-headers", []string{"--cors", "--label-filter", "!sse"}},
		{"full-browser", []string{"--cors", "--browser", "--label-filter", "!sse"}},
	} {
		b.Run(mode.name, func(b *testing.B) {
			var wall, cors time.Duration
			for b.Loop() {
				args := append([]string{"run", "--proxy", "builtin:reference"}, mode.args...)
				if !strings.HasPrefix(mode.name, "full") {
					args = append(args, "--label-filter", "cors")
				}
				start := time.Now()
				cr := runChild(b, 2*time.Minute, args...)
				wall += time.Since(start)
				if cr.code != exitOK {
					b.Fatalf("exit %d:\n%s", cr.code, cr.output)
				}
				for _, c := range cr.run.Cases {
					if c.Area == "cors" {
						cors += time.Duration(c.DurationMS * float64(time.Millisecond))
					}
				}
			}
			n := float64(b.N)
			b.ReportMetric(wall.Seconds()/n, "wall-s/run")
			b.ReportMetric(cors.Seconds()/n, "cors-cases-s/run")
		})
	}
}
