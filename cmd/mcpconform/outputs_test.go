package main

import (
	"bytes"
	"context"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// --name labels every output; a rerun into the same --out leaves nothing of
// the earlier run; a role T run writes no credentials.env; `report` merges
// several results files in every format.
func TestNameCleanOutAndReportMerge(t *testing.T) {
	first := runChild(t, 2*time.Minute, "run", "--proxy", "builtin:status-rewrite", "--label-filter", "HTTP-E2E-010", "--name", "alpha-proxy")
	if first.code != exitFail {
		t.Fatalf("exit %d:\n%s", first.code, first.output)
	}
	dir := outDirOf(t, first)
	if _, err := os.Stat(filepath.Join(dir, "credentials.env")); err == nil {
		t.Error("a role T run wrote credentials.env")
	}
	for _, f := range []string{"summary.md", "report.html", "junit.xml"} {
		data, _ := os.ReadFile(filepath.Join(dir, f))
		if !bytes.Contains(data, []byte("alpha-proxy")) {
			t.Errorf("%s does not carry the --name", f)
		}
	}
	if !strings.Contains(first.output, "FAIL  alpha-proxy (builtin:status-rewrite)") {
		t.Errorf("console summary does not carry the --name:\n%s", first.output)
	}
	hars, _ := filepath.Glob(filepath.Join(dir, "har", "*.har"))
	if len(hars) == 0 {
		t.Fatal("no HAR files")
	}

	other := filepath.Join(t.TempDir(), "alpha.json")
	if err := os.WriteFile(other, mustJSON(t, first), 0o644); err != nil {
		t.Fatal(err)
	}
	// A passing run into the same folder: the failing run's HAR files go.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	second, err := childCommand(ctx, "run", "--proxy", "builtin:reference", "--label-filter", "VER-001", "--name", "beta-proxy",
		"--upstream", "127.0.0.1:0", "--out", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("%v:\n%s", err, second)
	}
	if !strings.Contains(string(second), "removed 5 output(s) of an earlier run from "+dir) {
		t.Errorf("no word about the removed files:\n%s", second)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "har", "*.har")); len(left) > 0 {
		t.Errorf("HAR files of the earlier run left behind: %v", left)
	}

	out := t.TempDir()
	var stdout bytes.Buffer
	code := execute([]string{"report", other, filepath.Join(dir, "results.json"), "--html", filepath.Join(out, "r.html"),
		"--markdown", filepath.Join(out, "s.md"), "--junit", filepath.Join(out, "j.xml"), "--har", filepath.Join(out, "har")}, &stdout, io.Discard)
	if code != 0 {
		t.Fatalf("report exit %d", code)
	}
	for _, f := range []string{"r.html", "s.md", "j.xml"} {
		data, _ := os.ReadFile(filepath.Join(out, f))
		if !bytes.Contains(data, []byte("alpha-proxy")) || !bytes.Contains(data, []byte("beta-proxy")) {
			t.Errorf("%s does not hold both runs", f)
		}
	}
	var suites struct {
		Suites []struct {
			Name string `xml:"name,attr"`
		} `xml:"testsuite"`
	}
	data, _ := os.ReadFile(filepath.Join(out, "j.xml"))
	if err := xml.Unmarshal(data, &suites); err != nil || len(suites.Suites) < 2 || !strings.HasPrefix(suites.Suites[0].Name, "alpha-proxy · ") {
		t.Errorf("junit suites %+v (err %v)", suites.Suites, err)
	}
	if hars, _ := filepath.Glob(filepath.Join(out, "har", "1-alpha-proxy", "*.har")); len(hars) == 0 {
		t.Errorf("no HAR folder for the first run; report said %q", stdout.String())
	}
}

func mustJSON(t *testing.T, cr childRun) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(outDirOf(t, cr), "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// A folder that no earlier run wrote (no results.json of mcpconform) keeps
// what is in it: files named like a run's outputs are the user's, and the
// run refuses, with a usage error, rather than remove or overwrite them.
func TestCleanOutLeavesTheUsersFiles(t *testing.T) {
	dir := t.TempDir()
	mine := map[string]string{"credentials.env": "DATABASE_PASSWORD=hunter2\n", "summary.md": "# my notes\n"}
	for name, data := range mine {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var stderr bytes.Buffer
	code := execute([]string{"run", "--proxy", "builtin:reference", "--label-filter", "VER-001", "--upstream", "127.0.0.1:0", "--out", dir}, io.Discard, &stderr)
	if code != exitUsage || !strings.Contains(stderr.String(), "no results.json of an earlier mcpconform run") {
		t.Errorf("exit %d, want %d with the reason:\n%s", code, exitUsage, stderr.String())
	}
	for name, data := range mine {
		if got, err := os.ReadFile(filepath.Join(dir, name)); err != nil || string(got) != data {
			t.Errorf("%s: %q, %v; want the user's file untouched", name, got, err)
		}
	}
}
