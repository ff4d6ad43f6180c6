package httpapi

import (
	"cmp"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/audit"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/model"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/semaphore"
)

//go:embed openapi.json
var openAPI []byte

// OpenAPI returns the API's OpenAPI 3.1 document.
func OpenAPI() []byte { return openAPI }

// Exports is what the API reads of the ledger (ledger.Ledger).
type Exports interface {
	OpenExport(ctx context.Context, org string, day archiver.Day) (*archiver.StoredManifest, io.ReadCloser, error)
	Latest(ctx context.Context, org string, day archiver.Day) (*archiver.StoredManifest, error)
	Status(ctx context.Context, org string, from, to archiver.Day) ([]ledger.DayStatus, error)
}

// Tokens resolves presented bearer tokens (tokenfile.Set).
type Tokens interface {
	Lookup(secret string, now time.Time) (archiver.Token, error)
}

// Audit records and lists access records (*audit.Log). List reads only org's
// records.
type Audit interface {
	Append(ctx context.Context, r audit.Record) error
	List(ctx context.Context, org string, from, to archiver.Day, fn func(audit.Record) error) error
}

// auditAdmitter is an Audit that can tell, before a request is served, that its record
// might never be written (*audit.Log.Admit).
type auditAdmitter interface {
	Admit() error
}

// auditWritable is an Audit that can tell /readyz, without counting a refusal, that it
// would refuse requests now (*audit.Log.Writable).
type auditWritable interface {
	Writable() error
}

// Server serves the API. Exports, Tokens, Audit and Directory are required.
type Server struct {
	Exports Exports
	Tokens  Tokens
	Audit   Audit
	// Directory returns the current directory snapshot: which organizations archive, and
	// from when.
	Directory func(ctx context.Context) (*model.Directory, error)
	// Ready reports whether the server can serve (store and directory readable); nil means
	// always. /readyz also fails while the Audit refuses requests (see handleReady).
	Ready func(ctx context.Context) error
	// Witnessed, when set, checks org's chain in the store against a witness kept outside
	// it (verify.witness; ledger.Ledger.CheckWitnessed) before a day without a manifest
	// is answered as pending: an error (ledger.ErrBehindWitness: sealed days deleted)
	// is answered 500 internal instead, and logged.
	Witnessed func(ctx context.Context, org string) error
	// Grace is schedule.grace: how long after a day's end it may still be open, for
	// Retry-After on pending days.
	Grace time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger (default slog.Default()).
	Logger *slog.Logger
	// Registerer receives the API's metrics (nil: not registered); Gatherer is served at
	// /metrics (nil: prometheus.DefaultGatherer).
	Registerer prometheus.Registerer
	Gatherer   prometheus.Gatherer
	// PrivateMetrics leaves /metrics off the API: serve publishes every series on
	// http.metricsAddr instead (MetricsHandler). Otherwise the API's /metrics, which needs
	// no token, serves only the series that name no organization (see publicMetrics).
	PrivateMetrics bool
	// TokenRate and ClientRate limit requests per token and per client address, per
	// second, with bursts of TokenBurst and ClientBurst; 0 means the defaults (5/s burst
	// 20, 20/s burst 50), negative means no limit.
	TokenRate, ClientRate   float64
	TokenBurst, ClientBurst int
	// AuthFailures is how many requests with a missing or invalid token one client
	// address may make per minute, in a burst or spread out; beyond, such requests get 429
	// until the budget refills. A valid token is never refused by it, nor by ClientRate:
	// behind a proxy every client shares one address, and one guesser must not lock the
	// others out. That a valid token is answered while guesses are refused tells a guesser
	// nothing useful: tokens are 256 random bits, so no guess is ever right, and the limit
	// only caps what guessing costs the server. Valid tokens never spend the budget, so it
	// can be strict. 0 means the default (10), negative no limit.
	AuthFailures int
	// TrustedProxies are the reverse proxies in front of the API (http.trustedProxies): a
	// request whose peer is one of them is its X-Forwarded-For client's, for the audit and
	// the per-address limits (clientAddr). Empty: the peer is the client, whatever the
	// headers say.
	TrustedProxies []netip.Prefix
	// TokenConcurrency is how many requests one token may have in progress at once, its
	// download links' included; beyond, a request gets 429 before anything is read.
	// TokenRate bounds how fast a token starts requests, not how many it keeps: a client
	// that reads slowly keeps each download (a connection, buffers, a store reader) as
	// long as every write moves within WriteTimeout, and one token could hold every
	// connection the process takes. 0 means the default (16), negative no limit.
	TokenConcurrency int
	// WriteTimeout bounds how long one write of a response may stall because the client
	// stops reading (0: no bound). It is renewed at every write, so a long download of a
	// client that keeps reading is never cut, unlike http.Server.WriteTimeout, which
	// bounds the whole response.
	WriteTimeout time.Duration
	// MaxRange is the longest from..to of the listing endpoints, in days (default 366).
	MaxRange int
	// Presign, when set, makes a time-limited GET URL of a stored object and says when it
	// expires; it enables "delivery":"url" (S3 stores only). A non-empty versionID pins
	// the URL to that version of key (the manifest's), whatever is put under key later.
	Presign func(ctx context.Context, key, versionID string) (url string, expiresAt time.Time, err error)
	// Tasks, when set, serves the export tasks under /v1/exports/tasks.
	Tasks Tasks
	// Attachments, when set, serves the captured attachments (issue 14):
	// GET /v1/exports/{date}/attachments and GET /v1/exports/attachments/{sha256}.
	Attachments Attachments
	// MaxTaskIDs is exports.maxIds, the most ids of each list of a task request: the
	// request body limit grows with it (at least 64 KiB).
	MaxTaskIDs int
	// BaseURL starts the download links of export tasks (exports.baseURL); empty means
	// relative links, never the request's Host header.
	BaseURL string
	// VerifyFirstMaxSize (http.verifyFirstMaxSize) is the largest export or task result,
	// as sent, that is read and hashed in memory before its first byte is sent, so that a
	// tampered one is a clean 500; larger ones stream with their last chunk held back
	// until the hash checks (see sendVerified). 0 means DefaultVerifyFirstMaxSize,
	// negative that every body streams.
	VerifyFirstMaxSize int64
	// VerifyFirstMemory (http.verifyFirstMemory) bounds the memory of those buffers, all
	// responses together; a body that does not fit streams instead. 0 means
	// DefaultVerifyFirstMemory.
	VerifyFirstMemory int64

	tokenLimit, clientLimit, failLimit *limiter
	busy                               busy
	requests                           *prometheus.CounterVec
	bytesServed                        *prometheus.CounterVec
	unauthenticated                    *prometheus.CounterVec
	anonLog                            sampledLog
	integrityFailures                  prometheus.Counter
	verifyBudget                       *semaphore.Weighted
	inflight                           inflight
	readyCheck                         readyCheck
}

