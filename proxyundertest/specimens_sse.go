package proxyundertest

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/http/httputil"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Specimens for SSE streaming (bug (vi) and its relatives). Each is the
// reference plus one way real proxies mishandle event streams.
func init() {
	Register(Specimen{
		Name:        "buffer-sse",
		Description: "collects the whole upstream SSE body, then sends it with Content-Length",
		Bug:         "BerriAI/litellm#22073 (buffered ASGI body sent with Content-Length); nginx proxy_buffering",
		Guards:      []string{"SSE-STREAM-001", "SSE-STREAM-003"},
		// The no-transform check also wants incremental events; an upstream
		// cut turns into a 502 because the whole body is read first.
		AlsoFails: []string{"HTTP-E2E-006", "SSE-PARSE-005", "AUTH-HDR-012", "LSSE-001", "LSSE-002", "LSSE-003", "LSSE-004"},
		Apply: func(r *Reference) {
			r.ResponseHooks = append(r.ResponseHooks, func(resp *http.Response) error {
				if !isSSE(resp.Header) {
					return nil
				}
				body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
				if err != nil {
					return err
				}
				replaceBody(resp, string(body))
				return nil
			})
		},
	})
	Register(Specimen{
		Name:        "flush-late",
		Description: "ignores flushes and sends what it holds once a second (and drops it if the upstream aborts)",
		Bug:         "proxies with a fixed flush interval (httputil.ReverseProxy FlushInterval: 1s before Go special-cased SSE; Node compression middleware)",
		Guards:      []string{"SSE-STREAM-001", "SSE-PARSE-005"},
		// Never flushing before a short stream ends lets net/http compute a
		// Content-Length, as nginx does with buffering on.
		AlsoFails: []string{"HTTP-E2E-006", "SSE-STREAM-003"},
		Apply: func(r *Reference) {
			r.Middleware = append(r.Middleware, holdWrites(time.Second, false))
		},
	})
	Register(Specimen{
		Name:        "coalesce-200ms",
		Description: "coalesces writes for up to 200 ms before flushing (conformant: must pass)",
		Bug:         "none: real proxies batch small writes this way; the tolerance rule exists so they pass",
		Apply: func(r *Reference) {
			r.Middleware = append(r.Middleware, holdWrites(200*time.Millisecond, true))
		},
	})
	Register(Specimen{
		Name:        "drop-comments",
		Description: "re-serialises SSE line by line keeping id, event and data: comments (keep-alives) and retry are lost; lines over 64 KiB end the stream",
		Bug:         "re-serialising bridges that keep only the fields they model, on bufio.Scanner's 64 KiB default",
		Guards:      []string{"SSE-PARSE-001", "SSE-STREAM-002", "RES-003"},
		AlsoFails:   []string{"SSE-PARSE-003", "SSE-PARSE-004"},
		Apply: func(r *Reference) {
			r.ResponseHooks = append(r.ResponseHooks, lineFilter(func() func([]byte) []byte {
				emitted := false
				return func(line []byte) []byte {
					if blankLine(line) {
						if !emitted {
							return nil // the whole block was dropped
						}
						emitted = false
						return line
					}
					if line[0] == ':' || bytes.HasPrefix(line, []byte("retry")) {
						return nil
					}
					emitted = true
					return line
				}
			}))
		},
	})
	Register(Specimen{
		Name:        "rewrite-ids",
		Description: "renumbers SSE event ids with its own counter and passes Last-Event-ID through unmapped",
		Bug:         "multiplexing proxies that renumber events without a reversible mapping (RES-001)",
		Guards:      []string{"RES-001", "RES-002", "SSE-PARSE-001", "SSE-PARSE-004"},
		// Every scenario that names events by id sees the renumbering.
		AlsoFails: []string{"SSE-PARSE-003", "SSE-PARSE-005", "SSE-STREAM-002", "RES-003"},
		Apply: func(r *Reference) {
			r.ResponseHooks = append(r.ResponseHooks, lineFilter(func() func([]byte) []byte {
				n := 0
				return func(line []byte) []byte {
					if v, ok := bytes.CutPrefix(line, []byte("id:")); ok && len(bytes.TrimSpace(v)) > 0 {
						n++
						return []byte("id: " + strconv.Itoa(n) + "\n")
					}
					return line
				}
			}))
		},
	})
	Register(Specimen{
		Name:        "no-disconnect-propagation",
		Description: "keeps the upstream request alive when the client hangs up (detached context, body drained)",
		Bug:         "proxies that detach the upstream call from the client connection (context.WithoutCancel, background tee)",
		Guards:      []string{"RES-004"},
		// RES-004 is a SHOULD before MCP 2026-07-28 (the default revision
		// is older); --strict makes the warning gate the run.
		RunArgs: []string{"--strict"},
		Apply: func(r *Reference) {
			r.RequestHooks = append(r.RequestHooks, func(pr *httputil.ProxyRequest) {
				pr.Out = pr.Out.WithContext(context.WithoutCancel(pr.Out.Context()))
			})
			r.ResponseHooks = append(r.ResponseHooks, func(resp *http.Response) error {
				resp.Body = &drainCloser{ReadCloser: resp.Body}
				return nil
			})
		},
	})
	Register(Specimen{
		Name:        "gzip-stream",
		Description: "gzips text/event-stream responses when the client offers gzip, no-transform or not (still flushing each event)",
		Bug:         "compression middleware that ignores Cache-Control: no-transform (RFC 9110 §7.7)",
		Guards:      []string{"HTTP-E2E-006"},
		Apply: func(r *Reference) {
			r.Middleware = append(r.Middleware, gzipSSE)
		},
	})
	Register(Specimen{
		Name:        "double-chunk",
		Description: "on GET event streams, copies the upstream's Transfer-Encoding: chunked and chunks the already-chunked bytes again",
		Bug:         "raw relays that forward the upstream's framing bytes and re-frame them (RFC 9112 §6.1)",
		Guards:      []string{"HTTP-HOP-003", "SSE-STREAM-003"},
		// A second chunked layer corrupts every GET event stream it touches.
		AlsoFails: []string{"HTTP-E2E-006", "RES-002", "RES-004", "SSE-PARSE-001", "SSE-PARSE-003", "SSE-PARSE-004", "SSE-PARSE-005"},
		Apply: func(r *Reference) {
			r.Middleware = append(r.Middleware, doubleChunk)
		},
	})
}

