package scenarios

import (
	"strings"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/mcpconform/mcpconform/report"
)

// maxProxyLogLines bounds the proxy log lines one case shows.
const maxProxyLogLines = 10

// attachProxyLog adds to a case that did not pass what the proxy logged
// while it ran (Env.ProxyLog): for a built-in, the proxy's own account of
// the upstream hop, e.g. "read error during body copy: use of closed network
// connection" next to a client that saw "unexpected EOF". Passing cases get
// nothing: scripted upstream cuts are logged too and are no news there.
func (st *runState) attachProxyLog(c *report.Case, sr types.SpecReport) {
	if st.env == nil || st.env.ProxyLog == nil {
		return
	}
	switch c.Outcome {
	case report.Fail, report.Warn, report.Info, report.Error:
	default:
		return
	}
	lines := st.env.ProxyLog(sr.StartTime, sr.EndTime)
	if len(lines) == 0 {
		return
	}
	if len(lines) > maxProxyLogLines {
		lines = append(lines[:maxProxyLogLines:maxProxyLogLines], "…")
	}
	var b strings.Builder
	b.WriteString(c.Message)
	if b.Len() > 0 {
		b.WriteString("\n")
	}
	b.WriteString("the proxy logged while this case ran:")
	for _, l := range lines {
		b.WriteString("\n  | " + l)
	}
	c.Message = b.String()
}
