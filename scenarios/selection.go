package scenarios

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/onsi/ginkgo/v2/types"
)

// suiteText is the suite's description and the text of the spec tree's
// root container. Ginkgo matches --focus against the description, then the
// texts of the containers and the spec: "mcpconform mcpconform AREA ID
// TITLE".
const suiteText = "mcpconform"

// caseText is the ID and title a case is run and reported under.
func caseText(s *Scenario, row *Row) (id, title string) {
	id, title = s.ID, s.Title
	if row != nil {
		id = s.ID + "/" + row.ID
		if row.Title != "" {
			title = s.Title + ": " + row.Title
		}
	}
	return id, title
}

// Filters are the run's case selection: --label-filter and --focus.
type Filters struct {
	LabelFilter string
	Focus       []string
}

// String names the filters as the user typed them, for messages.
func (f Filters) String() string {
	var parts []string
	if f.LabelFilter != "" {
		parts = append(parts, fmt.Sprintf("--label-filter %q", f.LabelFilter))
	}
	for _, r := range f.Focus {
		parts = append(parts, fmt.Sprintf("--focus %q", r))
	}
	return strings.Join(parts, " ")
}

// ginkgoMarkup is Ginkgo's console formatting ({{red}}, {{/}}, …).
var ginkgoMarkup = regexp.MustCompile(`\{\{[a-z/-]*\}\}`)

// compile checks the filters and returns the matchers. A malformed filter
// is one plain line naming the flag (Ginkgo would print its own coloured
// report and exit as if a case had failed; a bad --focus would panic).
func (f Filters) compile() (func([]string) bool, *regexp.Regexp, error) {
	match := func([]string) bool { return true }
	if f.LabelFilter != "" {
		m, err := types.ParseLabelFilter(f.LabelFilter)
		if err != nil {
			why := err.Error()
			if ge, ok := err.(types.GinkgoError); ok {
				lines := strings.Split(strings.TrimSpace(ginkgoMarkup.ReplaceAllString(ge.Message, "")), "\n")
				why = strings.TrimSpace(lines[len(lines)-1])
			}
			return nil, nil, fmt.Errorf("--label-filter %q: %s (labels are areas, scenario IDs and row IDs; combine with &&, ||, ! and parentheses)", f.LabelFilter, strings.TrimSuffix(why, "."))
		}
		match = m
	}
	for _, r := range f.Focus {
		if _, err := regexp.Compile(r); err != nil {
			return nil, nil, fmt.Errorf("--focus %q: not a regular expression: %v", r, strings.TrimPrefix(err.Error(), "error parsing regexp: "))
		}
	}
	if len(f.Focus) == 0 {
		return match, nil, nil
	}
	// Ginkgo joins the focus expressions with "|" into one.
	focus, err := regexp.Compile(strings.Join(f.Focus, "|"))
	if err != nil {
		return nil, nil, fmt.Errorf("%s: together not a regular expression: %v", f, err)
	}
	return match, focus, nil
}

// Check validates the filters without running anything.
func (f Filters) Check() error {
	_, _, err := f.compile()
	return err
}

// Select lists the IDs of the cases the filters select, in catalogue
// order, as Ginkgo will (labels: area, scenario ID, row ID; --focus on the
// text above). An empty list with filters set is the caller's usage error
// to report.
func (f Filters) Select() ([]string, error) {
	match, focus, err := f.compile()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, s := range All() {
		rows := []*Row{nil}
		if len(s.Rows) > 0 {
			rows = rows[:0]
			for i := range s.Rows {
				rows = append(rows, &s.Rows[i])
			}
		}
		for _, row := range rows {
			id, title := caseText(s, row)
			full := strings.Join([]string{suiteText, suiteText, s.Area, id + " " + title}, " ")
			if match(s.labels(row)) && (focus == nil || focus.MatchString(full)) {
				out = append(out, id)
			}
		}
	}
	return out, nil
}

// matches reports whether a case with these labels and this focus text
// ("mcpconform mcpconform AREA ID TITLE") is selected; filters that do not
// parse select nothing (the run refuses them before it starts).
func (f Filters) matches(labels []string, text string) bool {
	match, focus, err := f.compile()
	return err == nil && match(labels) && (focus == nil || focus.MatchString(text))
}
