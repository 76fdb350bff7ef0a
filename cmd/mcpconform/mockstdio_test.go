package main

import (
	"context"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpconform/mcpconform/mockserver"
)

// `mcpconform mock --stdio` as a stdio bridge spawns it: a child process
// speaking MCP on stdin/stdout. The progress tool's notifications must arrive
// one by one while the call runs, not in a lump with the result, or a bridge
// in front of it could never pass the streaming scenarios.
func TestMockStdioProgress(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	var (
		mu   sync.Mutex
		seen []time.Time
	)
	arrived := make(chan struct{}, 64)
	client := mcp.NewClient(&mcp.Implementation{Name: "stdio-test", Version: "1"}, &mcp.ClientOptions{
		ProgressNotificationHandler: func(_ context.Context, req *mcp.ProgressNotificationClientRequest) {
			mu.Lock()
			seen = append(seen, time.Now())
			mu.Unlock()
			arrived <- struct{}{}
		},
	})
	// The test binary re-executed with childEnv runs the CLI (TestMain).
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=mock\x1f--stdio")
	cs, err := client.Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
	if err != nil {
		t.Fatalf("connect to `mcpconform mock --stdio`: %v", err)
	}
	defer cs.Close()

	if got := cs.InitializeResult().ServerInfo.Name; got != mockserver.ServerName {
		t.Errorf("server name %q, want %q", got, mockserver.ServerName)
	}
	tools, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatalf("tools/list: %v", err)
	}
	names := map[string]bool{}
	for _, tl := range tools.Tools {
		names[tl.Name] = true
	}
	for _, want := range []string{mockserver.ToolProgress, mockserver.ToolEchoHeaders, mockserver.ToolLarge} {
		if !names[want] {
			t.Errorf("tool %q missing over stdio (have %v)", want, names)
		}
	}

	const count, gap = 4, 150 * time.Millisecond
	params := &mcp.CallToolParams{Name: mockserver.ToolProgress, Arguments: map[string]any{"count": count, "gap_ms": gap.Milliseconds()}}
	params.SetProgressToken("p1")
	start := time.Now()
	res, err := cs.CallTool(ctx, params)
	done := time.Now()
	if err != nil || res.IsError {
		t.Fatalf("tools/call progress: err=%v result=%+v", err, res)
	}
	// The client may dispatch the last notification after the result: wait
	// for all of them, bounded.
	for range count {
		select {
		case <-arrived:
		case <-time.After(5 * time.Second):
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != count {
		t.Fatalf("%d progress notifications, want %d", len(seen), count)
	}
	// Incremental: the first arrived well before the result (the tool waits
	// (count-1)*gap after it), so it was not held back until the end.
	if lead := done.Sub(seen[0]); lead < gap {
		t.Errorf("first notification arrived %v before the result (call took %v), want ≥ %v: notifications were batched", lead, done.Sub(start), gap)
	}
}
