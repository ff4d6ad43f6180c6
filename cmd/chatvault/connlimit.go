package main

import (
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// connLimit caps the connections a listener holds open at once (http.maxConnections).
// net/http accepts every connection and keeps an idle keep-alive one for
// http.idleTimeout, each holding a file descriptor: a client that opens connections and
// keeps them (a /healthz each, then idle) would take every descriptor of the process,
// and the store's opens, the seal and the audit's writes would fail with "too many open
// files". At the cap, a newcomer takes the place of the connection idle the longest
// (between requests, which HTTP lets a server close at any time), so that holding places
// costs a client more than a request every http.idleTimeout; when none is idle, the
// newcomer is closed as it is accepted, unanswered: the connections already open, the
// store and the scheduler keep working, and a load balancer sees a refused connection and
// tries another replica. Waiting in Accept instead would leave the newcomers in the
// kernel's queue, unanswered all the same.
type connLimit struct {
	net.Listener
	slots   chan struct{}
	refused prometheus.Counter
	log     *slog.Logger

	mu         sync.Mutex
	idle       map[net.Conn]time.Time // connections between requests, since when
	nextLog    time.Time
	suppressed int
	// released and idled, when set (a test), hear every slot given back and every
	// connection gone idle.
	released, idled func()
}

// limitConns wraps ln so that it holds at most max connections open at once, counting
// the ones it closes in refused.
func limitConns(ln net.Listener, max int, refused prometheus.Counter, log *slog.Logger) *connLimit {
	return &connLimit{Listener: ln, slots: make(chan struct{}, max), refused: refused, log: log, idle: map[net.Conn]time.Time{}}
}

// connState is the http.Server's ConnState: it keeps track of the idle connections.
func (l *connLimit) connState(c net.Conn, st http.ConnState) {
	if nc, ok := c.(interface{ NetConn() net.Conn }); ok {
		c = nc.NetConn() // a *tls.Conn: the connection the listener gave is under it
	}
	l.mu.Lock()
	if st == http.StateIdle {
		l.idle[c] = time.Now()
	} else {
		delete(l.idle, c)
	}
	l.mu.Unlock()
	if st == http.StateIdle && l.idled != nil {
		l.idled()
	}
}

// closeIdle closes the connection idle the longest, giving its slot back; false when
// none is idle. Closing the TCP connection under TLS sends no close_notify, which could
// stall on a client that does not read.
func (l *connLimit) closeIdle() bool {
	l.mu.Lock()
	var oldest net.Conn
	var since time.Time
	for c, t := range l.idle {
		if oldest == nil || t.Before(since) {
			oldest, since = c, t
		}
	}
	delete(l.idle, oldest)
	l.mu.Unlock()
	if oldest == nil {
		return false
	}
	oldest.Close()
	return true
}

func (l *connLimit) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.take() || (l.closeIdle() && l.take()) {
			return &limitedConn{Conn: c, release: l.release}, nil
		}
		// Counted and logged before the close: whoever sees the connection closed (a
		// client, TestServeConnectionCap) then finds the refusal on record.
		l.refuse(c.RemoteAddr())
		c.Close()
	}
}

// take takes a slot when one is free.
func (l *connLimit) take() bool {
	select {
	case l.slots <- struct{}{}:
		return true
	default:
		return false
	}
}

func (l *connLimit) release() {
	<-l.slots
	if l.released != nil {
		l.released()
	}
}

// refuse counts a connection closed at the cap and logs it: the first, then at most one
// line every 10 s saying how many were not logged, so that a flood shows in the log
// without being the log.
func (l *connLimit) refuse(addr net.Addr) {
	l.refused.Inc()
	now := time.Now()
	l.mu.Lock()
	if now.Before(l.nextLog) {
		l.suppressed++
		l.mu.Unlock()
		return
	}
	n := l.suppressed
	l.suppressed, l.nextLog = 0, now.Add(10*time.Second)
	l.mu.Unlock()
	l.log.Warn("connection refused: http.maxConnections reached, none idle", "max", cap(l.slots), "client", addr.String(), "notLogged", n)
}

// limitedConn gives its slot back when closed, once.
type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// connCap is http.maxConnections, lowered to a quarter of the process's open-file limit
// when that is less: a connection that downloads holds a second descriptor, the store's
// (the object's file, or the S3 connection it streams from), and the other half is for the
// seal, the audit and the rest of the store's work.
func connCap(log *slog.Logger, configured int) int {
	limit, ok := openFileLimit()
	if !ok || uint64(configured) <= limit/4 {
		return configured
	}
	lowered := int(max(limit/4, 1))
	log.Warn("http.maxConnections lowered to a quarter of the open-file limit", "configured", configured, "openFileLimit", limit, "maxConnections", lowered)
	return lowered
}
