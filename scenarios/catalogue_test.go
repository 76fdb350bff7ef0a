package scenarios

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcpconform/mcpconform/mockserver"
)

// Case IDs are promised stable: baselines name them. The golden list makes
// any change to the catalogue (an ID, a level, a role, the revisions a case
// exists in) show up in review as a diff of testdata/catalogue.golden.
// After an intended change, regenerate it and commit it with the change:
//
//	go test ./scenarios -run TestCatalogueGolden -update
var update = flag.Bool("update", false, "rewrite testdata/catalogue.golden from the catalogue")

const goldenPath = "testdata/catalogue.golden"

// catalogueGolden renders the catalogue one case per line, tab-separated:
// ID, level (the scenario's base level), area, roles, needed capability,
// and the revisions with the level in each. Columns may be added at the
// end; every column is one that a change of must be reviewed.
func catalogueGolden() []byte {
	var b bytes.Buffer
	b.WriteString("# mcpconform case catalogue: regenerate with `go test ./scenarios -run TestCatalogueGolden -update`\n")
	b.WriteString("# ID\tLEVEL\tAREA\tROLES\tNEEDS\tREVISIONS\n")
	for _, s := range All() {
		roles := joinRoles(s.Roles)
		if roles == "" {
			roles = "any"
		}
		needs := s.Needs
		if needs == "" {
			needs = "-"
		}
		ids := s.CaseIDs()
		for i, id := range ids {
			var row *Row
			if len(s.Rows) > 0 {
				row = &s.Rows[i]
			}
			fmt.Fprintf(&b, "%s\t%s\t%s\t%s\t%s\t%s\n", id, s.Level, s.Area, roles, needs, s.LevelsByRevision(row))
		}
	}
	return b.Bytes()
}

func TestCatalogueGolden(t *testing.T) {
	got := catalogueGolden()
	if *update {
		if err := os.MkdirAll(filepath.Dir(goldenPath), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(goldenPath, got, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", goldenPath)
		return
	}
	want, err := os.ReadFile(goldenPath)
	if err != nil {
		t.Fatalf("%v (create it: go test ./scenarios -run TestCatalogueGolden -update)", err)
	}
	if bytes.Equal(got, want) {
		return
	}
	gotLines, wantLines := lineSet(got), lineSet(want)
	var diff []string
	for _, l := range strings.Split(string(want), "\n") {
		if l != "" && !gotLines[l] {
			diff = append(diff, "- "+l)
		}
	}
	for _, l := range strings.Split(string(got), "\n") {
		if l != "" && !wantLines[l] {
			diff = append(diff, "+ "+l)
		}
	}
	if len(diff) == 0 {
		diff = append(diff, "(same lines, another order)")
	}
	t.Errorf("the catalogue differs from %s: case IDs are promised stable for baselines. If the change is intended, regenerate the file (go test ./scenarios -run TestCatalogueGolden -update) and commit it with the change.\n%s",
		goldenPath, strings.Join(diff, "\n"))
}

func lineSet(b []byte) map[string]bool {
	m := map[string]bool{}
	for _, l := range strings.Split(string(b), "\n") {
		m[l] = true
	}
	return m
}

// Every scenario in the catalogue passed Define's row check (it panics at
// init otherwise); here the check itself, and the collision it exists for.
func TestDefineRejectsDuplicateRowIDs(t *testing.T) {
	ok := &Scenario{ID: "X-001", Rows: []Row{{ID: "a"}, {ID: "A"}, {ID: "b-mid", ProvenBy: "a: the same check on another leg"}}}
	if err := checkRows(ok); err != nil {
		t.Errorf("distinct rows rejected: %v", err)
	}
	for _, rows := range [][]Row{
		{{ID: "a"}, {ID: "b"}, {ID: "a"}},
		{{ID: ""}},
		{{ID: "a/b"}},
		{{ID: "a b"}},
		{{ID: "a"}, {ID: "b", ProvenBy: "c: no such row"}},
		{{ID: "a"}, {ID: "b", ProvenBy: "b: itself"}},
		{{ID: "a"}, {ID: "b", ProvenBy: "a"}},
	} {
		if err := checkRows(&Scenario{ID: "X-001", Rows: rows}); err == nil {
			t.Errorf("rows %v accepted", rows)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("Define accepted a scenario with a duplicate row ID")
		}
		if _, there := Lookup("X-DUP-001"); there {
			t.Error("the rejected scenario is in the catalogue")
		}
	}()
	Define(Scenario{ID: "X-DUP-001", Area: "harness", Run: func(*H) {}, Rows: []Row{{ID: "r"}, {ID: "r"}}})
}

// AUTH-HDR-001 adds WWWA-38 (WWWA-03 on a GET resume) to the rows it
// derives from the mock's challenge catalogue: the day that catalogue gains
// its own WWWA-38, the row check must refuse the collision rather than let
// two cases share one ID.
func TestSynthesizedChallengeRowCannotCollide(t *testing.T) {
	if err := checkRows(&Scenario{ID: "AUTH-HDR-001", Rows: challengeRows()}); err != nil {
		t.Fatalf("today's rows: %v", err)
	}
	saved := mockserver.Challenges
	defer func() { mockserver.Challenges = saved }()
	next := saved[len(saved)-1]
	next.ID = "WWWA-38"
	mockserver.Challenges = append(append([]mockserver.Challenge(nil), saved...), next)
	if err := checkRows(&Scenario{ID: "AUTH-HDR-001", Rows: challengeRows()}); err == nil || !strings.Contains(err.Error(), "WWWA-38") {
		t.Errorf("a catalogue row WWWA-38 next to the synthesized one: check said %v, want a duplicate WWWA-38", err)
	}
}
