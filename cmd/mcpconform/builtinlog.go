package main

import (
	"time"

	"github.com/mcpconform/mcpconform/proxyundertest"
)

// builtinLog reads a built-in proxy's error log for the cases (Env.ProxyLog).
func builtinLog(l *proxyundertest.ErrorLog) func(from, to time.Time) []string {
	return func(from, to time.Time) []string {
		var out []string
		for _, ln := range l.Between(from, to) {
			out = append(out, ln.At.Format("15:04:05.000")+" built-in proxy: "+ln.Text)
		}
		return out
	}
}
