package attach

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"hash"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/internal/crashpoint"
)

// Reasons a capture fails, as the attachment index records them.
const (
	ReasonHTTPStatus     = "http_status"      // the server answered with a status other than 200
	ReasonTimeout        = "timeout"          // connect, header or total timeout
	ReasonTooLarge       = "too_large"        // Content-Length or the body exceeds the size limit
	ReasonHostNotAllowed = "host_not_allowed" // a host (or a redirect's) not on the list, or a name resolving to a non-public address
	ReasonLength         = "length_mismatch"  // a body shorter or longer than its Content-Length
	ReasonRedirects      = "too_many_redirects"
	ReasonBadURL         = "bad_url" // not an http(s) URL
	ReasonNetwork        = "network" // any other transport error
)

// maxURL bounds a URL fetched: longer than any server takes in a request line (most stop
// at 8 to 16 KiB), and kept in every index revision that links it.
const maxURL = 64 << 10

// maxRedirects bounds a fetch's redirects (every hop checked against the list).
const maxRedirects = 5

// maxHeaderBytes bounds a response's headers, as read and as captured to frame the body.
const maxHeaderBytes = 64 << 10

// copyBuffer is the size of the buffer a fetch streams through: the fetch's memory,
// whatever the file's size.
const copyBuffer = 64 << 10

// Options configure a Fetcher.
type Options struct {
	// AllowedHosts are exact host or host:port entries (config attachments.allowedHosts);
	// nothing else is ever contacted.
	AllowedHosts []string
	// Token, when set, is sent as a bearer token to the allowed hosts over https only.
	Token string
	// TokenSource, when set, is asked for the token at every fetch, in place of Token:
	// the token file read again, so that a token rotated while serve runs is used without
	// a restart. Its error stops the capture (it is not a file's outcome).
	TokenSource func() (string, error)
	// TokenHosts, when set, are the only allowed hosts (exact host or host:port entries,
	// as AllowedHosts) the token is sent to: an allowed host may be shared (a cloud
	// storage or CDN domain where anyone hosts files), and a link to a file of one's own
	// there must not collect the platform's token. Empty: every allowed host.
	TokenHosts []string
	// Concurrency bounds the fetches in flight, over every caller of the Fetcher.
	Concurrency int
	// MaxSize is the largest body captured.
	MaxSize int64
	// ConnectTimeout bounds dialing and the TLS handshake, HeaderTimeout the wait for the
	// response's headers, Timeout the whole fetch, body included.
	ConnectTimeout, HeaderTimeout, Timeout time.Duration
	// TempDir is where bodies are staged before they are stored ("" is os.TempDir).
	TempDir string
	// RootCAs, when set, replaces the system's roots (a private CA; tests).
	RootCAs *x509.CertPool
}

// Failure is a capture that failed for a reason the index records (see the Reason
// constants). Errors that are not Failures (the caller's context ended, the temporary
// folder is full) are not outcomes: the capture stops and records nothing for them.
type Failure struct {
	Reason string
	// Status is the HTTP status, for ReasonHTTPStatus.
	Status int
	// Detail says more, for people; it never holds the token.
	Detail string
}

func (f *Failure) Error() string {
	if f.Status != 0 {
		return fmt.Sprintf("%s %d: %s", f.Reason, f.Status, f.Detail)
	}
	return f.Reason + ": " + f.Detail
}

// Fetched is a body captured to a staging file: complete, of the Content-Length the server
// declared when it declared one, hashed as it was written.
type Fetched struct {
	File        *os.File // positioned at the start; Discard closes and removes it
	Size        int64
	SHA256      [sha256.Size]byte
	ContentType string
	// ContentEncoding is the response's Content-Encoding (lower-case), "" when the file
	// was served as it is: the bytes are kept as served, encoded.
	ContentEncoding string
	// ServedFrom is the URL that served the body when the one asked for redirected to it,
	// "" when it did not.
	ServedFrom string
}

// Discard closes and removes the staging file.
func (f *Fetched) Discard() {
	if f == nil || f.File == nil {
		return
	}
	name := f.File.Name()
	f.File.Close()
	os.Remove(name)
	f.File = nil
}

// Fetcher fetches files from the allowed hosts only. Every request, redirect and
// connection is checked against the list: the URL's host before the request, each
// redirect's before it is followed, and the address actually dialed (after DNS) before the
// connection is made, so that a name that resolves to a private address (DNS rebinding)
// is refused even when the name is listed. No proxy from the environment is used: a proxy
// would be a host off the list.
type Fetcher struct {
	opt     Options
	allowed []hostEntry
	tokenTo []hostEntry // Options.TokenHosts; empty: every allowed host
	sem     chan struct{}
	bufs    sync.Pool
}

