package main

import (
	"io"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"

	"github.com/mcpconform/mcpconform/browserprobe"
	"github.com/mcpconform/mcpconform/report"
	"github.com/mcpconform/mcpconform/scenarios"
)

// browserOptions are the flags of the browser checks: the CORS area also
// judged by a client page in headless Chromium.
type browserOptions struct {
	browser     bool
	browserPath string
}

func (o *browserOptions) addFlags(f *pflag.FlagSet) {
	f.BoolVar(&o.browser, "browser", false, "also judge the CORS scenarios (--cors) and APIKEY-008 in headless Chromium, from a client page on its own origin")
	f.StringVar(&o.browserPath, "browser-path", "", "the Chromium executable for --browser (default: chromium, chromium-browser or google-chrome on PATH)")
}

// resolveBrowser returns the Chromium to run, "" without --browser. A
// missing Chromium is a usage error that says how to install it, and so is
// --browser where no case would use it.
func (o *runOptions) resolveBrowser(roles []scenarios.Role) (string, error) {
	if !o.browser {
		return "", nil
	}
	if !o.cors && !hasRole(roles, scenarios.RoleK) {
		return "", usageErr("--browser judges the CORS area (--cors) and, for role K, APIKEY-008: add --cors")
	}
	path, err := browserprobe.Find(o.browserPath)
	if err != nil {
		return "", usageErr("--browser: %v", err)
	}
	return path, nil
}

// writeScreenshot writes the browser's screenshot of a case's client page
// next to its HAR file: har/<case>.png.
func writeScreenshot(dir string, c *report.Case) error {
	if c.Browser == nil || len(c.Browser.Screenshot) == 0 {
		return nil
	}
	name := strings.TrimSuffix(report.HARFileName(c), ".har") + ".png"
	return report.WriteFileAtomic(filepath.Join(dir, name), func(w io.Writer) error {
		_, err := w.Write(c.Browser.Screenshot)
		return err
	})
}
