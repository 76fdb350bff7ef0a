package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/mcpconform/mcpconform/report"
)

// console prints a run as it goes. On a terminal it keeps one live line at
// the bottom (current case, its elapsed time, done/total) and colours the
// outcomes; in a pipe (CI logs) it prints plain lines only, plus a "still
// running" line when a case waits long, so a log never falls silent for
// minutes. Every value from the run passes through report.Printable: header
// values from a proxy can hold NUL or ESC.
type console struct {
	w        io.Writer
	tty      bool
	color    bool
	verbose  bool
	baseline *Baseline

	mu        sync.Mutex
	total     int
	done      int
	cur       string
	curTitle  string
	curStart  time.Time
	nextQuiet time.Duration // pipe mode: when to say "still running" next
	causes    map[string]bool
	folded    map[report.Outcome]int
	liveShown bool
	stop      chan struct{}
	stopped   sync.Once
}

// consoleTick is how often the live line is redrawn on a terminal.
const consoleTick = 250 * time.Millisecond

// Pipe mode: the first "still running" line after this long, then at this
// interval.
const (
	consoleQuietFirst = 15 * time.Second
	consoleQuietEvery = 30 * time.Second
)

// newConsole writes to w; tty and colour are decided from w itself (a
// terminal, TERM not dumb, NO_COLOR unset).
func newConsole(w io.Writer, verbose bool, baseline *Baseline) *console {
	c := &console{w: w, verbose: verbose, baseline: baseline, causes: map[string]bool{},
		folded: map[report.Outcome]int{}, stop: make(chan struct{})}
	if f, ok := w.(interface{ Fd() uintptr }); ok && term.IsTerminal(int(f.Fd())) && os.Getenv("TERM") != "dumb" {
		c.tty = true
		c.color = os.Getenv("NO_COLOR") == ""
	}
	go c.ticker()
	return c
}

func (c *console) close() {
	c.stopped.Do(func() { close(c.stop) })
	c.mu.Lock()
	c.clearLive()
	c.mu.Unlock()
}

func (c *console) ticker() {
	t := time.NewTicker(consoleTick)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			c.mu.Lock()
			c.tick()
			c.mu.Unlock()
		}
	}
}

// tick redraws the live line (terminal) or says that a long case is still
// running (pipe). Called with mu held.
func (c *console) tick() {
	if c.cur == "" {
		return
	}
	el := time.Since(c.curStart)
	if c.tty {
		c.drawLive()
		return
	}
	if el >= c.nextQuiet {
		fmt.Fprintf(c.w, "      … %s still running after %s\n", report.PrintableOneLine(c.cur), el.Round(time.Second))
		c.nextQuiet += consoleQuietEvery
	}
}

func (c *console) progressText() string {
	total := "?"
	if c.total > 0 {
		total = fmt.Sprint(c.total)
	}
	return fmt.Sprintf("[%d/%s]", c.done, total)
}

func (c *console) drawLive() {
	el := time.Since(c.curStart).Truncate(100 * time.Millisecond)
	line := fmt.Sprintf("%s %s %s  %s", c.progressText(), report.PrintableOneLine(c.cur), el, report.PrintableOneLine(c.curTitle))
	if f, ok := c.w.(*os.File); ok {
		if w, _, err := term.GetSize(int(f.Fd())); err == nil && w > 10 && len([]rune(line)) > w-1 {
			line = string([]rune(line)[:w-2]) + "…"
		}
	}
	fmt.Fprint(c.w, "\r\x1b[K"+c.paint("\x1b[2m", line))
	c.liveShown = true
}

func (c *console) clearLive() {
	if c.tty && c.liveShown {
		fmt.Fprint(c.w, "\r\x1b[K")
		c.liveShown = false
	}
}

// println prints a finished line above the live line.
func (c *console) println(s string) {
	c.clearLive()
	fmt.Fprintln(c.w, s)
}

func (c *console) paint(code, s string) string {
	if !c.color {
		return s
	}
	return code + s + "\x1b[0m"
}

var consoleMarks = map[report.Outcome]struct{ mark, color string }{
	report.Pass:         {"PASS", "\x1b[32m"},
	report.Fail:         {"FAIL", "\x1b[1;31m"},
	report.Warn:         {"WARN", "\x1b[33m"},
	report.Info:         {"INFO", "\x1b[36m"},
	report.Skip:         {"SKIP", "\x1b[2m"},
	report.Error:        {"ERR ", "\x1b[35m"},
	report.NotRun:       {"----", "\x1b[2m"},
	report.ExpectedFail: {"XFAIL", "\x1b[2;33m"},
}

