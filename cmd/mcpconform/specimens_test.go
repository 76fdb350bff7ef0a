package main

import (
	"strings"
	"testing"

	"github.com/mcpconform/mcpconform/proxyundertest"
	"github.com/mcpconform/mcpconform/scenarios"
)

// Every specimen's declaration names scenarios of the catalogue, each once:
// a typo or a renamed scenario is caught here in milliseconds, not after the
// three-minute self-validation matrix.
func TestSpecimenDeclarationsNameCatalogueScenarios(t *testing.T) {
	known := map[string]bool{}
	for _, s := range scenarios.All() {
		known[s.ID] = true
	}
	for _, sp := range proxyundertest.Specimens() {
		seen := map[string]string{}
		for _, list := range []struct {
			field string
			ids   []string
		}{{"Guards", sp.Guards}, {"AlsoFails", sp.AlsoFails}} {
			for _, id := range list.ids {
				switch {
				case !known[id]:
					t.Errorf("builtin:%s: %s names %q, which is not a scenario of the catalogue (mcpconform list --scenarios)", sp.Name, list.field, id)
				case seen[id] != "":
					t.Errorf("builtin:%s: %q is in %s and %s: name it once", sp.Name, id, seen[id], list.field)
				}
				seen[id] = list.field
			}
		}
	}
}

// The matrix's bookkeeping: with no failure seen every case is unproven;
// with every case failing, none is, except rows whose ProvenBy declaration
// has gone stale.
func TestUnprovenCases(t *testing.T) {
	none := unprovenCases(map[string][]string{})
	if len(none) == 0 {
		t.Fatal("no failure seen, yet every case counts as proven")
	}
	var sawRow bool
	for _, p := range none {
		if strings.HasPrefix(p, "row AUTH-HDR-001/WWWA-01 ") {
			sawRow = true
		}
	}
	if !sawRow {
		t.Errorf("AUTH-HDR-001/WWWA-01 not reported unproven on its own:\n%s", strings.Join(none, "\n"))
	}

	all := map[string][]string{}
	declared := 0
	for _, s := range scenarios.All() {
		all[s.ID] = []string{"x"}
		for i, id := range s.CaseIDs() {
			if len(s.Rows) > 0 && s.Rows[i].ProvenBy != "" {
				declared++
				continue // a declared row is proven through its target
			}
			all[id] = []string{"x"}
		}
	}
	if got := unprovenCases(all); len(got) != 0 {
		t.Errorf("every case (or its ProvenBy target) failing, yet:\n%s", strings.Join(got, "\n"))
	}
	if declared > 0 {
		for _, s := range scenarios.All() {
			for i, id := range s.CaseIDs() {
				if len(s.Rows) > 0 && s.Rows[i].ProvenBy != "" {
					all[id] = []string{"x"}
				}
			}
		}
		if got := unprovenCases(all); len(got) != declared {
			t.Errorf("%d rows declare ProvenBy and all fail on their own: want %d stale declarations, got:\n%s", declared, declared, strings.Join(got, "\n"))
		}
	}
}
