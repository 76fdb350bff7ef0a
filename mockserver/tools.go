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
	// ToolNotify sends count notifications/resources/updated gap_ms apart
	// for a resource the client subscribed to (resources/subscribe), after
	// returning: messages unrelated to any request, which go on the
	// session's standalone GET stream. Each carries its sequence number and
	// send stamp in _meta, so the streaming check for bridges, which relay
	// messages instead of bytes, can time them (over stdio too). Resource
	// updates need no log level and no deprecated feature, and bridges pass
	// subscriptions on.
	ToolNotify = "notify"
)

// NotifyArgs are the arguments of the notify tool.
type NotifyArgs struct {
	Count int    `json:"count" jsonschema:"number of notifications"`
	GapMS int    `json:"gap_ms" jsonschema:"milliseconds before each notification"`
	URI   string `json:"uri" jsonschema:"the subscribed resource the updates are for"`
}

// NotifyResource is the resource the notify tool's updates are about (its
// uri argument may add a path to keep probes apart).
const NotifyResource = "mcpconform://notify"

// NotifyMeta are the _meta keys of each notify update.
const (
	NotifyMetaSeq  = "mcpconform/seq"
	NotifyMetaSent = "mcpconform/sent" // RFC 3339 with nanoseconds, taken just before the write
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

func (m *Mock) newMCPServer(logger *slog.Logger, revision string) *mcp.Server {
	// Subscriptions are what the notify tool's updates go to; any URI may
	// be subscribed.
	accept := func(context.Context, *mcp.SubscribeRequest) error { return nil }
	opts := &mcp.ServerOptions{GetSessionID: m.newSessionID, Logger: logger, SubscribeHandler: accept,
		UnsubscribeHandler: func(context.Context, *mcp.UnsubscribeRequest) error { return nil }}
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
	// One resource, so the server advertises resources and subscriptions:
	// bridges relay subscribe only to servers that offer it.
	s.AddResource(&mcp.Resource{URI: NotifyResource, Name: "notify", Description: "the resource the notify tool's updates are about", MIMEType: "text/plain"},
		func(context.Context, *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
			return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: NotifyResource, MIMEType: "text/plain", Text: "updated by the notify tool"}}}, nil
		})
	mcp.AddTool(s, &mcp.Tool{Name: ToolNotify, Description: "Sends count resource updates gap_ms apart for a subscribed uri, after returning."},
		func(ctx context.Context, req *mcp.CallToolRequest, in NotifyArgs) (*mcp.CallToolResult, any, error) {
			count := min(max(in.Count, 0), 1000)
			gap := time.Duration(min(max(in.GapMS, 0), 60000)) * time.Millisecond
			go func() {
				// Not the request's context: that would tie the updates to
				// the (finished) call instead of the standalone stream.
				for i := 1; i <= count; i++ {
					t := time.NewTimer(gap)
					select {
					case <-m.closed():
						t.Stop()
						return
					case <-t.C:
					}
					meta := mcp.Meta{NotifyMetaSeq: i, NotifyMetaSent: time.Now().UTC().Format(time.RFC3339Nano)}
					if s.ResourceUpdated(context.Background(), &mcp.ResourceUpdatedNotificationParams{URI: in.URI, Meta: meta}) != nil {
						return
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
