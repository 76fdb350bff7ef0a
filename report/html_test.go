package report

import (
	"bytes"
	"os"
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
		"Run 1: proxy builtin:strip-auth-params", "Run 2: proxy http://127.0.0.1:8080/mcp (goodproxy 1.4.2)",
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
	htWalk(doc, func(n *html.Node) {
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