type hostEntry struct {
	host string // lower-case name, or an IP address in its canonical form
	port string // "" allows the scheme's default port
	ip   bool
}

// NewFetcher checks opt and returns a Fetcher.
func NewFetcher(opt Options) (*Fetcher, error) {
	if opt.Concurrency < 1 {
		return nil, errors.New("attach: concurrency must be at least 1")
	}
	if opt.MaxSize < 1 || opt.ConnectTimeout <= 0 || opt.HeaderTimeout <= 0 || opt.Timeout <= 0 {
		return nil, errors.New("attach: size limit and timeouts must be positive")
	}
	if strings.ContainsAny(opt.Token, "\r\n") {
		return nil, errors.New("attach: the token holds a line break")
	}
	f := &Fetcher{opt: opt, sem: make(chan struct{}, opt.Concurrency)}
	for _, h := range opt.AllowedHosts {
		e, err := parseEntry(h)
		if err != nil {
			return nil, err
		}
		f.allowed = append(f.allowed, e)
	}
	for _, h := range opt.TokenHosts {
		e, err := parseEntry(h)
		if err != nil {
			return nil, err
		}
		f.tokenTo = append(f.tokenTo, e)
	}
	f.bufs.New = func() any { b := make([]byte, copyBuffer); return &b }
	return f, nil
}

func parseEntry(h string) (hostEntry, error) {
	host, port := h, ""
	if hh, p, err := net.SplitHostPort(h); err == nil {
		host, port = hh, p
	}
	if host == "" {
		return hostEntry{}, fmt.Errorf("attach: allowed host %q has no host", h)
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return hostEntry{host: a.Unmap().String(), port: port, ip: true}, nil
	}
	return hostEntry{host: strings.ToLower(host), port: port}, nil
}

func defaultPort(scheme string) string { return archiver.DefaultPort(scheme) }

// canonicalHost is how a URL's or a dial's host compares with the entries.
func canonicalHost(h string) string {
	if a, err := netip.ParseAddr(h); err == nil {
		return a.Unmap().String()
	}
	return strings.ToLower(h)
}

// entryFor returns the entry that allows host:port for scheme ("" at dial time, when
// either default port is taken as meant for a portless entry), or nil.
func (f *Fetcher) entryFor(host, port, scheme string) *hostEntry {
	return matchEntry(f.allowed, host, port, scheme)
}

// matchEntry returns the entry of entries that allows host:port for scheme (as entryFor).
func matchEntry(entries []hostEntry, host, port, scheme string) *hostEntry {
	host = canonicalHost(host)
	for i := range entries {
		e := &entries[i]
		if e.host != host {
			continue
		}
		switch {
		case e.port == port:
			return e
		case e.port == "" && scheme != "" && port == defaultPort(scheme):
			return e
		case e.port == "" && scheme == "" && (port == "80" || port == "443"):
			return e
		}
	}
	return nil
}

// Allowed reports whether u may be fetched: http or https, on a listed host and port.
func (f *Fetcher) Allowed(u *url.URL) bool {
	if u.Scheme != "http" && u.Scheme != "https" || u.User != nil {
		return false
	}
	port := u.Port()
	if port == "" {
		port = defaultPort(u.Scheme)
	}
	return f.entryFor(u.Hostname(), port, u.Scheme) != nil
}

