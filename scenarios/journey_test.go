package scenarios

import "testing"

// Every transparent-proxy journey case has a mock configuration, so its
// probes and `mcpconform mock --case` agree on what the server does.
func TestJourneyForEveryCase(t *testing.T) {
	n := 0
	for _, s := range All() {
		if s.Area != journeyArea || len(s.Roles) == 0 || s.Roles[0] != RoleT {
			continue
		}
		for _, id := range s.CaseIDs() {
			n++
			if _, ok := JourneyForCase(id); !ok {
				t.Errorf("%s has no JourneyForCase entry", id)
			}
		}
	}
	if n == 0 {
		t.Fatal("no journey cases found")
	}
	if _, ok := JourneyForCase("AUTH-HDR-001/WWWA-01"); ok {
		t.Error("a non-journey case has a journey configuration")
	}
}
