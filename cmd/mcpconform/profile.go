package main

import (
	"strings"

	"github.com/mcpconform/mcpconform/proxyundertest"
)

// applyProfile fills every option the command line did not set from the
// --profile file. changed reports whether a flag was given explicitly.
func (o *runOptions) applyProfile(changed func(string) bool) error {
	p, err := proxyundertest.LoadProfile(o.profile)
	if err != nil {
		return err
	}
	o.profileDir = p.Dir
	o.proxyName, o.proxyVersion = p.Name, p.Version
	set := func(flag string, apply func()) {
		if !changed(flag) {
			apply()
		}
	}
	if p.URL != "" {
		set("proxy", func() { o.proxy = p.URL })
	}
	if p.SpecVersion != "" {
		set("spec-version", func() { o.specVersion = p.SpecVersion })
	}
	if p.SSEURL != "" {
		set("proxy-sse", func() { o.proxySSE = p.SSEURL })
	}
	if p.Launch != "" && !changed("proxy") {
		set("proxy-cmd", func() { o.proxyCmd = p.Launch })
	}
	if p.LaunchTimeout > 0 {
		set("launch-timeout", func() { o.launchTimeout = p.LaunchTimeout })
	}
	if len(p.Roles) > 0 {
		set("role", func() { o.role = strings.Join(p.Roles, ",") })
	}
	if k := p.APIKey; k != nil {
		if k.Value != "" {
			set("api-key", func() { o.apiKey = k.Value })
		}
		if k.Header != "" {
			set("api-key-header", func() { o.apiKeyHeader = k.Header })
		}
		if k.Exempt != nil {
			set("exempt", func() { o.exempt = k.Exempt })
		}
		if k.NamedServer != "" {
			set("named-server", func() { o.namedServer = k.NamedServer })
		}
	}
	if p.BrowserFacing {
		set("cors", func() { o.cors = true })
	}
	if p.UpstreamStdio {
		set("upstream-stdio", func() { o.upstreamStdio = true })
	}
	if p.Browser {
		set("browser", func() { o.browser = true })
	}
	if p.BrowserPath != "" {
		set("browser-path", func() { o.browserPath = p.BrowserPath })
	}
	if len(p.Headers) > 0 {
		set("header", func() { o.headers = p.Headers })
	}
	t := p.Tolerance
	if t.Timeout > 0 {
		set("timeout", func() { o.timeout = t.Timeout })
	}
	if t.SSEGap > 0 {
		set("sse-gap", func() { o.sseGap = t.SSEGap })
	}
	if t.SSETolerance > 0 {
		set("sse-tolerance", func() { o.sseTolerance = t.SSETolerance })
	}
	if t.TokenTTL > 0 {
		set("token-ttl", func() { o.tokenTTL = t.TokenTTL })
	}
	if p.Baseline != "" {
		set("baseline", func() { o.baseline = p.Baseline })
	}
	return nil
}
