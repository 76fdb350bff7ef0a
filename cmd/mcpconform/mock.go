package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/mcpconform/mcpconform/mockserver"
	"github.com/mcpconform/mcpconform/proxyundertest"
	"github.com/mcpconform/mcpconform/report"
)

func newMockCmd(stdout, stderr io.Writer) *cobra.Command {
	var (
		addr    string
		replay  string
		caseID  string
		proxy   string
		stdio   bool
		holdFor time.Duration
	)
	cmd := &cobra.Command{
		Use:   "mock [--addr 127.0.0.1:7411] [--replay results.json --case ID [--proxy URL|builtin:NAME]] [--stdio]",
		Short: "Serve the mock MCP upstream on its own, or replay one case's upstream answers from results.json",
		Long: `Serve the mock MCP upstream until Ctrl-C.

--replay results.json --case ID serves instead exactly what the mock answered the proxy in that
case of that run (recorded at the proxy→upstream hop), for any scenario: point the proxy's
upstream at the printed URL and send the printed curl lines through the proxy. --proxy URL
sets the proxy address in those lines; --proxy builtin:NAME starts that built-in proxy in
front of the replay. What cannot be replayed byte for byte (redacted credentials, bodies cut
at the evidence cap) is said at the start.

--stdio speaks MCP on stdin/stdout instead, for stdio bridges that spawn their upstream.`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if stdio {
				if replay != "" || caseID != "" {
					return usageErr("--replay does not apply to --stdio (the recorded answers are HTTP)")
				}
				return mockserver.ServeStdio(ctx, slog.New(slog.NewTextHandler(stderr, nil)))
			}
			if caseID != "" && replay == "" {
				return usageErr("--case needs --replay results.json: the replay serves what the mock answered in that case of a run (mcpconform run --proxy URL --out DIR writes DIR/results.json)")
			}
			if replay != "" {
				if caseID == "" {
					return usageErr("--replay needs --case ID (a failing case of that run)")
				}
				return serveReplay(ctx, stdout, stderr, addr, replay, caseID, proxy, holdFor)
			}
			if proxy != "" {
				return usageErr("--proxy applies to --replay")
			}
			m, err := mockserver.Start(mockserver.Options{Addr: addr})
			if err != nil {
				return usageErr("%v", err)
			}
			defer m.Close()
			fmt.Fprintf(stdout, "mock upstream %s  (legacy SSE %s)\n", m.MCPURL(), m.SSEURL())
			fmt.Fprintf(stdout, "point the proxy's upstream at %s (origin %s); Ctrl-C stops\n", m.MCPURL(), m.BaseURL)
			<-ctx.Done()
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&addr, "addr", mockserver.DefaultAddr, "address to listen on (loopback)")
	f.StringVar(&replay, "replay", "", "results.json of a run: serve the upstream answers recorded in one of its cases (--case)")
	f.StringVar(&caseID, "case", "", "with --replay: the case ID (SCENARIO/ROW) whose answers to serve")
	f.StringVar(&proxy, "proxy", "", "with --replay: the proxy's URL for the printed curl lines, or builtin:NAME to start that built-in proxy in front of the replay")
	f.DurationVar(&holdFor, "hold", replayHoldOpen, "with --replay: how long a recorded open stream (or a request that had no answer yet) is held open")
	f.BoolVar(&stdio, "stdio", false, "speak MCP on stdin/stdout instead of HTTP")
	return cmd
}

// serveReplay runs the replay upstream for one case until ctx ends.
func serveReplay(ctx context.Context, stdout, stderr io.Writer, addr, path, id, proxy string, hold time.Duration) error {
	run, err := report.ReadJSONFile(path)
	if err != nil {
		return usageErr("--replay: %v", err)
	}
	c, err := findCase(run, id)
	if err != nil {
		return usageErr("--case: %v", err)
	}
	ln, err := listenReplay(addr)
	if err != nil {
		return usageErr("--addr: %v", err)
	}
	r := newReplayer(c, run.Upstream, stderr)
	r.hold = hold
	r.to = "http://" + ln.Addr().String()
	srv := &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if srv.Shutdown(sctx) != nil {
			_ = srv.Close()
		}
	}()
	upstream := r.to + mockserver.MCPPath

	origin := ""
	if proxy != "" {
		if strings.HasPrefix(proxy, proxyundertest.BuiltinPrefix) {
			popt := proxyundertest.Options{Roles: run.Proxy.Roles, APIKey: recordedAPIKey(c)}
			if s, ok := proxyundertest.Lookup(strings.TrimPrefix(proxy, proxyundertest.BuiltinPrefix)); ok {
				// results.json does not keep --cors; a specimen that needs it
				// says so in its run arguments.
				for _, a := range s.RunArgs {
					popt.CORS = popt.CORS || a == "--cors"
				}
			}
			t, err := proxyundertest.Open(proxy, upstream, popt)
			if err != nil {
				return usageErr("--proxy: %v", err)
			}
			defer t.Close()
			proxy = t.MCPURL
		}
		u, err := url.Parse(proxy)
		if err != nil || u.Host == "" {
			return usageErr("--proxy %q: want the proxy's URL (http://127.0.0.1:8080/mcp) or builtin:NAME", proxy)
		}
		origin = u.Scheme + "://" + u.Host
	}

	fmt.Fprintf(stdout, "replaying %s of %s (%s, %s)\n", c.ID, path, report.PrintableOneLine(run.Proxy.Label()), c.Outcome)
	fmt.Fprintf(stdout, "mock upstream %s  (replay: the recorded answers of this case)\n", upstream)
	if proxy != "" {
		fmt.Fprintf(stdout, "proxy under test %s\n", proxy)
	} else {
		fmt.Fprintf(stdout, "point the proxy's upstream at %s\n", upstream)
	}
	fmt.Fprintf(stdout, "recorded answers (matched by method, path and JSON-RPC method, in order):\n")
	for _, l := range replayDescribe(r) {
		fmt.Fprintf(stdout, "  %s\n", l)
	}
	for _, cv := range replayCaveats(c, r) {
		fmt.Fprintf(stdout, "note: %s\n", cv)
	}
	fmt.Fprintf(stdout, "send the case's requests through the proxy (sh):\n")
	for _, l := range curlScript(c, origin) {
		fmt.Fprintf(stdout, "  %s\n", l)
	}
	fmt.Fprintf(stdout, "  # expected: %s\n  # observed in the run: %s\n", oneLineOf(firstNonEmptyStr(c.Expected, "see the requirement")),
		oneLineOf(firstNonEmptyStr(c.Observed, c.Reason, c.Message)))
	fmt.Fprintln(stdout, "Ctrl-C stops")
	<-ctx.Done()
	return nil
}

// recordedAPIKey is the API key the case's requests carried (role K): the
// built-in started in front of the replay expects the same one, so the
// recorded curl lines get through its gate. A redacted or absent key gives
// a fresh one (the replay says what it cannot reproduce).
func recordedAPIKey(c *report.Case) string {
	for _, ex := range c.Exchanges {
		if ex.Hop != report.HopClientProxy {
			continue
		}
		for _, h := range ex.Request.Headers {
			if strings.EqualFold(h.Name, "X-API-Key") && h.Value != "" && !strings.HasPrefix(h.Value, "<redacted") {
				return h.Value
			}
		}
	}
	return randomAPIKey()
}
