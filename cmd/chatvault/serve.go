package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"runtime/debug"
	"sync"
	"syscall"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/attach"
	"github.com/chatvault/chatvault/archiver/exporttask"
	"github.com/chatvault/chatvault/archiver/httpapi"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/archiver/s3"
	"github.com/chatvault/chatvault/archiver/scheduler"
	"github.com/chatvault/chatvault/archiver/tokenfile"
	"github.com/chatvault/chatvault/config"
	"github.com/chatvault/chatvault/model"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/pflag"
)

func init() {
	register(&command{
		name:    "serve",
		summary: "serve the export API and run the nightly scheduler",
		usage:   "",
		run:     runServe,
	})
}

// serveHooks let the end-to-end test drive serve without sleeping: a fake clock, a
// callback after every scheduler tick, the address it listens on, and a channel that
// reloads the tokens file like SIGHUP and answers when done.
var serveHooks struct {
	clock scheduler.Clock
	// schedulerClock, when set, is the scheduler's own (the same time as clock): a test
	// that moves the clock to the next tick must know that the scheduler, not another loop
	// sharing the clock (export tasks, verification), is waiting.
	schedulerClock scheduler.Clock
	onTick         func(scheduler.Report)
	listening      func(addr string)
	reload         chan chan error
	// Export tasks: taskStart and taskDone are the engine's OnStart and OnDone; janitor,
	// when set, replaces the janitor's hourly ticker, and expired hears each pass.
	taskStart func(ctx context.Context, id string)
	taskDone  func(id string, state exporttask.State)
	janitor   chan time.Time
	expired   func(n int, err error)

	// metricsListening hears the address of http.metricsAddr's listener.
	metricsListening func(addr string)
	// connReleased and connIdle hear every connection of the API's listener closed, and
	// every one gone idle between requests (connlimit.go).
	connReleased, connIdle func()
	// ledgerRefresh, when set, replaces the freshness metrics' ticker, and
	// ledgerRefreshed hears each read of the ledger (freshness.go).
	ledgerRefresh   chan time.Time
	ledgerRefreshed func(err error)
}

// janitorInterval is how often serve deletes export task results past exports.retention.
const janitorInterval = time.Hour

// tokensPoll is how often serve looks at the tokens file for changes.
const tokensPoll = 5 * time.Second

