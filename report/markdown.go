package report

import (
	"bytes"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"os"
	"path"
	"strconv"
	"strings"
	"unicode/utf8"
)

// DefaultMarkdownMaxBytes is the default cap of WriteMarkdown. GitHub accepts
// up to 1 MiB of step summary, but people read the top of it: 60 KB holds
// the digest, the first failure of every failing scenario in full and a
// table of the rest; the full evidence is in report.html and results.json.
const DefaultMarkdownMaxBytes = 60 << 10

// StepSummaryMaxBytes is what one step may put into $GITHUB_STEP_SUMMARY:
// GitHub rejects more than 1 MiB ("supports content up to a size of 1024k")
// and then shows nothing at all, so we stay a margin below it.
const StepSummaryMaxBytes = 1<<20 - 16<<10

// MarkdownOptions tunes WriteMarkdown. The zero value is what the step
// summary uses.
type MarkdownOptions struct {
	// MaxBytes caps the output; 0 means DefaultMarkdownMaxBytes.
	MaxBytes int
	// ResultsFile is the full report that notes about cut content point to;
	// "" means "results.json".
	ResultsFile string
	// ReportFile is the HTML report named at the top ("" means
	// "report.html"; "-" leaves the line out).
	ReportFile string
	// HARDir, when set, is the directory the HAR files are written to; the
	// details of each failure then name its file.
	HARDir string
	// BodyExcerpt is how many bytes of each body are shown; 0 means 1024,
	// a negative value hides bodies.
	BodyExcerpt int
	// MaxSSERows caps the rows of one SSE timeline table; 0 means 40.
	MaxSSERows int
}

// ErrMarkdownBudget is returned when the byte cap cannot hold even the
// verdict line.
var ErrMarkdownBudget = errors.New("report: markdown byte cap too small for the verdict line")

// mdReserve is kept free while adding table rows and details so the notes
// about cut content always fit under the cap.
const mdReserve = 512

// mdDetailShare is the part of the budget the details of top failures may
// take; the table of everything else gets the rest.
const mdDetailShare = 0.6

func (o MarkdownOptions) withDefaults() MarkdownOptions {
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMarkdownMaxBytes
	}
	if o.ResultsFile == "" {
		o.ResultsFile = "results.json"
	}
	if o.ReportFile == "" {
		o.ReportFile = "report.html"
	}
	if o.BodyExcerpt == 0 {
		o.BodyExcerpt = 1024
	}
	if o.MaxSSERows <= 0 {
		o.MaxSSERows = 40
	}
	return o
}

