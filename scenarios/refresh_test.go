package scenarios

import (
	"testing"
	"time"

	"github.com/mcpconform/mcpconform/mockserver"
)

func TestExpiredInTransit(t *testing.T) {
	t0 := time.Now()
	sent := []time.Time{t0, t0.Add(250 * time.Millisecond), t0.Add(500 * time.Millisecond)}
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	for _, c := range []struct {
		name          string
		arrived, exp  int // ms after t0
		err           string
		wantInTransit bool
	}{
		{"expired on the way, after the last send", 900, 700, "expired", true},
		{"expired before the request left", 900, 400, "expired", false},
		{"a revoked token is never transit", 900, 700, "revoked", false},
		{"before any send", -10, -20, "expired", false},
	} {
		e := &mockserver.Entry{Time: at(c.arrived), TokenExp: at(c.exp), TokenErr: c.err}
		if got := expiredInTransit(e, sent); got != c.wantInTransit {
			t.Errorf("%s: expiredInTransit = %v, want %v", c.name, got, c.wantInTransit)
		}
	}
}
