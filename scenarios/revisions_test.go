package scenarios

import "testing"

func TestLevelsByRevision(t *testing.T) {
	res004, _ := Lookup("RES-004")
	if got, want := res004.LevelsByRevision(nil), "SHOULD up to 2025-11-25; MUST in 2026-07-28"; got != want {
		t.Errorf("RES-004: %q, want %q", got, want)
	}
	if res004.LevelAt(Rev20251125) != SHOULD || res004.LevelAt(Rev20260728) != MUST {
		t.Errorf("RES-004 levels: %s at 2025-11-25, %s at 2026-07-28", res004.LevelAt(Rev20251125), res004.LevelAt(Rev20260728))
	}
	ver, _ := Lookup("VER-001")
	if got, want := ver.LevelsByRevision(nil), "MUST from 2025-06-18"; got != want {
		t.Errorf("VER-001: %q, want %q", got, want)
	}
	sess, _ := Lookup("SESS-001")
	if got, want := sess.LevelsByRevision(nil), "MUST up to 2025-11-25"; got != want {
		t.Errorf("SESS-001: %q, want %q", got, want)
	}
	if sess.ExistsAt(Rev20260728, nil) || !sess.ExistsAt(Rev20250326, nil) {
		t.Error("SESS-001 must exist up to 2025-11-25 only")
	}
	hdr, _ := Lookup("AUTH-HDR-001")
	var w38 *Row
	for i := range hdr.Rows {
		if hdr.Rows[i].ID == "WWWA-38" {
			w38 = &hdr.Rows[i]
		}
	}
	if w38 == nil || hdr.ExistsAt(Rev20260728, w38) || !hdr.ExistsAt(Rev20260728, nil) {
		t.Error("AUTH-HDR-001 exists in 2026-07-28 but its GET-resume row WWWA-38 does not")
	}
}

func TestParseRevision(t *testing.T) {
	for _, ok := range Revisions {
		if r, err := ParseRevision(ok); err != nil || r != ok {
			t.Errorf("ParseRevision(%q) = %q, %v", ok, r, err)
		}
	}
	for _, bad := range []string{"", "2025-11-26", "latest", Rev20260728} {
		if _, err := ParseRevision(bad); err == nil {
			t.Errorf("ParseRevision(%q) accepted", bad)
		}
	}
}