// WriteMarkdown writes a GitHub-flavoured Markdown summary of run, most
// important first: a verdict line with counts; one line naming the failing
// scenarios by area and level; setup hints; root causes that blocked several
// cases, each once; where the full report is; then a <details> block with
// the evidence of the first failing case of each scenario (worst first) and a
// table of every other case that did not pass. The output never exceeds
// opt.MaxBytes: details and then table rows are dropped, with a note saying
// how many, when the run does not fit. Every value passes through
// Printable.
//
// WriteMarkdown does not redact; call Redact first.
func WriteMarkdown(w io.Writer, run *Run, opt MarkdownOptions) error {
	opt = opt.withDefaults()
	run = printableRun(run)
	var out bytes.Buffer

	verdict := mdVerdictLine(run) + "\n\n"
	if len(verdict) > opt.MaxBytes {
		return ErrMarkdownBudget
	}
	out.WriteString(verdict)
	if digest := mdDigest(run, opt); out.Len()+len(digest)+mdReserve <= opt.MaxBytes {
		out.WriteString(digest)
	}
	if head := mdHeader(run); out.Len()+len(head)+mdReserve <= opt.MaxBytes {
		out.WriteString(head)
	}

	listed := mdNonPassing(run)
	detailed, rest := mdTopFailures(listed)

	cut := 0
	if len(detailed) > 0 {
		budget := int(float64(opt.MaxBytes-out.Len()) * mdDetailShare)
		start := out.Len()
		title := "#### First failure of each failing scenario\n\n"
		out.WriteString(title)
		for i, c := range detailed {
			d := mdCaseDetails(c, opt)
			if out.Len()-start+len(d) > budget && i > 0 || out.Len()+len(d)+mdReserve > opt.MaxBytes {
				cut = len(detailed) - i
				// The cut ones join the table, so each is still named.
				rest = append(append([]*Case(nil), detailed[i:]...), rest...)
				break
			}
			out.WriteString(d)
		}
		if cut == len(detailed) {
			out.Truncate(start)
		}
	}
	if cut > 0 {
		noun := "failures"
		if cut == 1 {
			noun = "failure"
		}
		note := fmt.Sprintf("_… %d more %s without details here (listed below); see %s or %s._\n\n", cut, noun,
			mdText(opt.ReportFile, 200), mdText(opt.ResultsFile, 200))
		if out.Len()+len(note) <= opt.MaxBytes {
			out.WriteString(note)
		}
	}

	if len(rest) > 0 {
		if len(detailed) > cut {
			out.WriteString("#### Every other case that did not pass\n\n")
		}
		budget := opt.MaxBytes - out.Len() - mdReserve
		var tbl bytes.Buffer
		tbl.WriteString("| ID | Title | Outcome | Expected | Observed |\n|---|---|---|---|---|\n")
		cutRows := 0
		for i, c := range rest {
			row := mdTableRow(c)
			if tbl.Len()+len(row) > budget {
				cutRows = len(rest) - i
				break
			}
			tbl.WriteString(row)
		}
		var note string
		if tbl.Len() <= budget {
			out.Write(tbl.Bytes())
			if cutRows > 0 {
				note = fmt.Sprintf("\n_… %d more rows not shown, see %s._\n", cutRows, mdText(opt.ResultsFile, 200))
			}
		} else {
			note = fmt.Sprintf("_%d more cases did not pass; the table does not fit, see %s._\n", len(rest), mdText(opt.ResultsFile, 200))
		}
		// The notes fit in mdReserve unless the cap is smaller than that.
		if out.Len()+len(note)+1 <= opt.MaxBytes {
			out.WriteString(note + "\n")
		}
	}
	_, err := w.Write(out.Bytes())
	return err
}

// mdTopFailures splits the non-passing cases into those shown in full (the
// first fail, error or warning of each scenario, and of each root cause)
// and the rest, each list in the order given.
func mdTopFailures(listed []*Case) (detailed, rest []*Case) {
	seenScenario := map[string]bool{}
	seenCause := map[string]bool{}
	for _, c := range listed {
		key := c.Scenario
		if key == "" {
			key = c.ID
		}
		first := mdHasDetails(c.Outcome) && !seenScenario[key] && (c.RootCause == "" || !seenCause[c.RootCause])
		if first {
			seenScenario[key] = true
			if c.RootCause != "" {
				seenCause[c.RootCause] = true
			}
			detailed = append(detailed, c)
		} else {
			rest = append(rest, c)
		}
	}
	return detailed, rest
}

// mdDigest is the part a reader of the first lines needs: what failed, the
// hints about the setup, the shared root causes, where the full report is.
func mdDigest(run *Run, opt MarkdownOptions) string {
	var b strings.Builder
	d := NewDigest(run)
	if d.Failing() {
		b.WriteString("**Failing:** ")
		for i, g := range d.Groups {
			if i > 0 {
				b.WriteString(" · ")
			}
			parts := make([]string, len(g.Scenarios))
			for j, s := range g.Scenarios {
				parts[j] = mdText(s.String(), 200)
			}
			b.WriteString("**" + mdText(g.Area+" "+g.Level, 100) + "** " + mdCut(strings.Join(parts, ", "), 2000))
		}
		b.WriteString("\n\n")
	}
	for _, h := range run.Hints {
		b.WriteString("> **Hint:** " + mdText(h, 500) + "\n\n")
	}
	for _, rc := range d.Causes {
		fmt.Fprintf(&b, "**Root cause** (blocked %d cases): %s — %s\n\n", len(rc.Cases), mdText(rc.Cause, 500), mdText(CaseList(rc.Cases, 15), 1000))
	}
	if opt.ReportFile != "-" {
		b.WriteString("**Full report:** " + mdCode(opt.ReportFile) + " (every case with both hops, differences highlighted, filters) and " +
			mdCode(opt.ResultsFile) + "; under GitHub Actions they are in the uploaded artifact.\n\n")
	}
	return b.String()
}

