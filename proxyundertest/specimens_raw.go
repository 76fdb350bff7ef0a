package proxyundertest

import (
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// Specimens that forward bytes below HTTP.
func init() {
	Register(Specimen{
		Name:        "raw-relay",
		Description: "a TCP relay: copies the bytes of both directions verbatim, never parsing HTTP",
		Bug:         "L4 pass-through and byte-copying bridges forward malformed response field lines (NUL, obs-fold, space before the colon) that RFC 9110/9112 require a proxy to reject or repair",
		Guards:      []string{"HTTP-E2E-002", "HTTP-E2E-003", "HTTP-E2E-004"},
		// Being below HTTP it also forwards Connection-named and other
		// hop-by-hop fields, and cannot rewrite a legacy endpoint URL.
		AlsoFails: []string{"HTTP-HOP-001", "HTTP-HOP-002", "LSSE-002"},
		Apply: func(r *Reference) {
			upstream := r.Upstream.Host
			// The HTTP server gets a listener that never yields a
			// connection; the relay serves the real one. Built this way
			// (not as a Listen specimen) it runs in self-validation.
			r.Server = func(_ *http.Server, ln net.Listener) net.Listener {
				go relayAll(ln, upstream)
				return &idleListener{inner: ln, done: make(chan struct{})}
			}
		},
	})
}

func relayAll(ln net.Listener, upstream string) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go relay(c, upstream)
	}
}

func relay(c net.Conn, upstream string) {
	defer c.Close()
	u, err := net.DialTimeout("tcp", upstream, 5*time.Second)
	if err != nil {
		return
	}
	defer u.Close()
	go func() {
		_, _ = io.Copy(u, c)
		if tc, ok := u.(*net.TCPConn); ok {
			_ = tc.CloseWrite() // the client is done sending; let the upstream finish
		}
	}()
	_, _ = io.Copy(c, u)
}

// idleListener blocks in Accept until closed; Close also closes the real
// listener, which stops the relay.
type idleListener struct {
	inner net.Listener
	once  sync.Once
	done  chan struct{}
}

func (l *idleListener) Accept() (net.Conn, error) {
	<-l.done
	return nil, net.ErrClosed
}

func (l *idleListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return l.inner.Close()
}

func (l *idleListener) Addr() net.Addr { return l.inner.Addr() }
