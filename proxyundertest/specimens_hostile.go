package proxyundertest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Hostile specimens are not proxies with one bug: they attack the harness
// (never answer, stall, reset, send garbage, flood). They prove the harness
// survives a broken proxy — every case ends within its timeout as fail or
// error, the reports are written, nothing leaks — rather than that a
// scenario catches a bug, so self-validation skips them (Listen/Handler set)
// and cmd/mcpconform/hostile_test.go runs the whole suite against each.
// no-keepalive is the exception: a correct proxy that closes every
// connection, which must pass everything and so sits in self-validation.

// HugeHeaderBytes is how much response header huge-headers sends: 1 MiB of
// fields, just over the harness client's limit on response headers.
const HugeHeaderBytes = 1 << 20

func init() {
	Register(Specimen{
		Name:        "hang",
		Description: "accepts connections, reads the request, never answers",
		Bug:         "hostile: a wedged proxy (deadlocked worker, full upstream pool)",
		Listen:      rawSpecimen(hangConn),
	})
	Register(Specimen{
		Name:        "stall-body",
		Description: "answers 200 with headers promising a body, sends one byte of it, then stalls forever",
		Bug:         "hostile: a proxy whose upstream stalled mid-body with no read timeout",
		Listen:      rawSpecimen(stallBodyConn),
	})
	Register(Specimen{
		Name:        "reset",
		Description: "starts a response, then resets the connection (SO_LINGER 0 + close)",
		Bug:         "hostile: a proxy that crashes or is killed mid-response",
		Listen:      rawSpecimen(resetConn),
	})
	Register(Specimen{
		Name:        "garbage",
		Description: "answers every request with bytes that are not HTTP",
		Bug:         "hostile: something else listens on the port (TLS, SSH, a binary protocol)",
		Listen:      rawSpecimen(garbageConn),
	})
	Register(Specimen{
		Name:        "slowloris",
		Description: "answers with a well-formed response, one byte per second",
		Bug:         "hostile: a proxy behind a congested or throttled link",
		Listen:      rawSpecimen(slowlorisConn),
	})
	Register(Specimen{
		Name:        "endless-junk",
		Description: "answers 200 text/event-stream and streams junk (not SSE, not JSON) until the client goes away",
		Bug:         "hostile: a runaway stream that would make an unbounded reader allocate forever",
		Handler:     func(*url.URL) http.Handler { return http.HandlerFunc(endlessJunk) },
	})
	Register(Specimen{
		Name:        "huge-headers",
		Description: "the reference proxy plus 1 MiB of junk response header fields on every response",
		Bug:         "hostile: a proxy that echoes or accumulates headers without bound",
		Handler: func(up *url.URL) http.Handler {
			return hugeHeaders(NewReference(up, Options{Roles: []string{"T"}}).Handler())
		},
	})
	Register(Specimen{
		Name:        "no-keepalive",
		Description: "the reference proxy, closing every client connection after one response (Connection: close)",
		Bug:         "none: HTTP/1.1 lets either side close after any response; proxies behind some load balancers do",
		// A correct proxy: it must pass every scenario (no Guards), which
		// self-validation checks. It guards the harness against assuming
		// keep-alive (a reused connection, a session bound to a socket).
		Apply: func(r *Reference) {
			// Client side only. With DisableKeepAlives on the upstream
			// transport, Go's Transport sends Connection: close, the upstream
			// answers Connection: close, and net/http then deletes the whole
			// response Connection field (transfer.go shouldClose) before
			// ReverseProxy can read which fields it names: those fields leak
			// to the client (HTTP-HOP-001 fails). A real bug, not this
			// specimen's subject.
			r.Middleware = append(r.Middleware, func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
					// The server closes the connection after a response
					// that carries Connection: close.
					w.Header().Set("Connection", "close")
					next.ServeHTTP(w, req)
				})
			})
		},
	})
}

