package browserprobe

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
)

// executables are the names a Chromium build is installed under: Debian's
// package, Ubuntu's and Fedora's, Google's builds.
var executables = []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome"}

// InstallHint says how to get Chromium, for messages that end a run.
const InstallHint = "install Chromium (Debian/Ubuntu: apt-get install chromium) or give its path with --browser-path"

// ErrNotFound is returned by Find when no Chromium is installed.
var ErrNotFound = errors.New("chromium not found")

// Find returns the Chromium executable to run: path when given (it must be
// an executable file), else the first of the usual names on PATH.
func Find(path string) (string, error) {
	if path != "" {
		fi, err := os.Stat(path)
		if err != nil {
			return "", fmt.Errorf("%w: %v; %s", ErrNotFound, err, InstallHint)
		}
		if fi.IsDir() || fi.Mode()&0o111 == 0 {
			return "", fmt.Errorf("%w: %s is not an executable file; %s", ErrNotFound, path, InstallHint)
		}
		return path, nil
	}
	for _, name := range executables {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w on PATH (looked for %v); %s", ErrNotFound, executables, InstallHint)
}