// begin is scenarios.Config.OnBegin.
func (c *console) begin(total int) {
	c.mu.Lock()
	c.total = total
	c.mu.Unlock()
}

// start is scenarios.Config.OnStart.
func (c *console) start(id, title string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cur, c.curTitle, c.curStart, c.nextQuiet = id, title, time.Now(), consoleQuietFirst
	if c.tty {
		c.drawLive()
	}
}

// hint prints a finding about the run's setup as soon as it is made; the
// summary repeats it.
func (c *console) hint(h string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.println(c.paint("\x1b[1;36m", "hint: "+report.PrintableOneLine(h)))
	if c.tty && c.cur != "" {
		c.drawLive()
	}
}

// interrupted says at once that Ctrl-C was seen: the running case is being
// stopped and the reports are still written.
func (c *console) interrupted() {
	c.mu.Lock()
	defer c.mu.Unlock()
	what := "the run"
	if c.cur != "" {
		what = report.PrintableOneLine(c.cur)
	}
	c.println(c.paint("\x1b[1;33m", "interrupted: stopping "+what+"; the remaining cases are not run, the reports are still written"))
}

// finished is scenarios.Config.OnCase: one line per case that needs a
// reader's eye; skips and not-run cases (and, on a terminal, passes) are
// folded into the summary unless -v.
func (c *console) finished(cs report.Case) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.done++
	c.cur = ""
	outcome := cs.Outcome
	reason := ""
	if c.baseline != nil && (outcome == report.Fail || outcome == report.Warn) {
		if e, ok := c.baseline.entryFor(&cs); ok {
			outcome, reason = report.ExpectedFail, e.Reason
		}
	}
	m := consoleMarks[outcome]
	if m.mark == "" {
		m.mark = strings.ToUpper(string(outcome))
	}
	// On a terminal the live line already shows progress: a pass adds
	// nothing a reader must act on. In a pipe each pass is the progress.
	folded := outcome == report.Skip || outcome == report.NotRun || (outcome == report.Pass && c.tty)
	if folded && !c.verbose {
		c.folded[outcome]++
		if c.tty {
			c.drawLiveIdle()
		}
		return
	}
	id := report.PrintableOneLine(cs.ID)
	title := report.PrintableOneLine(cs.Title)
	switch {
	case outcome == report.ExpectedFail:
		c.println(fmt.Sprintf("%s %s  %s", c.paint(m.color, "XFAIL"), id, report.PrintableOneLine(firstLineOf(reason))))
		return
	case outcome == report.Skip || outcome == report.NotRun:
		c.println(fmt.Sprintf("%s %-28s %s", c.paint(m.color, fmt.Sprintf("%-5s", m.mark)), id, report.PrintableOneLine(firstNonEmptyStr(cs.Reason, title))))
		return
	}
	c.println(fmt.Sprintf("%s %-28s %6.0fms  %s", c.paint(m.color, fmt.Sprintf("%-5s", m.mark)), id, cs.DurationMS, title))
	if cs.RootCause != "" && (outcome == report.Fail || outcome == report.Error) {
		if c.causes[cs.RootCause] && !c.verbose {
			c.println("        blocked: " + report.PrintableOneLine(cs.RootCause) + " (as above)")
			return
		}
		c.causes[cs.RootCause] = true
	}
	if c.verbose || outcome == report.Fail || outcome == report.Error {
		text := cs.Message
		if text == "" || outcome == report.Error && cs.Reason != "" && !strings.Contains(text, cs.Reason) {
			text = firstNonEmptyStr(cs.Reason, text)
		}
		if outcome != report.Pass && text != "" {
			for _, l := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
				c.println("        " + report.PrintableOneLine(l))
			}
		}
	}
	if c.tty {
		c.drawLiveIdle()
	}
}

// drawLiveIdle shows the progress count between cases.
func (c *console) drawLiveIdle() {
	if c.total > 0 && c.done < c.total {
		fmt.Fprint(c.w, "\r\x1b[K"+c.paint("\x1b[2m", c.progressText()))
		c.liveShown = true
	}
}

