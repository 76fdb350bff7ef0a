package mockserver

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Probe tool names. They drive behaviour that must survive any proxy,
// including bridges that re-encode JSON-RPC.
const (
	ToolProgress    = "progress"     // N progress notifications G ms apart, then a result
	ToolEchoHeaders = "echo_headers" // returns the request headers the upstream received
	ToolLarge       = "large"        // returns a text result of the requested size
	// ToolNotify schedules count logging notifications gap_ms apart on the
	// session's standalone GET stream (unrelated to any request), each with
	// its sequence number and send stamp: the GET-stream streaming check for
	// bridges, which relay server-initiated messages instead of bytes. The
	// client must have set a log level (logging/setLevel) and opened its GET
	// stream first: the SDK drops messages below the level and has nowhere
	// to write them without the stream.
	ToolNotify = "notify"
)

// NotifyArgs are the arguments of the notify tool.
type NotifyArgs struct {
	Count int `json:"count" jsonschema:"number of notifications"`
	GapMS int `json:"gap_ms" jsonschema:"milliseconds before each notification"`
}

// NotifyData is the data of each notify logging message.
type NotifyData struct {
	Seq  int    `json:"seq"`
	Sent string `json:"sent"` // RFC 3339 with nanoseconds, taken just before the write
}

// NotifyLogger is the logger name of the notify tool's messages.
const NotifyLogger = "mcpconform-notify"

// ProgressArgs are the arguments of the progress tool.
type ProgressArgs struct {
	Count int `json:"count" jsonschema:"number of progress notifications"`
	GapMS int `json:"gap_ms" jsonschema:"milliseconds between notifications"`
}

// LargeArgs are the arguments of the large tool.
type LargeArgs struct {
	Bytes int `json:"bytes" jsonschema:"size of the text result in bytes"`
}

// ServerName is what the mock reports in initialize.
const ServerName = "mcpconform-mock"

func (m *Mock) newMCPServer(logger *slog.Logger, revision string) *mcp.Server {
	opts := &mcp.ServerOptions{GetSessionID: m.newSessionID, Logger: logger}
	if revision != "" {
		opts.SupportedProtocolVersions = []string{revision, LegacyProtocolVersion}
	}
	s := mcp.NewServer(&mcp.Implementation{Name: ServerName, Version: "1"}, opts)
	mcp.AddTool(s, &mcp.Tool{Name: ToolProgress, Description: "Sends count progress notifications gap_ms apart, then returns."},
		func(ctx context.Context, req *mcp.CallToolRequest, in ProgressArgs) (*mcp.CallToolResult, any, error) {
			tok := req.Params.GetProgressToken()
			count := min(max(in.Count, 0), 10000)
			gap := time.Duration(min(max(in.GapMS, 0), 60000)) * time.Millisecond
			for i := 1; i <= count; i++ {
				if i > 1 && gap > 0 {
					t := time.NewTimer(gap)
					select {
					case <-ctx.Done():
						t.Stop()
						return nil, nil, ctx.Err()
					case <-t.C:
					}
				}
				if tok != nil {
					err := req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{
						ProgressToken: tok, Progress: float64(i), Total: float64(count),
						Message: time.Now().UTC().Format(time.RFC3339Nano), // send stamp, read by the harness
					})
					if err != nil {
						return nil, nil, err
					}
				}
			}
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "done"}}}, nil, nil
		})
	mcp.AddTool(s, &mcp.Tool{Name: ToolNotify, Description: "Sends count logging notifications gap_ms apart on the standalone stream, after returning."},
		func(ctx context.Context, req *mcp.CallToolRequest, in NotifyArgs) (*mcp.CallToolResult, any, error) {
			count := min(max(in.Count, 0), 1000)
			gap := time.Duration(min(max(in.GapMS, 0), 60000)) * time.Millisecond
			ss := req.Session
			go func() {
				// Not the request's context: that would put the messages on
				// the (finished) POST stream instead of the standalone one.
				for i := 1; i <= count; i++ {
					t := time.NewTimer(gap)
					select {
					case <-m.closed():
						t.Stop()
						return
					case <-t.C:
					}
					data := NotifyData{Seq: i, Sent: time.Now().UTC().Format(time.RFC3339Nano)}
					// Logging is deprecated from 2026-07-28, but it is the
					// server-initiated message of the stateful revisions
					// whose standalone stream this tool exercises.
					//lint:ignore SA1019 see above
					if ss.Log(context.Background(), &mcp.LoggingMessageParams{Level: "info", Logger: NotifyLogger, Data: data}) != nil {
						return // session gone
					}
				}
			}()
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "scheduled"}}}, nil, nil
		})
	mcp.AddTool(s, &mcp.Tool{Name: ToolEchoHeaders, Description: "Returns the HTTP request headers the upstream received."},
		func(ctx context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, any, error) {
			h := map[string][]string{}
			if req.Extra != nil {
				h = req.Extra.Header
			}
			b, _ := json.Marshal(h)
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: string(b)}}}, nil, nil
		})
	mcp.AddTool(s, &mcp.Tool{Name: ToolLarge, Description: "Returns a text result of the requested size."},
		func(ctx context.Context, req *mcp.CallToolRequest, in LargeArgs) (*mcp.CallToolResult, any, error) {
			n := min(max(in.Bytes, 0), 16<<20)
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: strings.Repeat("x", n)}}}, nil, nil
		})
	return s
}
