package proxyundertest

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"gopkg.in/yaml.v3"
)

// Profile describes one proxy product for `mcpconform run --profile FILE`:
// how to reach or launch it and what it declares, so a CI job or `make peers`
// needs one flag instead of a dozen. Flags given on the command line override
// the profile's values.
type Profile struct {
	Name    string `yaml:"name"`
	Version string `yaml:"version,omitempty"`
	// URL is the proxy's MCP endpoint; it may hold {port} when Launch is set.
	URL string `yaml:"url,omitempty"`
	// SSEURL is the proxy's legacy HTTP+SSE endpoint when it is not the MCP
	// URL with /sse for /mcp (--proxy-sse).
	SSEURL string `yaml:"sse-url,omitempty"`
	// SpecVersion is the MCP revision to judge against (--spec-version).
	SpecVersion string `yaml:"spec-version,omitempty"`
	// Launch is a --proxy-cmd template.
	Launch        string        `yaml:"launch,omitempty"`
	LaunchTimeout time.Duration `yaml:"launch-timeout,omitempty"`
	Roles         []string      `yaml:"roles,omitempty"`
	APIKey        *ProfileKey   `yaml:"api-key,omitempty"`
	BrowserFacing bool          `yaml:"browser-facing,omitempty"`
	// UpstreamStdio: the proxy spawns `mcpconform mock --stdio` as its
	// upstream (--upstream-stdio).
	UpstreamStdio bool     `yaml:"upstream-stdio,omitempty"`
	Headers       []string `yaml:"headers,omitempty"`
	// Tolerance overrides the timing knobs for proxies that are slow by
	// design (a bridge that spawns a child per session).
	Tolerance ProfileTolerance `yaml:"tolerance,omitempty"`
	// Baseline is a baseline file, relative to the profile's folder.
	Baseline string `yaml:"baseline,omitempty"`

	// Browser also judges the CORS area in headless Chromium (--browser);
	// BrowserPath is its executable (--browser-path).
	Browser     bool   `yaml:"browser,omitempty"`
	BrowserPath string `yaml:"browser-path,omitempty"`

	// Dir is the folder the profile was read from ({profile_dir}).
	Dir string `yaml:"-"`
}

// ProfileKey is the role K gate of a profile.
type ProfileKey struct {
	Value       string   `yaml:"value,omitempty"`
	Header      string   `yaml:"header,omitempty"`
	Exempt      []string `yaml:"exempt,omitempty"`
	NamedServer string   `yaml:"named-server,omitempty"`
}

// ProfileTolerance holds the timing overrides of a profile.
type ProfileTolerance struct {
	Timeout      time.Duration `yaml:"timeout,omitempty"`
	SSEGap       time.Duration `yaml:"sse-gap,omitempty"`
	SSETolerance time.Duration `yaml:"sse-tolerance,omitempty"`
	TokenTTL     time.Duration `yaml:"token-ttl,omitempty"`
}

// LoadProfile reads a profile; unknown keys are errors, so a misspelt key
// does not silently fall back to a default.
func LoadProfile(path string) (*Profile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var p Profile
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("profile %s: %w", path, err)
	}
	if p.Name == "" {
		return nil, fmt.Errorf("profile %s: name is required", path)
	}
	if p.URL == "" && p.Launch == "" {
		return nil, fmt.Errorf("profile %s: set url, launch, or both", path)
	}
	abs, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	p.Dir = abs
	if p.Baseline != "" && !filepath.IsAbs(p.Baseline) {
		p.Baseline = filepath.Join(abs, p.Baseline)
	}
	return &p, nil
}
