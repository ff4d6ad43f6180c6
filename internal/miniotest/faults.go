package miniotest

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Fault is what a FaultProxy does to one request.
type Fault int

const (
	// Pass forwards the request untouched.
	Pass Fault = iota
	// Unavailable answers 503 SlowDown without forwarding, as S3 does under load.
	Unavailable
	// Slow forwards the request after a delay.
	Slow
	// Cut reads half of the request's body, or forwards the request and sends half of the
	// response's body, then drops the connection.
	Cut
	// Lost forwards the request, so MinIO does what it asks, then drops the connection
	// before a byte of the answer: the client cannot tell whether it happened.
	Lost
	// Internal answers 500 InternalError without forwarding.
	Internal
	// Skewed answers 403 RequestTimeTooSkewed without forwarding, as S3 does to a client
	// whose clock is more than 15 minutes off.
	Skewed
	// NoSuchUpload answers 404 NoSuchUpload without forwarding, as AWS S3 answers a
	// request on a multipart upload already completed (MinIO accepts the abort of one).
	NoSuchUpload
)

func (f Fault) String() string {
	return [...]string{"pass", "503", "slow", "cut", "lost", "500", "skewed", "nosuchupload"}[f]
}

// SlowDelay is how long a Slow fault holds a request.
const SlowDelay = 300 * time.Millisecond

// FaultProxy is a reverse proxy in front of a Server that injects faults, to show what the
// S3 adapters do when the network and the server misbehave. Its URL is a loopback address.
type FaultProxy struct {
	URL string

	mu     sync.Mutex
	decide func(r *http.Request) Fault
	counts map[Fault]int
	// dateOffset is added to every answer's Date header (SetDateOffset).
	dateOffset time.Duration
}

// NewFaultProxy starts a proxy to s, closed when t's test ends. Until SetFaults is called
// it passes every request.
func (s *Server) NewFaultProxy(t testing.TB) *FaultProxy {
	target, err := url.Parse(s.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	p := &FaultProxy{counts: map[Fault]int{}}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.ModifyResponse = func(resp *http.Response) error {
		p.mu.Lock()
		off := p.dateOffset
		p.mu.Unlock()
		if d, err := http.ParseTime(resp.Header.Get("Date")); err == nil && off != 0 {
			resp.Header.Set("Date", d.Add(off).UTC().Format(http.TimeFormat))
		}
		return nil
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := p.fault(r)
		switch f {
		case Unavailable:
			// Read the body first, as S3 does, so that the client sees the 503 rather than
			// a connection reset while it is still sending.
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>injected fault</Message></Error>`)
			return
		case Internal, Skewed, NoSuchUpload:
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/xml")
			status, code := http.StatusInternalServerError, "InternalError"
			switch f {
			case Skewed:
				status, code = http.StatusForbidden, "RequestTimeTooSkewed"
			case NoSuchUpload:
				status, code = http.StatusNotFound, "NoSuchUpload"
			}
			w.WriteHeader(status)
			io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>`+code+`</Code><Message>injected fault</Message></Error>`)
			return
		case Lost:
			rp.ServeHTTP(httptest.NewRecorder(), r)
			panic(http.ErrAbortHandler) // drops the connection: the answer is lost
		case Slow:
			select {
			case <-time.After(SlowDelay):
			case <-r.Context().Done():
				return
			}
		case Cut:
			if r.ContentLength > 0 {
				_, _ = io.CopyN(io.Discard, r.Body, r.ContentLength/2)
				panic(http.ErrAbortHandler) // drops the connection mid-upload
			}
			w = &cutWriter{ResponseWriter: w}
		}
		rp.ServeHTTP(w, r)
	}))
	// Loopback only, as the server behind it.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv.Listener = l
	srv.Config.ErrorLog = nil
	srv.Start()
	t.Cleanup(srv.Close)
	p.URL = srv.URL
	return p
}

// SetFaults makes decide choose the fault of every later request; nil passes them all.
// decide is called with the proxy's lock held, so it may keep state without its own.
func (p *FaultProxy) SetFaults(decide func(r *http.Request) Fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.decide = decide
}

// SetDateOffset moves the Date header of every later answer by d, as from a server whose
// clock is d ahead of this host's (or this host's clock d behind).
func (p *FaultProxy) SetDateOffset(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.dateOffset = d
}

// Count returns how many requests got fault f.
func (p *FaultProxy) Count(f Fault) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.counts[f]
}

func (p *FaultProxy) fault(r *http.Request) Fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	f := Pass
	if p.decide != nil {
		f = p.decide(r)
	}
	p.counts[f]++
	return f
}

// cutWriter passes the response's headers and half of its declared body, then aborts.
type cutWriter struct {
	http.ResponseWriter
	left int64
	set  bool
}

func (c *cutWriter) WriteHeader(code int) {
	if n := c.Header().Get("Content-Length"); n != "" && code == http.StatusOK {
		if size, err := strconv.ParseInt(n, 10, 64); err == nil {
			c.left, c.set = size/2, true
		}
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *cutWriter) Write(p []byte) (int, error) {
	if !c.set {
		return c.ResponseWriter.Write(p)
	}
	if int64(len(p)) > c.left {
		n, _ := c.ResponseWriter.Write(p[:c.left])
		c.left -= int64(n)
		if f, ok := c.ResponseWriter.(http.Flusher); ok {
			f.Flush()
		}
		panic(http.ErrAbortHandler)
	}
	n, err := c.ResponseWriter.Write(p)
	c.left -= int64(n)
	return n, err
}
