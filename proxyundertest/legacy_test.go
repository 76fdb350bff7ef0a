package proxyundertest

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"
)

const testUp, testProxy = "http://127.0.0.1:9000", "http://127.0.0.1:7000"

func rewriteAll(t *testing.T, chunks []string) string {
	t.Helper()
	src := io.NopCloser(io.MultiReader(func() []io.Reader {
		var rs []io.Reader
		for _, c := range chunks {
			rs = append(rs, strings.NewReader(c))
		}
		return rs
	}()...))
	rw := &endpointRewriter{src: src, from: []byte(testUp), to: []byte(testProxy)}
	out, err := io.ReadAll(rw)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func TestEndpointRewriter(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"absolute endpoint", "event: endpoint\ndata: " + testUp + "/messages?sessionId=1\n\n",
			"event: endpoint\ndata: " + testProxy + "/messages?sessionId=1\n\n"},
		{"no space, CRLF", "event:endpoint\r\ndata:" + testUp + "/m\r\n\r\n", "event:endpoint\r\ndata:" + testProxy + "/m\r\n\r\n"},
		{"relative endpoint untouched", "event: endpoint\ndata: /messages?sessionId=1\n\n", "event: endpoint\ndata: /messages?sessionId=1\n\n"},
		{"message events untouched", "event: message\ndata: " + testUp + "/x\n\n", "event: message\ndata: " + testUp + "/x\n\n"},
		{"longer host is not the origin", "event: endpoint\ndata: " + testUp + "0/m\n\n", "event: endpoint\ndata: " + testUp + "0/m\n\n"},
		{"block ends the endpoint state", "event: endpoint\ndata: /m\n\ndata: " + testUp + "/y\n\n", "event: endpoint\ndata: /m\n\ndata: " + testUp + "/y\n\n"},
		{"unterminated tail kept", "event: endpoint\ndata: " + testUp, "event: endpoint\ndata: " + testUp},
	}
	for _, c := range cases {
		if got := rewriteAll(t, []string{c.in}); got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
		// Byte by byte: the result must not depend on read boundaries.
		var bytewise []string
		for i := range len(c.in) {
			bytewise = append(bytewise, c.in[i:i+1])
		}
		if got := rewriteAll(t, bytewise); got != c.want {
			t.Errorf("%s, byte by byte: got %q, want %q", c.name, got, c.want)
		}
	}
}

// Bytes that cannot be an endpoint data line leave as soon as they are read,
// even in the middle of a line: the rewrite never holds a stream back.
func TestEndpointRewriterStreams(t *testing.T) {
	pr, pw := io.Pipe()
	rw := &endpointRewriter{src: pr, from: []byte(testUp), to: []byte(testProxy)}
	got := make(chan string, 4)
	go func() {
		buf := make([]byte, 256)
		for {
			n, err := rw.Read(buf)
			if n > 0 {
				got <- string(buf[:n])
			}
			if err != nil {
				close(got)
				return
			}
		}
	}()
	expect := func(want string) {
		t.Helper()
		var b bytes.Buffer
		deadline := time.After(2 * time.Second)
		for b.Len() < len(want) {
			select {
			case s := <-got:
				b.WriteString(s)
			case <-deadline:
				t.Fatalf("got %q so far, want %q without more input", b.String(), want)
			}
		}
		if b.String() != want {
			t.Fatalf("got %q, want %q", b.String(), want)
		}
	}
	go func() { _, _ = pw.Write([]byte("event: message\ndata: {\"partial")) }()
	expect("event: message\ndata: {\"partial")
	go func() { _, _ = pw.Write([]byte("\"}\n\nevent: endpoint\n")) }()
	expect("\"}\n\nevent: endpoint\n")
	// The data line of an endpoint block waits for its line end.
	go func() { _, _ = pw.Write([]byte("data: " + testUp + "/m?s=1\n\n")) }()
	expect("data: " + testProxy + "/m?s=1\n\n")
	pw.Close()
}
