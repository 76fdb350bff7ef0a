package scenarios

import (
	"fmt"
	"strings"
)

// MCP protocol revisions the harness can judge against (--spec-version).
// A revision is the version string MCP negotiates; they sort as strings.
const (
	Rev20250326 = "2025-03-26" // Streamable HTTP, sessions; OAuth discovery at the base URL
	Rev20250618 = "2025-06-18" // MCP-Protocol-Version header; RFC 9728 resource metadata, RFC 8707 resource
	Rev20251125 = "2025-11-25" // priming events and retry; header or well-known discovery; step-up
	Rev20260728 = "2026-07-28" // stateless: no sessions, no GET stream; closing a stream cancels
)

// Revisions are the revisions the mock negotiates and the harness probes
// end to end, oldest first. 2026-07-28 is not among them yet: it removes
// sessions and the GET stream, and its stateless requests need probes of
// their own; its requirements are already in the catalogue (LevelFrom).
var Revisions = []string{Rev20250326, Rev20250618, Rev20251125}

// DefaultRevision is the newest revision the harness supports.
var DefaultRevision = Revisions[len(Revisions)-1]

// ProtocolVersion is the revision the harness negotiates and sends in
// MCP-Protocol-Version: DefaultRevision unless the run says otherwise. Run
// sets it once per process (a run judges one revision).
var ProtocolVersion = DefaultRevision

// ParseRevision checks a --spec-version value.
func ParseRevision(s string) (string, error) {
	for _, r := range Revisions {
		if s == r {
			return r, nil
		}
	}
	if s == Rev20260728 {
		return "", fmt.Errorf("--spec-version %s: not supported yet (the mock and the probes speak the stateful revisions %s); its requirements show in `mcpconform explain`", s, strings.Join(Revisions, ", "))
	}
	return "", fmt.Errorf("--spec-version %q: want one of %s, or all", s, strings.Join(Revisions, ", "))
}

// RevisionRange says in which MCP revisions a scenario or row exists: Since
// and Until are inclusive; "" leaves that end open.
type RevisionRange struct {
	Since, Until string
}

func (r RevisionRange) contains(rev string) bool {
	return (r.Since == "" || rev >= r.Since) && (r.Until == "" || rev <= r.Until)
}

// describe is the range in words, "" when open at both ends.
func (r RevisionRange) describe() string {
	switch {
	case r.Since == "" && r.Until == "":
		return ""
	case r.Until == "":
		return "from " + r.Since
	case r.Since == "":
		return "up to " + r.Until
	}
	return r.Since + " to " + r.Until
}

// LevelAt is the scenario's level in revision rev: its Level, changed by
// the newest LevelFrom entry at or before rev.
func (s *Scenario) LevelAt(rev string) Level {
	l, from := s.Level, ""
	for r, lv := range s.LevelFrom {
		if r <= rev && r > from {
			l, from = lv, r
		}
	}
	return l
}

// existsAt reports whether the scenario (and the row, when given) exists in
// revision rev, and if not, why.
func (s *Scenario) existsAt(rev string, row *Row) (bool, string) {
	for _, r := range []struct {
		what string
		rr   RevisionRange
	}{{s.ID, s.Revisions}, {s.ID + "/" + rowID(row), rowRange(row)}} {
		if !r.rr.contains(rev) {
			return false, fmt.Sprintf("%s exists in MCP %s; the run judges %s (--spec-version)", r.what, r.rr.describe(), rev)
		}
	}
	return true, ""
}

func rowID(r *Row) string {
	if r == nil {
		return ""
	}
	return r.ID
}

func rowRange(r *Row) RevisionRange {
	if r == nil {
		return RevisionRange{}
	}
	return r.Revisions
}

// KnownRevisions are every revision the catalogue describes, including
// those the harness cannot run yet.
var KnownRevisions = []string{Rev20250326, Rev20250618, Rev20251125, Rev20260728}

// ExistsAt reports whether the scenario (and row, when given) exists in
// revision rev.
func (s *Scenario) ExistsAt(rev string, row *Row) bool {
	ok, _ := s.existsAt(rev, row)
	return ok
}

// LevelsByRevision says, over KnownRevisions, where the scenario (or row)
// exists and at which level: "MUST from 2025-06-18", "SHOULD up to
// 2025-11-25; MUST in 2026-07-28". Consecutive revisions with the same
// level are folded.
func (s *Scenario) LevelsByRevision(row *Row) string {
	type span struct {
		from, to string
		level    Level
	}
	var spans []span
	for _, rev := range KnownRevisions {
		if !s.ExistsAt(rev, row) {
			continue
		}
		l := s.LevelAt(rev)
		if n := len(spans); n > 0 && spans[n-1].level == l && spans[n-1].to == prevRevision(rev) {
			spans[n-1].to = rev
			continue
		}
		spans = append(spans, span{rev, rev, l})
	}
	if len(spans) == 0 {
		return "in no revision"
	}
	var parts []string
	first, last := KnownRevisions[0], KnownRevisions[len(KnownRevisions)-1]
	for _, sp := range spans {
		switch {
		case sp.from == first && sp.to == last:
			parts = append(parts, fmt.Sprintf("%s in every revision", sp.level))
		case sp.from == sp.to:
			parts = append(parts, fmt.Sprintf("%s in %s", sp.level, sp.from))
		case sp.from == first:
			parts = append(parts, fmt.Sprintf("%s up to %s", sp.level, sp.to))
		case sp.to == last:
			parts = append(parts, fmt.Sprintf("%s from %s", sp.level, sp.from))
		default:
			parts = append(parts, fmt.Sprintf("%s from %s to %s", sp.level, sp.from, sp.to))
		}
	}
	return strings.Join(parts, "; ")
}

func prevRevision(rev string) string {
	for i, r := range KnownRevisions {
		if r == rev && i > 0 {
			return KnownRevisions[i-1]
		}
	}
	return ""
}
