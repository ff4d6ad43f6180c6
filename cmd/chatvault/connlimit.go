package main

import (
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// connLimit caps the connections a listener holds open at once (http.maxConnections).
// net/http accepts every connection and keeps an idle keep-alive one for
// http.idleTimeout, each holding a file descriptor: a client that opens connections and
// keeps them (a /healthz each, then idle) would take every descriptor of the process,
// and the store's opens, the seal and the audit's writes would fail with "too many open
// files". Past the cap a connection is closed as it is accepted, unanswered: the
// connections already open, the store and the scheduler keep working, and a load
// balancer sees a refused connection and tries another replica. Waiting in Accept instead
// would leave the newcomers in the kernel's queue, unanswered all the same.
type connLimit struct {
	net.Listener
	slots   chan struct{}
	refused prometheus.Counter
	log     *slog.Logger

	mu         sync.Mutex
	nextLog    time.Time
	suppressed int
	// released, when set (a test), hears every slot given back.
	released func()
}

// limitConns wraps ln so that it holds at most max connections open at once, counting
// the ones it closes in refused.
func limitConns(ln net.Listener, max int, refused prometheus.Counter, log *slog.Logger) *connLimit {
	return &connLimit{Listener: ln, slots: make(chan struct{}, max), refused: refused, log: log}
}

func (l *connLimit) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		select {
		case l.slots <- struct{}{}:
			return &limitedConn{Conn: c, release: l.release}, nil
		default:
			c.Close()
			l.refuse(c.RemoteAddr())
		}
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
	l.log.Warn("connection refused: http.maxConnections reached", "max", cap(l.slots), "client", addr.String(), "notLogged", n)
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

// connCap is http.maxConnections, lowered to half the process's open-file limit when that
// is less: the other half is the store's, the seal's and the audit's.
func connCap(log *slog.Logger, configured int) int {
	limit, ok := openFileLimit()
	if !ok || uint64(configured) <= limit/2 {
		return configured
	}
	lowered := int(max(limit/2, 1))
	log.Warn("http.maxConnections lowered to half the open-file limit", "configured", configured, "openFileLimit", limit, "maxConnections", lowered)
	return lowered
}