// summary prints the closing block: the verdict with counts, setup hints,
// what failed by area and level, the root causes shared by several cases,
// what was folded away, and where the reports are.
func (c *console) summary(run *report.Run, out string, failFast bool) {
	c.close()
	w := c.w
	fmt.Fprintln(w)
	var parts []string
	for _, o := range report.Outcomes {
		if n := run.Counts[o]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, o))
		}
	}
	verdict, color := "PASS", "\x1b[1;32m"
	if run.Failed(false) {
		verdict, color = "FAIL", "\x1b[1;31m"
	} else if run.Counts[report.Error] > 0 {
		verdict, color = "ERROR", "\x1b[1;35m"
	} else if len(run.Cases) > 0 && run.Counts[report.NotRun] == len(run.Cases) {
		verdict, color = "NOT RUN", "\x1b[1;35m" // stopped before its cases: no verdict on the proxy
	} else if len(run.Cases) > 0 && run.Counts[report.Skip] == len(run.Cases) {
		verdict, color = "NOTHING JUDGED", "\x1b[1;35m" // every case skipped: exit 2
	} else if run.Interrupted {
		verdict, color = "INTERRUPTED", "\x1b[1;35m" // what ran passed; the rest was not judged (exit 2)
	}
	spec := ""
	if run.SpecVersion != "" {
		spec = "  (MCP " + report.PrintableOneLine(run.SpecVersion) + ")"
	}
	fmt.Fprintf(w, "%s  %s — %s in %.1fs%s\n", c.paint(color, verdict), report.PrintableOneLine(consoleTarget(run.Proxy)),
		strings.Join(parts, ", "), run.DurationMS/1000, spec)
	for _, h := range run.Hints {
		fmt.Fprintf(w, "hint: %s\n", report.PrintableOneLine(h))
	}
	if run.Interrupted {
		fmt.Fprintln(w, "interrupted: the cases after the stop are not run")
	}
	d := report.NewDigest(run)
	if d.Failing() {
		fmt.Fprintln(w, "failing:")
		for _, g := range d.Groups {
			fmt.Fprintf(w, "  %s\n", report.PrintableOneLine(g.Line()))
		}
		// Kept for scripts that grep the old one-liner.
		var ids []string
		for _, g := range d.Groups {
			for _, s := range g.Scenarios {
				ids = append(ids, s.ID)
			}
		}
		sort.Strings(ids)
		fmt.Fprintf(w, "failing scenarios: %s\n", strings.Join(ids, ", "))
	}
	for _, rc := range d.Causes {
		fmt.Fprintf(w, "root cause, blocked %d case(s): %s\n    %s\n", len(rc.Cases), report.PrintableOneLine(rc.Cause), report.CaseList(rc.Cases, 12))
	}
	if n := run.Counts[report.ExpectedFail]; n > 0 {
		fmt.Fprintf(w, "%d expected failure(s) accepted by the baseline\n", n)
	}
	if n := c.folded[report.Skip]; n > 0 {
		fmt.Fprintf(w, "%d skipped (not applicable): %s; -v lists them\n", n, skipReasons(run))
	}
	if n := c.folded[report.NotRun]; n > 0 {
		why := "the run stopped first"
		if failFast {
			why = "stopped by --fail-fast"
		}
		fmt.Fprintf(w, "%d not run (%s)\n", n, why)
	}
	for _, s := range run.StaleBaseline {
		fmt.Fprintf(w, "stale baseline entry (now passes): %s\n", report.PrintableOneLine(s))
	}
	if out != "" {
		fmt.Fprintf(w, "reports in %s\n", out)
		fmt.Fprintf(w, "start with %s\n", filepath.Join(out, "report.html"))
	}
}

// consoleTarget is "name (target)" or the target.
func consoleTarget(p report.Proxy) string {
	if l := p.Label(); l != p.Target && p.Target != "" {
		return l + " (" + p.Target + ")"
	}
	return p.Label()
}

// skipReasons groups the skip reasons by their first words: "not applicable
// to role T: 20, needs capability cors: 11".
func skipReasons(run *report.Run) string {
	counts := map[string]int{}
	var order []string
	for _, c := range run.Cases {
		if c.Outcome != report.Skip {
			continue
		}
		r := c.Reason
		if i := strings.IndexAny(r, "(;:"); i > 0 {
			r = r[:i]
		}
		r = strings.TrimSpace(r)
		if r == "" {
			r = "no reason given"
		}
		if counts[r] == 0 {
			order = append(order, r)
		}
		counts[r]++
	}
	sort.SliceStable(order, func(i, j int) bool { return counts[order[i]] > counts[order[j]] })
	var parts []string
	for _, r := range order {
		parts = append(parts, fmt.Sprintf("%s: %d", report.PrintableOneLine(r), counts[r]))
	}
	return strings.Join(parts, ", ")
}
