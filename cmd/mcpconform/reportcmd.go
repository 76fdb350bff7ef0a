package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/mcpconform/mcpconform/report"
)

func newReportCmd(stdout io.Writer) *cobra.Command {
	var htmlOut, mdOut, junitOut, harDir string
	cmd := &cobra.Command{
		Use:   "report results.json [more.json…] [--html F] [--markdown F] [--junit F] [--har DIR]",
		Short: "Re-render reports from results.json; several files give a side-by-side HTML page",
		Long: `Re-render reports from one or more results.json files without running anything.
With several files, --html shows the runs side by side (one column per proxy); --markdown,
--junit and --har use the first file. Reports are written as the files were saved (redacted
unless the run used --unredacted).`,
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
			first := runs[0]
			if mdOut != "" {
				if err := report.WriteFileAtomic(mdOut, func(w io.Writer) error {
					return report.WriteMarkdown(w, first, report.MarkdownOptions{ResultsFile: args[0]})
				}); err != nil {
					return usageErr("--markdown: %v", err)
				}
			}
			if junitOut != "" {
				if err := report.WriteFileAtomic(junitOut, func(w io.Writer) error { return report.WriteJUnit(w, first) }); err != nil {
					return usageErr("--junit: %v", err)
				}
			}
			if harDir != "" {
				n, err := writeHARs(harDir, first)
				if err != nil {
					return usageErr("--har: %v", err)
				}
				fmt.Fprintf(stdout, "%d HAR file(s) in %s\n", n, harDir)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&htmlOut, "html", "", "write a self-contained HTML page (all files side by side)")
	f.StringVar(&mdOut, "markdown", "", "write the Markdown summary of the first file")
	f.StringVar(&junitOut, "junit", "", "write JUnit XML of the first file")
	f.StringVar(&harDir, "har", "", "write one HAR per failing case of the first file into this folder")
	return cmd
}

// writeHARs writes har/<case>.har for every case that did not pass and has
// evidence.
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
		n++
	}
	return n, nil
}
