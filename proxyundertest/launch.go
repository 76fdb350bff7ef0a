package proxyundertest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mcpconform/mcpconform/report"
)

// Placeholders a --proxy-cmd template (and a --proxy URL next to it) may
// hold. Values are inserted as they are, without shell quoting: they are
// loopback URLs, ports and hex tokens; quote them in the template if a
// proxy's flags need it.
var Placeholders = []string{
	"port", "upstream", "upstream_origin", "upstream_sse", "token_url", "client_id", "client_secret",
	"refresh_token", "api_key", "api_key_header", "resource", "profile_dir", "tmp",
}

var placeholderRE = regexp.MustCompile(`\{([a-z_]+)\}`)

// Expand replaces {name} placeholders in s. A {name} that is not a known
// placeholder is an error, so a typo in a template does not reach the shell as
// a literal brace.
func Expand(s string, values map[string]string) (string, error) {
	var bad []string
	known := map[string]bool{}
	for _, p := range Placeholders {
		known[p] = true
	}
	out := placeholderRE.ReplaceAllStringFunc(s, func(m string) string {
		name := m[1 : len(m)-1]
		if !known[name] {
			bad = append(bad, m)
			return m
		}
		return values[name]
	})
	if len(bad) > 0 {
		return "", fmt.Errorf("unknown placeholder %s (known: {%s})", strings.Join(bad, ", "), strings.Join(Placeholders, "}, {"))
	}
	return out, nil
}

// FreePort asks the kernel for a free loopback port. Another process may take
// it before the proxy binds it; the readiness wait then reports the proxy's
// own error.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// Launched is a proxy process started from a --proxy-cmd template.
type Launched struct {
	// Command is the expanded template, as run by sh -c.
	Command string
	cmd     *exec.Cmd
	log     *tailBuffer
	done    chan struct{}
	exitErr error
	stopped bool
	// early is set when the process exited before Stop was called.
	early bool
	mu    sync.Mutex
}

// Launch runs command with `sh -c` in its own process group (so Ctrl-C in the
// terminal reaches only the harness, which then stops the group, and so
// children the command forks are stopped with it), its stdout and stderr
// captured into a bounded tail.
func Launch(command string, env []string) (*Launched, error) {
	l := &Launched{Command: command, log: newTailBuffer(64 << 10), done: make(chan struct{})}
	c := exec.Command("sh", "-c", command)
	c.Env = append(os.Environ(), env...)
	c.Stdout, c.Stderr = l.log, l.log
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := c.Start(); err != nil {
		return nil, fmt.Errorf("launch %q: %w", command, err)
	}
	l.cmd = c
	go func() {
		err := c.Wait()
		l.mu.Lock()
		l.exitErr = err
		l.early = !l.stopped
		l.mu.Unlock()
		close(l.done)
	}()
	return l, nil
}

// Log returns the captured output, at most the last 64 KiB.
func (l *Launched) Log() string { return l.log.String() }

// LogTail returns the last n lines of the captured output.
func (l *Launched) LogTail(n int) string {
	lines := strings.Split(strings.TrimRight(l.log.String(), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	// The proxy's bytes reach a terminal: escape controls (a stray ESC
	// sequence can clear it or retitle it).
	return report.Printable(strings.Join(lines, "\n"))
}

// Pid is the process (and process group) id.
func (l *Launched) Pid() int { return l.cmd.Process.Pid }

// ExitedEarly reports, after the run, whether the process exited on its own
// before the harness stopped it, with its exit status and last log lines.
func (l *Launched) ExitedEarly() error {
	select {
	case <-l.done:
	default:
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.early {
		return nil
	}
	return fmt.Errorf("%s; last output:\n%s", exitText(l.exitErr), l.LogTail(10))
}

// Done is closed when the process has exited.
func (l *Launched) Done() <-chan struct{} { return l.done }

// Gone reports why the process is no longer running: nil while it runs or
// after Stop, otherwise its exit status and its last log lines.
func (l *Launched) Gone() error {
	select {
	case <-l.done:
	default:
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped {
		return nil
	}
	return fmt.Errorf("%s; last output:\n%s", exitText(l.exitErr), l.LogTail(10))
}

func exitText(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return "killed by " + ws.Signal().String()
		}
		return "exit code " + strconv.Itoa(ee.ExitCode())
	}
	if err == nil {
		return "exit code 0"
	}
	return err.Error()
}

// WaitReady waits until addr (host:port) accepts a TCP connection, the
// process exits, or ctx ends, whichever is first.
func (l *Launched) WaitReady(ctx context.Context, addr string) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var d net.Dialer
	for {
		dctx, cancel := context.WithTimeout(ctx, time.Second)
		conn, err := d.DialContext(dctx, "tcp", addr)
		cancel()
		if err == nil {
			conn.Close()
			return nil
		}
		select {
		case <-l.done:
			l.mu.Lock()
			err := l.exitErr
			l.mu.Unlock()
			return fmt.Errorf("the proxy command exited before listening on %s (%s)", addr, exitText(err))
		case <-ctx.Done():
			return fmt.Errorf("nothing listens on %s after waiting for the proxy command: %v", addr, ctx.Err())
		case <-tick.C:
		}
	}
}

// Stop sends SIGTERM to the process group, and SIGKILL after grace if it is
// still running. Calling it again is harmless.
func (l *Launched) Stop(grace time.Duration) {
	l.mu.Lock()
	l.stopped = true
	l.mu.Unlock()
	pgid := l.cmd.Process.Pid
	select {
	case <-l.done:
		// The shell is gone, but children it forked may still hold the port.
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		return
	default:
	}
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-l.done:
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
	case <-t.C:
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-l.done
	}
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func newTailBuffer(max int) *tailBuffer { return &tailBuffer{max: max} }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append([]byte(nil), t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}
