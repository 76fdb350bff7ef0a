package mockserver

import (
	"github.com/mcpconform/mcpconform/mockserver/ssescript"
)

// ArmStream answers the next request matching match with the SSE script s
// (instead of the MCP server) and returns the recorder that stamps each
// event's send time and reports how the request ended (ClientGone when the
// proxy hung up). Arm several in order for a reconnecting client: the first
// matching request gets the first script. Like every fault, an unused stream
// is dropped by Disarm after the case.
//
// The script answers as it is: no X-Accel-Buffering unless the script's
// Headers say so, because that header makes nginx stream and would hide a
// buffering proxy.
func (m *Mock) ArmStream(name string, match Match, s ssescript.Script) *ssescript.Recorder {
	rec := ssescript.NewRecorder()
	m.Arm(Fault{Name: name, Match: match, Handler: rec.Handler(s)})
	return rec
}

// StreamMatch matches a GET for the standalone stream on path (MCPPath or
// SSEPath).
func StreamMatch(path string) Match { return Match{Method: "GET", Path: path} }
