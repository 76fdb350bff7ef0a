package main

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/mcpconform/mcpconform/report"
)

// addReproduce gives every failing case shell lines that show the failure by
// hand: start the mock armed with the case's fault, send the same request
// through the proxy with curl, and compare with what the harness expected.
// It reads the evidence after the run, so scenarios stay free of it.
func addReproduce(run *report.Run) {
	for i := range run.Cases {
		c := &run.Cases[i]
		switch c.Outcome {
		case report.Fail, report.Warn, report.Error, report.ExpectedFail:
		default:
			continue
		}
		if len(c.Reproduce) > 0 {
			continue // a scenario that knows better already set them
		}
		lines := []string{"mcpconform mock --case " + c.ID + "   # in another terminal; point the proxy's upstream at the URL it prints"}
		if x := firstClientExchange(c); x != nil {
			lines = append(lines, curlLine(&x.Request))
		}
		lines = append(lines, fmt.Sprintf("# expected: %s / observed: %s",
			oneLineOf(firstNonEmptyStr(c.Expected, "see the requirement")), oneLineOf(firstNonEmptyStr(c.Observed, c.Reason, c.Message))))
		c.Reproduce = lines
	}
}

// firstClientExchange is the first request the harness sent to the proxy.
func firstClientExchange(c *report.Case) *report.Exchange {
	for i := range c.Exchanges {
		if c.Exchanges[i].Hop == report.HopClientProxy {
			return &c.Exchanges[i]
		}
	}
	return nil
}

// curlSkip are headers curl computes itself.
var curlSkip = map[string]bool{"host": true, "content-length": true, "connection": true, "transfer-encoding": true}

// curlLine renders req as `curl -i` with the same method, headers and body.
func curlLine(req *report.Request) string {
	parts := []string{"curl", "-i", "-sS", "-N"}
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	if method != http.MethodGet || req.Body != "" {
		parts = append(parts, "-X", method)
	}
	parts = append(parts, shellQuote(req.URL))
	for _, h := range req.Headers {
		if curlSkip[strings.ToLower(h.Name)] {
			continue
		}
		parts = append(parts, "-H", shellQuote(h.Name+": "+h.Value))
	}
	if req.Body != "" {
		parts = append(parts, "--data-raw", shellQuote(req.Body))
	}
	return strings.Join(parts, " ")
}

// shellQuote wraps s in single quotes for POSIX shells.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func oneLineOf(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 300 {
		s = s[:299] + "…"
	}
	return s
}
