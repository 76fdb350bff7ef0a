package scenarios

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/mcpconform/mcpconform/report"
)

// Level is the keyword of the requirement a scenario checks. It decides the
// outcome when the check fails: MUST → fail, SHOULD → warn, CONVENTION → info.
type Level string

const (
	MUST       Level = "MUST"
	SHOULD     Level = "SHOULD"
	CONVENTION Level = "CONVENTION"
)

// Outcome maps a failed check at this level to its verdict.
func (l Level) Outcome() report.Outcome {
	switch l {
	case SHOULD:
		return report.Warn
	case CONVENTION:
		return report.Info
	}
	return report.Fail
}

// Role is what the proxy under test does (SCENARIOS.md, "Roles").
type Role string

const (
	RoleT Role = "T" // transparent reverse proxy
	RoleB Role = "B" // MCP-terminating bridge
	RoleI Role = "I" // token injector
	RoleK Role = "K" // guarded by an API key
)

// Row is one row of a table-driven scenario; its result is reported as
// "SCENARIO/ROW".
type Row struct {
	ID    string
	Title string
	Data  any
	// Revisions limits the row to the MCP revisions it exists in.
	Revisions RevisionRange
	// ProvenBy is for a row that no specimen makes fail on its own:
	// "ROW: why", naming the row of the same scenario whose failing
	// specimen proves this row's check can fail, and why that proof
	// carries over ("WWWA-07: the same comparison, on another leg").
	// Self-validation requires every row to fail against some specimen or
	// to name such a row, which must itself fail against one.
	ProvenBy string
}

// ProvenByRow is the row ID a ProvenBy declaration names ("" if none).
func (r *Row) ProvenByRow() string {
	id, _, _ := strings.Cut(r.ProvenBy, ":")
	return strings.TrimSpace(id)
}

// Scenario is the single source of a scenario's metadata and its check.
type Scenario struct {
	ID          string
	Title       string
	Area        string // bridging, transport, cors, sse, refresh, apikey
	Level       Level
	Roles       []Role // the scenario applies when the proxy holds any of them
	Requirement string // the requirement sentence
	Source      string // spec and section
	KnownBugs   []string
	// Checks says in one line what the scenario does (for `explain`).
	Checks string
	// Timeout overrides the per-scenario timeout when the scenario waits on
	// purpose (token lifetimes, idle streams); the larger of the two applies.
	Timeout time.Duration
	// Rows makes the scenario table-driven; Run is called once per row.
	Rows []Row
	// MaxExchanges raises the evidence cap of each case (maxExchangesPerCase)
	// for scenarios whose every exchange is evidence (a real client's login).
	MaxExchanges int
	// Needs names an optional capability (e.g. "cors", "legacy-sse"); when the
	// run does not declare it, the case is skipped with the reason.
	Needs string
	// StdioUpstream says the check can be judged when the proxy bridges to a
	// stdio server it spawns (--upstream-stdio): it looks only at what the
	// client gets. The others need the HTTP mock behind the proxy (its
	// answers, or its record of what arrived) and skip there.
	StdioUpstream bool
	// Revisions limits the scenario to the MCP revisions it exists in
	// (sessions and the GET stream end with 2025-11-25, for instance).
	Revisions RevisionRange
	// LevelFrom changes the level from a revision on, where the requirement
	// itself changed (RES-004: a MUST from 2026-07-28). See LevelAt.
	LevelFrom map[string]Level
	Run       func(h *H)
}

var (
	catMu   sync.Mutex
	catalog = map[string]*Scenario{}
)

// Define adds a scenario to the catalogue. Area files call it from init.
func Define(s Scenario) {
	catMu.Lock()
	defer catMu.Unlock()
	if s.ID == "" || s.Area == "" || s.Run == nil {
		panic("scenarios: incomplete definition " + s.ID)
	}
	if _, dup := catalog[s.ID]; dup {
		panic("scenarios: duplicate scenario " + s.ID)
	}
	if err := checkRows(&s); err != nil {
		panic("scenarios: " + err.Error())
	}
	if s.Level == "" {
		s.Level = MUST
	}
	catalog[s.ID] = &s
}

