package mockserver

import (
	"bytes"
	"fmt"
	"net/http"
	"testing"
)

// The catalogue is the table of WWW-Authenticate shapes: WWWA-01..37 in order
// (WWWA-38 is WWWA-03 on the GET resume leg, built by the scenario).
func TestChallengeCatalogueComplete(t *testing.T) {
	if len(Challenges) != 37 {
		t.Fatalf("catalogue has %d rows, want 37 (WWWA-01..37)", len(Challenges))
	}
	for i, c := range Challenges {
		if want := fmt.Sprintf("WWWA-%02d", i+1); c.ID != want {
			t.Errorf("row %d is %s, want %s", i, c.ID, want)
		}
		switch c.Deliver {
		case "B0", "B1", "B2":
		default:
			t.Errorf("%s: Deliver %q", c.ID, c.Deliver)
		}
		if http.StatusText(c.Status) == "" {
			t.Errorf("%s: status %d", c.ID, c.Status)
		}
	}
}

// A raw row must be sent as exact bytes: WWWA-33 carries an obs-fold
// (CRLF followed by spaces) that net/http cannot emit.
func TestRawChallengeKeepsObsFold(t *testing.T) {
	c, ok := ChallengeByID("WWWA-33")
	if !ok {
		t.Fatal("WWWA-33 missing")
	}
	m := &Mock{BaseURL: "http://127.0.0.1:1"}
	f := c.Fault(m, Match{})
	if !bytes.Contains(f.Raw, []byte("realm=\"mcp\",\r\n  resource_metadata=\"http://127.0.0.1:1/.well-known/oauth-protected-resource/mcp\"\r\n")) {
		t.Fatalf("obs-fold not in raw response:\n%q", f.Raw)
	}
	if !bytes.HasPrefix(f.Raw, []byte("HTTP/1.1 401 Unauthorized\r\n")) {
		t.Fatalf("status line: %q", f.Raw[:40])
	}
}

// WWWA-30 is about 8 KiB, past small proxy header buffers (nginx 4/8 KiB).
func TestLargeChallengeSize(t *testing.T) {
	c, _ := ChallengeByID("WWWA-30")
	v := c.Values(&Mock{BaseURL: "http://127.0.0.1:1"})[0]
	if len(v) < 8<<10 || len(v) > 9<<10 {
		t.Fatalf("WWWA-30 is %d bytes, want about 8 KiB", len(v))
	}
}
