package proxyundertest

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestExpand(t *testing.T) {
	vals := map[string]string{"port": "8080", "upstream": "http://127.0.0.1:7411/mcp"}
	for _, tc := range []struct {
		in, want, err string
	}{
		{"proxy --listen {port} --to {upstream}", "proxy --listen 8080 --to http://127.0.0.1:7411/mcp", ""},
		{"key={api_key}.", "key=.", ""}, // known but unset: empty
		{"{prot}", "", "unknown placeholder {prot}"},
		{`awk '{print $1}'`, `awk '{print $1}'`, ""}, // not a placeholder shape
	} {
		got, err := Expand(tc.in, vals)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Expand(%q) err = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("Expand(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestLaunchStopsTheWholeGroup(t *testing.T) {
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + itoa(port)
	// The listener is a grandchild of sh: stopping only sh would leak it.
	l, err := Launch(`echo hello; python3 -c 'import socket,time; s=socket.socket(); s.bind(("127.0.0.1",`+itoa(port)+`)); s.listen(); time.sleep(60)' ; echo done`, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := l.WaitReady(ctx, addr); err != nil {
		l.Stop(time.Second)
		t.Skipf("no listener (python3 missing?): %v\n%s", err, l.Log())
	}
	if l.Gone() != nil {
		t.Fatal("Gone while running")
	}
	l.Stop(2 * time.Second)
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Error("the grandchild still listens after Stop")
	}
	if l.ExitedEarly() != nil || l.Gone() != nil {
		t.Errorf("stopped by us, yet reported as exited on its own: %v", l.ExitedEarly())
	}
	if !strings.Contains(l.Log(), "hello") {
		t.Errorf("log = %q", l.Log())
	}
}

func TestLaunchExitReported(t *testing.T) {
	l, err := Launch(`echo "bad flag --x" >&2; exit 9`, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err = l.WaitReady(ctx, "127.0.0.1:1")
	if err == nil || !strings.Contains(err.Error(), "exit code 9") {
		t.Fatalf("WaitReady = %v", err)
	}
	for _, e := range []error{l.Gone(), l.ExitedEarly()} {
		if e == nil || !strings.Contains(e.Error(), "bad flag --x") {
			t.Errorf("exit report = %v", e)
		}
	}
}

func TestTailBufferKeepsTheEnd(t *testing.T) {
	b := newTailBuffer(10)
	_, _ = b.Write([]byte("0123456789"))
	_, _ = b.Write([]byte("abc"))
	if got := b.String(); got != "3456789abc" {
		t.Errorf("tail = %q", got)
	}
}

func TestLoadProfile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	p, err := LoadProfile(write("ok.yml", "name: nginx\nversion: \"1.26\"\nlaunch: nginx -p {tmp}\nroles: [T]\ntolerance:\n  sse-tolerance: 750ms\nbaseline: nginx.baseline.yml\n"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "nginx" || p.Tolerance.SSETolerance != 750*time.Millisecond || p.Baseline != filepath.Join(dir, "nginx.baseline.yml") || p.Dir != dir {
		t.Errorf("profile = %+v", p)
	}
	for name, body := range map[string]string{
		"typo.yml":   "name: x\nurl: http://127.0.0.1:1/mcp\nbrowser_facing: true\n",
		"nourl.yml":  "name: x\n",
		"noname.yml": "url: http://127.0.0.1:1/mcp\n",
	} {
		if _, err := LoadProfile(write(name, body)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
