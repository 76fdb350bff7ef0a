// Package browserprobe runs an MCP web client inside headless Chromium,
// driven over the DevTools protocol, and reports what its script could do
// and read, with the browser's own evidence: what it printed to the console,
// the DevTools issues it raised, every request it made (preflights included)
// and a screenshot of the page's result table.
//
// The client page is served from its own loopback origin
// (http://localhost:PORT), distinct from the proxy's, so the browser applies
// CORS to every request the script sends. One Browser serves a whole run: it
// starts once, in the background, and every case gets the same tab,
// navigated anew.
package browserprobe

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/chromedp/cdproto/audits"
	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

//go:embed client.html
var clientPage []byte

// Options configure Launch.
type Options struct {
	// Path is the Chromium executable (see Find).
	Path string
	// LaunchTimeout bounds the start of the browser (default 30s).
	LaunchTimeout time.Duration
}

// Browser is one headless Chromium with the client page's server.
type Browser struct {
	opts   Options
	ln     net.Listener
	srv    *http.Server
	origin string

	ready  chan struct{} // closed when the start ended, well or not
	err    error         // why the browser is not usable; set before ready closes
	engine string

	allocCancel context.CancelFunc
	tabCancel   context.CancelFunc
	tab         context.Context // the one tab every case uses
	rec         *recorder
	output      *tail
	// tmp is Chromium's TMPDIR, ours to remove: a browser that dies or
	// is killed leaves its singleton folder there, not in the user's /tmp.
	tmp string

	// busy admits one Page at a time: cases share the tab. loaded is true
	// while the tab shows the client page (guarded by busy).
	busy      chan struct{}
	loaded    bool
	closeOnce sync.Once
}

// Launch serves the client page and starts Chromium in the background, so a
// run can go on while it starts; Open waits for it. Only a page server that
// cannot listen is an error here; a browser that fails to start is reported
// by Open.
func Launch(opts Options) (*Browser, error) {
	if opts.LaunchTimeout <= 0 {
		opts.LaunchTimeout = 30 * time.Second
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("browser page server: %w", err)
	}
	tmp, err := os.MkdirTemp("", "mcpconform-chromium-")
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("browser temp folder: %w", err)
	}
	b := &Browser{
		opts: opts, ln: ln, ready: make(chan struct{}), rec: newRecorder(), output: &tail{max: 8 << 10},
		busy: make(chan struct{}, 1), tmp: tmp,
	}
	// localhost, not 127.0.0.1: a web client is usually another site than
	// the server it calls, and the name resolves to loopback inside
	// Chromium, so the page and the proxy share the loopback address space
	// (no Private Network Access permission is involved).
	b.origin = fmt.Sprintf("http://localhost:%d", ln.Addr().(*net.TCPAddr).Port)
	b.rec.pageOrigin = b.origin
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(clientPage)
	})
	b.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = b.srv.Serve(ln) }()
	// The contexts exist before the process does, so Close can stop a start
	// that is still under way.
	allocCtx, allocCancel := chromedp.NewExecAllocator(context.Background(), b.flags()...)
	b.tab, b.tabCancel = chromedp.NewContext(allocCtx, chromedp.WithListener(b.rec.handle))
	b.allocCancel = allocCancel
	go b.start()
	return b, nil
}

// flags are Chromium's switches for a quiet, headless, reproducible run: no
// GPU, no QUIC, no background traffic (updates, sync, metrics) on a closed
// network, no sandbox as root (Chromium refuses to start otherwise).
func (b *Browser) flags() []chromedp.ExecAllocatorOption {
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(b.opts.Path),
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.Flag("no-pings", true),
		chromedp.WindowSize(1100, 800),
		chromedp.CombinedOutput(b.output),
		chromedp.Env("TMPDIR="+b.tmp),
	)
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox)
	}
	return opts
}

func (b *Browser) start() {
	defer close(b.ready)
	tab := b.tab
	// The first action starts the browser and binds its life to tab, so the
	// start is bounded by cancelling tab, not by a deadline on the action.
	timer := time.AfterFunc(b.opts.LaunchTimeout, b.tabCancel)
	err := chromedp.Do(tab, func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		var none chromedp.Void
		if _, err := cdp.Call(ctx, t, network.Enable, network.EnableParams{}); err != nil {
			return none, err
		}
		// Every request preflights on its own, as with DevTools' "Disable
		// cache": a preflight cached by one step or case would hide the next
		// one's from the evidence and the verdict.
		if _, err := cdp.Call(ctx, t, network.SetCacheDisabled, network.SetCacheDisabledParams{CacheDisabled: true}); err != nil {
			return none, err
		}
		if _, err := cdp.Call(ctx, t, log.Enable, cdp.Empty{}); err != nil {
			return none, err
		}
		_, err := cdp.Call(ctx, t, audits.Enable, cdp.Empty{})
		return none, err
	})
	stopped := !timer.Stop()
	if err == nil {
		var v browser.GetVersionResult
		if v, err = chromedp.CallBrowser(tab, browser.GetVersion, cdp.Empty{}); err == nil {
			b.engine = engineName(v.Product)
		}
	}
	if err != nil {
		if stopped && tab.Err() != nil {
			err = fmt.Errorf("did not start within %s", b.opts.LaunchTimeout)
		}
		b.err = fmt.Errorf("chromium (%s): %v%s", b.opts.Path, err, b.output.lastLines(10))
	}
}