func isSSE(h http.Header) bool {
	ct, _, _ := mime.ParseMediaType(h.Get("Content-Type"))
	return ct == "text/event-stream"
}

func blankLine(l []byte) bool { return len(bytes.TrimRight(l, "\r\n")) == 0 }

// holdWrites ignores the proxy's flushes and flushes `hold` after the first
// unflushed write. finalFlush also flushes what is pending when the handler
// ends, even by panic (an upstream abort): a coalescer that loses the tail
// is a bug.
func holdWrites(hold time.Duration, finalFlush bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			hw := &holdWriter{ResponseWriter: w, rc: http.NewResponseController(w), hold: hold}
			defer func() {
				hw.mu.Lock()
				if finalFlush && hw.timer != nil {
					_ = hw.rc.Flush()
				}
				hw.closed = true
				if hw.timer != nil {
					hw.timer.Stop()
				}
				hw.mu.Unlock()
			}()
			next.ServeHTTP(hw, req)
		})
	}
}

type holdWriter struct {
	http.ResponseWriter
	rc     *http.ResponseController
	hold   time.Duration
	mu     sync.Mutex
	timer  *time.Timer
	closed bool
}

func (w *holdWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n, err := w.ResponseWriter.Write(p)
	if w.timer == nil {
		w.timer = time.AfterFunc(w.hold, func() {
			w.mu.Lock()
			defer w.mu.Unlock()
			if !w.closed {
				_ = w.rc.Flush()
			}
			w.timer = nil
		})
	}
	return n, err
}

// Flush is swallowed: the timer decides.
func (w *holdWriter) Flush() {}

// lineFilter re-serialises SSE bodies line by line through a filter (nil
// drops the line), on a bufio.Scanner with its default 64 KiB limit.
func lineFilter(newFilter func() func([]byte) []byte) func(*http.Response) error {
	return func(resp *http.Response) error {
		if !isSSE(resp.Header) {
			return nil
		}
		// The filter changes the body's length: drop Content-Length so the
		// specimen's only bug is the one it is named for, not broken framing.
		resp.ContentLength = -1
		resp.Header.Del("Content-Length")
		src := resp.Body
		pr, pw := io.Pipe()
		filter := newFilter()
		go func() {
			sc := bufio.NewScanner(src)
			sc.Split(func(data []byte, atEOF bool) (int, []byte, error) {
				if i := bytes.IndexByte(data, '\n'); i >= 0 {
					return i + 1, data[:i+1], nil
				}
				if atEOF && len(data) > 0 {
					return len(data), data, nil
				}
				return 0, nil, nil
			})
			for sc.Scan() {
				if out := filter(sc.Bytes()); out != nil {
					if _, err := pw.Write(out); err != nil {
						break
					}
				}
			}
			err := sc.Err()
			if err == nil {
				err = io.EOF
			}
			pw.CloseWithError(err)
			src.Close()
		}()
		resp.Body = struct {
			io.Reader
			io.Closer
		}{pr, closerFunc(func() error { pr.Close(); return src.Close() })}
		return nil
	}
}