func runServe(ctx context.Context, e *env, _ *pflag.FlagSet) int {
	if e.cfg.Auth.TokensFile == "" {
		return e.fail("serve", usagef("auth.tokensFile is not set (CHATVAULT_AUTH_TOKENSFILE or the config file); mint tokens with chatvault token create"))
	}
	if err := e.checkServeLinks(); err != nil {
		return e.fail("serve", err)
	}
	if err := checkMemoryLimit(e, true); err != nil { // cgroup.go
		return e.fail("serve", err)
	}
	// The nightly seals run in this process; the API's verify-first buffers come on top of
	// the seal's budget, whatever the sort's arenas hold at the time.
	var sortMemory func(arenas int64)
	if setLimit := limitHeap(e); setLimit != nil {
		sortMemory = func(arenas int64) {
			setLimit(arenas)
			debug.SetMemoryLimit(debug.SetMemoryLimit(-1) + e.cfg.HTTP.VerifyFirstMemory)
		}
		sortMemory(0)
	}
	var clock scheduler.Clock = scheduler.RealClock{}
	if serveHooks.clock != nil {
		clock = serveHooks.clock
	}
	src, err := e.openSource()
	if err != nil {
		return e.fail("serve", err)
	}
	store, closeStore, err := e.openStore()
	if err != nil {
		return e.fail("serve", err)
	}
	defer closeStore()
	key, err := e.signingKeyFor(ctx, store)
	if err != nil {
		return e.fail("serve", err)
	}
	tokens, err := tokenfile.Open(e.cfg.Auth.TokensFile)
	if err != nil {
		return e.fail("serve", err)
	}
	if _, err := os.Stat(e.cfg.Auth.TokensFile); errors.Is(err, os.ErrNotExist) {
		// A typo in the path would otherwise show only as tokens=0 and 401s.
		e.log.Warn("auth.tokensFile does not exist: no request is authorized until it is created (chatvault token create)", "file", e.cfg.Auth.TokensFile)
	}
	sched, err := e.cfg.Schedule.CronSchedule()
	if err != nil {
		return e.fail("serve", usagef("schedule.cron: %v", err))
	}
	dir := &directoryFile{version: e.directoryVersion, read: e.readDirectory}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	audit := e.newAuditLog(store, key, dir.load, clock.Now) // auditlog.go
	registerAuditMetrics(reg, audit)
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "chatvault_s3_throttled_retries_total",
		Help: "S3 requests throttled (503 SlowDown) and retried after a backoff."},
		func() float64 { return float64(e.s3Throttled.Load()) }))
	reg.MustRegister(&scheduler.RevisionCollector{Ledger: ledger.Ledger{Store: store}, Logger: e.log.With("component", "metrics")})
	// Every manifest the API serves must be the one its key names and, with signing keys
	// configured, signed by one of them: a manifest forged in the store (which names a
	// forged export's hash) is refused like a tampered export.
	trusted, err := e.servingTrust(ctx, store)
	if err != nil {
		return e.fail("serve", err)
	}
	audit.TrustedKeys = trusted // GET /v1/audit shows only segments these signed
	api := &httpapi.Server{
		Exports:   ledger.Ledger{Store: store, TrustedKeys: trusted},
		Tokens:    tokens,
		Audit:     audit,
		Directory: func(ctx context.Context) (*model.Directory, error) { return dir.load() },
		Ready: func(ctx context.Context) error {
			if _, err := dir.load(); err != nil {
				return err
			}
			return storeReachable(ctx, store) // ready.go
		},
		Grace:      e.cfg.Schedule.Grace,
		MaxTaskIDs: e.cfg.Exports.MaxIDs,
		Now:        clock.Now,
		Logger:     e.log.With("component", "api"),
		Registerer: reg,
		Gatherer:   reg,
		TokenRate:  rateOf(e.cfg.HTTP.TokenRate),
		TokenBurst: 4 * e.cfg.HTTP.TokenRate,
		// 0 in the configuration means no limit; 0 here would mean the default.
		TokenConcurrency: cmp.Or(e.cfg.HTTP.TokenConcurrency, -1),
		TrustedProxies:   trustedProxies(e.cfg.HTTP.TrustedProxies),
		ClientRate:       rateOf(e.cfg.HTTP.ClientRate),
		ClientBurst:      4 * e.cfg.HTTP.ClientRate,
		AuthFailures: func() int {
			if e.cfg.HTTP.AuthFailures == 0 {
				return -1
			}
			return e.cfg.HTTP.AuthFailures
		}(),
		WriteTimeout: e.cfg.HTTP.WriteTimeout,
		// 0 in the configuration streams every body; 0 here would mean the default.
		VerifyFirstMaxSize: cmp.Or(e.cfg.HTTP.VerifyFirstMaxSize, -1),
		VerifyFirstMemory:  e.cfg.HTTP.VerifyFirstMemory,
		PrivateMetrics:     e.cfg.HTTP.MetricsAddr != "",
	}
	// A store emptied of its sealed days is not answered as "not sealed yet", by the day
	// endpoints and the export tasks, and the continuous verification reports it.
	wf, err := e.openWitness(trusted)
	if err != nil {
		return e.fail("serve", err)
	}
	if wf != nil {
		api.Witnessed = wf.witnessed(store)
	}
	// Captured attachments (issue 14), checked against the same keys as the manifests.
	api.Attachments = attach.Reader{Store: store, TrustedKeys: trusted}
	engine, err := e.newEngine(ctx, store, api.Directory, clock.Now)
	if err != nil {
		return e.fail("serve", err)
	}
	engine.OnStart, engine.OnDone = serveHooks.taskStart, serveHooks.taskDone
	engine.Witnessed = api.Witnessed
	// Claims are renewed and the store scanned on serve's clock (a test's fake one).
	engine.After = clock.After
	engine.Register(reg)
	verifier, err := e.newVerifyLoop(store, key, clock) // continuous verification (verifyloop.go)
	if err != nil {
		return e.fail("serve", err)
	}
	if verifier != nil {
		verifier.Register(reg)
		if wf != nil {
			verifier.Witness = wf.current
		}
	}
	captures, releaseCapture, err := e.serveCaptures(store, key, clock.Now, dir.load) // attachments.go
	if err != nil {
		return e.fail("serve", err)
	}
	defer releaseCapture()
	api.Tasks, api.BaseURL = engine, e.cfg.Exports.BaseURL
	if p, ok := store.(presigner); ok {
		expiry := e.cfg.S3.PresignExpiry
		api.Presign = func(ctx context.Context, key, versionID string) (string, time.Time, error) {
			issued := clock.Now()
			u, err := p.PresignGetVersion(ctx, key, versionID, expiry)
			return u, issued.Add(expiry), err
		}
	}
	var cert *certificate
	if e.cfg.HTTP.TLS.Enabled() {
		if cert, err = loadCertificate(e.cfg.HTTP.TLS.CertFile, e.cfg.HTTP.TLS.KeyFile); err != nil {
			return e.fail("serve", usagef("%v", err))
		}
	}
	ln, err := net.Listen("tcp", e.cfg.HTTP.Addr)
	if err != nil {
		return e.fail("serve", err)
	}
	// The metrics address is listened on before anything starts: one that cannot be (a
	// port taken) stops serve here, with nothing to wind down.
	metricsLn, err := listenMetrics(e)
	if err != nil {
		ln.Close()
		return e.fail("serve", err)
	}
	// At most http.maxConnections open at once, counted before TLS: a handshake holds a
	// descriptor too (connlimit.go).
	refusedConns := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "chatvault_http_connections_refused_total",
		Help: "Connections closed as accepted because http.maxConnections were open, none idle.",
	})
	reg.MustRegister(refusedConns)
	limited := limitConns(ln, connCap(e.log, e.cfg.HTTP.MaxConnections), refusedConns, e.log.With("component", "http"))
	limited.released, limited.idled = serveHooks.connReleased, serveHooks.connIdle
	ln = limited
	srv := &http.Server{
		Handler:   apiAttempts(api.Handler(), e.cfg.S3.APIMaxAttempts),
		ConnState: limited.connState, // the idle connections, which a newcomer at the cap replaces
		// The request must arrive promptly. Slow clients may take long to download a day,
		// so the response has no overall deadline: the API bounds each write instead
		// (http.writeTimeout), which cuts a client that stops reading.
		ReadHeaderTimeout: e.cfg.HTTP.ReadHeaderTimeout,
		ReadTimeout:       e.cfg.HTTP.ReadTimeout,
		IdleTimeout:       e.cfg.HTTP.IdleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		// net/http's own messages (TLS handshake errors, malformed requests) go to the
		// log as warnings: they come from clients, and say nothing secret.
		ErrorLog: slog.NewLogLogger(e.log.With("component", "http").Handler(), slog.LevelWarn),
	}
	scheme := "http"
	if cert != nil {
		srv.TLSConfig = cert.tlsConfig()
		ln = tls.NewListener(ln, srv.TLSConfig)
		scheme = "https"
	}
	// Past Main's check of stdout (outputWriter): a line serve could not print at start
	// (stdout on a full disk) must not turn its clean stop, hours later, into exit 1 and a
	// unit systemd reports failed; the address is in the log below too.
	fmt.Fprintf(rawStdout(e.stdout), "listening on %s://%s\n", scheme, ln.Addr())
	e.log.Info("serving", "addr", ln.Addr().String(), "tls", cert != nil, "scheduler", e.cfg.Schedule.Enabled, "cron", e.cfg.Schedule.Cron, "tokens", tokens.Len())
	if serveHooks.listening != nil {
		serveHooks.listening(ln.Addr().String())
	}

	var wg sync.WaitGroup
	stopFlusher := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		runAuditFlusher(e, audit, stopFlusher)
	}()
	serveErr := make(chan error, 2)
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			serveErr <- err
		}
	}()
	// How far each organization is sealed comes from the store's ledger, which every
	// sealing process writes (this scheduler, another replica's, a CronJob's run): read at
	// start, every ledgerRefreshInterval, and right after each tick of the scheduler here.
	fresh := &scheduler.Freshness{
		Ledger:    ledger.Ledger{Store: store},
		Directory: func(context.Context) (*model.Directory, error) { return dir.load() },
		Now:       clock.Now,
	}
	fresh.Watermarks = store // the first read starts from the scheduler's watermark
	reg.MustRegister(fresh)

	// The scheduler's work outlives SIGTERM until the shutdown deadline: a seal under way
	// may finish. stop ends its loop; cancelWork aborts the seal.
	work, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	stop := make(chan struct{})
	schedDone := make(chan struct{})
	// The attachment capture stops at shutdown, before its work folder is closed: a
	// capture cut short stores nothing half-done and the next run completes it.
	captureWork, cancelCapture := context.WithCancel(work)
	defer cancelCapture()
	captureDone := make(chan struct{})
	if e.cfg.Schedule.Enabled {
		s := &scheduler.Scheduler{
			NewSealer: func() scheduler.Sealer {
				opt := sealerOptions(e, key, new(archiver.Progress))
				opt.Now = clock.Now
				opt.OnSortMemory = sortMemory
				return &archiver.Sealer{Source: src, Store: store, Chain: ledger.Ledger{Store: store}, Options: opt}
			},
			Ledger: ledger.Ledger{Store: store},
			// Read afresh on every tick: a run routes with the directory as it is then.
			Directory: func(context.Context) ([]byte, error) { return e.readDirectory() },
			Lease:     &scheduler.Lease{Store: store, Holder: holderName(), TTL: sealLeaseTTL, Clock: clock, MaxSkew: e.cfg.Schedule.LeaseMaxSkew},
			Schedule:  sched,
			Clock:     cmp.Or[scheduler.Clock](serveHooks.schedulerClock, clock),
			Logger:    e.log.With("component", "scheduler"),
			OnSealed:  captures.onSealed(sealedHook(verifier)),
			OnTick: func(r scheduler.Report) {
				if r.Skipped == "" {
					refreshFreshness(work, e, fresh) // aborted with the seal at the deadline
					captures.Ticked()
				}
				if serveHooks.onTick != nil {
					serveHooks.onTick(r)
				}
			},
		}
		s.Watermarks = store // a restart's first tick starts from the last watermark
		// A day still open at the nightly tick is tried again every few minutes.
		s.RetryInterval = e.cfg.Schedule.RetryInterval
		s.Register(reg)
		// Each organization's counters exist at zero before the metrics address answers
		// (below): a counter that first appears at 1 shows no increase() to the alerts.
		fresh.OnOrgs = s.KnownOrgs
		if d, err := dir.load(); err == nil {
			s.KnownOrgs(archivingOrgs(d))
		} // else: the ready check and the first tick report it
		go func() {
			defer close(schedDone)
			s.Run(work, stop)
		}()
		go func() {
			defer close(captureDone)
			captures.Run(captureWork)
		}()
	} else {
		close(schedDone)
		close(captureDone)
	}
	metricsSrv := serveMetrics(e, reg, metricsLn, refusedConns, &wg, serveErr)

	// Export tasks run until shutdown; one cut short runs again at the next start.
	tasks, cancelTasks := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelTasks()
	tasksDone := make(chan struct{})
	go func() {
		defer close(tasksDone)
		if err := engine.Run(tasks); err != nil {
			e.log.Error("export tasks not resumed", "err", err)
		}
	}()
	janitorDone := make(chan struct{})
	go func() {
		defer close(janitorDone)
		runJanitor(tasks, e, engine)
	}()
	verifyDone := startVerifyLoop(tasks, e, verifier)
	freshDone := make(chan struct{})
	go func() {
		defer close(freshDone)
		runFreshness(tasks, e, fresh)
	}()

	// Tokens: reloaded on SIGHUP and when the file changes (a Kubernetes Secret update
	// swaps the file under us).
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	poll := time.NewTicker(tokensPoll)
	defer poll.Stop()
	reloadCert := func(why string) error {
		if cert == nil {
			return nil
		}
		err := cert.reload()
		if err != nil {
			e.log.Error("TLS certificate not reloaded; the previous one stays in force", "err", err)
		} else {
			e.log.Info("TLS certificate reloaded", "why", why, "notAfter", cert.notAfter())
		}
		return err
	}
	reloadTokens := func(why string) error {
		err := tokens.Reload()
		if err != nil {
			e.log.Error("tokens file not reloaded; the previous tokens stay in force", "err", err)
		} else {
			e.log.Info("tokens reloaded", "why", why, "tokens", tokens.Len())
		}
		return err
	}
	reload := func(why string) error { return errors.Join(reloadTokens(why), reloadCert(why)) }
	code := exitOK
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case err := <-serveErr:
			e.log.Error("server failed", "err", err)
			code = exitFailure
			break loop
		case <-hup:
			reload("SIGHUP")
		case reply := <-serveHooks.reload:
			reply <- reload("requested")
		case <-poll.C:
			if tokens.Changed() {
				reloadTokens("file changed")
			}
			if cert != nil && cert.changed() {
				reloadCert("file changed")
			}
		}
	}

	e.log.Info("shutting down", "deadline", e.cfg.HTTP.ShutdownTimeout)
	deadline, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.cfg.HTTP.ShutdownTimeout)
	defer cancel()
	close(stop)
	cancelTasks()
	cancelCapture()
	<-captureDone
	<-tasksDone
	<-janitorDone
	<-freshDone
	select {
	case <-verifyDone:
	case <-deadline.Done(): // a read the store does not answer: nothing to record
		e.log.Warn("continuous verification still reading the store at the deadline")
	}
	if metricsSrv != nil {
		// Prometheus may scrape until the end; nothing there is worth waiting for.
		metricsSrv.Close()
	}
	if err := srv.Shutdown(deadline); err != nil {
		e.log.Warn("requests still running at the deadline were cut", "err", err)
		srv.Close()
		code = exitFailure
		// Close does not wait for the handlers: one waiting on the store returns later,
		// and appends its access record only then. Wait for them (up to another
		// http.shutdownTimeout), so that the record of a cut request is written below.
		drain, cancelDrain := context.WithTimeout(context.WithoutCancel(ctx), e.cfg.HTTP.ShutdownTimeout)
		if n, err := api.Drain(drain); err != nil {
			e.log.Error("requests still waiting on the store after the shutdown deadline; their access records are lost", "requests", n)
		}
		cancelDrain()
	}
	// Every request is answered or cut: write what the audit holds (not bound by the
	// deadline: a record lost is worse than a slow exit).
	close(stopFlusher)
	if err := audit.Flush(context.WithoutCancel(ctx)); err != nil {
		e.log.Error("access records could not be written at shutdown", "err", err, "pending", audit.Stats().Pending)
		code = exitFailure
	}
	select {
	case <-schedDone:
	case <-deadline.Done():
		e.log.Warn("aborting the running seal at the deadline; its day stays unsealed until the next run")
		cancelWork()
		<-schedDone
		code = exitFailure
	}
	wg.Wait()
	return code
}

