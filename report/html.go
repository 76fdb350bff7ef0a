package report

import (
	"fmt"
	"html/template"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// htMaxBody caps each body shown in the HTML report; HAR files and
// results.json keep the full evidence.
const htMaxBody = 64 << 10

// htMaxSSEMarks caps the events drawn in one timeline chart; past a few
// hundred the marks merge into a bar and the page gets slow.
const htMaxSSEMarks = 500

// WriteHTML writes one self-contained HTML page (inline CSS and a little
// optional JS, no external resources) for one run or several runs side by
// side: a header per run, the matrix of cases × runs coloured by outcome, and
// an expandable block per case with the requirement, the verdict of each run,
// both hops' exchanges, the SSE arrival timeline as an SVG chart and the
// reproduce commands. Every string from the run is escaped by html/template,
// because headers and bodies come from the proxy under test.
//
// WriteHTML does not redact; call Redact first.
func WriteHTML(w io.Writer, runs []*Run) error {
	return htTemplate.Execute(w, htBuild(runs))
}

type htPage struct {
	Title     string
	Generated string
	Multi     bool
	Cols      int // matrix columns: ID, title, one per run
	Runs      []htRun
	Areas     []htArea
	// Failing lists every case that failed, errored or warned in some run,
	// worst first: the list a reader starts from.
	Failing []*htCase
	// Filter choices present in the page.
	OutcomeChoices []Outcome
	AreaChoices    []string
	LevelChoices   []string
}

type htRun struct {
	Index       int
	Label       string
	Verdict     string // "fail", "error", "warn", "pass": the banner's colour
	Digest      Digest
	Run         *Run
	Started     string
	StartedISO  string
	Duration    string
	Counts      []htCount
	Stale       []string
	ProxyLog    string
	ProxyLogLen int
}

type htCount struct {
	Outcome Outcome
	N       int
}

type htArea struct {
	Name  string
	Cases []htCase
}

// htCase is one case ID across all runs: one row of the matrix and one
// expandable block.
type htCase struct {
	Anchor string
	ID     string
	Title  string
	Area   string
	Level  string
	// Outcomes are the distinct outcomes over the runs (filter data);
	// Search the lowercased text the search box matches.
	Outcomes string
	Search   string
	// Reason is the one-line why of the worst run, for the failure list.
	Reason      string
	RootCause   string
	Requirement string
	Source      string
	SourceIsURL bool
	Worst       Outcome
	Cells       []htCell
}

type htCell struct {
	Present  bool
	RunLabel string
	Case     *Case
	Exchange []htExchange
	Diffs    []Diff
}

type htExchange struct {
	X *Exchange
	// ErrClass styles X.Error: "err" when it is part of a failure, "note"
	// when it is a remark (the control run, or a read the harness ended
	// on purpose in a passing case).
	ErrClass   string
	StatusLine string
	ReqBody    htBody
	RespBody   htBody
	Chart      *htChart
}

type htBody struct {
	Text     string
	Cut      int // bytes not shown
	Harness  bool
	Nonempty bool
}

func htBodyOf(s string, truncated bool) htBody {
	b := htBody{Text: s, Harness: truncated, Nonempty: s != ""}
	if len(s) > htMaxBody {
		cut := mdCut(s, htMaxBody)
		b.Text = cut
		b.Cut = len(s) - htMaxBody
	}
	return b
}

func htBuild(runs []*Run) htPage {
	p := htPage{Generated: time.Now().UTC().Format(time.RFC3339), Multi: len(runs) > 1}
	var labels []string
	var live []*Run
	for _, r := range runs {
		if r != nil {
			live = append(live, r)
		}
	}
	names := RunLabels(live)
	for i, r := range live {
		r = printableRun(r)
		label := Printable(names[i])
		if !p.Multi {
			label = mdProxyLabel(r.Proxy)
		}
		labels = append(labels, label)
		counts := mdCounts(r)
		hr := htRun{Index: i + 1, Label: label, Run: r, Stale: r.StaleBaseline, ProxyLog: r.ProxyLog, Digest: NewDigest(r)}
		switch {
		case counts[Fail] > 0 || len(r.StaleBaseline) > 0:
			hr.Verdict = "fail"
		case counts[Error] > 0:
			hr.Verdict = "error"
		case counts[Warn] > 0 || r.Interrupted || !r.Complete:
			hr.Verdict = "warn"
		default:
			hr.Verdict = "pass"
		}
		if !r.Started.IsZero() {
			hr.Started = r.Started.Format("2006-01-02 15:04:05 MST")
			hr.StartedISO = r.Started.Format(time.RFC3339)
		}
		if r.DurationMS > 0 {
			hr.Duration = fmt.Sprintf("%.1f s", r.DurationMS/1000)
		}
		for _, o := range Outcomes {
			if counts[o] > 0 {
				hr.Counts = append(hr.Counts, htCount{o, counts[o]})
			}
		}
		hr.ProxyLogLen = strings.Count(r.ProxyLog, "\n")
		if r.ProxyLog != "" && !strings.HasSuffix(r.ProxyLog, "\n") {
			hr.ProxyLogLen++
		}
		p.Runs = append(p.Runs, hr)
	}
	p.Cols = 2 + len(p.Runs)
	switch len(labels) {
	case 0:
		p.Title = "mcpconform report"
	case 1:
		p.Title = "mcpconform — proxy " + labels[0]
	default:
		p.Title = fmt.Sprintf("mcpconform — %d proxies compared", len(labels))
	}

	// Union of case IDs over all runs, grouped by area in catalogue order.
	type key struct{ area, id string }
	byArea := map[string][]string{}
	seen := map[key]bool{}
	first := map[string]*Case{}
	for _, hr := range p.Runs {
		for i := range hr.Run.Cases {
			c := &hr.Run.Cases[i]
			k := key{c.Area, c.ID}
			if !seen[k] {
				seen[k] = true
				byArea[c.Area] = append(byArea[c.Area], c.ID)
				first[c.Area+"\x00"+c.ID] = c
			}
		}
	}
	var areas []string
	for a := range byArea {
		areas = append(areas, a)
	}
	sort.Slice(areas, func(i, j int) bool {
		ri, rj := areaRank(areas[i]), areaRank(areas[j])
		if ri != rj {
			return ri < rj
		}
		return areas[i] < areas[j]
	})
	n := 0
	for _, a := range areas {
		ids := byArea[a]
		sort.Strings(ids)
		ha := htArea{Name: a}
		if ha.Name == "" {
			ha.Name = "(no area)"
		}
		for _, id := range ids {
			n++
			f := first[a+"\x00"+id]
			hc := htCase{
				Anchor: "c-" + strconv.Itoa(n), ID: id, Title: f.Title, Area: ha.Name, Level: f.Level,
				Requirement: f.Requirement, Source: f.Source,
				SourceIsURL: strings.HasPrefix(f.Source, "https://") || strings.HasPrefix(f.Source, "http://"),
				Worst:       NotRun,
			}
			worst := len(Outcomes) + 1
			for _, hr := range p.Runs {
				cell := htCell{RunLabel: hr.Label}
				for i := range hr.Run.Cases {
					c := &hr.Run.Cases[i]
					if c.ID == id && c.Area == a {
						cell.Present = true
						cell.Case = c
						bad := c.Outcome == Fail || c.Outcome == Error || c.Outcome == Warn || c.Outcome == ExpectedFail
						for j := range c.Exchanges {
							he := htExchangeOf(&c.Exchanges[j])
							he.ErrClass = "note"
							if bad && c.Exchanges[j].Hop != HopControl {
								he.ErrClass = "err"
							}
							cell.Exchange = append(cell.Exchange, he)
						}
						if bad {
							cell.Diffs = CaseDiffs(c)
						}
						if !strings.Contains(" "+hc.Outcomes+" ", " "+string(c.Outcome)+" ") {
							hc.Outcomes = strings.TrimSpace(hc.Outcomes + " " + string(c.Outcome))
						}
						if r := mdOutcomeRank(c.Outcome); r < worst {
							worst = r
							hc.Worst = c.Outcome
							hc.Reason = htReason(c)
							hc.RootCause = c.RootCause
						}
						break
					}
				}
				hc.Cells = append(hc.Cells, cell)
			}
			hc.Search = strings.ToLower(hc.ID + " " + hc.Title + " " + hc.Reason)
			ha.Cases = append(ha.Cases, hc)
		}
		p.Areas = append(p.Areas, ha)
	}
	// The failure list, worst first, in matrix order within one outcome.
	for _, o := range []Outcome{Fail, Error, Warn} {
		for i := range p.Areas {
			for j := range p.Areas[i].Cases {
				if hc := &p.Areas[i].Cases[j]; hc.Worst == o {
					p.Failing = append(p.Failing, hc)
				}
			}
		}
	}
	outcomes := map[Outcome]bool{}
	levels := map[string]bool{}
	for _, a := range p.Areas {
		p.AreaChoices = append(p.AreaChoices, a.Name)
		for _, c := range a.Cases {
			for _, o := range strings.Fields(c.Outcomes) {
				outcomes[Outcome(o)] = true
			}
			if c.Level != "" && !levels[c.Level] {
				levels[c.Level] = true
				p.LevelChoices = append(p.LevelChoices, c.Level)
			}
		}
	}
	for _, o := range Outcomes {
		if outcomes[o] {
			p.OutcomeChoices = append(p.OutcomeChoices, o)
		}
	}
	sort.SliceStable(p.LevelChoices, func(i, j int) bool { return levelRank(p.LevelChoices[i]) < levelRank(p.LevelChoices[j]) })
	return p
}

// htReason is the one line that says why a case did not pass.
func htReason(c *Case) string {
	s := firstNonEmpty(c.Observed, c.Reason, c.Message)
	if l, _, ok := strings.Cut(strings.TrimSpace(s), "\n"); ok {
		s = l
	}
	return mdCut(s, 240)
}

func htExchangeOf(x *Exchange) htExchange {
	he := htExchange{X: x, ReqBody: htBodyOf(x.Request.Body, x.Request.BodyTruncated)}
	if x.Response != nil {
		st := x.Response.StatusText
		if st == "" {
			st = http.StatusText(x.Response.Status)
		}
		he.StatusLine = strings.TrimSpace(x.Response.Proto + " " + strconv.Itoa(x.Response.Status) + " " + st)
		he.RespBody = htBodyOf(x.Response.Body, x.Response.BodyTruncated)
	}
	if len(x.SSE) > 0 {
		he.Chart = htChartOf(x.SSE)
	}
	return he
}

// ---- SSE timeline chart ----

// htChart is the geometry of one SVG timeline. Two lanes share one time
// axis: when the mock sent each event (top) and when the harness read it
// (bottom), joined by a line. Events delivered by the same body read are
// stacked at their common arrival time and boxed, so a proxy that buffers
// the stream shows one tall stack with every line converging on it, while a
// streaming proxy shows parallel lines.
type htChart struct {
	W, H         int
	Left, Right  float64
	SentY, ArrY  float64
	AxisY        float64
	Ticks        []htTick
	Marks        []htMark
	Groups       []htGroup
	Omitted      int
	Summary      string
	Reads        int
	HasSentTimes bool
}

type htTick struct {
	X     string
	Label string
}

type htMark struct {
	SentX, ArrX, ArrY string
	HasSent           bool
	Tip               string
}

type htGroup struct {
	X, Y, W, H string
	Tip        string
}

func htF(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

func htChartOf(evs []SSEEvent) *htChart {
	const (
		width = 760
		left  = 110.0
		right = 20.0
		sentY = 28.0
		arrY  = 78.0
		step  = 9.0 // vertical spacing of events stacked in one read
	)
	ch := &htChart{W: width, Left: left, Right: width - right, SentY: sentY, ArrY: arrY}
	if len(evs) > htMaxSSEMarks {
		ch.Omitted = len(evs) - htMaxSSEMarks
		evs = evs[:htMaxSSEMarks]
	}
	maxT := 0.0
	for _, e := range evs {
		maxT = math.Max(maxT, harNonNeg(e.ArrivedMS))
		if e.SentMS >= 0 {
			maxT = math.Max(maxT, e.SentMS)
			ch.HasSentTimes = true
		}
	}
	tickStep := htNiceStep(maxT / 5)
	axisMax := math.Max(tickStep, math.Ceil(maxT/tickStep)*tickStep)
	x := func(t float64) float64 { return left + harNonNeg(t)/axisMax*(ch.Right-left) }

	// Stack events by read, in order of appearance.
	type grp struct {
		read     int
		t        float64
		count    int
		firstIdx int
	}
	var groups []*grp
	byRead := map[int]*grp{}
	maxStack := 1
	for i, e := range evs {
		g := byRead[e.Read]
		if g == nil {
			g = &grp{read: e.Read, t: harNonNeg(e.ArrivedMS), firstIdx: i}
			byRead[e.Read] = g
			groups = append(groups, g)
		}
		k := g.count
		g.count++
		maxStack = max(maxStack, g.count)
		m := htMark{
			SentX: htF(x(e.SentMS)), HasSent: e.SentMS >= 0,
			// Same read → same arrival instant; stacking makes every event
			// visible instead of drawing them on top of each other.
			ArrX: htF(x(g.t)), ArrY: htF(arrY + float64(k)*step),
		}
		sent := "unknown"
		if e.SentMS >= 0 {
			sent = htF(e.SentMS) + " ms"
		}
		m.Tip = fmt.Sprintf("#%d event=%q id=%q sent %s, arrived %s ms (read %d): %s",
			i+1, e.Event, e.ID, sent, htF(e.ArrivedMS), e.Read, mdCut(e.Data, 200))
		ch.Marks = append(ch.Marks, m)
	}
	ch.Reads = len(groups)
	for _, g := range groups {
		if g.count < 2 {
			continue
		}
		gx := x(g.t)
		ch.Groups = append(ch.Groups, htGroup{
			X: htF(gx - 7), Y: htF(arrY - 7), W: "14", H: htF(float64(g.count-1)*step + 14),
			Tip: fmt.Sprintf("read %d delivered %d events at %s ms", g.read, g.count, htF(g.t)),
		})
	}
	ch.AxisY = arrY + float64(maxStack-1)*step + 22
	ch.H = int(ch.AxisY) + 26
	for t := 0.0; t <= axisMax+tickStep/2; t += tickStep {
		ch.Ticks = append(ch.Ticks, htTick{X: htF(x(t)), Label: strconv.FormatFloat(t, 'f', -1, 64)})
	}
	ch.Summary = fmt.Sprintf("%d events in %d reads over %s ms", len(evs), len(groups), htF(maxT))
	return ch
}

// htNiceStep rounds v up to 1, 2 or 5 × 10^k, for readable axis ticks.
func htNiceStep(v float64) float64 {
	if v <= 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

// ---- template ----

var htTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"oclass": func(o Outcome) string { return "o-" + string(o) },
	"ms":     func(v float64) string { return htF(v) },
	"join":   strings.Join,
	"add":    func(a, b float64) float64 { return a + b },
	"add1":   func(i int) int { return i + 1 },
}).Parse(htPageTmpl))

