package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/mcpconform/mcpconform/mockserver"
	"github.com/mcpconform/mcpconform/scenarios"
)

// matchInitialize is where the reproducible faults answer: the first POST of
// a session, as in the scenarios.
var mockMatchInitialize = mockserver.Match{Method: http.MethodPost, Path: mockserver.MCPPath, RPCMethod: "initialize"}

// caseFault returns the fault a case arms on the mock, for the cases whose
// failure is a single canned upstream answer. ok is false for cases that need
// the full harness (sessions, timing, several hops).
func caseFault(m *mockserver.Mock, id string) (f mockserver.Fault, describe string, ok bool, err error) {
	sc, found := scenarios.Lookup(id)
	if !found {
		return f, "", false, fmt.Errorf("unknown case %q (see `mcpconform list`)", id)
	}
	_, row, hasRow := strings.Cut(id, "/")
	if len(sc.Rows) > 0 && !hasRow {
		return f, "", false, fmt.Errorf("%s is table-driven; name a row: %s", sc.ID, strings.Join(sc.CaseIDs(), ", "))
	}
	switch sc.ID {
	case "AUTH-HDR-001":
		// Rows: WWWA-NN on POST initialize, WWWA-NN-mid on a tools/list
		// inside a session (scenarios/bridging.go).
		chID, leg := row, ""
		if base, ok := strings.CutSuffix(row, "-mid"); ok {
			chID, leg = base, "mid"
		}
		ch, found := mockserver.ChallengeByID(chID)
		if !found || (leg == "" && !strings.HasPrefix(row, "WWWA-")) {
			return f, "", false, fmt.Errorf("AUTH-HDR-001 has no row %q", row)
		}
		match := mockMatchInitialize
		if leg == "mid" {
			match = mockserver.Match{Method: http.MethodPost, Path: mockserver.MCPPath, RPCMethod: "tools/list"}
		} else if ch.ID == "WWWA-38" {
			return f, "", false, nil // GET resume needs a session and an event id
		}
		f = ch.Fault(m, match)
	case "HTTP-E2E-010":
		// Rows: NNN on POST initialize, NNN-get on the GET stream, NNN-delete
		// on DELETE.
		code, leg, _ := strings.Cut(row, "-")
		status, err := strconv.Atoi(code)
		if err != nil || http.StatusText(status) == "" {
			return f, "", false, fmt.Errorf("HTTP-E2E-010 has no row %q", row)
		}
		match := mockMatchInitialize
		switch leg {
		case "":
		case "get":
			match = mockserver.Match{Method: http.MethodGet, Path: mockserver.MCPPath}
		case "delete":
			match = mockserver.Match{Method: http.MethodDelete, Path: mockserver.MCPPath}
		default:
			return f, "", false, fmt.Errorf("HTTP-E2E-010 has no row %q", row)
		}
		f = mockserver.Fault{Name: "status-" + row, Match: match, Status: status, Body: mockserver.ErrorBody(status),
			Fields: []mockserver.Field{{Name: "Content-Type", Value: "application/json"}}}
		if status == http.StatusAccepted {
			f.Body, f.Fields = "", nil
		}
		if status == http.StatusUnauthorized || status == http.StatusForbidden {
			f.Fields = append(f.Fields, mockserver.Field{Name: "WWW-Authenticate", Value: `Bearer resource_metadata="` + m.PRMURL() + `"`})
		}
		if status == http.StatusMethodNotAllowed {
			f.Fields = append(f.Fields, mockserver.Field{Name: "Allow", Value: "POST"})
		}
	case "HTTP-E2E-008":
		if row != "initialize" {
			return f, "", false, nil
		}
		f = mockserver.Fault{Name: "401", Match: mockMatchInitialize, Status: http.StatusUnauthorized, Body: mockserver.ErrorBody(401),
			Fields: []mockserver.Field{
				{Name: "WWW-Authenticate", Value: `Bearer realm="mcp", error="invalid_token", resource_metadata="` + m.PRMURL() + `"`},
				{Name: "Content-Type", Value: "application/json"}}}
	default:
		return f, "", false, nil
	}
	f.Times = -1 // every matching request, until Ctrl-C
	var b strings.Builder
	what := f.Match.Method + " " + f.Match.Path
	if f.Match.RPCMethod != "" {
		what += " with JSON-RPC " + f.Match.RPCMethod
		if f.Match.RPCMethod != "initialize" {
			what += " (inside a session: initialize first)"
		}
	}
	fmt.Fprintf(&b, "every %s is answered:\n  HTTP %d\n", what, f.Status)
	for _, fl := range f.Fields {
		fmt.Fprintf(&b, "  %s: %s\n", fl.Name, fl.Value)
	}
	if f.Raw != nil {
		b.WriteString("  (written on the raw socket: the field lines are not something net/http can emit)\n")
	}
	fmt.Fprintf(&b, "  %s\n", f.Body)
	return f, b.String(), true, nil
}

