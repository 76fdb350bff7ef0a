package main

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// action.yml is only exercised on GitHub; check here that every input it
// uses is declared, every declared input is used, and every flag it passes
// exists on `run`.
func TestActionYAML(t *testing.T) {
	data, err := os.ReadFile("../../action.yml")
	if err != nil {
		t.Fatal(err)
	}
	var action struct {
		Inputs map[string]any `yaml:"inputs"`
		Runs   struct {
			Using string `yaml:"using"`
		} `yaml:"runs"`
	}
	if err := yaml.Unmarshal(data, &action); err != nil {
		t.Fatalf("action.yml: %v", err)
	}
	if action.Runs.Using != "composite" {
		t.Errorf("runs.using = %q", action.Runs.Using)
	}
	used := map[string]bool{}
	for _, m := range regexp.MustCompile(`inputs\.([a-z-]+)`).FindAllStringSubmatch(string(data), -1) {
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
	for _, m := range regexp.MustCompile(`args\+=\((--[a-z-]+)`).FindAllStringSubmatch(string(data), -1) {
		if run.Flags().Lookup(strings.TrimPrefix(m[1], "--")) == nil {
			t.Errorf("action passes %s, which `run` does not have", m[1])
		}
	}
}
