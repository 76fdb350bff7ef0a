package main

import (
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strings"
	"unicode"

	"github.com/spf13/cobra"

	"github.com/mcpconform/mcpconform/report"
	"github.com/mcpconform/mcpconform/scenarios"
)

func newExplainCmd(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "explain ID[/ROW]",
		Short: "Explain a scenario: requirement, source, level, roles, what is checked, known bugs",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			return explain(stdout, args[0])
		},
	}
}

func explain(w io.Writer, id string) error {
	sc, ok := scenarios.Lookup(id)
	if !ok {
		return usageErr("unknown scenario %q (see `mcpconform list`)", id)
	}
	_, rowID, hasRow := strings.Cut(id, "/")
	var row *scenarios.Row
	if hasRow {
		for i := range sc.Rows {
			if strings.EqualFold(sc.Rows[i].ID, rowID) {
				row = &sc.Rows[i]
			}
		}
		if row == nil {
			return usageErr("%s has no row %q; rows: %s", sc.ID, rowID, strings.Join(sc.CaseIDs(), ", "))
		}
	}
	fmt.Fprintf(w, "%s — %s\n", sc.ID, sc.Title)
	fmt.Fprintf(w, "  area:        %s\n", sc.Area)
	lv := sc.LevelAt(scenarios.DefaultRevision)
	fmt.Fprintf(w, "  level:       %s in MCP %s, the default revision (a failed check is %s)\n", lv, scenarios.DefaultRevision, lv.Outcome())
	fmt.Fprintf(w, "  revisions:   %s\n", sc.LevelsByRevision(row))
	fmt.Fprintf(w, "  roles:       %s\n", roles(sc.Roles))
	if sc.Needs != "" {
		fmt.Fprintf(w, "  needs:       %s (declare it with --%s)\n", sc.Needs, sc.Needs)
	}
	fmt.Fprintf(w, "  requirement: %s\n", sc.Requirement)
	fmt.Fprintf(w, "  source:      %s\n", sc.Source)
	if sc.Checks != "" {
		fmt.Fprintf(w, "  checks:      %s\n", sc.Checks)
	}
	if len(sc.KnownBugs) > 0 {
		fmt.Fprintln(w, "  known bugs:")
		for _, b := range sc.KnownBugs {
			fmt.Fprintf(w, "    - %s\n", b)
		}
	}
	if row != nil {
		fmt.Fprintf(w, "  row %s: %s\n", row.ID, row.Title)
		if row.Data != nil {
			writeRowData(w, reflect.ValueOf(row.Data), "    ")
		}
	} else if len(sc.Rows) > 0 {
		fmt.Fprintf(w, "  rows (%d): explain %s/ROW shows one\n", len(sc.Rows), sc.ID)
		for _, r := range sc.Rows {
			fmt.Fprintf(w, "    %s/%s  %s\n", sc.ID, r.ID, r.Title)
		}
	}
	fmt.Fprintf(w, "  by hand:     mcpconform run --proxy URL --focus '%s' --out out, then\n", regexpQuoteID(id))
	fmt.Fprintf(w, "               mcpconform mock --replay out/results.json --case %s   (serves the recorded upstream answers, prints the curl lines)\n", id)
	return nil
}

// regexpQuoteID makes a case ID a --focus expression that matches it alone
// (the title follows the ID after a space).
func regexpQuoteID(id string) string {
	return regexp.QuoteMeta(id) + " "
}

// writeRowData prints a row's data as "name: value" lines, nested values
// flattened, empty ones left out, every value through report.Printable (row
// data holds NULs and CRs on purpose).
func writeRowData(w io.Writer, v reflect.Value, indent string) {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return
		}
		v = v.Elem()
	}
	switch v.Kind() {
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			f := v.Type().Field(i)
			if !f.IsExported() || v.Field(i).IsZero() {
				continue
			}
			fv := v.Field(i)
			for fv.Kind() == reflect.Pointer || fv.Kind() == reflect.Interface {
				fv = fv.Elem()
			}
			if fv.Kind() == reflect.Struct {
				writeRowData(w, fv, indent)
				continue
			}
			writeRowValue(w, humanName(f.Name), fv, indent)
		}
	default:
		writeRowValue(w, "data", v, indent)
	}
}

func writeRowValue(w io.Writer, name string, v reflect.Value, indent string) {
	label := fmt.Sprintf("%s%-12s ", indent, name+":")
	switch v.Kind() {
	case reflect.Slice, reflect.Array:
		if v.Len() == 1 {
			writeRowValue(w, name, v.Index(0), indent)
			return
		}
		fmt.Fprintln(w, strings.TrimRight(label, " "))
		for i := 0; i < v.Len(); i++ {
			fmt.Fprintf(w, "%s  - %s\n", indent, report.PrintableOneLine(fmt.Sprint(v.Index(i).Interface())))
		}
	case reflect.Map:
		fmt.Fprintln(w, strings.TrimRight(label, " "))
		for _, k := range v.MapKeys() {
			fmt.Fprintf(w, "%s  %v: %s\n", indent, k.Interface(), report.PrintableOneLine(fmt.Sprint(v.MapIndex(k).Interface())))
		}
	case reflect.Struct:
		writeRowData(w, v, indent)
	default:
		fmt.Fprintf(w, "%s%s\n", label, report.PrintableOneLine(fmt.Sprint(v.Interface())))
	}
}

// humanName turns a Go field name into words: "RawLines" → "raw lines".
func humanName(s string) string {
	var b strings.Builder
	rs := []rune(s)
	for i, r := range rs {
		upper := unicode.IsUpper(r)
		if i > 0 && upper && (unicode.IsLower(rs[i-1]) || i+1 < len(rs) && unicode.IsLower(rs[i+1])) {
			b.WriteByte(' ')
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}