// AppendStepSummary appends the Markdown summary of run to the file named by
// $GITHUB_STEP_SUMMARY; it does nothing outside GitHub Actions. The cap takes
// what earlier writers in the same step already put in the file into
// account, since GitHub's limit is per step, not per write.
func AppendStepSummary(run *Run) error {
	p := os.Getenv("GITHUB_STEP_SUMMARY")
	if p == "" {
		return nil
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("step summary: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("step summary: %w", err)
	}
	budget := min(DefaultMarkdownMaxBytes, StepSummaryMaxBytes-int(st.Size())-1)
	if budget <= 0 {
		// MaxBytes 0 would mean "default"; an already full file means none.
		f.Close()
		return fmt.Errorf("step summary: %d bytes already used: %w", st.Size(), ErrMarkdownBudget)
	}
	var buf bytes.Buffer
	if st.Size() > 0 {
		buf.WriteString("\n")
	}
	if err := WriteMarkdown(&buf, run, MarkdownOptions{MaxBytes: budget}); err != nil {
		f.Close()
		return fmt.Errorf("step summary (%d bytes already used): %w", st.Size(), err)
	}
	if _, err := f.Write(buf.Bytes()); err != nil {
		f.Close()
		return fmt.Errorf("step summary: %w", err)
	}
	return f.Close()
}

// mdAnnotationMax is GitHub's per-step limit for each annotation kind;
// annotations past it are dropped silently.
const mdAnnotationMax = 10

// WriteAnnotations prints GitHub Actions workflow commands: at most 10
// "::error title=ID::message" for fails and errors (a stale baseline takes
// the first slot) and at most 10 "::warning" for warnings, then one notice
// saying how many were left out. No file= is given: the failures are in the
// proxy, not in a source file of the repository.
func WriteAnnotations(w io.Writer, run *Run) {
	var errs, warns []string
	if len(run.StaleBaseline) > 0 {
		errs = append(errs, mdAnnotation("error", "stale baseline",
			fmt.Sprintf("%d baseline entries now pass; remove them from the baseline: %s",
				len(run.StaleBaseline), strings.Join(run.StaleBaseline, ", "))))
	}
	moreErr, moreWarn := 0, 0
	for i := range run.Cases {
		c := &run.Cases[i]
		switch c.Outcome {
		case Fail, Error:
			if len(errs) < mdAnnotationMax {
				errs = append(errs, mdAnnotation("error", c.ID, mdAnnotationMessage(c)))
			} else {
				moreErr++
			}
		case Warn:
			if len(warns) < mdAnnotationMax {
				warns = append(warns, mdAnnotation("warning", c.ID, mdAnnotationMessage(c)))
			} else {
				moreWarn++
			}
		}
	}
	for _, l := range errs {
		io.WriteString(w, l)
	}
	for _, l := range warns {
		io.WriteString(w, l)
	}
	if moreErr+moreWarn > 0 {
		io.WriteString(w, mdAnnotation("notice", "mcpconform", fmt.Sprintf(
			"%d more failures/errors and %d more warnings are not annotated (GitHub keeps 10 of each per step); see the step summary or results.json",
			moreErr, moreWarn)))
	}
}

// mdAnnotation encodes CR and LF as the workflow-command syntax wants, then
// passes the rest through Printable (a NUL or ESC from the proxy must not
// reach the log raw).
func mdAnnotation(kind, title, msg string) string {
	return "::" + kind + " title=" + Printable(mdEscapeProperty(title)) + "::" + Printable(mdEscapeData(msg)) + "\n"
}

func mdAnnotationMessage(c *Case) string {
	var b strings.Builder
	b.WriteString(c.Title)
	detail := c.Message
	if detail == "" && (c.Expected != "" || c.Observed != "") {
		detail = "expected " + c.Expected + " / observed " + c.Observed
		if c.Hop != "" {
			detail += " / at hop " + c.Hop
		}
	}
	if detail == "" {
		detail = c.Reason
	}
	if detail != "" {
		if b.Len() > 0 {
			b.WriteString("\n")
		}
		b.WriteString(detail)
	}
	// GitHub shows annotations in a narrow panel; the full text is in the
	// summary and results.json.
	return mdCut(b.String(), 2000)
}

// mdEscapeData escapes an annotation message as @actions/core does.
func mdEscapeData(s string) string {
	s = strings.ReplaceAll(s, "%", "%25")
	s = strings.ReplaceAll(s, "\r", "%0D")
	return strings.ReplaceAll(s, "\n", "%0A")
}

// mdEscapeProperty escapes an annotation property (title=…), where ':' and
// ',' would end the value.
func mdEscapeProperty(s string) string {
	s = mdEscapeData(s)
	s = strings.ReplaceAll(s, ":", "%3A")
	return strings.ReplaceAll(s, ",", "%2C")
}

// ---- verdict and header ----

// mdCounts returns run.Counts, or a tally of the cases when the run has none
// (a partial run written before Tally); the run itself is not changed.
func mdCounts(run *Run) map[Outcome]int {
	if len(run.Counts) > 0 {
		return run.Counts
	}
	m := map[Outcome]int{}
	for _, c := range run.Cases {
		m[c.Outcome]++
	}
	return m
}

func mdCountPhrase(o Outcome, n int) string {
	s := strconv.Itoa(n) + " "
	plural := n != 1
	switch o {
	case Fail:
		return s + "failed"
	case Error:
		if plural {
			return s + "errors"
		}
		return s + "error"
	case Warn:
		if plural {
			return s + "warnings"
		}
		return s + "warning"
	case ExpectedFail:
		if plural {
			return s + "expected failures"
		}
		return s + "expected failure"
	case Pass:
		return s + "passed"
	case Skip:
		return s + "skipped"
	case NotRun:
		return s + "not run"
	}
	return s + string(o)
}

// mdVerdictEmoji: red when the run gates (a fail, a stale baseline, or a
// harness error that left cases unjudged), amber when something needs a look.
func mdVerdictEmoji(run *Run, counts map[Outcome]int) string {
	switch {
	case counts[Fail] > 0 || counts[Error] > 0 || len(run.StaleBaseline) > 0:
		return "❌"
	case counts[Warn] > 0 || counts[NotRun] > 0 || run.Interrupted || !run.Complete:
		return "⚠️"
	}
	return "✅"
}

// mdProxyLabel is "name (target)" when the run is named, else the target.
func mdProxyLabel(p Proxy) string {
	if l := p.Label(); l != p.Target && p.Target != "" {
		return l + " (" + p.Target + ")"
	}
	return p.Label()
}

func mdVerdictLine(run *Run) string {
	counts := mdCounts(run)
	var parts []string
	for _, o := range Outcomes {
		if n := counts[o]; n > 0 {
			parts = append(parts, mdCountPhrase(o, n))
		}
	}
	if n := len(run.StaleBaseline); n > 0 {
		parts = append(parts, fmt.Sprintf("%d stale baseline", n))
	}
	if len(parts) == 0 {
		parts = []string{"no cases"}
	}
	return "### " + mdVerdictEmoji(run, counts) + " " + strings.Join(parts, " · ") +
		" — proxy " + mdText(mdProxyLabel(run.Proxy), 300)
}

func mdHeader(run *Run) string {
	var b strings.Builder
	var meta []string
	if run.Tool.Name != "" || run.Tool.Version != "" {
		meta = append(meta, strings.TrimSpace(run.Tool.Name+" "+run.Tool.Version))
	}
	if run.SpecVersion != "" {
		meta = append(meta, "MCP "+run.SpecVersion)
	}
	if run.Upstream != "" {
		meta = append(meta, "upstream "+run.Upstream)
	}
	if !run.Started.IsZero() {
		meta = append(meta, "started "+run.Started.UTC().Format("2006-01-02 15:04:05Z"))
	}
	if run.DurationMS > 0 {
		meta = append(meta, fmt.Sprintf("%.1f s", run.DurationMS/1000))
	}
	if len(meta) > 0 {
		b.WriteString(mdText(strings.Join(meta, " · "), 1000) + "\n\n")
	}
	if run.Interrupted {
		b.WriteString("> **Interrupted:** the run stopped early; cases after the stop are not run.\n\n")
	} else if !run.Complete {
		b.WriteString("> **Partial:** the run had not finished when this summary was written.\n\n")
	}
	if n := len(run.StaleBaseline); n > 0 {
		b.WriteString("**Stale baseline** (these now pass; remove them from the baseline): ")
		ids := run.StaleBaseline
		if len(ids) > 50 {
			ids = ids[:50]
		}
		for i, id := range ids {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(mdCode(id))
		}
		if n > len(ids) {
			fmt.Fprintf(&b, " … and %d more", n-len(ids))
		}
		b.WriteString("\n\n")
	}
	notes := run.Notes
	if len(notes) > 20 {
		notes = notes[:20]
	}
	for _, n := range notes {
		b.WriteString("- " + mdText(n, 500) + "\n")
	}
	if len(run.Notes) > len(notes) {
		fmt.Fprintf(&b, "- … %d more notes\n", len(run.Notes)-len(notes))
	}
	if len(notes) > 0 {
		b.WriteString("\n")
	}
	return b.String()
}

// ---- table and details ----

func mdOutcomeRank(o Outcome) int {
	for i, x := range Outcomes {
		if x == o {
			return i
		}
	}
	return len(Outcomes)
}

// mdNonPassing lists the cases that did not pass, worst outcome first and in
// run order within one outcome.
func mdNonPassing(run *Run) []*Case {
	var out []*Case
	for _, o := range Outcomes {
		if o == Pass {
			continue
		}
		for i := range run.Cases {
			if run.Cases[i].Outcome == o {
				out = append(out, &run.Cases[i])
			}
		}
	}
	for i := range run.Cases {
		if mdOutcomeRank(run.Cases[i].Outcome) == len(Outcomes) {
			out = append(out, &run.Cases[i])
		}
	}
	return out
}

// mdHasDetails: evidence is shown for what a reader must act on. Baselined
// failures and skips are listed in the table only.
func mdHasDetails(o Outcome) bool { return o == Fail || o == Error || o == Warn }

func mdOutcomeBadge(o Outcome) string {
	switch o {
	case Fail:
		return "❌ fail"
	case Error:
		return "⛔ error"
	case Warn:
		return "⚠️ warn"
	case ExpectedFail:
		return "➖ expected-fail"
	case Info:
		return "ℹ️ info"
	case Pass:
		return "✅ pass"
	case Skip:
		return "⏭️ skip"
	case NotRun:
		return "⏸️ not-run"
	}
	return mdText(string(o), 40)
}

func mdTableRow(c *Case) string {
	observed := c.Observed
	if observed == "" {
		observed = c.Reason
	}
	return "| " + mdCode(c.ID) + " | " + mdText(c.Title, 200) + " | " + mdOutcomeBadge(c.Outcome) +
		" | " + mdText(c.Expected, 300) + " | " + mdText(observed, 300) + " |\n"
}

func mdCaseDetails(c *Case, opt MarkdownOptions) string {
	var b strings.Builder
	fmt.Fprintf(&b, "<details><summary><code>%s</code> %s — %s</summary>\n\n",
		html.EscapeString(c.ID), html.EscapeString(mdCut(c.Title, 200)), html.EscapeString(string(c.Outcome)))
	if c.Requirement != "" || c.Level != "" || c.Source != "" {
		b.WriteString("**Requirement**")
		if c.Level != "" {
			b.WriteString(" (" + mdText(c.Level, 40) + ")")
		}
		b.WriteString(": " + mdText(c.Requirement, 1000))
		if c.Source != "" {
			b.WriteString(" — " + mdLinkOrText(c.Source))
		}
		b.WriteString("\n\n")
	}
	field := func(name, v string) {
		if v != "" {
			b.WriteString("- **" + name + ":** " + mdText(v, 2000) + "\n")
		}
	}
	field("Expected", c.Expected)
	field("Observed", c.Observed)
	field("Hop", c.Hop)
	field("Reason", c.Reason)
	if len(c.KnownBugs) > 0 {
		field("Known bugs", strings.Join(c.KnownBugs, ", "))
	}
	if opt.HARDir != "" && len(c.Exchanges) > 0 {
		b.WriteString("- **HAR:** " + mdCode(path.Join(opt.HARDir, HARFileName(c))) + "\n")
	}
	if c.Truncated {
		b.WriteString("- _Evidence was cut to the per-case cap._\n")
	}
	b.WriteString("\n")
	// Message repeats expected/observed; show it only when those are absent
	// (harness errors carry their text there).
	if c.Message != "" && c.Expected == "" && c.Observed == "" {
		b.WriteString(mdFence("text", mdCut(c.Message, 4000)))
	}
	for i := range c.Exchanges {
		mdExchange(&b, &c.Exchanges[i], opt)
	}
	if len(c.Reproduce) > 0 {
		b.WriteString("Reproduce:\n\n")
		b.WriteString(mdFence("sh", strings.Join(c.Reproduce, "\n")))
	}
	b.WriteString("</details>\n\n")
	return b.String()
}

func mdExchange(b *strings.Builder, x *Exchange, opt MarkdownOptions) {
	head := "**" + mdText(x.Hop, 100) + "**"
	if x.Response != nil {
		head += " → " + strconv.Itoa(x.Response.Status)
	} else if x.Error != "" {
		head += " → no response"
	}
	if x.DurationMS > 0 {
		head += fmt.Sprintf(" · %.1f ms", x.DurationMS)
	}
	b.WriteString(head + "\n\n")

	var t strings.Builder
	proto := x.Request.Proto
	if proto == "" {
		proto = "HTTP/1.1"
	}
	t.WriteString(x.Request.Method + " " + x.Request.URL + " " + proto + "\n")
	for _, h := range x.Request.Headers {
		t.WriteString(h.Name + ": " + h.Value + "\n")
	}
	mdBodyExcerpt(&t, x.Request.Body, x.Request.BodyTruncated, opt)
	if x.Response != nil {
		t.WriteString("\n")
		rp := x.Response.Proto
		if rp == "" {
			rp = "HTTP/1.1"
		}
		st := x.Response.StatusText
		if st == "" {
			st = http.StatusText(x.Response.Status)
		}
		t.WriteString(strings.TrimSpace(rp+" "+strconv.Itoa(x.Response.Status)+" "+st) + "\n")
		for _, h := range x.Response.Headers {
			t.WriteString(h.Name + ": " + h.Value + "\n")
		}
		mdBodyExcerpt(&t, x.Response.Body, x.Response.BodyTruncated, opt)
	}
	if x.Error != "" {
		t.WriteString("\n# error: " + mdCut(x.Error, 1000) + "\n")
	}
	b.WriteString(mdFence("http", t.String()))

	if len(x.SSE) > 0 {
		b.WriteString("SSE timeline (ms since the request started; events sharing a read arrived together):\n\n")
		b.WriteString("| # | event | id | sent | arrived | read | data |\n|---:|---|---|---:|---:|---:|---|\n")
		for i, e := range x.SSE {
			if i == opt.MaxSSERows {
				fmt.Fprintf(b, "\n_… %d more events_\n", len(x.SSE)-i)
				break
			}
			sent := "?"
			if e.SentMS >= 0 {
				sent = fmt.Sprintf("%.1f", e.SentMS)
			}
			fmt.Fprintf(b, "| %d | %s | %s | %s | %.1f | %d | %s |\n", i+1, mdText(e.Event, 60), mdText(e.ID, 60),
				sent, e.ArrivedMS, e.Read, mdText(e.Data, 120))
		}
		b.WriteString("\n")
	}
}

func mdBodyExcerpt(t *strings.Builder, body string, truncated bool, opt MarkdownOptions) {
	if body == "" || opt.BodyExcerpt < 0 {
		return
	}
	t.WriteString("\n")
	ex := mdCut(body, opt.BodyExcerpt)
	t.WriteString(ex)
	if !strings.HasSuffix(ex, "\n") {
		t.WriteString("\n")
	}
	if truncated && len(ex) == len(body) {
		t.WriteString("# [body truncated by the harness]\n")
	}
}

// ---- escaping ----

// mdCut shortens s to at most max bytes on a rune boundary, saying how much
// was left out.
func mdCut(s string, max int) string {
	if len(s) <= max {
		return s
	}
	n := max
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + fmt.Sprintf("… [%d more bytes]", len(s)-n)
}

// mdText renders s as inline Markdown text that is safe in a table cell:
// every ASCII punctuation character that could start markup is
// backslash-escaped, so proxy-controlled strings cannot inject links, HTML or
// table columns; line breaks become <br>.
func mdText(s string, max int) string {
	s = mdCut(s, max)
	var b strings.Builder
	if strings.HasPrefix(s, "#") {
		// Only at the start of a line could '#' open a heading.
		b.WriteByte('\\')
	}
	for _, r := range s {
		switch r {
		// Emphasis, code, links and images ('!' needs a '[' to follow),
		// raw HTML, entities, table cells, strikethrough.
		case '\\', '`', '*', '_', '[', ']', '<', '>', '|', '&', '~':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '\r':
		case '\n':
			b.WriteString("<br>")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// mdCode renders s as a code span; the fence is longer than any backtick run
// inside, and '|' is escaped because GFM splits table cells before parsing
// code spans.
func mdCode(s string) string {
	s = strings.ReplaceAll(strings.ReplaceAll(s, "\n", " "), "|", `\|`)
	ticks := strings.Repeat("`", mdLongestRun(s, '`')+1)
	pad := ""
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		pad = " "
	}
	return ticks + pad + s + pad + ticks
}

func mdLinkOrText(s string) string {
	if strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "http://") {
		if !strings.ContainsAny(s, " <>()\n") {
			return "<" + s + ">"
		}
	}
	return mdText(s, 500)
}

// mdFence wraps content in a fenced code block whose fence cannot be closed
// by backticks inside the content.
func mdFence(lang, content string) string {
	fence := strings.Repeat("`", max(3, mdLongestRun(content, '`')+1))
	if !strings.HasSuffix(content, "\n") {
		content += "\n"
	}
	return fence + lang + "\n" + content + fence + "\n\n"
}

func mdLongestRun(s string, c byte) int {
	best, cur := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			cur++
			best = max(best, cur)
		} else {
			cur = 0
		}
	}
	return best
}