// rawSpecimen serves raw TCP: handle runs once per accepted connection. It
// returns only when ctx has ended and every handler has returned, so closing
// the target leaves no goroutine behind.
func rawSpecimen(handle func(ctx context.Context, c net.Conn)) func(context.Context, net.Listener, *url.URL) {
	return func(ctx context.Context, ln net.Listener, _ *url.URL) {
		var (
			wg    sync.WaitGroup
			mu    sync.Mutex
			conns = map[net.Conn]struct{}{}
		)
		stop := context.AfterFunc(ctx, func() {
			ln.Close()
			mu.Lock()
			defer mu.Unlock()
			for c := range conns {
				c.Close()
			}
		})
		defer stop()
		for {
			c, err := ln.Accept()
			if err != nil {
				break
			}
			mu.Lock()
			if ctx.Err() != nil {
				mu.Unlock()
				c.Close()
				break
			}
			conns[c] = struct{}{}
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() {
					mu.Lock()
					delete(conns, c)
					mu.Unlock()
					c.Close()
				}()
				handle(ctx, c)
			}()
		}
		wg.Wait()
	}
}

// readRequest reads one request head and its body, so the client's write
// never blocks on us. A nil result means the connection ended.
func readRequest(br *bufio.Reader) *http.Request {
	req, err := http.ReadRequest(br)
	if err != nil {
		return nil
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(req.Body, 64<<20))
	req.Body.Close()
	return req
}

// hangConn reads whatever arrives and never writes; it ends when the client
// gives up and closes.
func hangConn(_ context.Context, c net.Conn) {
	_, _ = io.Copy(io.Discard, c)
}

func stallBodyConn(_ context.Context, c net.Conn) {
	br := bufio.NewReader(c)
	if readRequest(br) == nil {
		return
	}
	_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 4096\r\n\r\n{")
	// Stall: the promised body never comes. Reading keeps us parked until
	// the client closes (or the target is closed).
	_, _ = io.Copy(io.Discard, br)
}

func resetConn(_ context.Context, c net.Conn) {
	br := bufio.NewReader(c)
	if readRequest(br) == nil {
		return
	}
	_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 4096\r\n\r\n{\"jsonrpc\":\"2.0\",")
	if tc, ok := c.(*net.TCPConn); ok {
		// Linger 0: close sends RST instead of FIN, so the client sees a
		// reset, not a clean (if short) end of stream.
		_ = tc.SetLinger(0)
	}
	c.Close()
}

func garbageConn(_ context.Context, c net.Conn) {
	br := bufio.NewReader(c)
	if readRequest(br) == nil {
		return
	}
	_, _ = c.Write([]byte("\x16\x03\x01\x00\xa5\x01\x00\x00\xa1 SSH-2.0-garbage \xff\xfe\x00 not HTTP at all\r\n\r\n"))
}

// slowlorisResponse is well-formed; only its pace is hostile.
const slowlorisResponse = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"

func slowlorisConn(ctx context.Context, c net.Conn) {
	br := bufio.NewReader(c)
	if readRequest(br) == nil {
		return
	}
	// Notice the client closing: a read returns when it does.
	gone := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, br); close(gone) }()
	defer func() { c.Close(); <-gone }()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for i := 0; i < len(slowlorisResponse); i++ {
		if _, err := c.Write([]byte{slowlorisResponse[i]}); err != nil {
			return
		}
		select {
		case <-tick.C:
		case <-gone:
			return
		case <-ctx.Done():
			return
		}
	}
}

// junkChunk is one write of endless-junk: lines that are neither SSE fields
// a client could use nor JSON, with invalid UTF-8 and NULs.
var junkChunk = func() []byte {
	var b strings.Builder
	for b.Len() < 32<<10 {
		fmt.Fprintf(&b, "data: {\"jsonrpc\":\"2.0\",\xff\xfe junk %d\x00\nnot-a-field\n:\n\n", b.Len())
	}
	return []byte(b.String())
}()

func endlessJunk(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 64<<20))
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	for r.Context().Err() == nil {
		if _, err := w.Write(junkChunk); err != nil {
			return
		}
		if rc.Flush() != nil {
			return
		}
	}
}

func hugeHeaders(next http.Handler) http.Handler {
	value := strings.Repeat("x", 1000)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		for n, size := 0, 0; size < HugeHeaderBytes; n++ {
			name := fmt.Sprintf("X-Junk-%05d", n)
			h.Set(name, value)
			size += len(name) + len(": ") + len(value) + len("\r\n")
		}
		next.ServeHTTP(w, r)
	})
}
