package scenarios

import (
	"strings"
	"testing"
	"time"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/mcpconform/mcpconform/report"
)

func TestAttachProxyLogOnlyToCasesThatDidNotPass(t *testing.T) {
	t0 := time.Now()
	var asked [2]time.Time
	st := &runState{env: &Env{ProxyLog: func(from, to time.Time) []string {
		asked = [2]time.Time{from, to}
		return []string{"built-in proxy: read error during body copy: use of closed network connection"}
	}}}
	sr := types.SpecReport{StartTime: t0, EndTime: t0.Add(time.Second)}
	for _, o := range []report.Outcome{report.Fail, report.Error, report.Warn} {
		c := &report.Case{Outcome: o, Message: "expected: x"}
		st.attachProxyLog(c, sr)
		if !strings.HasPrefix(c.Message, "expected: x\n") || !strings.Contains(c.Message, "use of closed network connection") {
			t.Errorf("%s case message %q lacks the proxy's log", o, c.Message)
		}
		if asked != [2]time.Time{sr.StartTime, sr.EndTime} {
			t.Errorf("log asked for %v, want the case's run time", asked)
		}
	}
	for _, o := range []report.Outcome{report.Pass, report.Skip, report.NotRun} {
		c := &report.Case{Outcome: o}
		st.attachProxyLog(c, sr)
		if c.Message != "" {
			t.Errorf("%s case got message %q", o, c.Message)
		}
	}
}
