package main

import (
	"strings"

	"github.com/mcpconform/mcpconform/proxyundertest"
	"github.com/mcpconform/mcpconform/scenarios"
)

// checkSelection validates --label-filter and --focus and refuses a
// selection of no case: a typo in a CI filter must not be a green build
// that checked nothing. Both are usage errors, in one plain line.
func checkSelection(labelFilter string, focus []string) error {
	f := scenarios.Filters{LabelFilter: labelFilter, Focus: focus}
	ids, err := f.Select()
	if err != nil {
		return usageErr("%v", err)
	}
	if len(ids) == 0 {
		return usageErr("%s selects no case (`mcpconform list` shows the case IDs; labels are areas such as sse or apikey, scenario IDs and row IDs)", f)
	}
	return nil
}

// checkBuiltin refuses an unknown builtin:NAME before anything starts.
func checkBuiltin(proxy string) error {
	name, ok := strings.CutPrefix(proxy, proxyundertest.BuiltinPrefix)
	if !ok {
		return nil
	}
	if _, ok := proxyundertest.Lookup(name); !ok {
		return usageErr("--proxy %s: no such built-in proxy (builtin:reference passes everything; `mcpconform list --builtins` lists the others)", proxy)
	}
	return nil
}