type closerFunc func() error

func (f closerFunc) Close() error { return f() }

// drainCloser keeps reading the upstream body in the background after the
// proxy closes it, so the upstream never sees the client leave (bounded, so
// the specimen cannot leak past a run).
type drainCloser struct{ io.ReadCloser }

func (d *drainCloser) Close() error {
	go func() {
		t := time.AfterFunc(45*time.Second, func() { d.ReadCloser.Close() })
		defer t.Stop()
		_, _ = io.Copy(io.Discard, d.ReadCloser)
		d.ReadCloser.Close()
	}()
	return nil
}

// gzipSSE compresses event streams for gzip-accepting clients.
func gzipSSE(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if !strings.Contains(strings.ToLower(req.Header.Get("Accept-Encoding")), "gzip") {
			next.ServeHTTP(w, req)
			return
		}
		gw := &gzipWriter{ResponseWriter: w, rc: http.NewResponseController(w)}
		defer gw.close()
		next.ServeHTTP(gw, req)
	})
}

type gzipWriter struct {
	http.ResponseWriter
	rc *http.ResponseController
	gz *gzip.Writer
}

func (g *gzipWriter) WriteHeader(code int) {
	if isSSE(g.Header()) {
		g.Header().Set("Content-Encoding", "gzip")
		g.Header().Del("Content-Length")
		g.gz = gzip.NewWriter(g.ResponseWriter)
	}
	g.ResponseWriter.WriteHeader(code)
}

func (g *gzipWriter) Write(p []byte) (int, error) {
	if g.gz != nil {
		return g.gz.Write(p)
	}
	return g.ResponseWriter.Write(p)
}

func (g *gzipWriter) Flush() {
	if g.gz != nil {
		_ = g.gz.Flush()
	}
	_ = g.rc.Flush()
}

func (g *gzipWriter) close() {
	if g.gz != nil {
		_ = g.gz.Close()
	}
}

// doubleChunk hijacks GET event-stream responses and writes them with one
// chunked layer around another.
func doubleChunk(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodGet || req.ProtoMajor != 1 {
			next.ServeHTTP(w, req)
			return
		}
		dw := &dcWriter{ResponseWriter: w, header: http.Header{}}
		defer dw.finish()
		next.ServeHTTP(dw, req)
	})
}

type dcWriter struct {
	http.ResponseWriter
	header http.Header
	conn   net.Conn
	buf    *bufio.ReadWriter
	passed bool
}

func (d *dcWriter) Header() http.Header {
	if d.passed {
		return d.ResponseWriter.Header()
	}
	return d.header
}

func (d *dcWriter) WriteHeader(code int) {
	if d.conn != nil || d.passed {
		return
	}
	if !isSSE(d.header) {
		d.passed = true
		for k, v := range d.header {
			d.ResponseWriter.Header()[k] = v
		}
		d.ResponseWriter.WriteHeader(code)
		return
	}
	conn, buf, err := http.NewResponseController(d.ResponseWriter).Hijack()
	if err != nil {
		d.passed = true
		d.ResponseWriter.WriteHeader(http.StatusBadGateway)
		return
	}
	d.conn, d.buf = conn, buf
	fmt.Fprintf(buf, "HTTP/1.1 %d %s\r\n", code, http.StatusText(code))
	keys := make([]string, 0, len(d.header))
	for k := range d.header {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, v := range d.header[k] {
			fmt.Fprintf(buf, "%s: %s\r\n", k, v)
		}
	}
	buf.WriteString("Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
	_ = buf.Flush()
}

func chunk(p []byte) []byte {
	return fmt.Appendf(nil, "%x\r\n%s\r\n", len(p), p)
}

func (d *dcWriter) Write(p []byte) (int, error) {
	if d.conn == nil && !d.passed {
		d.WriteHeader(http.StatusOK)
	}
	if d.passed {
		return d.ResponseWriter.Write(p)
	}
	if _, err := d.buf.Write(chunk(chunk(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (d *dcWriter) Flush() {
	if d.passed {
		_ = http.NewResponseController(d.ResponseWriter).Flush()
		return
	}
	if d.buf != nil {
		_ = d.buf.Flush()
	}
}

func (d *dcWriter) finish() {
	if d.conn == nil {
		return
	}
	if v := recover(); v != nil && !errors.Is(asErr(v), http.ErrAbortHandler) {
		d.conn.Close()
		panic(v)
	}
	_, _ = d.buf.Write(chunk([]byte("0\r\n\r\n")))
	_, _ = d.buf.WriteString("0\r\n\r\n")
	_ = d.buf.Flush()
	d.conn.Close()
}

func asErr(v any) error {
	if err, ok := v.(error); ok {
		return err
	}
	return nil
}
