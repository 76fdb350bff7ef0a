package report

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

func htWalk(n *html.Node, f func(*html.Node)) {
	f(n)
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		htWalk(c, f)
	}
}

func htAttr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

func htText(n *html.Node) string {
	var b strings.Builder
	htWalk(n, func(m *html.Node) {
		if m.Type == html.TextNode {
			b.WriteString(m.Data)
		}
	})
	return b.String()
}

// htCaseBlock finds the <details class="case …"> whose summary names id.
func htCaseBlock(doc *html.Node, id string) *html.Node {
	var found *html.Node
	htWalk(doc, func(n *html.Node) {
		if found != nil || n.Type != html.ElementNode || n.Data != "details" {
			return
		}
		if cls, _ := htAttr(n, "class"); !strings.HasPrefix(cls, "case ") {
			return
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if c.Type == html.ElementNode && c.Data == "summary" && strings.Contains(htText(c), id+" ") {
				found = n
			}
		}
	})
	return found
}

func TestWriteHTML(t *testing.T) {
	run := presFixtureRun()
	// A second proxy that gets the WWW-Authenticate case right, so the
	// matrix has two columns that differ.
	fixed := presFixtureRun()
	fixed.Proxy = Proxy{Target: "http://127.0.0.1:8080/mcp", Name: "goodproxy", Version: "1.4.2"}
	fixed.Cases[1].Outcome = Pass
	fixed.Cases = append(fixed.Cases, Case{ID: "ONLY-IN-SECOND", Title: "new case", Area: "transport", Outcome: Pass})
	fixed.Tally()
	Redact(run, nil)
	Redact(fixed, nil)

	var buf bytes.Buffer
	if err := WriteHTML(&buf, []*Run{run, fixed}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("/tmp/mcpconform-sample.html", buf.Bytes(), 0o644); err != nil {
		t.Log(err)
	}
	raw := buf.String()

	doc, err := html.Parse(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	text := htText(doc)
	for _, c := range append(run.Cases, fixed.Cases[len(fixed.Cases)-1]) {
		if htCaseBlock(doc, c.ID) == nil {
			t.Errorf("no expandable block for %s", c.ID)
		}
	}
	for _, want := range []string{
		"Run 1: proxy builtin:strip-auth-params", "Run 2: proxy goodproxy 1.4.2",
		"mcpconform v0.3.0-dev", "listening on 127.0.0.1:41000", // proxy log
		"The proxy MUST forward the WWW-Authenticate challenge", "Bearer error=\"invalid_token\"",
		"mcpconform serve-mocks --scenario AUTH-HDR-001/WWWA-02", presHostile,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("page text lacks %q", want)
		}
	}

	// Self-contained and not injectable: exactly our one inline script, no
	// external resources, no event handlers from the hostile header.
	scripts := 0
	htWalk(doc, func(n *html.Node) {
		if n.Type != html.ElementNode {
			return
		}
		switch n.Data {
		case "script":
			scripts++
			if _, ok := htAttr(n, "src"); ok {
				t.Error("<script src=…>")
			}
		case "link", "img", "iframe", "object", "embed":
			t.Errorf("external-resource element <%s>", n.Data)
		}
		for _, a := range n.Attr {
			if strings.HasPrefix(a.Key, "on") {
				t.Errorf("event handler attribute %s on <%s>", a.Key, n.Data)
			}
		}
	})
	if scripts != 1 {
		t.Errorf("%d <script> elements, want 1", scripts)
	}
	for _, bad := range []string{"<script>alert", "<img", `src="http`, "<link", "@import", "url(http"} {
		if strings.Contains(raw, bad) {
			t.Errorf("raw page contains %q", bad)
		}
	}
	if strings.Contains(raw, presJWT) {
		t.Error("redacted run shows the JWT")
	}

	// Matrix: a row for the fixed case with fail in run 1 and pass in run 2.
	var matrixRow []string
	var matrix *html.Node
	htWalk(doc, func(n *html.Node) {
		if cls, _ := htAttr(n, "class"); n.Type == html.ElementNode && n.Data == "table" && cls == "matrix" {
			matrix = n
		}
	})
	htWalk(matrix, func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "tr" && strings.HasPrefix(htText(n), "AUTH-HDR-001/WWWA-02") {
			for c := n.FirstChild; c != nil; c = c.NextSibling {
				if c.Type == html.ElementNode && c.Data == "td" {
					cls, _ := htAttr(c, "class")
					matrixRow = append(matrixRow, cls)
				}
			}
		}
	})
	if want := []string{"", "cell o-fail", "cell o-pass"}; strings.Join(matrixRow, ",") != strings.Join(want, ",") {
		t.Errorf("matrix row classes = %q, want %q", matrixRow, want)
	}

	// The SSE case carries the chart: per event one sent and one arrival
	// mark, and the buffered client→proxy stream is one boxed read.
	sse := htCaseBlock(doc, "SSE-BUF-001")
	var svgs []*html.Node
	htWalk(sse, func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "svg" {
			svgs = append(svgs, n)
		}
	})
	// Two runs × two hops with SSE.
	if len(svgs) != 4 {
		t.Fatalf("SSE case has %d svg charts, want 4", len(svgs))
	}
	circles, rects := 0, 0
	arrivalX := map[string]bool{}
	htWalk(svgs[0], func(n *html.Node) {
		if n.Type != html.ElementNode {
			return
		}
		switch n.Data {
		case "circle":
			circles++
			if fill, _ := htAttr(n, "fill"); fill == "#d1242f" {
				x, _ := htAttr(n, "cx")
				arrivalX[x] = true
			}
		case "rect":
			rects++
		}
	})
	if circles != 8 || rects != 1 || len(arrivalX) != 1 {
		t.Errorf("buffered chart: %d circles, %d read boxes, %d distinct arrival x; want 8, 1, 1", circles, rects, len(arrivalX))
	}
	// The streaming upstream hop: four reads at four times, nothing boxed.
	arrivalX = map[string]bool{}
	rects = 0
	htWalk(svgs[1], func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "rect" {
			rects++
		}
		if n.Type == html.ElementNode && n.Data == "circle" {
			if fill, _ := htAttr(n, "fill"); fill == "#d1242f" {
				x, _ := htAttr(n, "cx")
				arrivalX[x] = true
			}
		}
	})
	if rects != 0 || len(arrivalX) != 4 {
		t.Errorf("streaming chart: %d read boxes, %d distinct arrival x; want 0, 4", rects, len(arrivalX))
	}
	if htCaseBlock(doc, "TRANS-POST-001") != nil {
		var n int
		htWalk(htCaseBlock(doc, "TRANS-POST-001"), func(m *html.Node) {
			if m.Type == html.ElementNode && m.Data == "svg" {
				n++
			}
		})
		if n != 0 {
			t.Error("chart drawn for a case without SSE")
		}
	}
}