// WriteMarkdownRuns writes one summary for several runs: a table with one
// line per run (label, verdict, counts, what failed), then each run's
// summary, every run getting an equal share of opt.MaxBytes. One run is
// WriteMarkdown.
func WriteMarkdownRuns(w io.Writer, runs []*Run, opt MarkdownOptions) error {
	if len(runs) == 1 {
		return WriteMarkdown(w, runs[0], opt)
	}
	opt = opt.withDefaults()
	var out bytes.Buffer
	fmt.Fprintf(&out, "### mcpconform: %d proxies\n\n| Proxy | Verdict | Failing |\n|---|---|---|\n", len(runs))
	names := RunLabels(runs)
	for i, r := range runs {
		pr := printableRun(r)
		counts := mdCounts(pr)
		var parts []string
		for _, o := range Outcomes {
			if n := counts[o]; n > 0 {
				parts = append(parts, mdCountPhrase(o, n))
			}
		}
		var failing []string
		for _, g := range NewDigest(pr).Groups {
			failing = append(failing, g.Line())
		}
		fmt.Fprintf(&out, "| %s | %s %s | %s |\n", mdText(Printable(names[i]), 200), mdVerdictEmoji(pr, counts), mdText(strings.Join(parts, " · "), 300),
			mdText(mdCut(strings.Join(failing, "; "), 600), 800))
	}
	out.WriteString("\n")
	// The table itself may not fit (many runs, a small cap): it is cut
	// by whole lines, with a note that fits in what is left.
	if out.Len() > opt.MaxBytes {
		b := out.Bytes()
		shown := bytes.LastIndexByte(b[:max(opt.MaxBytes-mdReserve, 0)], '\n') + 1
		more := bytes.Count(b[shown:], []byte("\n")) - 1
		out.Truncate(shown)
		if note := fmt.Sprintf("_… %d more runs not shown; see each run's report._\n\n", more); out.Len()+len(note) <= opt.MaxBytes {
			out.WriteString(note)
		}
		_, err := w.Write(out.Bytes())
		return err
	}
	share := (opt.MaxBytes - out.Len()) / len(runs)
	left := 0
	for _, r := range runs {
		o := opt
		o.MaxBytes = share
		var one bytes.Buffer
		if share > 0 && WriteMarkdown(&one, r, o) == nil {
			out.Write(one.Bytes())
		} else {
			left++
		}
	}
	if note := fmt.Sprintf("_%d runs' own summaries do not fit here; see each run's report._\n", left); left > 0 && out.Len()+len(note) <= opt.MaxBytes {
		out.WriteString(note)
	}
	_, err := w.Write(out.Bytes())
	return err
}