// listenMetrics listens on http.metricsAddr when it is set (nil otherwise).
func listenMetrics(e *env) (net.Listener, error) {
	if e.cfg.HTTP.MetricsAddr == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", e.cfg.HTTP.MetricsAddr)
	if err != nil {
		return nil, fmt.Errorf("http.metricsAddr: %w", err)
	}
	return ln, nil
}

// serveMetrics serves every metric, per-organization ones included, on ln, the listener
// of http.metricsAddr (nothing when ln is nil): an address the operator keeps to the
// Prometheus scraper, so that the API's address, which anyone reaching it may ask without
// a token, never shows which organizations archive. Plain HTTP, like a Prometheus target
// usually is.
func serveMetrics(e *env, reg *prometheus.Registry, ln net.Listener, refused prometheus.Counter, wg *sync.WaitGroup, serveErr chan<- error) *http.Server {
	if ln == nil {
		return nil
	}
	// Prometheus needs a connection or two; the cap keeps the descriptors safe should the
	// address be reachable by more than the network was meant to let through.
	limited := limitConns(ln, min(maxMetricsConnections, e.cfg.HTTP.MaxConnections), refused, e.log.With("component", "metrics"))
	ln = limited
	srv := &http.Server{
		Handler:           httpapi.MetricsHandler(reg),
		ConnState:         limited.connState,
		ReadHeaderTimeout: e.cfg.HTTP.ReadHeaderTimeout,
		ReadTimeout:       e.cfg.HTTP.ReadTimeout,
		IdleTimeout:       e.cfg.HTTP.IdleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(e.log.With("component", "metrics").Handler(), slog.LevelWarn),
	}
	e.log.Info("serving metrics", "addr", ln.Addr().String())
	if serveHooks.metricsListening != nil {
		serveHooks.metricsListening(ln.Addr().String())
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			serveErr <- fmt.Errorf("metrics: %w", err)
		}
	}()
	return srv
}