// engineName turns "HeadlessChrome/156.0.8078.114" into "Chromium
// 156.0.8078.114 (headless)".
func engineName(product string) string {
	name, version, ok := strings.Cut(product, "/")
	if !ok {
		return product
	}
	if strings.HasPrefix(name, "Headless") {
		return "Chromium " + version + " (headless)"
	}
	return "Chromium " + version
}

// Origin is the client page's origin, as the browser sends it in Origin.
func (b *Browser) Origin() string { return b.origin }

// Engine names the browser and its version; empty until it started.
func (b *Browser) Engine() string {
	select {
	case <-b.ready:
		return b.engine
	default:
		return ""
	}
}

// Ready waits until the browser started, bounded by ctx.
func (b *Browser) Ready(ctx context.Context) error {
	select {
	case <-b.ready:
	default:
		select {
		case <-b.ready:
		case <-ctx.Done():
			return fmt.Errorf("chromium has not started yet: %w", ctx.Err())
		}
	}
	if b.err != nil {
		return b.err
	}
	if err := b.tab.Err(); err != nil {
		return fmt.Errorf("chromium is gone: %w%s", context.Cause(b.tab), b.output.lastLines(10))
	}
	return nil
}

// Close stops the browser and the page server. It is safe to call more than
// once and from any goroutine; it waits for the browser to stop.
func (b *Browser) Close() error {
	b.closeOnce.Do(func() {
		// A started browser is asked to close (Browser.close) rather than
		// killed: killed, Chromium leaves its /tmp/org.chromium.Chromium.*
		// folder behind and its helper processes linger after we exit.
		select {
		case <-b.ready:
			if b.err == nil && b.tab.Err() == nil {
				ctx, cancel := context.WithTimeout(b.tab, 3*time.Second)
				_ = chromedp.Cancel(ctx)
				cancel()
			}
		default:
		}
		b.tabCancel() // also ends a start under way
		<-b.ready
		b.allocCancel() // waits for the process and removes its profile folder
		_ = os.RemoveAll(b.tmp)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = b.srv.Shutdown(ctx)
	})
	return nil
}

// do runs a on the tab, bounded by ctx: chromedp ties an action to the tab's
// context, so ctx's end is carried over by cancelling a child of it, which
// leaves the tab and the browser running.
func do[T any](b *Browser, ctx context.Context, a chromedp.Action[T]) (T, error) {
	rctx, cancel := context.WithCancel(b.tab)
	defer cancel()
	if d, ok := ctx.Deadline(); ok {
		var c2 context.CancelFunc
		rctx, c2 = context.WithDeadline(rctx, d)
		defer c2()
	}
	stop := context.AfterFunc(ctx, cancel)
	defer stop()
	v, err := chromedp.Run(rctx, a)
	if err != nil {
		switch {
		case ctx.Err() != nil:
			err = fmt.Errorf("%w (%v)", ctx.Err(), err)
		case b.tab.Err() != nil:
			err = fmt.Errorf("chromium is gone: %v%s", err, b.output.lastLines(10))
		}
	}
	return v, err
}

// tail keeps the last bytes written to it: Chromium's output, quoted when it
// fails to start or dies.
type tail struct {
	mu  sync.Mutex
	buf []byte
	max int
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = t.buf[len(t.buf)-t.max:]
	}
	return len(p), nil
}

// lastLines returns the last n lines of output as "\n--- chromium output
// ---\n…", or "" when there is none.
func (t *tail) lastLines(n int) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	lines := bytes.Split(bytes.TrimSpace(t.buf), []byte("\n"))
	if len(lines) == 0 || len(lines[0]) == 0 {
		return ""
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "\n--- chromium output (last lines) ---\n" + string(bytes.Join(lines, []byte("\n")))
}

// errBusy is returned by Open when the previous Page was not closed in time.
var errBusy = errors.New("the browser tab is still in use by another case")

// acquire takes the tab, waiting (bounded by ctx) for the previous case to
// give it back. A free tab is taken even when ctx has ended, so the caller
// learns that it is out of time, not that the tab is busy.
func (b *Browser) acquire(ctx context.Context) error {
	select {
	case b.busy <- struct{}{}:
		return nil
	default:
	}
	select {
	case b.busy <- struct{}{}:
		return nil
	case <-ctx.Done():
		return errBusy
	}
}
