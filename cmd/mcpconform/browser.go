package main

import (
	"github.com/spf13/pflag"

	"github.com/mcpconform/mcpconform/browserprobe"
)

// browserOptions are the flags of the browser checks: the CORS area also
// judged by a client page in headless Chromium.
type browserOptions struct {
	browser     bool
	browserPath string
}

func (o *browserOptions) addFlags(f *pflag.FlagSet) {
	f.BoolVar(&o.browser, "browser", false, "also judge the CORS scenarios in headless Chromium, from a client page on its own origin (implies --cors)")
	f.StringVar(&o.browserPath, "browser-path", "", "the Chromium executable for --browser (default: chromium, chromium-browser or google-chrome on PATH)")
}

// resolveBrowser returns the Chromium to run, "" without --browser. A
// missing Chromium is a usage error that says how to install it.
func (o *browserOptions) resolveBrowser() (string, error) {
	if !o.browser {
		return "", nil
	}
	path, err := browserprobe.Find(o.browserPath)
	if err != nil {
		return "", usageErr("--browser: %v", err)
	}
	return path, nil
}