// publicAddr reports whether a is an address a listed name may resolve to: not loopback,
// private, link-local, unspecified, multicast, shared (100.64/10) or otherwise reserved
// for local use.
func publicAddr(a netip.Addr) bool {
	a = a.Unmap()
	switch {
	case !a.IsValid(), a.IsLoopback(), a.IsPrivate(), a.IsLinkLocalUnicast(), a.IsLinkLocalMulticast(),
		a.IsInterfaceLocalMulticast(), a.IsMulticast(), a.IsUnspecified():
		return false
	}
	for _, p := range reserved {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

var reserved = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("64:ff9b::/96"), // NAT64 can reach any IPv4 address
}

// fetchConns is one fetch's connections, so that the response's can be asked how many
// bytes it carried (see framedConn).
type fetchConns struct {
	mu   sync.Mutex
	last *framedConn
}

func (fc *fetchConns) add(c net.Conn) net.Conn {
	w := &framedConn{Conn: c, closed: make(chan struct{})}
	fc.mu.Lock()
	fc.last = w
	fc.mu.Unlock()
	return w
}

// dialChecked dials addr if its host is listed, checking every address the name resolves
// to when it is about to be connected (net.Dialer.Control), so that nothing but a checked
// address is ever dialed.
func (f *Fetcher) dialChecked(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	e := f.entryFor(host, port, "")
	if e == nil {
		return nil, &Failure{Reason: ReasonHostNotAllowed, Detail: addr + " is not on attachments.allowedHosts"}
	}
	d := net.Dialer{Timeout: f.opt.ConnectTimeout, Control: func(_, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return &Failure{Reason: ReasonHostNotAllowed, Detail: "cannot check address " + address}
		}
		if e.ip {
			// A listed address is the only one an IP-literal URL can dial.
			if ap.Addr().Unmap().String() != e.host {
				return &Failure{Reason: ReasonHostNotAllowed, Detail: address + " is not the listed address"}
			}
			return nil
		}
		if !publicAddr(ap.Addr()) {
			return &Failure{Reason: ReasonHostNotAllowed, Detail: host + " resolves to a non-public address " + ap.Addr().String() +
				" (list a private server by its address)"}
		}
		return nil
	}}
	return d.DialContext(ctx, network, addr)
}

// dial is the Transport's DialContext (http).
func (f *Fetcher) dial(fc *fetchConns) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := f.dialChecked(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return fc.add(c), nil
	}
}

// dialTLS is the Transport's DialTLSContext (https): the handshake is made here so that
// the bytes framedConn counts are the plaintext of the response, not TLS records.
// HTTP/1.1 only: its framing is what the counting checks.
func (f *Fetcher) dialTLS(fc *fetchConns) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := f.dialChecked(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		host, _, _ := net.SplitHostPort(addr)
		tc := tls.Client(c, &tls.Config{ServerName: host, RootCAs: f.opt.RootCAs, MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}})
		hctx, cancel := context.WithTimeout(ctx, f.opt.ConnectTimeout)
		defer cancel()
		if err := tc.HandshakeContext(hctx); err != nil {
			c.Close()
			return nil, err
		}
		return fc.add(tc), nil
	}
}

// framedConn counts the bytes read from a connection and keeps the first
// maxHeaderBytes+4, so that a body longer than its Content-Length can be told: net/http
// stops reading at the declared length, and what the server sent beyond it is only
// visible here. When net/http closes the connection (every response's, since keep-alives
// are off), Close first reads what the server already sent past the response.
type framedConn struct {
	net.Conn
	mu        sync.Mutex
	n         int64
	head      []byte
	extra     int64 // read by Close
	closeOnce sync.Once
	closed    chan struct{}
}

func (c *framedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	c.n += int64(n)
	if room := maxHeaderBytes + 4 - len(c.head); room > 0 {
		c.head = append(c.head, p[:min(n, room)]...)
	}
	c.mu.Unlock()
	return n, err
}

// drainWait bounds how long Close waits for bytes past the response that are not
// already there; a server that closes after its response (as asked: keep-alives are off)
// ends it at once.
const drainWait = 50 * time.Millisecond

func (c *framedConn) Close() error {
	c.closeOnce.Do(func() {
		_ = c.Conn.SetReadDeadline(time.Now().Add(drainWait))
		var buf [4096]byte
		var extra int64
		for extra < 1<<20 {
			n, err := c.Conn.Read(buf[:])
			extra += int64(n)
			if err != nil {
				break
			}
		}
		c.mu.Lock()
		c.extra = extra
		c.mu.Unlock()
		close(c.closed)
	})
	return c.Conn.Close()
}

// framing returns the bytes read by net/http, where the last response's headers ended
// (-1 when not within the captured prefix), and the bytes Close found past them.
func (c *framedConn) framing() (int64, int, int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n, headerEnd(c.head), c.extra
}

// headerEnd returns the offset just past the final (non-1xx) response's headers in b, or -1.
func headerEnd(b []byte) int {
	off := 0
	for {
		i := bytes.Index(b[off:], []byte("\r\n\r\n"))
		if i < 0 {
			return -1
		}
		line := b[off:]
		if len(line) >= 10 && bytes.HasPrefix(line, []byte("HTTP/1.")) && line[9] == '1' {
			off += i + 4 // an informational response: the real one follows
			continue
		}
		return off + i + 4
	}
}

