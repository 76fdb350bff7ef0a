package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/mcpconform/mcpconform/proxyundertest"
	"github.com/mcpconform/mcpconform/scenarios"
)

func newListCmd(stdout io.Writer) *cobra.Command {
	var (
		labelFilter string
		focus       []string
		builtins    bool
		scenOnly    bool
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the scenario catalogue (ID, level, area, title) without running anything",
		Long: `List the catalogue. Each row is a case ID as it appears in reports and baselines:
a scenario ID, or SCENARIO/ROW for table-driven scenarios. --label-filter and --focus select
as they would for run (Ginkgo dry run). --builtins lists the built-in proxies instead.`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			defer tw.Flush()
			if builtins {
				fmt.Fprintln(tw, "BUILTIN\tGUARDS\tDESCRIPTION")
				for _, s := range proxyundertest.Specimens() {
					fmt.Fprintf(tw, "builtin:%s\t%s\t%s\n", s.Name, strings.Join(s.Guards, ","), s.Description)
				}
				return nil
			}
			fmt.Fprintln(tw, "ID\tLEVEL\tAREA\tROLES\tTITLE")
			if scenOnly {
				for _, s := range scenarios.All() {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.ID, s.Level, s.Area, roles(s.Roles), s.Title)
				}
				return nil
			}
			if labelFilter == "" && len(focus) == 0 {
				for _, s := range scenarios.All() {
					for i, id := range s.CaseIDs() {
						title := s.Title
						if len(s.Rows) > 0 && s.Rows[i].Title != "" {
							title += ": " + s.Rows[i].Title
						}
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", id, s.Level, s.Area, roles(s.Roles), title)
					}
				}
				return nil
			}
			infos, err := scenarios.Preview(scenarios.Config{LabelFilter: labelFilter, Focus: focus})
			if err != nil {
				return usageErr("%v", err)
			}
			for _, ci := range infos {
				s := ci.Scenario
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", ci.ID, s.Level, s.Area, roles(s.Roles), s.Title)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&labelFilter, "label-filter", "", "Ginkgo label filter, e.g. 'bridging' or 'sse && !SSE-STREAM-002'")
	cmd.Flags().StringArrayVar(&focus, "focus", nil, "regular expression on the case ID and title (repeatable)")
	cmd.Flags().BoolVar(&builtins, "builtins", false, "list the built-in proxies (builtin:NAME) and the scenarios each must fail")
	cmd.Flags().BoolVar(&scenOnly, "scenarios", false, "one line per scenario instead of per case")
	return cmd
}

func roles(rs []scenarios.Role) string {
	if len(rs) == 0 {
		return "any"
	}
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = string(r)
	}
	return strings.Join(parts, ",")
}