// readyEvery is how long /readyz answers with the Ready check it last ran. /readyz needs
// no token and Ready reads the store (a listing, on S3 a directory HEAD too): without it,
// anyone reaching the port made a store request per probe, paid on S3 and under leases/,
// where the seal lease's renewals share S3's request rate. A load balancer probes every few
// seconds, so a second's staleness costs nothing.
const readyEvery = time.Second

// readyCheck is the last Ready check and the one under way, shared by every probe.
type readyCheck struct {
	mu      sync.Mutex
	checked bool      // at and err hold a check's answer
	at      time.Time // when it ran, on the server's clock
	err     error
	running chan struct{} // closed when the check under way ends; nil when none runs
}

// ready answers Ready's check as of at most readyEvery ago; probes that arrive while a
// check runs wait for it rather than start their own.
func (s *Server) ready(ctx context.Context) error {
	c := &s.readyCheck
	for {
		c.mu.Lock()
		if now := s.now(); c.checked && !now.Before(c.at) && now.Sub(c.at) < readyEvery {
			err := c.err
			c.mu.Unlock()
			return err
		}
		if wait := c.running; wait != nil {
			c.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		done := make(chan struct{})
		c.running = done
		c.mu.Unlock()

		err := s.Ready(ctx)
		if err != nil && ctx.Err() == nil {
			s.log().Warn("not ready", "err", err) // once per check, not once per probe
		}
		c.mu.Lock()
		c.running = nil
		// A check cut short by its own prober's hang-up says nothing of the store.
		if c.checked = ctx.Err() == nil; c.checked {
			c.at, c.err = s.now(), err
		}
		c.mu.Unlock()
		close(done)
		return err
	}
}

// busy counts each token's requests in progress (TokenConcurrency).
type busy struct {
	max int // negative: no limit
	mu  sync.Mutex
	n   map[string]int // token id → requests in progress; absent when none
}

// enter counts a request of token id in, or refuses it (429) when the token already has
// max in progress; done counts it out.
func (b *busy) enter(id string) (done func(), err error) {
	if b.max < 0 {
		return func() {}, nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.n[id] >= b.max {
		return nil, &Error{Code: ERateLimited, RetryAfter: time.Second,
			Message: fmt.Sprintf("this token has %d requests in progress, the most it may have (http.tokenConcurrency); retry when one ends", b.max)}
	}
	b.n[id]++
	return func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		if b.n[id]--; b.n[id] == 0 {
			delete(b.n, id) // the map holds the tokens busy now, not every token seen
		}
	}, nil
}

// inflight counts the handlers running, for Drain.
type inflight struct {
	mu   sync.Mutex
	n    int
	idle chan struct{} // closed when n drops to 0; nil when nobody waits
}

func (f *inflight) enter() {
	f.mu.Lock()
	f.n++
	f.mu.Unlock()
}

func (f *inflight) leave() {
	f.mu.Lock()
	f.n--
	if f.n == 0 && f.idle != nil {
		close(f.idle)
		f.idle = nil
	}
	f.mu.Unlock()
}

// Drain waits until no handler of the API is running, or ctx is done; it returns how
// many still run then. http.Server.Close closes the connections but does not wait for
// their handlers: one waiting on the store returns later and only then appends its access
// record, so serve calls Drain before it writes the audit at shutdown.
func (s *Server) Drain(ctx context.Context) (int, error) {
	f := &s.inflight
	f.mu.Lock()
	if f.n == 0 {
		f.mu.Unlock()
		return 0, nil
	}
	if f.idle == nil {
		f.idle = make(chan struct{})
	}
	idle := f.idle
	f.mu.Unlock()
	select {
	case <-idle:
		return 0, nil
	case <-ctx.Done():
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.n, ctx.Err()
	}
}

// maxBody bounds request bodies: a date fits in far less.
const maxBody = 4 << 10

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Server) log() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// Handler returns the API's handler.
func (s *Server) Handler() http.Handler {
	rate := func(r float64, def float64) float64 {
		if r == 0 {
			return def
		}
		return r
	}
	burst := func(b, def int) int {
		if b <= 0 {
			return def
		}
		return b
	}
	s.tokenLimit = newLimiter(rate(s.TokenRate, 5), burst(s.TokenBurst, 20))
	s.clientLimit = newLimiter(rate(s.ClientRate, 20), burst(s.ClientBurst, 50))
	failures := s.AuthFailures
	if failures == 0 {
		failures = 10
	}
	s.failLimit = newLimiter(float64(failures)/60, failures)
	s.busy = busy{max: cmp.Or(s.TokenConcurrency, 16), n: map[string]int{}}
	if s.MaxRange <= 0 {
		s.MaxRange = 366
	}
	s.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "chatvault_http_requests_total", Help: "HTTP requests by route and status.",
	}, []string{"route", "status"})
	s.bytesServed = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "chatvault_http_export_bytes_total", Help: "Export body bytes sent, by content coding.",
	}, []string{"encoding"})
	s.unauthenticated = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "chatvault_http_unauthenticated_total",
		Help: "Requests refused without a valid token or link, by reason; never stored in the audit.",
	}, []string{"reason"})
	// Every reason from zero, as the other counters the alert rules read: the first
	// refusals after a start are an increase too (ChatvaultUnauthenticatedFlood).
	for _, r := range []string{reasonMissingToken, reasonInvalidToken, reasonAuthFailures, reasonClientRate, reasonInvalidLink, reasonTokensError} {
		s.unauthenticated.WithLabelValues(r)
	}
	s.integrityFailures = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "chatvault_http_integrity_failures_total",
		Help: "Stored objects that did not match their manifest when served (none reached a client whole).",
	})
	s.verifyBudget = semaphore.NewWeighted(cmp.Or(max(s.VerifyFirstMemory, 0), DefaultVerifyFirstMemory))
	if s.Registerer != nil {
		s.Registerer.MustRegister(s.requests, s.bytesServed, s.unauthenticated, s.integrityFailures)
	}
	gatherer := s.Gatherer
	if gatherer == nil {
		gatherer = prometheus.DefaultGatherer
	}

	mux := http.NewServeMux()
	s.handle(mux, "POST /messageevent.export", s.handleExport)
	// The listings refuse HEAD (refuseHead): net/http would run the whole read, every
	// manifest of the range or every access record, for a body it then drops.
	s.handle(mux, "GET /v1/exports", s.noHead(s.authenticate(archiver.ScopeComplianceRead, s.handleExports)))
	// One pattern for /v1/exports/{date}/{leaf}, /v1/exports/tasks/{id} and
	// /v1/exports/attachments/{sha256}, which overlap (handleExportsLeaf).
	s.handle(mux, "GET /v1/exports/{date}/{leaf}", s.handleExportsLeaf)
	if s.Tasks != nil {
		s.handle(mux, "POST /v1/exports/tasks", s.audited(audit.ActionTaskCreate, s.createTask))
		s.handle(mux, "GET /v1/exports/tasks", s.audited(audit.ActionTaskList, s.listTasks))
		s.handle(mux, "GET /v1/exports/tasks/{id}/download", s.handleDownload)
	}
	s.handle(mux, "GET /v1/audit", s.noHead(s.authenticate(archiver.ScopeAuditRead, s.handleAudit)))
	s.handle(mux, "GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	s.handle(mux, "GET /readyz", s.handleReady)
	if !s.PrivateMetrics {
		s.handle(mux, "GET /metrics", promhttp.HandlerFor(publicMetrics{g: gatherer}, promhttp.HandlerOpts{}).ServeHTTP)
	}
	s.handle(mux, "GET /openapi.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(openAPI)
	})
	return s.jsonRouter(mux)
}