// check parses rawURL and returns the Failure that refuses it without a request, if any:
// not http(s), with user information (never sent: a password in a chat link is not the
// operator's credential), or a host not on the list.
func (f *Fetcher) check(rawURL string) (*url.URL, *Failure) {
	if len(rawURL) > maxURL {
		return nil, &Failure{Reason: ReasonBadURL, Detail: fmt.Sprintf("a URL of %d bytes, over %d", len(rawURL), maxURL)}
	}
	u, err := url.Parse(rawURL)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return nil, &Failure{Reason: ReasonBadURL, Detail: "not an http or https URL"}
	case u.User != nil:
		return nil, &Failure{Reason: ReasonBadURL, Detail: "the URL carries user information (user:password@), which is never sent"}
	case !f.Allowed(u):
		return nil, &Failure{Reason: ReasonHostNotAllowed, Detail: clip(u.Host, 300) + " is not on attachments.allowedHosts"}
	}
	return u, nil
}

// Fetch fetches rawURL into a staging file. A Failure is an outcome to record; any other
// error (ctx ended, the staging folder failed) is not.
func (f *Fetcher) Fetch(ctx context.Context, rawURL string) (*Fetched, error) {
	u, fl := f.check(rawURL)
	if fl != nil {
		return nil, fl
	}
	token, err := f.token()
	if err != nil {
		return nil, err
	}
	select {
	case f.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-f.sem }()

	fctx, cancel := context.WithTimeout(ctx, f.opt.Timeout)
	defer cancel()
	fc := &fetchConns{}
	// A transport per fetch, without keep-alives: each response has its own connection,
	// whose bytes (rawConn) frame the body, and no connection is reused after a server
	// sent more than it declared.
	tr := &http.Transport{
		Proxy:                  nil,
		DialContext:            f.dial(fc),
		DialTLSContext:         f.dialTLS(fc),
		ResponseHeaderTimeout:  f.opt.HeaderTimeout,
		DisableKeepAlives:      true,
		DisableCompression:     true, // the file as served, not a decompressed copy of it
		MaxResponseHeaderBytes: maxHeaderBytes,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if len(via) >= maxRedirects {
			return &Failure{Reason: ReasonRedirects, Detail: fmt.Sprintf("more than %d redirects", maxRedirects)}
		}
		if _, fl := f.check(req.URL.String()); fl != nil {
			fl.Detail = "redirect: " + fl.Detail
			return fl
		}
		f.authorize(req, token)
		req.Header.Set("Accept-Encoding", "identity")
		return nil
	}}
	req, err := http.NewRequestWithContext(fctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, &Failure{Reason: ReasonBadURL, Detail: "not a valid request URL"}
	}
	f.authorize(req, token)
	// The file as it is: a server that encodes it all the same has its encoding recorded.
	req.Header.Set("Accept-Encoding", "identity")
	resp, err := client.Do(req)
	if err != nil {
		return nil, f.classify(ctx, err, -1, 0)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, &Failure{Reason: ReasonHTTPStatus, Status: resp.StatusCode, Detail: http.StatusText(resp.StatusCode)}
	}
	if resp.ContentLength > f.opt.MaxSize {
		return nil, &Failure{Reason: ReasonTooLarge, Detail: fmt.Sprintf("Content-Length %d is over the limit of %d bytes", resp.ContentLength, f.opt.MaxSize)}
	}
	file, err := os.CreateTemp(f.opt.TempDir, "attachment-*")
	if err != nil {
		return nil, fmt.Errorf("attach: stage: %w", err)
	}
	out := &Fetched{File: file, ContentType: clip(resp.Header.Get("Content-Type"), 256), ContentEncoding: contentEncoding(resp.Header)}
	if final := resp.Request.URL.String(); final != u.String() {
		out.ServedFrom = clip(final, maxURL)
	}
	ok := false
	defer func() {
		if !ok {
			out.Discard()
		}
	}()
	h := sha256.New()
	bp := f.bufs.Get().(*[]byte)
	n, err := io.CopyBuffer(hashWriter{crashpoint.Writer("attach.stage", file), h}, io.LimitReader(resp.Body, f.opt.MaxSize+1), *bp)
	f.bufs.Put(bp)
	var werr *writeError
	switch {
	case errors.As(err, &werr):
		return nil, fmt.Errorf("attach: stage: %w", werr.err)
	case err != nil:
		return nil, f.classify(ctx, err, resp.ContentLength, n)
	case n > f.opt.MaxSize:
		return nil, &Failure{Reason: ReasonTooLarge, Detail: fmt.Sprintf("body over the limit of %d bytes", f.opt.MaxSize)}
	case resp.ContentLength >= 0 && n != resp.ContentLength:
		return nil, &Failure{Reason: ReasonLength, Detail: fmt.Sprintf("body of %d bytes, Content-Length %d", n, resp.ContentLength)}
	}
	if resp.ContentLength >= 0 && len(resp.TransferEncoding) == 0 {
		if extra := f.overrun(fctx, fc, resp.Body, n); extra > 0 {
			return nil, &Failure{Reason: ReasonLength, Detail: fmt.Sprintf("body longer than its Content-Length %d (at least %d bytes more)", resp.ContentLength, extra)}
		}
	}
	if _, err := file.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("attach: stage: %w", err)
	}
	out.Size = n
	copy(out.SHA256[:], h.Sum(nil))
	ok = true
	return out, nil
}

