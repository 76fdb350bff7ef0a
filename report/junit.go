package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
)

// JUnit XML as GitLab and the common GitHub reporters read it: one testsuite
// per area, the stable case ID as the testcase name (so history survives a
// retitled scenario), <failure> for conformance failures, <error> for harness
// problems, <skipped> with its reason. No absolute paths, no config dump.

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string      `xml:"name,attr"`
	Tests      int         `xml:"tests,attr"`
	Failures   int         `xml:"failures,attr"`
	Errors     int         `xml:"errors,attr"`
	Skipped    int         `xml:"skipped,attr"`
	Time       string      `xml:"time,attr"`
	Properties *junitProps `xml:"properties,omitempty"`
	Cases      []junitCase `xml:"testcase"`
	area       string
	run        *Run
}

type junitCase struct {
	Name       string         `xml:"name,attr"`
	Classname  string         `xml:"classname,attr"`
	Time       string         `xml:"time,attr"`
	Properties *junitProps    `xml:"properties,omitempty"`
	Failure    *junitProblem  `xml:"failure,omitempty"`
	Error      *junitProblem  `xml:"error,omitempty"`
	Skipped    *junitSkipped  `xml:"skipped,omitempty"`
	SystemOut  *junitCharData `xml:"system-out,omitempty"`
}

type junitProps struct {
	Props []junitProp `xml:"property"`
}

type junitProp struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

type junitCharData struct {
	Text string `xml:",chardata"`
}

// WriteJUnit writes the run as JUnit XML.
func WriteJUnit(w io.Writer, run *Run) error { return WriteJUnitRuns(w, []*Run{run}) }

// WriteJUnitRuns writes one or more runs as one JUnit XML document: a
// testsuite per run and area, named by the area (one run) or "LABEL · area"
// (several), with the proxy, its target and the MCP revision as suite
// properties. Every value passes through Printable.
func WriteJUnitRuns(w io.Writer, runs []*Run) error {
	out := junitSuites{Name: "mcpconform"}
	var total float64
	for _, r := range runs {
		total += r.DurationMS
	}
	out.Time = secs(total)
	if len(runs) == 1 {
		out.Name = "mcpconform " + Printable(runs[0].Proxy.Label())
	} else {
		out.Name = fmt.Sprintf("mcpconform: %d proxies", len(runs))
	}
	names := RunLabels(runs)
	for i, run := range runs {
		run = printableRun(run)
		junitRun(&out, run, Printable(names[i]), len(runs) > 1)
	}
	return junitEncode(w, &out)
}

func junitRun(out *junitSuites, run *Run, label string, multi bool) {
	idx := map[string]int{}
	props := []junitProp{{"proxy", run.Proxy.Label()}, {"target", run.Proxy.Target}}
	if run.SpecVersion != "" {
		props = append(props, junitProp{"mcp-revision", run.SpecVersion})
	}
	for _, c := range run.Cases {
		i, ok := idx[c.Area]
		if !ok {
			i = len(out.Suites)
			idx[c.Area] = i
			name := c.Area
			if multi {
				name = label + " · " + c.Area
			}
			out.Suites = append(out.Suites, junitSuite{Name: name, area: c.Area, run: run, Properties: &junitProps{Props: props}})
		}
		s := &out.Suites[i]
		jc := junitCase{Name: c.ID, Classname: "mcpconform." + c.Area, Time: secs(c.DurationMS)}
		props := []junitProp{{"title", c.Title}, {"level", c.Level}, {"outcome", string(c.Outcome)}}
		if run.SpecVersion != "" {
			props = append(props, junitProp{"mcp-revision", run.SpecVersion})
		}
		if c.Source != "" {
			props = append(props, junitProp{"requirement-source", c.Source})
		}
		if c.Requirement != "" {
			props = append(props, junitProp{"requirement", c.Requirement})
		}
		jc.Properties = &junitProps{Props: props}
		switch c.Outcome {
		case Fail:
			jc.Failure = &junitProblem{Message: oneLine(c.Expected, c.Observed, c.Message), Type: "conformance", Text: detail(c)}
			s.Failures++
		case Error:
			jc.Error = &junitProblem{Message: firstNonEmpty(c.Reason, firstLine(c.Message)), Type: "harness", Text: detail(c)}
			s.Errors++
		case Skip, NotRun:
			jc.Skipped = &junitSkipped{Message: string(c.Outcome) + ": " + c.Reason}
			s.Skipped++
		case ExpectedFail:
			jc.Skipped = &junitSkipped{Message: "expected failure (baseline): " + c.BaselineReason}
			s.Skipped++
		case Warn, Info:
			// Not failures unless --strict (which turns warn into fail before
			// writing); kept visible as output.
			jc.SystemOut = &junitCharData{Text: strings.ToUpper(string(c.Outcome)) + ": " + detail(c)}
		}
		s.Tests++
		s.Cases = append(s.Cases, jc)
	}
}

func junitEncode(w io.Writer, out *junitSuites) error {
	for i := range out.Suites {
		s := &out.Suites[i]
		var t float64
		for _, c := range s.run.Cases {
			if c.Area == s.area {
				t += c.DurationMS
			}
		}
		s.Time = secs(t)
		out.Tests += s.Tests
		out.Failures += s.Failures
		out.Errors += s.Errors
		out.Skipped += s.Skipped
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(out); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func secs(ms float64) string { return fmt.Sprintf("%.3f", ms/1000) }

func oneLine(expected, observed, msg string) string {
	if expected == "" && observed == "" {
		return firstLine(msg)
	}
	return "expected " + expected + " / observed " + observed
}

func detail(c Case) string {
	var b strings.Builder
	if c.Message != "" {
		b.WriteString(c.Message)
		b.WriteString("\n")
	}
	if c.Reason != "" && !strings.Contains(c.Message, c.Reason) {
		b.WriteString(c.Reason + "\n")
	}
	if len(c.Reproduce) > 0 {
		b.WriteString("\nreproduce by hand:\n")
		for _, r := range c.Reproduce {
			b.WriteString("  " + r + "\n")
		}
	}
	return b.String()
}

func firstNonEmpty(xs ...string) string {
	for _, x := range xs {
		if x != "" {
			return x
		}
	}
	return ""
}