func TestWriteHTMLUnsafeSourceNotLinked(t *testing.T) {
	run := &Run{Complete: true, Cases: []Case{{ID: "X-1", Outcome: Fail, Source: "javascript:alert(1)"}}}
	var buf bytes.Buffer
	if err := WriteHTML(&buf, []*Run{run}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), `href="javascript`) {
		t.Error("javascript: source became a link")
	}
	if !strings.Contains(buf.String(), "javascript:alert(1)") {
		t.Error("source text not shown")
	}
}

// The page opens with what failed: a banner naming the failing scenarios by
// area and level, the root cause once with the cases it blocked, the hints,
// and the failure list before the matrix; inside a failing case the diff
// marks the lost challenge parameters; a control note is not styled as an
// error; raw control bytes are shown escaped.
func TestWriteHTMLFailuresFirstAndDiff(t *testing.T) {
	run := htDiffFixture()
	var buf bytes.Buffer
	if err := WriteHTML(&buf, []*Run{run}); err != nil {
		t.Fatal(err)
	}
	raw := buf.String()
	if err := os.WriteFile(filepath.Join(t.TempDir(), "r.html"), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	iBanner := strings.Index(raw, `class="banner v-fail"`)
	iFailing := strings.Index(raw, `<h2 id="failures">Failures (3)</h2>`)
	iMatrix := strings.Index(raw, "<h2>Matrix</h2>")
	if iBanner < 0 || iFailing < iBanner || iMatrix < iFailing {
		t.Errorf("order banner %d, failures %d, matrix %d", iBanner, iFailing, iMatrix)
	}
	for _, want := range []string{
		"<li>failing bridging MUST: AUTH-HDR-001/WWWA-02, HTTP-E2E-002/nul</li>",
		"<strong>Root cause</strong> of 1 cases: initialize through the proxy failed: 502 Bad Gateway",
		"<strong>Hint:</strong> this looks like an MCP-terminating bridge; rerun with --role B",
		"<dt>MCP revision</dt><dd>2025-11-25</dd>",
		// The diff: realm lost, resource_metadata kept.
		`<tr class="d-lost"><td>1 Bearer</td><th>realm</th><td class="from">&#34;mcp&#34;</td><td class="to"></td>`,
		`<tr class="d-same"><td>1 Bearer</td><th>resource_metadata</th>`,
		`<tr class="d-changed"><th>Www-Authenticate</th>`,
		`<tr class="d-hop"><th>Date</th>`,
		// Same value, name in another case (Go canonicalizes on read): same.
		`<tr class="d-same"><th>DPoP-Nonce</th>`,
		// Control note: neutral.
		`<p class="note">stream still open after 1ms: the harness stopped reading</p>`,
		// Raw bytes escaped.
		`bad\x00token`,
	} {
		if !strings.Contains(raw, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.ContainsRune(raw, 0) {
		t.Error("raw NUL in the page")
	}
}

func htDiffFixture() *Run {
	rm := `resource_metadata="http://127.0.0.1:7411/.well-known/oauth-protected-resource/mcp"`
	init := Request{Method: "POST", URL: "http://127.0.0.1:8080/mcp", Body: `{"method":"initialize"}`,
		Headers: []Header{{Name: "Content-Type", Value: "application/json"}}}
	up := init
	up.URL = "http://127.0.0.1:7411/mcp"
	run := &Run{Proxy: Proxy{Target: "http://127.0.0.1:8080/mcp"}, Complete: true, SpecVersion: "2025-11-25",
		Hints: []string{"this looks like an MCP-terminating bridge; rerun with --role B"},
		Cases: []Case{
			{ID: "AUTH-HDR-001/WWWA-02", Scenario: "AUTH-HDR-001", Area: "bridging", Level: "MUST", Outcome: Fail,
				Observed: "401 with WWW-Authenticate «Bearer " + rm + "»",
				Exchanges: []Exchange{
					{Hop: HopControl, Request: up, Error: "stream still open after 1ms: the harness stopped reading",
						Response: &Response{Status: 401, Headers: []Header{{Name: "Www-Authenticate", Value: `Bearer realm="mcp", ` + rm}}}},
					{Hop: HopClientProxy, Request: init, Response: &Response{Status: 401, Headers: []Header{
						{Name: "Date", Value: "Fri, 04 Dec 2026 06:48:36 GMT"}, {Name: "Www-Authenticate", Value: "Bearer " + rm},
						{Name: "Dpop-Nonce", Value: "n1"}}}},
					{Hop: HopProxyUpstream, Request: up, Response: &Response{Status: 401, Headers: []Header{
						{Name: "Www-Authenticate", Value: `Bearer realm="mcp", ` + rm}, {Name: "DPoP-Nonce", Value: "n1"}}}},
				}},
			{ID: "HTTP-E2E-002/nul", Scenario: "HTTP-E2E-002", Area: "bridging", Level: "MUST", Outcome: Fail,
				Observed: "forwarded bad\x00token"},
			{ID: "SESS-001", Scenario: "SESS-001", Area: "transport", Level: "MUST", Outcome: Error,
				RootCause: "initialize through the proxy failed: 502 Bad Gateway"},
			{ID: "VER-001", Scenario: "VER-001", Area: "transport", Level: "MUST", Outcome: Pass},
		}}
	run.Cases[1].Observed = "forwarded bad\x00token"
	run.Tally()
	return run
}