// overrun returns how many bytes the response's connection carried past a body of n
// bytes: those net/http read along with the body, and those Close found already sent. It
// closes the body, and waits (bounded by ctx) for net/http to close the connection, which
// it does once the body is read, keep-alives being off.
func (f *Fetcher) overrun(ctx context.Context, fc *fetchConns, body io.Closer, n int64) int64 {
	fc.mu.Lock()
	c := fc.last
	fc.mu.Unlock()
	if c == nil {
		return 0
	}
	body.Close()
	select {
	case <-c.closed:
	case <-ctx.Done():
	}
	total, end, extra := c.framing()
	if end < 0 {
		return 0 // headers beyond the captured prefix: cannot frame, net/http's framing stands
	}
	return total - int64(end) - n + extra
}

// token is the token of this fetch: Options.Token, or TokenSource's.
func (f *Fetcher) token() (string, error) {
	if f.opt.TokenSource == nil {
		return f.opt.Token, nil
	}
	t, err := f.opt.TokenSource()
	if err != nil {
		return "", fmt.Errorf("attach: token: %w", err)
	}
	if strings.ContainsAny(t, "\r\n") {
		return "", errors.New("attach: token: it holds a line break")
	}
	return t, nil
}

// tokenHost reports whether u's host is one the token goes to (Options.TokenHosts).
func (f *Fetcher) tokenHost(u *url.URL) bool {
	if len(f.tokenTo) == 0 {
		return true
	}
	port := u.Port()
	if port == "" {
		port = defaultPort(u.Scheme)
	}
	return matchEntry(f.tokenTo, u.Hostname(), port, u.Scheme) != nil
}

// authorize sets the bearer token on a request to an allowed (and token) host over https, and removes
// it otherwise (net/http copies it onto redirects to the same domain).
func (f *Fetcher) authorize(req *http.Request, token string) {
	if token != "" && req.URL.Scheme == "https" && f.Allowed(req.URL) && f.tokenHost(req.URL) {
		req.Header.Set("Authorization", "Bearer "+token)
		return
	}
	req.Header.Del("Authorization")
}

// classify turns a transport or body error into a Failure, or returns it as it is when
// the caller's ctx ended (a shutdown is not an outcome).
func (f *Fetcher) classify(ctx context.Context, err error, contentLength, n int64) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var fl *Failure
	if errors.As(err, &fl) {
		return fl
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
		return &Failure{Reason: ReasonTimeout, Detail: fmt.Sprintf("after %d bytes", n)}
	}
	if errors.Is(err, io.ErrUnexpectedEOF) && contentLength >= 0 {
		return &Failure{Reason: ReasonLength, Detail: fmt.Sprintf("body of %d bytes, Content-Length %d", n, contentLength)}
	}
	return &Failure{Reason: ReasonNetwork, Detail: scrub(err.Error())}
}

// contentEncoding is a response's Content-Encoding as recorded: lower-case, "" for none
// or identity.
func contentEncoding(h http.Header) string {
	e := strings.ToLower(strings.TrimSpace(clip(strings.Join(h.Values("Content-Encoding"), ", "), 64)))
	if e == "identity" {
		return ""
	}
	return e
}

// scrub keeps an error's text short; transport errors carry the URL, never headers.
func scrub(s string) string { return clip(s, 300) }

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// hashWriter writes to the staging file and the hash; a write error is marked, so that a
// full disk is told from a network failure.
type hashWriter struct {
	w io.Writer
	h hash.Hash
}

type writeError struct{ err error }

func (e *writeError) Error() string { return e.err.Error() }

func (hw hashWriter) Write(p []byte) (int, error) {
	n, err := hw.w.Write(p)
	hw.h.Write(p[:n])
	if err != nil {
		return n, &writeError{err}
	}
	return n, nil
}
