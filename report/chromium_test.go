package report

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// chromiumPath finds a Chromium or Chrome binary, or "".
func chromiumPath() string {
	if p := os.Getenv("MCPCONFORM_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// chromiumDumpDOM loads url in headless Chromium and returns the DOM after
// the page's script ran, and the browser's log (console messages included).
func chromiumDumpDOM(t *testing.T, bin, url string) (dom, log string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
		"--user-data-dir="+t.TempDir(), "--enable-logging=stderr", "--v=0", "--dump-dom", url)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	return stdout.String(), stderr.String()
}

// chromiumScriptErrors picks the console errors out of Chromium's log.
var chromiumConsoleError = regexp.MustCompile(`(?m)^.*CONSOLE.*(Uncaught|Error).*$`)

// report.html in a real browser, from file://: it renders, its script runs
// without errors (the filter bar is shown and the body marked ready), and
// the first failing case of the failure list is reachable: following its
// link opens that case. A page with a broken script is caught the same way,
// so the check can fail.
func TestHTMLInChromium(t *testing.T) {
	bin := chromiumPath()
	if bin == "" {
		fmt.Fprintln(os.Stderr, "report: TestHTMLInChromium skipped: no chromium on PATH (install chromium or set MCPCONFORM_CHROMIUM)")
		t.Skip("no chromium on PATH")
	}
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	var buf bytes.Buffer
	if err := WriteHTML(&buf, []*Run{htDiffFixture()}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(page, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`<h2 id="failures">[\s\S]*?<a href="#(c-\d+)"><code>([^<]+)</code>`).FindStringSubmatch(buf.String())
	if m == nil {
		t.Fatal("no link in the failure list")
	}
	anchor, id := m[1], m[2]

	dom, log := chromiumDumpDOM(t, bin, "file://"+page+"#"+anchor)
	if errs := chromiumConsoleError.FindAllString(log, -1); len(errs) > 0 {
		t.Errorf("script errors in the browser:\n%s", strings.Join(errs, "\n"))
	}
	if !strings.Contains(dom, `data-ready="1"`) {
		t.Errorf("the page script did not run to its end (no data-ready on <body>); log:\n%s", log)
	}
	if !regexp.MustCompile(`<form id="filters">`).MatchString(dom) {
		t.Error("the filter bar is still hidden: the script did not show it")
	}
	opened := regexp.MustCompile(`<details class="case[^"]*" id="` + anchor + `"[^>]*\bopen=""`)
	if !opened.MatchString(dom) {
		t.Errorf("following the failure list's link to %s (#%s) did not open the case", id, anchor)
	}
	if !strings.Contains(dom, "cases shown") {
		t.Error("the filter count was not drawn")
	}

	// The same check sees a broken script.
	broken := filepath.Join(dir, "broken.html")
	if err := os.WriteFile(broken, []byte(`<!DOCTYPE html><html><body><script>undefinedFunction();</script></body></html>`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, log := chromiumDumpDOM(t, bin, "file://"+broken); !chromiumConsoleError.MatchString(log) {
		t.Errorf("a page with a script error logged no console error; the check above would not see one either:\n%s", log)
	}
}