// checkRows rejects row IDs that would make two cases one: case IDs
// (SCENARIO/ROW) are what baselines name. A row ID is also one Ginkgo label:
// no "/" and no blank. (Rows may differ in letter case alone, as APIKEY-005's
// header spellings do; a label filter selects them together, --focus apart.)
func checkRows(s *Scenario) error {
	seen := map[string]bool{}
	for _, r := range s.Rows {
		if r.ID == "" || strings.ContainsAny(r.ID, "/ \t") {
			return fmt.Errorf("%s: row ID %q: want a non-empty ID without '/' or blanks", s.ID, r.ID)
		}
		if seen[r.ID] {
			return fmt.Errorf("%s: two rows have the ID %s: each row must be its own case ID", s.ID, r.ID)
		}
		seen[r.ID] = true
	}
	for _, r := range s.Rows {
		if r.ProvenBy == "" {
			continue
		}
		id, why, _ := strings.Cut(r.ProvenBy, ":")
		id, why = strings.TrimSpace(id), strings.TrimSpace(why)
		switch {
		case why == "":
			return fmt.Errorf("%s/%s: ProvenBy %q: want \"ROW: why that row's failure proves this one\"", s.ID, r.ID, r.ProvenBy)
		case !seen[id] || id == r.ID:
			return fmt.Errorf("%s/%s: ProvenBy names %q, which is not another row of %s", s.ID, r.ID, id, s.ID)
		}
	}
	return nil
}

// All lists the catalogue in area order, then by ID.
func All() []*Scenario {
	catMu.Lock()
	defer catMu.Unlock()
	out := make([]*Scenario, 0, len(catalog))
	for _, s := range catalog {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool {
		ai, aj := areaRank(out[i].Area), areaRank(out[j].Area)
		if ai != aj {
			return ai < aj
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// Lookup finds a scenario by ID (a row suffix "/ROW" is ignored).
func Lookup(id string) (*Scenario, bool) {
	id, _, _ = strings.Cut(id, "/")
	catMu.Lock()
	defer catMu.Unlock()
	s, ok := catalog[strings.ToUpper(id)]
	return s, ok
}

func areaRank(a string) int {
	for i, x := range report.Areas {
		if x == a {
			return i
		}
	}
	return len(report.Areas)
}

// CaseIDs lists the result IDs a scenario produces (one per row).
func (s *Scenario) CaseIDs() []string {
	if len(s.Rows) == 0 {
		return []string{s.ID}
	}
	ids := make([]string, len(s.Rows))
	for i, r := range s.Rows {
		ids[i] = s.ID + "/" + r.ID
	}
	return ids
}

// AppliesTo reports whether the scenario applies to a proxy with these roles,
// and if not, why.
//
// I and K add credential rules on top of a transparent proxy or a bridge.
// A scenario that lists T but not B judges what only a byte-forwarding
// proxy can meet (field lines, event ids, framing), so it does not apply to
// a bridge even when the bridge also holds I or K.
func (s *Scenario) AppliesTo(roles []Role) (bool, string) {
	if len(s.Roles) == 0 {
		return true, ""
	}
	if slices.Contains(roles, RoleB) && slices.Contains(s.Roles, RoleT) && !slices.Contains(s.Roles, RoleB) {
		return false, fmt.Sprintf("applies to role %s as a byte-forwarding proxy; the proxy is declared an MCP-terminating bridge (B), which re-encodes what this checks", joinRoles(s.Roles))
	}
	for _, want := range s.Roles {
		for _, have := range roles {
			if want == have {
				return true, ""
			}
		}
	}
	return false, fmt.Sprintf("applies to role %s; the proxy is declared as %s (--role)", joinRoles(s.Roles), joinRoles(roles))
}

func joinRoles(rs []Role) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = string(r)
	}
	return strings.Join(parts, ",")
}

// ParseRoles reads --role values such as "T", "I,K" or "IK".
func ParseRoles(s string) ([]Role, error) {
	var out []Role
	seen := map[Role]bool{}
	for _, c := range strings.ToUpper(s) {
		if c == ',' || c == ' ' || c == '+' {
			continue
		}
		r := Role(string(c))
		switch r {
		case RoleT, RoleB, RoleI, RoleK:
		default:
			return nil, fmt.Errorf("unknown role %q in %q: want T, B, I or K (e.g. --role T or --role I,K)", string(c), s)
		}
		if !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no role in %q", s)
	}
	return out, nil
}

// Labels are the Ginkgo labels of a case: its area, its scenario ID and, for
// a row, the row ID. Ginkgo labels may not hold "/", hence separate labels.
func (s *Scenario) labels(row *Row) []string {
	l := []string{s.Area, s.ID}
	if row != nil {
		l = append(l, row.ID)
	}
	return l
}

// anyRoles is every role: for scenarios that apply to all proxies.
var anyRoles = []Role{RoleT, RoleB, RoleI, RoleK}