// noHead answers HEAD with 405 (refuseHead) before h authenticates or reads anything.
func (s *Server) noHead(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !refuseHead(w, r, s) {
			h(w, r)
		}
	}
}

// handle registers h under pattern, counting its responses by status.
func (s *Server) handle(mux *http.ServeMux, pattern string, h http.HandlerFunc) {
	route := pattern[strings.IndexByte(pattern, ' ')+1:]
	// The route's 500s exist at zero from the start: the 5xx alert's rate() sees the
	// first one after a restart, which a series first appearing at 1 would hide.
	s.requests.WithLabelValues(route, statusLabel(http.StatusInternalServerError))
	mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		s.inflight.enter()
		defer s.inflight.leave() // after the audit record is appended (Drain)
		rw := &responseWriter{ResponseWriter: w, stall: s.WriteTimeout, rc: http.NewResponseController(w)}
		defer func() {
			// A bug must not show the client a stack trace, nor a Go value: log it,
			// answer 500 internal when nothing was sent yet, else cut the connection.
			v := recover()
			if v != nil && v != http.ErrAbortHandler {
				s.log().Error("handler panicked", "method", r.Method, "route", route, "panic", v, "stack", string(debug.Stack()))
				v = http.ErrAbortHandler
				if rw.status == 0 {
					s.Error(rw, r, errors.New("handler panicked"))
					v = nil
				}
			}
			s.requests.WithLabelValues(route, statusLabel(rw.status)).Inc()
			// The server flushes what is buffered after the handler returns; that
			// write gets the same bound.
			rw.renew()
			if v != nil {
				panic(v)
			}
		}()
		h(rw, r)
	})
}