// htPageTmpl is the whole page: per run a verdict banner that says in one
// line what failed, the failure list before the matrix, filters, and per
// case the differences between the hops before the raw exchanges. The
// script only filters, opens the case a link targets and adds "expand"
// buttons; without it every part is still there and every link jumps.
const htPageTmpl = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;max-width:1200px;padding:1em 1.5em;color:#1d1d1f;background:#fff}
h1{font-size:1.5em;margin:.2em 0 .4em}h2{font-size:1.2em;margin:1.4em 0 .5em;border-bottom:1px solid #ddd}h3{font-size:1.05em;margin:1em 0 .4em}
code,pre{font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
pre{background:#f6f8fa;border:1px solid #e1e4e8;border-radius:4px;padding:.5em .7em;overflow:auto;max-height:30em;white-space:pre-wrap;word-break:break-all}
table{border-collapse:collapse}th,td{text-align:left;vertical-align:top;padding:.2em .5em}
.banner{border-radius:6px;padding:.5em .9em;margin:.4em 0;font-weight:600}
.banner.v-fail{background:#ffebe9;border:1px solid #d1242f;color:#8a1106}.banner.v-error{background:#f5edff;border:1px solid #8250df;color:#5a1a99}
.banner.v-warn{background:#fff8e1;border:1px solid #d4a72c;color:#7a5200}.banner.v-pass{background:#e8f7ea;border:1px solid #2da44e;color:#155d15}
.banner ul{margin:.2em 0 0;padding-left:1.2em;font-weight:400}
.hint{background:#eef5ff;border:1px solid #9cc3f5;border-radius:6px;padding:.4em .8em;margin:.4em 0}
.cause{background:#fff;border:1px dashed #d1242f;border-radius:6px;padding:.4em .8em;margin:.4em 0}
.run{border:1px solid #ddd;border-radius:6px;padding:.6em .9em;margin:.6em 0}
.run dl{display:grid;grid-template-columns:max-content auto;gap:.1em 1em;margin:.3em 0}.run dt{color:#666}.run dd{margin:0}
.badge{display:inline-block;border-radius:3px;padding:0 .45em;margin:0 .15em .15em 0;font-weight:600;font-size:.9em;white-space:nowrap}
.o-fail{background:#ffd7d5;color:#8a1106}.o-error{background:#ecd9ff;color:#5a1a99}.o-warn{background:#fff0c2;color:#7a5200}
.o-expected-fail{background:#f3e3e3;color:#7a4747}.o-info{background:#dbeaff;color:#0a3a7a}.o-pass{background:#d8f5d8;color:#155d15}
.o-skip{background:#eee;color:#555}.o-not-run{background:#f7f7f7;color:#888}
table.failing{width:100%}table.failing th code,table.matrix th code{white-space:nowrap}table.failing td,table.failing th{border-bottom:1px solid #eee}table.failing td.why{color:#333}
table.matrix{width:100%}table.matrix td,table.matrix th{border-bottom:1px solid #eee}
table.matrix tr.area th{background:#fafafa;padding-top:.6em;font-size:.95em;text-transform:uppercase;letter-spacing:.04em;color:#555}
table.matrix td.cell{text-align:center;white-space:nowrap}table.matrix td.cell a{display:block;color:inherit;text-decoration:none}
#filters{position:sticky;top:0;background:#fff;border-bottom:1px solid #ddd;padding:.4em 0;margin:.6em 0;z-index:1;display:flex;flex-wrap:wrap;gap:.3em 1em;align-items:center}
#filters label{white-space:nowrap}#filters input[type=search]{min-width:16em}
.hidden{display:none!important}
details.case{border:1px solid #e1e4e8;border-left-width:5px;border-radius:4px;margin:.35em 0;padding:.3em .7em;background:#fff;color:#1d1d1f}
details.case>summary{cursor:pointer}details.case[open]>summary{margin-bottom:.4em}
details.case.o-fail{border-left-color:#d1242f}details.case.o-error{border-left-color:#8250df}details.case.o-warn{border-left-color:#d4a72c}
details.case.o-pass{border-left-color:#2da44e}details.case.o-skip,details.case.o-not-run{border-left-color:#bbb}
.result{border-top:1px dashed #ccc;padding-top:.4em;margin-top:.4em}
.kv{display:grid;grid-template-columns:max-content auto;gap:.15em 1em}.kv dt{font-weight:600}.kv dd{margin:0;white-space:pre-wrap}
.xchg{margin:.6em 0 .8em;padding-left:.6em;border-left:3px solid #e1e4e8}
.xchg h5{margin:.2em 0;font-size:1em}
table.hdr{font:12px/1.4 ui-monospace,Menlo,Consolas,monospace;margin:.2em 0 .4em}table.hdr th{color:#555;font-weight:600;white-space:nowrap}table.hdr td{word-break:break-all;white-space:pre-wrap}
.diff{margin:.5em 0 .8em;border:1px solid #e1e4e8;border-radius:4px;padding:.3em .6em;background:#fcfcfd}
.diff h5{margin:.2em 0;font-size:1em}
table.hdr tr.d-lost td.to,table.hdr tr.d-lost td.from{background:#ffebe9}table.hdr tr.d-lost td.from{text-decoration:line-through;text-decoration-color:#d1242f}
table.hdr tr.d-added td.to{background:#e6ffec}table.hdr tr.d-changed td.from{background:#fff8c5}table.hdr tr.d-changed td.to{background:#fff8c5;font-weight:600}
table.hdr tr.d-hop td{color:#999}table.hdr tr.d-same td{color:#555}
.kind{font:11px system-ui,sans-serif;border-radius:3px;padding:0 .3em;white-space:nowrap}.k-lost{background:#d1242f;color:#fff}.k-added{background:#2da44e;color:#fff}.k-changed{background:#d4a72c;color:#fff}.k-hop,.k-same{color:#888}
.err{color:#8a1106;font-weight:600}.note{color:#555;font-style:italic}
svg.sse{max-width:100%;height:auto;background:#fcfcfc;border:1px solid #eee}
svg.sse text{font:11px system-ui,sans-serif;fill:#555}
.muted{color:#777}
.tools{margin:.5em 0}.tools button{margin-right:.4em}
</style>
</head>
<body>
<h1>{{.Title}}</h1>
{{range .Runs}}{{$r := .}}
<section class="run" id="run-{{.Index}}">
<h2>{{if $.Multi}}Run {{.Index}}: {{end}}proxy {{.Label}}</h2>
<div class="banner v-{{.Verdict}}">{{if eq .Verdict "pass"}}No failures: {{range $i, $c := .Counts}}{{if $i}}, {{end}}{{$c.N}} {{$c.Outcome}}{{end}}{{else}}{{range $i, $c := .Counts}}{{if $i}} · {{end}}{{$c.N}} {{$c.Outcome}}{{end}}{{with .Digest.Groups}}
<ul>{{range .}}<li>failing {{.Line}}</li>{{end}}</ul>{{end}}{{end}}</div>
{{range .Run.Hints}}<div class="hint"><strong>Hint:</strong> {{.}}</div>{{end}}
{{range .Digest.Causes}}<div class="cause"><strong>Root cause</strong> of {{len .Cases}} cases: {{.Cause}}<br><span class="muted">blocked:</span> {{range $i, $id := .Cases}}{{if $i}}, {{end}}<code>{{$id}}</code>{{end}}</div>{{end}}
<dl>
<dt>Proxy</dt><dd><code>{{.Run.Proxy.Target}}</code>{{with .Run.Proxy.Name}} — {{.}}{{end}}{{with .Run.Proxy.Version}} {{.}}{{end}}{{with .Run.Proxy.Roles}} (roles: {{join . ", "}}){{end}}</dd>
{{with .Run.SpecVersion}}<dt>MCP revision</dt><dd>{{.}}</dd>{{end}}
{{with .Run.Upstream}}<dt>Upstream</dt><dd><code>{{.}}</code></dd>{{end}}
<dt>Tool</dt><dd>{{.Run.Tool.Name}} {{.Run.Tool.Version}}</dd>
{{with .Started}}<dt>Started</dt><dd><time datetime="{{$r.StartedISO}}">{{.}}</time></dd>{{end}}
{{with .Duration}}<dt>Duration</dt><dd>{{.}}</dd>{{end}}
{{if .Run.Interrupted}}<dt>Status</dt><dd class="err">interrupted: cases after the stop were not run</dd>{{else if not .Run.Complete}}<dt>Status</dt><dd class="err">partial: the run had not finished</dd>{{end}}
{{with .Stale}}<dt>Stale baseline</dt><dd class="err">{{range $i, $id := .}}{{if $i}}, {{end}}<code>{{$id}}</code>{{end}} now pass; remove them from the baseline</dd>{{end}}
</dl>
{{with .Run.Notes}}<ul>{{range .}}<li>{{.}}</li>{{end}}</ul>{{end}}
{{if .ProxyLog}}<details><summary>Proxy log ({{.ProxyLogLen}} lines)</summary><pre>{{.ProxyLog}}</pre></details>{{end}}
</section>
{{end}}

{{with .Failing}}
<h2 id="failures">Failures ({{len .}})</h2>
<table class="failing">
<thead><tr><th>Case</th><th>Area</th><th>Level</th>{{range $.Runs}}<th>{{if $.Multi}}{{.Label}}{{else}}Outcome{{end}}</th>{{end}}<th>Why</th></tr></thead>
<tbody>
{{range .}}{{$c := .}}<tr class="row" data-o="{{.Outcomes}}" data-area="{{.Area}}" data-level="{{.Level}}" data-s="{{.Search}}"><th><a href="#{{.Anchor}}"><code>{{.ID}}</code></a></th><td>{{.Area}}</td><td>{{.Level}}</td>{{range .Cells}}<td>{{if .Present}}<span class="badge {{oclass .Case.Outcome}}">{{.Case.Outcome}}</span>{{else}}<span class="muted">—</span>{{end}}</td>{{end}}<td class="why">{{if .RootCause}}<span class="muted">blocked:</span> {{.RootCause}}{{else}}{{.Reason}}{{end}}</td></tr>
{{end}}</tbody>
</table>
{{end}}

<form id="filters" hidden>
<span><strong>Show</strong></span>
{{range .OutcomeChoices}}<label><input type="checkbox" name="o" value="{{.}}" checked> <span class="badge {{oclass .}}">{{.}}</span></label>{{end}}
<label>area <select name="area"><option value="">all</option>{{range .AreaChoices}}<option>{{.}}</option>{{end}}</select></label>
<label>level <select name="level"><option value="">all</option>{{range .LevelChoices}}<option>{{.}}</option>{{end}}</select></label>
<label><input type="search" name="q" placeholder="search ID, title, reason"></label>
<span class="muted" id="shown"></span>
</form>

<h2>Matrix</h2>
<table class="matrix">
<thead><tr><th>Case</th><th>Title</th>{{range .Runs}}<th title="{{.Label}}">{{if $.Multi}}{{.Label}}{{else}}Outcome{{end}}</th>{{end}}</tr></thead>
<tbody>
{{range .Areas}}<tr class="area"><th colspan="{{$.Cols}}">{{.Name}}</th></tr>
{{range .Cases}}{{$c := .}}<tr class="row" data-o="{{.Outcomes}}" data-area="{{.Area}}" data-level="{{.Level}}" data-s="{{.Search}}"><th><a href="#{{.Anchor}}"><code>{{.ID}}</code></a></th><td>{{.Title}}</td>{{range .Cells}}{{if .Present}}<td class="cell {{oclass .Case.Outcome}}"><a href="#{{$c.Anchor}}">{{.Case.Outcome}}</a></td>{{else}}<td class="cell muted">—</td>{{end}}{{end}}</tr>
{{end}}{{end}}</tbody>
</table>

<h2>Cases</h2>
<div class="tools" id="tools"></div>
{{range .Areas}}
<h3>{{.Name}}</h3>
{{range .Cases}}
<details class="case row {{oclass .Worst}}" id="{{.Anchor}}" data-o="{{.Outcomes}}" data-area="{{.Area}}" data-level="{{.Level}}" data-s="{{.Search}}">
<summary><code>{{.ID}}</code> {{.Title}} {{range .Cells}}{{if .Present}}<span class="badge {{oclass .Case.Outcome}}">{{.Case.Outcome}}</span>{{end}}{{end}}</summary>
<dl class="kv">
{{with .Level}}<dt>Level</dt><dd>{{.}}</dd>{{end}}
{{with .Requirement}}<dt>Requirement</dt><dd>{{.}}</dd>{{end}}
{{if .Source}}<dt>Source</dt><dd>{{if .SourceIsURL}}<a href="{{.Source}}">{{.Source}}</a>{{else}}{{.Source}}{{end}}</dd>{{end}}
</dl>
{{range .Cells}}{{if .Present}}
<div class="result">
{{if $.Multi}}<h4>{{.RunLabel}}</h4>{{end}}
{{with .Case}}<dl class="kv">
<dt>Outcome</dt><dd><span class="badge {{oclass .Outcome}}">{{.Outcome}}</span>{{if gt .DurationMS 0.0}} <span class="muted">{{ms .DurationMS}} ms</span>{{end}}</dd>
{{with .RootCause}}<dt>Root cause</dt><dd>{{.}}</dd>{{end}}
{{with .Expected}}<dt>Expected</dt><dd>{{.}}</dd>{{end}}
{{with .Observed}}<dt>Observed</dt><dd>{{.}}</dd>{{end}}
{{with .Hop}}<dt>Hop</dt><dd>{{.}}</dd>{{end}}
{{with .Reason}}<dt>Reason</dt><dd>{{.}}</dd>{{end}}
{{with .BaselineReason}}<dt>Baseline</dt><dd>{{.}}</dd>{{end}}
{{with .KnownBugs}}<dt>Known bugs</dt><dd>{{join . ", "}}</dd>{{end}}
{{if .Truncated}}<dt>Evidence</dt><dd class="muted">cut to the per-case cap</dd>{{end}}
</dl>
{{with .Message}}<details><summary>Message</summary><pre>{{.}}</pre></details>{{end}}
{{end}}
{{range .Diffs}}{{$d := .}}
<div class="diff">
<h5>What changed — {{.Title}}{{if not .Changes}} <span class="muted">(no difference between the hops)</span>{{end}}</h5>
{{with .Status}}<p>status <span class="kind k-changed">changed</span> {{index . 0}} → <strong>{{index . 1}}</strong></p>{{end}}
<table class="hdr"><tr><th>field</th><th>{{.FromLabel}}</th><th>{{.ToLabel}}</th><th></th></tr>
{{range .Fields}}<tr class="d-{{.Kind}}"><th>{{.Name}}</th><td class="from">{{.From}}</td><td class="to">{{.To}}</td><td>{{if ne .Kind "same"}}<span class="kind k-{{.Kind}}">{{if eq .Kind "hop"}}per hop{{else}}{{.Kind}}{{end}}</span>{{end}}</td></tr>
{{end}}</table>
{{with .Params}}<table class="hdr"><caption class="muted" style="text-align:left">WWW-Authenticate, parameter by parameter</caption><tr><th>challenge</th><th>parameter</th><th>{{$d.FromLabel}}</th><th>{{$d.ToLabel}}</th><th></th></tr>
{{range .}}<tr class="d-{{.Kind}}"><td>{{.Challenge}}</td><th>{{.Name}}</th><td class="from">{{.From}}</td><td class="to">{{.To}}</td><td>{{if ne .Kind "same"}}<span class="kind k-{{.Kind}}">{{.Kind}}</span>{{end}}</td></tr>
{{end}}</table>{{end}}
{{with .Body}}<p class="muted">body: {{.}}</p>{{end}}
</div>
{{end}}
{{if .Exchange}}<details class="exchanges"{{if not .Diffs}} open{{end}}><summary>Exchanges at every hop ({{len .Exchange}})</summary>
{{range .Exchange}}{{$x := .X}}{{$e := .}}
<div class="xchg">
<h5>{{.X.Hop}}: <code>{{.X.Request.Method}} {{.X.Request.URL}}</code> → {{if .X.Response}}{{.StatusLine}}{{else}}<span class="{{.ErrClass}}">no response</span>{{end}} <span class="muted">{{ms .X.DurationMS}} ms</span></h5>
{{with .X.Error}}<p class="{{$e.ErrClass}}">{{.}}</p>{{end}}
<table class="hdr"><caption class="muted" style="text-align:left">request headers</caption>{{range .X.Request.Headers}}<tr><th>{{.Name}}</th><td>{{.Value}}</td></tr>{{else}}<tr><td class="muted">(none)</td></tr>{{end}}</table>
{{if .ReqBody.Nonempty}}<pre>{{.ReqBody.Text}}</pre>{{if .ReqBody.Cut}}<p class="muted">… {{.ReqBody.Cut}} more bytes (see the HAR file)</p>{{end}}{{if .ReqBody.Harness}}<p class="muted">body cut by the harness at the evidence cap</p>{{end}}{{end}}
{{with .X.Response}}
<table class="hdr"><caption class="muted" style="text-align:left">response headers</caption>{{range .Headers}}<tr><th>{{.Name}}</th><td>{{.Value}}</td></tr>{{else}}<tr><td class="muted">(none)</td></tr>{{end}}</table>
{{end}}
{{if .RespBody.Nonempty}}<pre>{{.RespBody.Text}}</pre>{{if .RespBody.Cut}}<p class="muted">… {{.RespBody.Cut}} more bytes (see the HAR file)</p>{{end}}{{if .RespBody.Harness}}<p class="muted">body cut by the harness at the evidence cap</p>{{end}}{{end}}
{{with .Chart}}
<figure>
<svg class="sse" xmlns="http://www.w3.org/2000/svg" role="img" width="{{.W}}" height="{{.H}}" viewBox="0 0 {{.W}} {{.H}}" aria-label="SSE timeline: {{.Summary}}">
<title>SSE timeline: {{.Summary}}</title>
<text x="4" y="{{ms .SentY}}" dy="4">sent by mock</text>
<text x="4" y="{{ms .ArrY}}" dy="4">arrived</text>
<line x1="{{ms .Left}}" y1="{{ms .SentY}}" x2="{{ms .Right}}" y2="{{ms .SentY}}" stroke="#ddd"/>
<line x1="{{ms .Left}}" y1="{{ms .ArrY}}" x2="{{ms .Right}}" y2="{{ms .ArrY}}" stroke="#ddd"/>
<line x1="{{ms .Left}}" y1="{{ms .AxisY}}" x2="{{ms .Right}}" y2="{{ms .AxisY}}" stroke="#999"/>
{{$ay := .AxisY}}{{range .Ticks}}<line x1="{{.X}}" y1="{{ms $ay}}" x2="{{.X}}" y2="{{ms (add $ay 4)}}" stroke="#999"/><text x="{{.X}}" y="{{ms $ay}}" dy="14" text-anchor="middle">{{.Label}}</text>{{end}}
<text x="{{ms .Right}}" y="{{ms .AxisY}}" dy="-4" text-anchor="end">ms since request start</text>
{{range .Groups}}<rect class="read" x="{{.X}}" y="{{.Y}}" width="{{.W}}" height="{{.H}}" rx="4" fill="none" stroke="#d1242f" stroke-dasharray="3 2"><title>{{.Tip}}</title></rect>{{end}}
{{$sy := .SentY}}{{range .Marks}}<g class="ev">{{if .HasSent}}<line x1="{{.SentX}}" y1="{{ms $sy}}" x2="{{.ArrX}}" y2="{{.ArrY}}" stroke="#9ab" stroke-width="1"/><circle cx="{{.SentX}}" cy="{{ms $sy}}" r="3.5" fill="#57a"><title>{{.Tip}}</title></circle>{{end}}<circle cx="{{.ArrX}}" cy="{{.ArrY}}" r="3.5" fill="#d1242f"><title>{{.Tip}}</title></circle></g>{{end}}
</svg>
<figcaption class="muted">{{.Summary}}{{if .Omitted}}; {{.Omitted}} later events not drawn{{end}}. Top: when the mock wrote each event; bottom: when the harness read it. Events delivered by one read are stacked and boxed{{if not .HasSentTimes}}; send times were not recorded{{end}}.</figcaption>
</figure>
<table class="hdr"><tr><th>#</th><th>event</th><th>id</th><th>sent ms</th><th>arrived ms</th><th>read</th><th>data</th></tr>
{{range $i, $e := $x.SSE}}<tr><td>{{add1 $i}}</td><td>{{$e.Event}}</td><td>{{$e.ID}}</td><td>{{if ge $e.SentMS 0.0}}{{ms $e.SentMS}}{{else}}?{{end}}</td><td>{{ms $e.ArrivedMS}}</td><td>{{$e.Read}}</td><td>{{$e.Data}}</td></tr>{{end}}
</table>
{{end}}
</div>
{{end}}
</details>{{end}}
{{with .Case}}{{with .Reproduce}}<p><strong>Reproduce</strong></p><pre>{{range .}}{{.}}
{{end}}</pre>{{end}}{{end}}
</div>
{{end}}{{end}}
</details>
{{end}}
{{end}}
<p class="muted">Generated {{.Generated}} by mcpconform. One file, no network: open it from disk.</p>
<script>
(function(){
  function openTarget(){
    var id=location.hash.slice(1); if(!id) return;
    var el=document.getElementById(id);
    if(el && el.tagName==="DETAILS"){ el.open=true; el.scrollIntoView(); }
  }
  window.addEventListener("hashchange", openTarget); openTarget();
  var form=document.getElementById("filters");
  if(form){
    form.hidden=false;
    var rows=document.querySelectorAll(".row");
    var shown=document.getElementById("shown");
    var apply=function(){
      var on={}; form.querySelectorAll("input[name=o]").forEach(function(b){ on[b.value]=b.checked; });
      var area=form.elements.area.value, level=form.elements.level.value, q=form.elements.q.value.trim().toLowerCase();
      var n=0, total=0;
      rows.forEach(function(r){
        var os=(r.getAttribute("data-o")||"").split(" "), ok=false;
        for(var i=0;i<os.length;i++){ if(on[os[i]]) ok=true; }
        if(area && r.getAttribute("data-area")!==area) ok=false;
        if(level && r.getAttribute("data-level")!==level) ok=false;
        if(q && (r.getAttribute("data-s")||"").indexOf(q)<0) ok=false;
        r.classList.toggle("hidden", !ok);
        if(r.tagName==="DETAILS"){ total++; if(ok) n++; }
      });
      shown.textContent=n+" of "+total+" cases shown";
    };
    form.addEventListener("input", apply); form.addEventListener("change", apply);
    form.addEventListener("submit", function(e){ e.preventDefault(); });
    apply();
  }
  var tools=document.getElementById("tools");
  if(tools){
    var button=function(label, fn){ var b=document.createElement("button"); b.type="button"; b.textContent=label; b.addEventListener("click", fn); tools.appendChild(b); };
    var all=function(open, onlyFailing){
      document.querySelectorAll("details.case").forEach(function(d){
        if(d.classList.contains("hidden")) return;
        d.open = open && (!onlyFailing || !(d.classList.contains("o-pass")||d.classList.contains("o-skip")));
      });
    };
    button("Expand all shown", function(){ all(true,false); });
    button("Expand non-passing", function(){ all(true,true); });
    button("Collapse all", function(){ all(false,false); });
  }
  document.body.setAttribute("data-ready","1");
})();
</script>
</body>
</html>
`