// mockReproducible reports whether `mock --case id` can arm the case's
// fault. Building a fault only reads the mock's BaseURL, so an unstarted Mock
// answers the question.
func mockReproducible(id string) bool {
	_, _, ok, err := caseFault(&mockserver.Mock{BaseURL: "http://" + mockserver.DefaultAddr}, id)
	return ok && err == nil
}

func newMockCmd(stdout, stderr io.Writer) *cobra.Command {
	var (
		addr   string
		caseID string
		stdio  bool
	)
	cmd := &cobra.Command{
		Use:   "mock [--addr 127.0.0.1:7411] [--case ID[/ROW]] [--stdio]",
		Short: "Serve the mock MCP upstream on its own, optionally armed with one case's fault",
		Long: `Serve the mock MCP upstream until Ctrl-C, to reproduce a failure by hand: point the proxy's
upstream at the printed URL, then send the curl line from the report's "reproduce" section.
--case arms the mock permanently with that case's fault (AUTH-HDR-001/ROW, HTTP-E2E-010/ROW,
HTTP-E2E-008/initialize); other cases need the full harness ('mcpconform run --focus ID').
--stdio speaks MCP on stdin/stdout instead, for stdio bridges that spawn their upstream.`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if stdio {
				if caseID != "" {
					return usageErr("--case does not apply to --stdio (faults are HTTP answers)")
				}
				return mockserver.ServeStdio(ctx, slog.New(slog.NewTextHandler(stderr, nil)))
			}
			m, err := mockserver.Start(mockserver.Options{Addr: addr})
			if err != nil {
				return usageErr("%v", err)
			}
			defer m.Close()
			if caseID != "" {
				f, describe, ok, err := caseFault(m, caseID)
				if err != nil {
					return usageErr("--case: %v", err)
				}
				if ok {
					m.Arm(f)
					fmt.Fprintf(stdout, "armed %s: %s", caseID, describe)
				} else {
					fmt.Fprintf(stdout, "%s needs the full harness (sessions, timing or several hops): run\n  mcpconform run --proxy URL --focus '%s'\nserving the plain mock meanwhile.\n", caseID, caseID)
				}
			}
			fmt.Fprintf(stdout, "mock upstream %s  (legacy SSE %s)\n", m.MCPURL(), m.SSEURL())
			fmt.Fprintf(stdout, "point the proxy's upstream at %s (origin %s); Ctrl-C stops\n", m.MCPURL(), m.BaseURL)
			<-ctx.Done()
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&addr, "addr", mockserver.DefaultAddr, "address to listen on (loopback)")
	f.StringVar(&caseID, "case", "", "arm the fault of this case (ID/ROW) on every matching request")
	f.BoolVar(&stdio, "stdio", false, "speak MCP on stdin/stdout instead of HTTP")
	return cmd
}
