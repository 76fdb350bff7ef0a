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
)

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

func (m *Mock) newMCPServer(logger *slog.Logger) *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{Name: ServerName, Version: "1"}, &mcp.ServerOptions{
		GetSessionID: m.newSessionID,
		Logger:       logger,
	})
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
