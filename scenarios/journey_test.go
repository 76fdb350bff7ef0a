package scenarios

import "testing"

// Every transparent-proxy journey case has a mock configuration: a new row
// without one would end as a harness error at run time.
func TestJourneyForEveryCase(t *testing.T) {
	n := 0
	for _, s := range All() {
		if s.Area != journeyArea || len(s.Roles) == 0 || s.Roles[0] != RoleT {
			continue
		}
		for _, id := range s.CaseIDs() {
			n++
			if _, ok := journeyForCase(id); !ok {
				t.Errorf("%s has no journeyForCase entry", id)
			}
		}
	}
	if n == 0 {
		t.Fatal("no journey cases found")
	}
	if _, ok := journeyForCase("AUTH-HDR-001/WWWA-01"); ok {
		t.Error("a non-journey case has a journey configuration")
	}
}