// maxMetricsConnections caps the connections of http.metricsAddr's listener.
const maxMetricsConnections = 64

// maxHeaderBytes bounds a request's header block: a bearer token and the usual headers fit
// in far less. Larger requests get 431.
const maxHeaderBytes = 16 << 10

// runJanitor deletes export task results past their retention, at start and then every
// janitorInterval, until ctx is done.
func runJanitor(ctx context.Context, e *env, engine *exporttask.Engine) {
	var tick <-chan time.Time = serveHooks.janitor
	if tick == nil {
		t := time.NewTicker(janitorInterval)
		defer t.Stop()
		tick = t.C
	}
	for {
		n, err := engine.Expire(ctx)
		if err != nil && ctx.Err() == nil {
			e.log.Error("export task janitor", "err", err)
		}
		if serveHooks.expired != nil {
			serveHooks.expired(n, err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick:
		}
	}
}

// trustedProxies reads http.trustedProxies, which the configuration has checked.
func trustedProxies(entries []string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range entries {
		if p, err := config.ParsePrefix(s); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// rateOf maps the configuration's "0 means no limit" to the API's negative rate.
func rateOf(perSecond int) float64 {
	if perSecond == 0 {
		return -1
	}
	return float64(perSecond)
}

// apiAttempts puts every API request under s3.apiMaxAttempts (s3.WithMaxAttempts): the
// S3 requests made to answer it are tried that many times, and S3 throttling them to the
// end is a 503 unavailable with Retry-After (httpapi), not a wait of s3.maxAttempts
// backoffs (about 111s) that a client or a proxy gives up on first. The scheduler and the
// export tasks, which nobody waits on, keep s3.maxAttempts.
func apiAttempts(h http.Handler, n int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(s3.WithMaxAttempts(r.Context(), n)))
	})
}

