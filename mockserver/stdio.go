package mockserver

import (
	"context"
	"io"
	"log/slog"
	"net/http"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// ServeStdio speaks MCP on stdin/stdout with the same probe tools as the HTTP
// mock, for stdio→HTTP bridges that spawn their upstream as a child
// (`some-bridge -- mcpconform mock --stdio`). It returns when the input ends
// or ctx is cancelled.
func ServeStdio(ctx context.Context, logger *slog.Logger) error {
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	// Sessions do not exist on stdio; the Mock value only carries the tools.
	m := &Mock{Journal: newJournal(), extra: map[string]http.Handler{}}
	return m.newMCPServer(logger, "").Run(ctx, &mcp.StdioTransport{})
}
