package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

type actionFile struct {
	Inputs map[string]any `yaml:"inputs"`
	Runs   struct {
		Using string `yaml:"using"`
		Steps []struct {
			Name string            `yaml:"name"`
			Uses string            `yaml:"uses"`
			Run  string            `yaml:"run"`
			Env  map[string]string `yaml:"env"`
		} `yaml:"steps"`
	} `yaml:"runs"`
}

func readAction(t *testing.T) (actionFile, string) {
	t.Helper()
	data, err := os.ReadFile("../../action.yml")
	if err != nil {
		t.Fatal(err)
	}
	var action actionFile
	if err := yaml.Unmarshal(data, &action); err != nil {
		t.Fatalf("action.yml: %v", err)
	}
	return action, string(data)
}

// action.yml is only exercised on GitHub; check here that every input it
// uses is declared, every declared input is used, every flag it passes
// exists on `run`, and it does not set up Go for the caller.
func TestActionYAML(t *testing.T) {
	action, data := readAction(t)
	if action.Runs.Using != "composite" {
		t.Errorf("runs.using = %q", action.Runs.Using)
	}
	used := map[string]bool{}
	for _, m := range regexp.MustCompile(`inputs\.([a-z-]+)`).FindAllStringSubmatch(data, -1) {
		used[m[1]] = true
		if _, ok := action.Inputs[m[1]]; !ok {
			t.Errorf("inputs.%s used but not declared", m[1])
		}
	}
	for name := range action.Inputs {
		if !used[name] {
			t.Errorf("input %s declared but never used", name)
		}
	}
	run := newRunCmd(nil, nil)
	for _, m := range regexp.MustCompile(`args\+=\((--[a-z-]+)`).FindAllStringSubmatch(data, -1) {
		if run.Flags().Lookup(strings.TrimPrefix(m[1], "--")) == nil {
			t.Errorf("action passes %s, which `run` does not have", m[1])
		}
	}
	for _, s := range action.Runs.Steps {
		if strings.HasPrefix(s.Uses, "actions/setup-go") {
			t.Error("the action sets up Go, which changes the Go of the caller's later steps")
		}
		if strings.HasPrefix(s.Uses, "actions/cache") && strings.Contains(data, "${{ hashFiles(") {
			t.Error("hashFiles() reads only the workspace; the action's files are outside it")
		}
	}
}

// The run step passes `args` one argument per line, exactly: the README's
// own example (--label-filter 'SESS-001 || VER-001') reaches mcpconform as
// two arguments, the expression intact. The step's script is taken from
// action.yml and run with bash against a stand-in binary that prints its
// arguments.
func TestActionArgsFromREADME(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash not installed")
	}
	action, _ := readAction(t)
	script := ""
	for _, s := range action.Runs.Steps {
		if s.Name == "Run mcpconform" {
			script = s.Run
		}
	}
	if script == "" {
		t.Fatal("no 'Run mcpconform' step")
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	// The CI example: the yaml block that uses the action.
	var args string
	for _, m := range regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(string(readme), -1) {
		if !strings.Contains(m[1], "uses: mcpconform/mcpconform@") {
			continue
		}
		var wf struct {
			Jobs map[string]struct {
				Steps []struct {
					Uses string            `yaml:"uses"`
					With map[string]string `yaml:"with"`
				} `yaml:"steps"`
			} `yaml:"jobs"`
		}
		if err := yaml.Unmarshal([]byte(m[1]), &wf); err != nil {
			t.Fatalf("README CI example: %v", err)
		}
		for _, j := range wf.Jobs {
			for _, s := range j.Steps {
				if strings.HasPrefix(s.Uses, "mcpconform/mcpconform@") {
					args = s.With["args"]
				}
			}
		}
	}
	if !strings.Contains(args, "SESS-001 || VER-001") {
		t.Fatalf("the README's CI example has no args with the label filter: %q", args)
	}

	dir := t.TempDir()
	fake := filepath.Join(dir, "mcpconform")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\nfor a in \"$@\"; do printf '[%s]\\n' \"$a\"; done\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "github-output")
	cmd := exec.Command(bash, "-c", script)
	cmd.Env = append(os.Environ(), "MCPCONFORM="+fake, "GITHUB_OUTPUT="+out,
		"IN_PROXY=", "IN_PROXY_CMD=exec ./my-proxy --listen 127.0.0.1:{port} --upstream {upstream}", "IN_PROFILE=", "IN_ROLE=T",
		"IN_BASELINE=", "IN_STRICT=false", "IN_OUT=mcpconform-out", "IN_NAME=my proxy", "IN_ARGS="+args)
	printed, err := cmd.Output()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("the step should exit with mcpconform's code 1: %v\n%s", err, printed)
	}
	got := strings.Split(strings.TrimSpace(string(printed)), "\n")
	want := []string{"[run]", "[--out]", "[mcpconform-out]", "[--proxy-cmd]", "[exec ./my-proxy --listen 127.0.0.1:{port} --upstream {upstream}]",
		"[--role]", "[T]", "[--name]", "[my proxy]", "[--label-filter]", "[SESS-001 || VER-001]"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("arguments\n got %q\nwant %q", got, want)
	}
	if data, _ := os.ReadFile(out); string(data) != "exit-code=1\n" {
		t.Errorf("GITHUB_OUTPUT = %q", data)
	}
	// And the flags parse as mcpconform's own: the expression is a valid
	// label filter, not a stray command.
	if err := newRunCmd(nil, nil).Flags().Parse([]string{"--label-filter", "SESS-001 || VER-001"}); err != nil {
		t.Error(err)
	}
}
