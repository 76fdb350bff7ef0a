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
		specVersion string
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the scenario catalogue (ID, level, area, title) without running anything",
		Long: `List the catalogue. Each row is a case ID as it appears in reports and baselines:
a scenario ID, or SCENARIO/ROW for table-driven scenarios. --label-filter and --focus select
as they would for run (Ginkgo dry run). --builtins lists the built-in proxies instead.`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if err := checkSelection(labelFilter, focus); err != nil {
				return err
			}
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			defer tw.Flush()
			if builtins {
				fmt.Fprintln(tw, "BUILTIN\tGUARDS\tDESCRIPTION")
				for _, s := range proxyundertest.Specimens() {
					fmt.Fprintf(tw, "builtin:%s\t%s\t%s\n", s.Name, strings.Join(s.Guards, ","), s.Description)
				}
				return nil
			}
			rev, err := checkSpecVersion(specVersion)
			if err != nil {
				return err
			}
			// level is the case's level in the chosen revision, or "" when
			// the case does not exist there; with all, its level in every
			// revision.
			level := func(s *scenarios.Scenario, row *scenarios.Row) string {
				if rev == allRevisions {
					return s.LevelsByRevision(row)
				}
				if !s.ExistsAt(rev, row) {
					return ""
				}
				return string(s.LevelAt(rev))
			}
			levelCol := "LEVEL"
			if rev == allRevisions {
				levelCol = "LEVEL BY REVISION"
			}
			fmt.Fprintf(tw, "ID\t%s\tAREA\tROLES\tTITLE\n", levelCol)
			if scenOnly {
				// With a filter: the scenarios of the cases it selects.
				var picked map[string]bool
				if labelFilter != "" || len(focus) > 0 {
					infos, err := scenarios.Preview(scenarios.Config{LabelFilter: labelFilter, Focus: focus})
					if err != nil {
						return usageErr("%v", err)
					}
					picked = map[string]bool{}
					for _, ci := range infos {
						picked[ci.Scenario.ID] = true
					}
				}
				for _, s := range scenarios.All() {
					if picked != nil && !picked[s.ID] {
						continue
					}
					if l := level(s, nil); l != "" {
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.ID, l, s.Area, roles(s.Roles), s.Title)
					}
				}
				return nil
			}
			if labelFilter == "" && len(focus) == 0 {
				for _, s := range scenarios.All() {
					for i, id := range s.CaseIDs() {
						title := s.Title
						var row *scenarios.Row
						if len(s.Rows) > 0 {
							row = &s.Rows[i]
							if row.Title != "" {
								title += ": " + row.Title
							}
						}
						if l := level(s, row); l != "" {
							fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", id, l, s.Area, roles(s.Roles), title)
						}
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
				if l := level(s, ci.Row); l != "" {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", ci.ID, l, s.Area, roles(s.Roles), s.Title)
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&labelFilter, "label-filter", "", "Ginkgo label filter, e.g. 'bridging' or 'sse && !SSE-STREAM-002'")
	cmd.Flags().StringArrayVar(&focus, "focus", nil, "regular expression on the case ID and title (repeatable)")
	cmd.Flags().BoolVar(&builtins, "builtins", false, "list the built-in proxies (builtin:NAME) and the scenarios each must fail")
	cmd.Flags().BoolVar(&scenOnly, "scenarios", false, "one line per scenario instead of per case")
	cmd.Flags().StringVar(&specVersion, "spec-version", scenarios.DefaultRevision, "list the cases of this MCP revision with their level there ("+revisionList()+"), or all: every case with its level in each revision")
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
