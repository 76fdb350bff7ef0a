package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The role I and K placeholders of --proxy-cmd carry the run's real
// credentials: the mock AS is started (and the API key chosen) before the
// launch template is expanded, so a launched I,K proxy can be configured
// from its command line. The proxy here prints what it was given and then
// serves HTTP; the values must equal those in credentials.env and the ones
// the run declared.
func TestProxyCmdPlaceholdersIK(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 not installed")
	}
	const key = "placeholder-key-0123456789abcdef"
	names := []string{"token_url", "client_id", "client_secret", "refresh_token", "resource", "api_key", "api_key_header"}
	var echo []string
	for _, n := range names {
		echo = append(echo, n+"=[{"+n+"}]")
	}
	script := "echo " + strings.Join(echo, " ") + "; exec python3 -m http.server {port} --bind 127.0.0.1"
	cr := runChild(t, 2*time.Minute, "run", "--role", "I,K", "--api-key", key, "--api-key-header", "X-Test-Key",
		"--unredacted", "--proxy-cmd", script, "--label-filter", "VER-001", "--no-preflight")
	// http.server answers POST with 501: launched, reached, non-conformant.
	if cr.code != exitFail {
		t.Fatalf("exit %d, want %d:\n%s", cr.code, exitFail, cr.output)
	}
	got := map[string]string{}
	for _, m := range regexp.MustCompile(`(\w+)=\[([^\]]*)\]`).FindAllStringSubmatch(cr.run.ProxyLog, -1) {
		got[m[1]] = m[2]
	}
	env, err := os.ReadFile(filepath.Join(outDirOf(t, cr), "credentials.env"))
	if err != nil {
		t.Fatalf("credentials.env: %v", err)
	}
	want := map[string]string{"api_key": key, "api_key_header": "X-Test-Key", "resource": cr.run.Upstream}
	for _, line := range strings.Split(strings.TrimSpace(string(env)), "\n") {
		k, v, _ := strings.Cut(line, "=")
		want[strings.ToLower(strings.TrimPrefix(k, "MCPCONFORM_"))] = v
	}
	for _, n := range names {
		switch {
		case want[n] == "":
			t.Errorf("no expected value for {%s} (credentials.env: %q)", n, env)
		case got[n] != want[n]:
			t.Errorf("{%s} expanded to %q, want %q", n, got[n], want[n])
		}
	}
	if t.Failed() {
		t.Logf("proxy log:\n%s", cr.run.ProxyLog)
	}
}

// The AS credentials a launched proxy is given are redacted from the reports
// like the API key, although they only exist once the mock has started
// (after the run built its list of secrets).
func TestProxyCmdCredentialsRedacted(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 not installed")
	}
	script := "echo secret=[{client_secret}] refresh=[{refresh_token}] key=[{api_key}]; exec python3 -m http.server {port} --bind 127.0.0.1"
	cr := runChild(t, 2*time.Minute, "run", "--role", "I,K", "--proxy-cmd", script, "--label-filter", "VER-001", "--no-preflight")
	if cr.code != exitFail {
		t.Fatalf("exit %d, want %d:\n%s", cr.code, exitFail, cr.output)
	}
	dir := outDirOf(t, cr)
	env, err := os.ReadFile(filepath.Join(dir, "credentials.env"))
	if err != nil {
		t.Fatalf("credentials.env: %v", err)
	}
	var secrets []string
	for _, line := range strings.Split(strings.TrimSpace(string(env)), "\n") {
		if k, v, _ := strings.Cut(line, "="); k == "MCPCONFORM_CLIENT_SECRET" || k == "MCPCONFORM_REFRESH_TOKEN" {
			secrets = append(secrets, v)
		}
	}
	if len(secrets) != 2 {
		t.Fatalf("credentials.env lacks the client secret or refresh token:\n%s", env)
	}
	if !strings.Contains(cr.run.ProxyLog, "secret=[<redacted") {
		t.Errorf("the proxy log does not show the redacted placeholder output:\n%s", cr.run.ProxyLog)
	}
	// Nor are they printed: the launch line and the credentials line name
	// the file, never the values.
	for _, s := range secrets {
		if strings.Contains(cr.output, s) {
			t.Errorf("the console output contains the credential %s…:\n%s", s[:6], cr.output)
		}
	}
	if !strings.Contains(cr.output, "in "+filepath.Join(dir, "credentials.env")) {
		t.Errorf("the console does not say where credentials.env is:\n%s", cr.output)
	}
	for _, name := range []string{"results.json", "junit.xml", "summary.md", "report.html"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, s := range secrets {
			if strings.Contains(string(data), s) {
				t.Errorf("%s contains the credential %s…", name, s[:6])
			}
		}
	}
}