func statusLabel(code int) string {
	if code == 0 {
		code = http.StatusOK
	}
	return strconv.Itoa(code)
}

// responseWriter remembers the status, counts the body bytes and renews the write
// deadline before every write.
type responseWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
	stall  time.Duration
	rc     *http.ResponseController
}

// renew moves the connection's write deadline to stall from now. The deadline is real
// time, not the server's clock: it is the kernel's socket that waits.
func (w *responseWriter) renew() {
	if w.stall > 0 {
		// Fails only where deadlines are not supported (httptest.ResponseRecorder) or
		// the connection is gone, which the next Write reports.
		_ = w.rc.SetWriteDeadline(time.Now().Add(w.stall))
	}
}

func (w *responseWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.renew()
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// identity is the authenticated caller, in the request context under a private key.
type identityKey struct{}

// TokenFromContext returns the request's authenticated token.
func TokenFromContext(ctx context.Context) (archiver.Token, bool) {
	t, ok := ctx.Value(identityKey{}).(archiver.Token)
	return t, ok
}

// peerAddr is the IP of the request's peer.
func peerAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// clientAddr is the request's client, for the audit and the per-address limits: the peer,
// unless the peer is a trusted proxy (TrustedProxies), in which case X-Forwarded-For is
// walked from its end, where each proxy appends the address it was called from: the first
// hop that is not a trusted proxy is the client. The hops before it are the client's own
// word and never read; a hop that is not an address stops the walk at the trusted proxy
// that passed it on, since nothing it forwarded can be believed. Forwarded (RFC 7239) is
// not read: the proxies in use set X-Forwarded-For, and a header the proxy does not
// rewrite would be the client's to forge.
func (s *Server) clientAddr(r *http.Request) string {
	peer := peerAddr(r)
	if len(s.TrustedProxies) == 0 {
		return peer
	}
	ip, err := netip.ParseAddr(peer)
	if err != nil || !s.trustedProxy(ip) {
		return peer
	}
	client := ip.Unmap().WithZone("")
	hops := r.Header.Values("X-Forwarded-For")
	for i := len(hops) - 1; i >= 0; i-- {
		entries := strings.Split(hops[i], ",")
		for j := len(entries) - 1; j >= 0; j-- {
			hop, ok := parseHop(entries[j])
			if !ok {
				return client.String()
			}
			client = hop
			if !s.trustedProxy(hop) {
				return client.String()
			}
		}
	}
	return client.String()
}

func (s *Server) trustedProxy(ip netip.Addr) bool {
	ip = ip.Unmap().WithZone("")
	for _, p := range s.TrustedProxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// parseHop reads one X-Forwarded-For entry: an address, or an address and port (some
// load balancers add the port: 203.0.113.9:4711, [2001:db8::1]:4711).
func parseHop(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	ip, err := netip.ParseAddr(s)
	if err != nil {
		ap, perr := netip.ParseAddrPort(s)
		if perr != nil {
			return netip.Addr{}, false
		}
		ip = ap.Addr()
	}
	return ip.Unmap().WithZone(""), true
}

// authenticate is the one gate: bearer token, scope, token rate limit. The token's
// organization goes into the context; no request parameter can name another.
func (s *Server) authenticate(scope string, next func(http.ResponseWriter, *http.Request, archiver.Token) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		err := s.gate(w, r, scope, nil, next)
		if err != nil {
			s.Error(w, r, err)
		}
	}
}

// Reasons of chatvault_http_unauthenticated_total.
const (
	reasonMissingToken = "missing_token" // no bearer token
	reasonInvalidToken = "invalid_token" // unknown, revoked or expired
	reasonAuthFailures = "auth_failures" // the address is over http.authFailures
	reasonClientRate   = "client_rate"   // the address is over http.clientRate
	reasonInvalidLink  = "invalid_link"  // a task download link that does not check
	reasonTokensError  = "tokens_error"  // the tokens could not be read
)

// gate authenticates the request and calls next with its token. rec, when set, gets the
// token's identity as soon as the token is known valid, so that a refusal for scope or
// rate is audited under the token's organization.
//
// Limits: a valid token is limited by its own bucket (http.tokenRate) and nothing else.
// Requests without a valid token are limited per client address (http.clientRate) and,
// being failed authentications, by http.authFailures; they are counted and logged, never
// stored (see refuseAnonymous).
func (s *Server) gate(w http.ResponseWriter, r *http.Request, scope string, rec *audit.Record, next func(http.ResponseWriter, *http.Request, archiver.Token) error) error {
	now := s.now()
	if len(r.Header.Values("Authorization")) > 1 {
		// The field is a singleton: taking the first of two would serve one token's
		// organization while a proxy or a log that reads the last names another.
		return s.refuseAnonymous(r, now, reasonMissingToken, errorf(EInvalidToken, "give one Authorization header, with one bearer token"))
	}
	h := r.Header.Get("Authorization")
	scheme, secret, found := strings.Cut(h, " ")
	if !found || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(secret) == "" {
		return s.refuseAnonymous(r, now, reasonMissingToken, errorf(EInvalidToken, "a bearer token is required"))
	}
	tok, err := s.Tokens.Lookup(strings.TrimSpace(secret), now)
	if err != nil {
		if !errors.Is(err, archiver.ErrInvalidToken) {
			s.unauthenticated.WithLabelValues(reasonTokensError).Inc()
			return err
		}
		return s.refuseAnonymous(r, now, reasonInvalidToken, err)
	}
	if rec != nil {
		rec.TokenID, rec.TokenName, rec.Org = tok.ID, tok.Name, tok.Org
	}
	if !tok.HasScope(scope) {
		return errorf(EInsufficientScope, "the token lacks the %s scope", scope)
	}
	if ok, wait := s.tokenLimit.allow("t:"+tok.ID, now); !ok {
		return &Error{Code: ERateLimited, Message: "too many requests for this token", RetryAfter: wait}
	}
	done, err := s.busy.enter(tok.ID)
	if err != nil {
		return err
	}
	defer done()
	r = r.WithContext(context.WithValue(r.Context(), identityKey{}, tok))
	return next(w, r, tok)
}

// refuseAnonymous answers a request without a valid token: 429 when its address is over
// http.clientRate or http.authFailures, else err (401), spending one of the address's
// failures. Either way it is counted by reason and logged (sampled), never stored: the
// audit holds what was done with a valid token, and a flood of anonymous requests must
// not grow a store whose objects can never be deleted.
func (s *Server) refuseAnonymous(r *http.Request, now time.Time, reason string, err error) error {
	client := clientKey(s.clientAddr(r))
	if ok, wait := s.clientLimit.allow(client, now); !ok {
		reason, err = reasonClientRate, &Error{Code: ERateLimited, Message: "too many requests from this address", RetryAfter: wait}
	} else if blocked, wait := s.failLimit.blocked(client, now); blocked {
		// An address that keeps presenting bad tokens is guessing: it waits before it
		// may fail again.
		reason, err = reasonAuthFailures, &Error{Code: ERateLimited, Message: "too many failed authentications from this address", RetryAfter: wait}
	} else {
		s.failLimit.allow(client, now)
	}
	s.unauthenticated.WithLabelValues(reason).Inc()
	s.anonLog.log(s.log(), now, "request without a valid token refused", "reason", reason, "client", s.clientAddr(r), "path", r.URL.Path)
	return err
}

// sampledLog logs the first event and then at most one line every sampleEvery, saying
// how many were not logged: a flood is visible in the log without being the log.
type sampledLog struct {
	mu         sync.Mutex
	next       time.Time
	suppressed int
}

const sampleEvery = 10 * time.Second

func (l *sampledLog) log(log *slog.Logger, now time.Time, msg string, args ...any) {
	l.mu.Lock()
	if now.Before(l.next) {
		l.suppressed++
		l.mu.Unlock()
		return
	}
	n := l.suppressed
	l.suppressed, l.next = 0, now.Add(sampleEvery)
	l.mu.Unlock()
	log.Warn(msg, append(args, "notLogged", n)...)
}

// admit refuses a request the audit may not be able to record (the store has refused
// its writes for longer than the audit's bound).
func (s *Server) admit() error {
	if a, ok := s.Audit.(auditAdmitter); ok {
		return a.Admit()
	}
	return nil
}

// handleReady answers 200 "ready", or 503 with the JSON error unavailable: while the
// audit refuses requests (its writes failed beyond its bound), so that a load balancer
// sends them to a replica that can audit them, or while Ready fails (checked at most
// once per readyEvery, whatever the probes). The message names the audit but never
// Ready's detail (paths, store errors), which goes to the log.
func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	if a, ok := s.Audit.(auditWritable); ok {
		if err := a.Writable(); err != nil {
			s.log().Warn("not ready", "err", err)
			s.Error(w, r, errorf(EUnavailable, "the access audit cannot be written: audited requests are refused until a write succeeds"))
			return
		}
	}
	if s.Ready != nil {
		if err := s.ready(r.Context()); err != nil {
			s.Error(w, r, errorf(EUnavailable, "not ready: the store or the directory cannot be read (the server's log says why)"))
			return
		}
	}
	io.WriteString(w, "ready\n")
}

func writeJSON(w http.ResponseWriter, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	return newJSONEncoder(w).Encode(v)
}

// newJSONEncoder writes JSON as people copy it: download links and presigned URLs are
// pasted off a terminal into curl or a browser, and encoding/json's default HTML escaping
// turned each link's '&' into \u0026, which fails once pasted. Without that escaping the
// answer must never be read as HTML, hence nosniff on every JSON answer.
func newJSONEncoder(w http.ResponseWriter) *json.Encoder {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc
}
