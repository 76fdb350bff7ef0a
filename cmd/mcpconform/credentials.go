package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/mcpconform/mcpconform/mockserver"
	"github.com/mcpconform/mcpconform/proxyundertest"
	"github.com/mcpconform/mcpconform/report"
	"github.com/mcpconform/mcpconform/scenarios"
)

// mockOptions starts the mock AS for every run (it is cheap) and turns the
// upstream's token gate on when the proxy injects tokens (role I).
func (o *runOptions) mockOptions(roles []scenarios.Role) mockserver.Options {
	gate := false
	for _, r := range roles {
		gate = gate || r == scenarios.RoleI
	}
	return mockserver.Options{Addr: o.upstream, Authz: true, Gate: gate, TokenTTL: o.tokenTTL, AllowNonLoopback: o.listenAny, Revision: o.specVersion}
}

// authzCredentials fills what an injecting proxy needs from the mock AS.
// The same values feed the {token_url} {client_id} {client_secret}
// {refresh_token} {resource} launch placeholders. In a role I run they are
// also written to credentials.env (in --out, else a private temporary
// file, returned as tmp for the run to remove when it ends: the values are
// good for this run only), for a proxy configured by hand; the secrets are
// never printed.
func authzCredentials(w io.Writer, m *mockserver.Mock, popt *proxyundertest.Options, out string, injector bool) (tmp string, err error) {
	if m.Authz == nil {
		return "", nil
	}
	popt.TokenURL = m.Authz.TokenURL()
	popt.ClientID = mockserver.AuthzClientID
	popt.ClientSecret = m.AuthzClientSecret()
	popt.RefreshToken = m.Authz.InitialRefreshToken()
	popt.Resource = m.MCPURL()
	if !injector {
		return "", nil
	}
	env := fmt.Sprintf("MCPCONFORM_TOKEN_URL=%s\nMCPCONFORM_CLIENT_ID=%s\nMCPCONFORM_CLIENT_SECRET=%s\nMCPCONFORM_REFRESH_TOKEN=%s\nMCPCONFORM_RESOURCE=%s\n",
		popt.TokenURL, popt.ClientID, popt.ClientSecret, popt.RefreshToken, popt.Resource)
	fmt.Fprintf(w, "authorization   %s  (token URL %s, client %s, resource %s)\n", m.AuthzURL, popt.TokenURL, popt.ClientID, popt.Resource)
	var path string
	if out != "" {
		path = filepath.Join(out, "credentials.env")
		if err := os.WriteFile(path, []byte(env), 0o600); err != nil {
			return "", fmt.Errorf("writing %s: %w", path, err)
		}
	} else {
		f, err := os.CreateTemp("", "mcpconform-credentials-*.env")
		if err != nil {
			return "", err
		}
		path = f.Name()
		_, err = f.WriteString(env)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(path)
			return "", fmt.Errorf("writing %s: %w", path, err)
		}
		tmp = path
	}
	fmt.Fprintf(w, "proxy credentials (role I: client secret, refresh token; valid for this run only) in %s\n", path)
	return tmp, nil
}

// redactText replaces every secret (4 bytes or more) in s by its report
// fingerprint, longest first, for lines printed to the console.
func redactText(s string, secrets []string) string {
	ss := append([]string(nil), secrets...)
	sort.Slice(ss, func(i, j int) bool { return len(ss[i]) > len(ss[j]) })
	for _, sec := range ss {
		if len(sec) >= 4 {
			s = strings.ReplaceAll(s, sec, report.Fingerprint(sec))
		}
	}
	return s
}

// runOutputs are the files and folders a run writes into --out. A rerun
// into the same folder removes them first, so nothing of an earlier run
// (a HAR of a case that passes now, credentials of a role I run) is left
// to be read as this run's.
var runOutputs = []string{"results.json", "junit.xml", "summary.md", "report.html", "credentials.env", "har"}

// cleanOut removes the outputs of an earlier run from dir and says how many
// it removed. Other files are left alone; har/ is removed only when it
// holds nothing but .har files and the browser's .png screenshots.
//
// It removes them only from a folder an earlier run wrote, known by its
// results.json: files of those names in any other folder are the user's,
// and the run refuses to overwrite them.
func cleanOut(dir string) (int, error) {
	var present []string
	for _, name := range runOutputs {
		if _, err := os.Lstat(filepath.Join(dir, name)); err == nil {
			present = append(present, name)
		}
	}
	if len(present) == 0 {
		return 0, nil
	}
	if r, err := report.ReadJSONFile(filepath.Join(dir, "results.json")); err != nil || r.Tool.Name != "mcpconform" {
		return 0, fmt.Errorf("%s holds %s but no results.json of an earlier mcpconform run: not removing or overwriting them (choose an empty --out)", dir, strings.Join(present, ", "))
	}
	n := 0
	for _, name := range runOutputs {
		p := filepath.Join(dir, name)
		st, err := os.Lstat(p)
		if err != nil {
			continue
		}
		if st.IsDir() {
			entries, err := os.ReadDir(p)
			if err != nil {
				return n, err
			}
			for _, e := range entries {
				// .png: the browser's screenshot of a case (--browser).
				if e.IsDir() || !(strings.HasSuffix(e.Name(), ".har") || strings.HasSuffix(e.Name(), ".png")) {
					return n, fmt.Errorf("%s holds %s, which is not a HAR file or screenshot of a run: not removing it (choose an empty --out)", p, e.Name())
				}
			}
			if err := os.RemoveAll(p); err != nil {
				return n, err
			}
		} else if err := os.Remove(p); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// secretRedactor holds the run's secrets: the reports are redacted with
// them (publicCopy), and so is what the run prints: the proxy's URL (a key
// in its query), the launched proxy's output, a body the preflight quotes.
type secretRedactor struct {
	mu      sync.Mutex
	secrets []string
}

// add registers secrets known only later in the run (the AS credentials).
func (c *secretRedactor) add(secrets ...string) {
	c.mu.Lock()
	c.secrets = append(c.secrets, secrets...)
	c.mu.Unlock()
}

// list is a copy of the secrets registered so far.
func (c *secretRedactor) list() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.secrets...)
}

func (c *secretRedactor) text(s string) string { return redactText(s, c.list()) }

// writer wraps w; writes are console lines, each redacted whole.
func (c *secretRedactor) writer(w io.Writer) io.Writer { return &redactingWriter{w: w, c: c} }

type redactingWriter struct {
	w io.Writer
	c *secretRedactor
}

func (r *redactingWriter) Write(p []byte) (int, error) {
	if _, err := io.WriteString(r.w, r.c.text(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Fd is the wrapped file's, so the console still knows a terminal.
func (r *redactingWriter) Fd() uintptr {
	if f, ok := r.w.(interface{ Fd() uintptr }); ok {
		return f.Fd()
	}
	return ^uintptr(0)
}
