package mockserver

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mcpconform/mcpconform/mockserver/ssescript"
)

// A client (in a run: the proxy) that hangs up while the upstream is still
// streaming shows in the upstream's evidence, so a stream cut at the client
// can be told apart from one the upstream ended.
func TestExchangeShowsTheProxyHangingUp(t *testing.T) {
	m := startMock(t)
	steps := append([]ssescript.Step{ssescript.Event("1", "first")}, ssescript.Heartbeat(20*time.Millisecond, 5*time.Second, "")...)
	m.ArmStream("long", StreamMatch(MCPPath), ssescript.Script{Steps: steps})
	mark := m.Journal.Mark()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, m.MCPURL(), nil)
	req.Header = sseAccept.Clone()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "id: 1") {
		t.Fatalf("first line %q, %v", line, err)
	}
	resp.Body.Close() // hang up mid-stream
	es := m.Journal.Since(mark)
	if len(es) != 1 {
		t.Fatalf("%d journal entries, want 1", len(es))
	}
	select {
	case <-es[0].Ended():
	case <-time.After(3 * time.Second):
		t.Fatal("the journal entry never ended")
	}
	ex := es[0].Exchange()
	if !strings.Contains(ex.Error, "closed the connection") {
		t.Errorf("proxy→upstream evidence error %q, want it to say the connection was closed mid-answer", ex.Error)
	}

	// A request answered in full carries no such error.
	mark = m.Journal.Mark()
	if st, _ := fetch(t, http.MethodGet, m.BaseURL+"/.well-known/nothing-here", nil, ""); st == 0 {
		t.Fatal("no answer")
	}
	if es := m.Journal.Since(mark); len(es) != 1 || es[0].Exchange().Error != "" {
		t.Errorf("a complete answer has evidence error %q", es[0].Exchange().Error)
	}
}
