package scenarios

import "testing"

func TestMalformedLine(t *testing.T) {
	for _, c := range []struct {
		line string
		bad  bool
	}{
		{`WWW-Authenticate: Bearer realm="mcp"`, false},
		{`X:`, false},
		{"WWW-Authenticate: Bearer error_description=\"a\x00b\"", true},
		{"WWW-Authenticate: Bearer error_description=\"a\rb\"", true},
		{"WWW-Authenticate: a\nb", true},
		{`  resource_metadata="x"`, true},
		{"\tresource_metadata=\"x\"", true},
		{`WWW-Authenticate : Bearer`, true},
		{"WWW-Authenticate\t: Bearer", true},
		{`no colon here`, true},
	} {
		if got := malformedLine(c.line) != ""; got != c.bad {
			t.Errorf("%q: malformed=%v (%q), want %v", c.line, got, malformedLine(c.line), c.bad)
		}
	}
}

func TestSplitRawHead(t *testing.T) {
	st, lines := splitRawHead([]byte("HTTP/1.1 401 Unauthorized\r\nA: 1\r\nB: x\ry\r\n  folded\r\n"))
	if st != 401 || len(lines) != 3 || lines[1] != "B: x\ry" || lines[2] != "  folded" {
		t.Errorf("status %d, lines %q", st, lines)
	}
	if st, _ := splitRawHead([]byte("garbage\r\n")); st != 0 {
		t.Errorf("garbage gave status %d", st)
	}
}