// sealLeaseTTL is how long the scheduler lease outlives its holder's last renewal. The
// holder renews it every third of that while it seals and releases it when done, so the
// TTL only matters when a sealer dies: then the other replicas (or the next CronJob run)
// take over two minutes later instead of hours later.
const sealLeaseTTL = 2 * time.Minute

// holderName names this replica in the scheduler lease.
func holderName() string {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	rand.Read(b)
	return host + "-" + hex.EncodeToString(b)
}

// directoryFile gives the API the directory's organizations, read again when the snapshot
// changes (see directoryVersion). Only the organizations are kept: users and chats can run
// to millions of entries, and the API needs none of them, so serve's memory does not grow
// with the directory.
type directoryFile struct {
	version func() (string, error)
	read    func() ([]byte, error)

	mu  sync.Mutex
	ver string
	dir *model.Directory
}

func (d *directoryFile) load() (*model.Directory, error) {
	ver, err := d.version()
	if err != nil {
		return nil, fmt.Errorf("directory: %w", err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.dir != nil && ver == d.ver {
		return d.dir, nil
	}
	b, err := d.read()
	if err != nil {
		return nil, fmt.Errorf("directory: %w", err)
	}
	dir, err := model.ParseDirectory(b)
	if err != nil {
		return nil, err
	}
	// A change between the version and the read is seen as a new version next time.
	d.dir, d.ver = &model.Directory{Organizations: dir.Organizations}, ver
	return d.dir, nil
}

// presigner is what "delivery":"url" needs of a store: the S3 store has it, a folder does
// not. URLs are pinned to the manifest's version of the object (issue 10.6).
type presigner interface {
	PresignGetVersion(ctx context.Context, key, versionID string, expiry time.Duration) (string, error)
}
