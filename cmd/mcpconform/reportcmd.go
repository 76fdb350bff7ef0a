package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mcpconform/mcpconform/report"
)

func newReportCmd(stdout io.Writer) *cobra.Command {
	var htmlOut, mdOut, junitOut, harDir string
	cmd := &cobra.Command{
		Use:   "report results.json [more.json…] [--html F] [--markdown F] [--junit F] [--har DIR]",
		Short: "Re-render reports from results.json; several files give a side-by-side HTML page",
		Long: `Re-render reports from one or more results.json files without running anything.
With several files every format holds every run: --html side by side (one column per proxy,
labelled by its --name), --markdown one line per run and then each run's summary, --junit one
testsuite per run and area, --har one folder per run. Reports are written as the files were
saved (redacted unless the run used --unredacted).`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if htmlOut == "" && mdOut == "" && junitOut == "" && harDir == "" {
				return usageErr("name at least one output: --html, --markdown, --junit or --har")
			}
			var runs []*report.Run
			for _, p := range args {
				r, err := report.ReadJSONFile(p)
				if err != nil {
					return usageErr("%v", err)
				}
				r.SortCases()
				r.Tally()
				runs = append(runs, r)
			}
			if htmlOut != "" {
				if err := report.WriteFileAtomic(htmlOut, func(w io.Writer) error { return report.WriteHTML(w, runs) }); err != nil {
					return usageErr("--html: %v", err)
				}
			}
			if mdOut != "" {
				opt := report.MarkdownOptions{ResultsFile: strings.Join(args, ", "), ReportFile: htmlOut}
				if htmlOut == "" {
					opt.ReportFile = "-"
				}
				if err := report.WriteFileAtomic(mdOut, func(w io.Writer) error {
					return report.WriteMarkdownRuns(w, runs, opt)
				}); err != nil {
					return usageErr("--markdown: %v", err)
				}
			}
			if junitOut != "" {
				if err := report.WriteFileAtomic(junitOut, func(w io.Writer) error { return report.WriteJUnitRuns(w, runs) }); err != nil {
					return usageErr("--junit: %v", err)
				}
			}
			if harDir != "" {
				total := 0
				for i, r := range runs {
					dir := harDir
					if len(runs) > 1 {
						dir = filepath.Join(harDir, fmt.Sprintf("%d-%s", i+1, fileSlug(r.Proxy.Label())))
					}
					n, err := writeHARs(dir, r)
					if err != nil {
						return usageErr("--har: %v", err)
					}
					total += n
				}
				fmt.Fprintf(stdout, "%d HAR file(s) in %s\n", total, harDir)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&htmlOut, "html", "", "write a self-contained HTML page (all files side by side)")
	f.StringVar(&mdOut, "markdown", "", "write the Markdown summary of every file")
	f.StringVar(&junitOut, "junit", "", "write JUnit XML of every file (a testsuite per run and area)")
	f.StringVar(&harDir, "har", "", "write one HAR per failing case into this folder (a subfolder per file when several)")
	return cmd
}

// writeHARs writes har/<case>.har for every case that did not pass and has
// evidence, with har/<case>.png when a browser judged it (--browser).
func writeHARs(dir string, run *report.Run) (int, error) {
	n := 0
	for i := range run.Cases {
		c := &run.Cases[i]
		switch c.Outcome {
		case report.Fail, report.Error, report.Warn, report.ExpectedFail:
		default:
			continue
		}
		if len(c.Exchanges) == 0 {
			continue
		}
		if n == 0 {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return 0, err
			}
		}
		if err := report.WriteFileAtomic(filepath.Join(dir, report.HARFileName(c)), func(w io.Writer) error {
			return report.WriteHAR(w, c, run.Tool)
		}); err != nil {
			return n, err
		}
		if err := writeScreenshot(dir, c); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// fileSlug makes a label usable as a file name.
func fileSlug(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	out := strings.Trim(b.String(), "-.")
	if len(out) > 60 {
		out = out[:60]
	}
	if out == "" {
		out = "run"
	}
	return out
}
