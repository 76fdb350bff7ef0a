package proxyundertest

import (
	"strings"
	"sync"
	"time"
)

// maxErrorLogLines bounds what a built-in proxy's error log keeps: a proxy
// that fails every request must not grow it without limit.
const maxErrorLogLines = 500

// ErrorLog collects what a built-in proxy logs about its upstream hop
// (ReverseProxy's ErrorLog: "read error during body copy: …", "http:
// proxy error: …"), with the time of each line, so the harness can show a
// failing case the proxy's own account of the proxy→upstream hop.
type ErrorLog struct {
	mu    sync.Mutex
	lines []LogLine
}

// LogLine is one logged line.
type LogLine struct {
	At   time.Time
	Text string
}

// Write takes one log.Logger line (it writes each line in one call).
func (l *ErrorLog) Write(p []byte) (int, error) {
	text := strings.TrimRight(string(p), "\n")
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.lines) >= maxErrorLogLines {
		l.lines = append(l.lines[:0], l.lines[len(l.lines)/2:]...) // keep the newer half
	}
	l.lines = append(l.lines, LogLine{At: time.Now(), Text: text})
	return len(p), nil
}

// Between lists the lines logged from from to to, oldest first.
func (l *ErrorLog) Between(from, to time.Time) []LogLine {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []LogLine
	for _, ln := range l.lines {
		if !ln.At.Before(from) && !ln.At.After(to) {
			out = append(out, ln)
		}
	}
	return out
}
