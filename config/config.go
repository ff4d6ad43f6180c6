package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/chatvault/chatvault/archiver/smtp"
	"github.com/chatvault/chatvault/internal/spillsort"
	"github.com/chatvault/chatvault/model"
)

// ParsePrefix reads an entry of http.trustedProxies: a CIDR prefix (10.0.0.0/8), or one
// address (10.0.0.5, as /32; an IPv6 one as /128).
func ParsePrefix(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	ip, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	ip = ip.Unmap()
	return netip.PrefixFrom(ip, ip.BitLen()), nil
}

// MaxAuditPending is the largest accepted audit.maxPending: twice as many access records
// of about 1 KiB stay well within the 256 MiB an audit segment may take when read back.
const MaxAuditPending = 100_000

// MinSortMemory is the smallest accepted export.sortMemory. It is far below anything useful
// in production on purpose: tests and demos set a tiny budget to force the external sort
// to spill to disk.
const MinSortMemory = 64 << 10

// MinDirectoryMaxSize is the smallest accepted directory.maxSize: an empty snapshot is
// a few bytes, and a bound below this is a typo (a missing unit) more likely than a wish.
const MinDirectoryMaxSize = 1 << 10

// Config is chatvault's configuration. Each field's comment gives its key; Default holds
// the defaults and Load fills it from the file, the environment and flags.
type Config struct {
	// EventLog (eventlog) is the platform's event log: a folder or s3://bucket/prefix.
	EventLog string
	// Directory (directory) is the directory snapshot. Load sets it to
	// <eventlog>/directory.json when empty.
	Directory string
	// DirectoryMaxSize (directory.maxSize) is the most bytes of the directory snapshot
	// read, in a folder or on S3: a larger one fails the command, naming it, before more
	// is read. The snapshot is read whole; without a bound, a snapshot that is huge or
	// never ends (a named pipe, a link to /dev/zero, a damaged or hostile object) was read
	// into memory until the kernel killed the process. Written as the top-level key
	// "directory.maxSize", beside "directory".
	DirectoryMaxSize int64
	// Store (store) is the archive: a folder or s3://bucket/prefix.
	Store string
	// StoreLayout (store.layout) is the layout new days are sealed in: 2, or 3 (one object
	// per empty organization-day, two per day with records; docs/design/layout.md). Every
	// reader reads both. Written as the top-level key "store.layout", beside "store".
	StoreLayout int

	S3       S3
	Export   Export
	Schedule Schedule
	Signing  Signing
	HTTP     HTTP
	Auth     Auth
	SMTP     SMTP
	Exports  Exports
	Audit    Audit
	Verify   Verify
	Log      Log
	FS       FS

	Attachments Attachments

	// Overrides are the keys the file sets that an environment variable overrides with
	// another value (override.go), for commands to log; not a key.
	Overrides []Override
	// EnvTypos are CHATVAULT_ variables that are no key's but close to one's (override.go),
	// for commands to log; not a key.
	EnvTypos []EnvTypo
	// Defaulted are the locations (eventlog, store) a configuration file was given for but
	// nothing set (override.go), for commands to log; not a key.
	Defaulted []string
}

// FS configures the files chatvault writes on the host: the folder store, and the files
// of export -o and export-task -o. They are readable by the process's user only, and with
// Group also by that group.
type FS struct {
	// Group (fs.group) is a group name or numeric gid that owns every file and folder
	// chatvault creates and may read them (0440 objects, 0750 folders, 0640 output files);
	// empty means the owner only (0400, 0700, 0600). The process's user must be a member.
	Group string
}

// Audit configures the access audit that `chatvault serve` writes (issue 10, point 7).
type Audit struct {
	// FlushInterval (audit.flushInterval) is the longest an access record waits in
	// memory before its segment is written: at most 1m, at least 1s. A crash (not a
	// SIGTERM, which flushes) loses at most this much of the audit.
	FlushInterval time.Duration
	// MaxPending (audit.maxPending) bounds the records waiting in memory: when this many
	// wait, or the oldest has waited 2×flushInterval, because the store refuses the
	// writes, serve refuses requests (500 internal) until a write succeeds.
	MaxPending int
	// RetentionDays (audit.retentionDays) locks the segments of an organization the
	// directory gives no retentionDays for (S3 Object Lock, COMPLIANCE mode), in days after
	// the segment's day; an organization's own retentionDays takes precedence. 0: not locked.
	RetentionDays int
}

// Verify configures serve's continuous verification (archiver/verifyloop): every day
// the scheduler seals is verified at once, and a slice of the whole store every Interval,
// so that every sealed organization-day is re-hashed once per Cycle.
type Verify struct {
	// Interval (verify.interval) is how often a slice is verified; 0 turns continuous
	// verification off. At least 1m when set.
	Interval time.Duration
	// Cycle (verify.cycle) is how long one pass over the whole store takes: each slice
	// holds 1/(cycle/interval) of the sealed organization-days. At least Interval.
	Cycle time.Duration
	// Sample (verify.sample) is how many organization-days verified before an
	// incremental verification (chatvault verify --incremental) re-hashes besides what
	// is new, each run carrying on where the last one's sample ended. 0 or more.
	Sample int
	// Witness (verify.witness) is a witness file (chatvault witness -o), kept where the
	// store's administrator cannot delete it, that serve checks the store against before
	// it answers a day without a manifest as pending: a store emptied of its sealed days
	// is then answered 500 internal, not "not sealed yet". Re-read when it changes. Empty:
	// none.
	Witness string
}

// Exports configures on-demand export tasks (POST /v1/exports/tasks, chatvault export-task).
type Exports struct {
	// Concurrency (exports.concurrency) is how many tasks run at once in serve.
	Concurrency int
	// MaxScanEvents (exports.maxScanEvents) bounds a task's work: the sealed records of the
	// days of its range, which it reads whatever its filters keep. Not a number of days.
	MaxScanEvents int
	// MaxIDs (exports.maxIds) is the most chat ids, user ids, custodian ids, message ids, search
	// terms or e-mail addresses of a task.
	MaxIDs int
	// MaxTasksPerOrg (exports.maxTasksPerOrg) caps an organization's tasks queued or
	// running, over every replica: more are refused with 429 too_many_tasks.
	MaxTasksPerOrg int
	// Retention (exports.retention) is how long a task's result is kept after it completes;
	// then serve's janitor deletes it and the task reads as expired.
	Retention time.Duration
	// URLExpiry (exports.urlExpiry) is how long a download link works; every status call
	// makes a new one.
	URLExpiry time.Duration
	// BaseURL (exports.baseURL) is the API's public address (https://host[/prefix]) that
	// starts download links; empty means relative links (never the request's Host header).
	// E-mail delivery needs it: serve refuses to start with smtp.host and without it.
	BaseURL string
	// LinkKeyFile (exports.linkKeyFile) holds the key (at least 32 bytes, such as
	// `head -c 32 /dev/urandom`) that signs download links, shared by every replica; empty
	// means a random key per process, whose links die with it.
	LinkKeyFile string
}

// S3 configures the S3 client used for every s3:// location.
type S3 struct {
	// Endpoint (s3.endpoint) overrides the AWS endpoint, for MinIO and other S3-compatible
	// servers; empty means AWS.
	Endpoint string
	// Region (s3.region) is the bucket's region.
	Region string
	// PathStyle (s3.pathStyle) addresses buckets as endpoint/bucket instead of
	// bucket.endpoint, which most S3-compatible servers need.
	PathStyle bool
	// PartSize (s3.partSize) is the part size of multipart uploads and the largest object
	// sent in one request; the store keeps four buffers of this size for all its uploads.
	// At least 5MiB, S3's minimum.
	PartSize int64
	// PresignExpiry (s3.presignExpiry) is how long a presigned download URL stays valid;
	// at most 7 days, SigV4's limit.
	PresignExpiry time.Duration
	// MaxAttempts (s3.maxAttempts) is how many times one S3 request is tried before its
	// error fails the run: 503 SlowDown (throttling), 500s and dropped connections are
	// retried with exponential backoff. 1 to 100.
	MaxAttempts int
	// MaxBackoff (s3.maxBackoff) caps the wait before one retry. 1ms to 5m.
	MaxBackoff time.Duration
	// APIMaxAttempts (s3.apiMaxAttempts) is how many times serve tries one S3 request
	// made to answer an API request, when fewer than MaxAttempts: a client waiting for
	// the answer gets 503 unavailable with Retry-After once S3 has throttled it that many
	// times, rather than waiting out MaxAttempts (about 111s with the defaults). 1 to 100.
	APIMaxAttempts int
}

// Export configures how a day is sealed.
type Export struct {
	// ExcludeContentTypes (export.excludeContentTypes) are non-message content types that
	// are excluded and counted rather than quarantined.
	ExcludeContentTypes []string
	// SortMemory (export.sortMemory) is the memory budget of a run, whatever the size of
	// a day or of the directory: the external sort (beyond it, sorted runs spill to
	// TempDir) gets what the live heap (directory, router) and the heap's working share
	// leave, at most three quarters (archiver.SortArenas); the Go heap the rest, enforced
	// as the runtime's soft memory limit, and all of it once the sort's memory is freed
	// for the merge (archiver.HeapLimit). S3 upload buffers (s3.partSize x 4) come on top.
	SortMemory int64
	// TempDir (export.tempDir) is where sort runs spill; empty means os.TempDir.
	TempDir string
	// Workers (export.workers) is the degree of parallelism; 0 means GOMAXPROCS. Output
	// does not depend on it.
	Workers int
	// IgnoreFiles (export.ignoreFiles) are path.Match patterns of side files the producer
	// leaves in a partition (a _SUCCESS marker, say), matched against an entry's name
	// within the partition. Such a file is not read as events; every manifest of the day
	// records it by name, size and SHA-256. Event files and _CLOSED are never ignored, nor
	// folders. Any other entry of a partition fails the run. Default: none.
	IgnoreFiles []string
}

// Schedule configures the in-process scheduler of `chatvault serve`.
type Schedule struct {
	// Cron (schedule.cron) is when the nightly run starts, in standard five-field cron
	// syntax; a CRON_TZ= prefix sets its time zone, UTC by default (see CronSchedule).
	Cron string
	// Grace (schedule.grace) is how long after a day's end its partition counts as closed
	// when the producer wrote no _CLOSED marker.
	Grace time.Duration
	// RetryInterval (schedule.retryInterval) is how soon serve's scheduler ticks again
	// after a tick that left a day pending (partition missing or not closed) within
	// scheduler.DefaultRetryFor of its end, instead of waiting for the next cron time;
	// 0 waits for the cron. At least a minute: every tick lists every organization's
	// days and takes the store lease.
	RetryInterval time.Duration
	// Enabled (schedule.enabled) runs the scheduler inside `chatvault serve`; turn it off
	// when a Kubernetes CronJob runs `chatvault run` and serve only answers the API.
	Enabled bool
	// LeaseMaxSkew (schedule.leaseMaxSkew) is how far apart the clocks of the processes
	// that share the store's leases (serve replicas, runs) may be: a lease is taken over
	// only once it has expired by that much on the taker's clock (scheduler.Lease.MaxSkew).
	LeaseMaxSkew time.Duration
}

// CronSchedule parses Cron. Without a CRON_TZ= (or TZ=) prefix the schedule runs in UTC,
// not in the host's local zone as cron.ParseStandard alone would: days are UTC days, and
// the nightly run should not move with the server's time zone.
//
// In a zone with daylight saving, a time inside the hour the spring change skips (02:15
// in Paris on the last Sunday of March) does not exist that night, and robfig/cron skips
// the night: the day before was then sealed a day late, and ChatvaultDayNotSealed fired.
// The schedule returned fires that night at the same wall time of the offset before the
// change (03:15 summer time), as Vixie cron runs a job the change skipped.
func (s Schedule) CronSchedule() (cron.Schedule, error) {
	spec := s.Cron
	if !strings.HasPrefix(spec, "CRON_TZ=") && !strings.HasPrefix(spec, "TZ=") {
		spec = "CRON_TZ=UTC " + spec
	}
	sched, err := cron.ParseStandard(spec)
	if err != nil {
		return nil, err
	}
	if ss, ok := sched.(*cron.SpecSchedule); ok {
		return dstSchedule{ss}, nil
	}
	return sched, nil
}

// dstSchedule is a cron spec that does not skip a night whose time the spring change of
// daylight saving skips (see CronSchedule).
type dstSchedule struct{ spec *cron.SpecSchedule }

// Next is the spec's next time after t, or, when sooner, the next time of the spec read
// in the fixed offset the zone has at t, provided that wall time does not exist in the
// zone (it fell in the hour the clocks skipped). Other wall times exist, and the spec
// finds them itself: an hour repeated in autumn is no reason to fire at another time.
func (d dstSchedule) Next(t time.Time) time.Time {
	next := d.spec.Next(t)
	loc := d.spec.Location
	_, offset := t.In(loc).Zone()
	fixed := *d.spec
	fixed.Location = time.FixedZone("", offset)
	alt := fixed.Next(t)
	if alt.IsZero() || (!next.IsZero() && !alt.Before(next)) {
		return next
	}
	w := alt.In(fixed.Location)
	if in := time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), 0, loc); in.Hour() == w.Hour() && in.Minute() == w.Minute() && in.Day() == w.Day() {
		return next // the wall time exists in the zone: not skipped
	}
	return alt.In(loc)
}

// Signing configures manifest signatures.
type Signing struct {
	// KeyFile (signing.keyFile) holds the Ed25519 private key; empty means manifests are
	// not signed.
	KeyFile string
	// PublicKeyFile (signing.publicKeyFile) holds the trusted Ed25519 public keys, PEM
	// (several after a key rotation), that verify checks signatures against; empty means
	// the public half of KeyFile when it is set. Verifying never needs the private key.
	PublicKeyFile string
}

// HTTP configures the API server of `chatvault serve`.
type HTTP struct {
	// Addr (http.addr) is the listen address, host:port.
	Addr string
	// MetricsAddr (http.metricsAddr), when set, is a second listen address, host:port,
	// that serves /metrics with every series, per-organization ones included, and nothing
	// else; the API's address then serves no /metrics. Empty: the API's /metrics, open to
	// anyone who reaches it, serves only the series that name no organization.
	MetricsAddr string
	// ShutdownTimeout (http.shutdownTimeout) is how long `chatvault serve` waits, after
	// SIGTERM, for requests in flight and a running seal to finish before it aborts them.
	ShutdownTimeout time.Duration
	// TokenRate (http.tokenRate) is the requests per second one API token may make, with
	// bursts of four times as many; 0 means no limit.
	TokenRate int
	// TrustedProxies (http.trustedProxies) are the reverse proxies in front of the API,
	// addresses or CIDR prefixes: a request from one of them is its X-Forwarded-For
	// client's, for the audit and the per-address limits (the nearest hop that is not a
	// trusted proxy). Empty: the peer is the client and the header is ignored.
	TrustedProxies []string
	// TokenConcurrency (http.tokenConcurrency) is how many requests one API token may have
	// in progress at once, its download links' included; 0 means no limit. TokenRate
	// bounds how fast a token starts downloads, not how many a slow reader keeps open.
	TokenConcurrency int
	// ClientRate (http.clientRate) is the same per client address, for requests without a
	// valid token only: a valid token is limited by TokenRate alone, so that clients
	// sharing an address (behind a proxy) cannot lock one another out; 0 means no limit.
	ClientRate int
	// AuthFailures (http.authFailures) is how many requests with a missing or invalid
	// token one client address may make per minute (and in a burst) before it gets 429;
	// 0 means no limit. It slows token guessing without touching valid callers.
	AuthFailures int
	// ReadHeaderTimeout (http.readHeaderTimeout) is how long a client may take to send a
	// request's headers; a slow-loris client that trickles them is cut off.
	ReadHeaderTimeout time.Duration
	// ReadTimeout (http.readTimeout) is how long a client may take to send a whole request.
	ReadTimeout time.Duration
	// WriteTimeout (http.writeTimeout) is how long one write of a response may stall
	// because the client does not read. It is renewed at every write, so a download of
	// any length goes on while the client keeps reading.
	WriteTimeout time.Duration
	// IdleTimeout (http.idleTimeout) is how long a kept-alive connection may sit idle.
	IdleTimeout time.Duration
	// MaxConnections (http.maxConnections) is how many connections the API holds open at
	// once, idle keep-alive ones included; one more takes the place of the one idle the
	// longest, or with none idle is closed as it is accepted. Without a
	// cap, anyone reaching the port could hold every file descriptor of the process (a
	// /healthz each, then idle), and the store's opens, the seal and the audit's writes
	// would fail. serve lowers it to a quarter of the open-file limit when that is less.
	MaxConnections int
	TLS            TLS
	// VerifyFirstMaxSize (http.verifyFirstMaxSize) is the largest export or task result,
	// as sent, that the API reads and hashes in memory before sending its first byte, so
	// that a tampered object is a clean 500; larger ones stream with their last chunk held
	// back until the hash checks, and the connection is cut when it does not. 0 streams
	// every body that way.
	VerifyFirstMaxSize int64
	// VerifyFirstMemory (http.verifyFirstMemory) bounds the memory those buffers take, all
	// responses together; a body that does not fit streams instead.
	VerifyFirstMemory int64
}

// TLS makes `chatvault serve` terminate TLS itself; without it, serve speaks plain HTTP
// and expects a proxy or the network to provide encryption.
type TLS struct {
	// CertFile (http.tls.certFile) is the PEM certificate chain, leaf first.
	CertFile string
	// KeyFile (http.tls.keyFile) is the PEM private key of the certificate. Both or neither.
	KeyFile string
}

// Enabled reports whether serve terminates TLS.
func (t TLS) Enabled() bool { return t.CertFile != "" }

// Auth configures API tokens.
type Auth struct {
	// TokensFile (auth.tokensFile) holds the SHA-256 of every API token with its
	// organization and scopes.
	TokensFile string
}

// SMTP configures the relay that mails export-task download links (never the data).
type SMTP struct {
	// Host (smtp.host) is the relay; empty means email delivery is off and tasks asking
	// for it are refused.
	Host string
	// Port (smtp.port) is the relay's port: 587 for STARTTLS, 465 for implicit TLS.
	Port int
	// From (smtp.from) is the sender address, such as "chatvault <archive@acme.example>".
	From string
	// Username (smtp.username) authenticates with PLAIN when set, or LOGIN where the relay
	// offers only that (only ever over TLS or to localhost: with security none and another
	// host it is a configuration error).
	Username string
	// PasswordFile (smtp.passwordFile) holds the password, so that it stays out of the
	// config file and the environment.
	PasswordFile string
	// Security (smtp.security) is starttls (required, never downgraded), tls (implicit,
	// port 465) or none (only for a relay on a trusted network).
	Security string
	// CAFile (smtp.caFile) is a PEM bundle to verify the relay with instead of the
	// system's roots, for a private relay.
	CAFile string
	// Timeout (smtp.timeout) bounds one try of a mail, from connection to QUIT (export
	// tasks try a mail the relay could not take three times).
	Timeout time.Duration
}

// Log configures logging.
type Log struct {
	// Level (log.level) is one of debug, info, warn, error; Load lower-cases it.
	Level string
	// Format (log.format) is one of text, json, or auto: text on a terminal, JSON otherwise.
	// Load lower-cases it.
	Format string
}

// SlogLevel returns Level as a slog.Level; anything Validate refuses maps to info.
func (l Log) SlogLevel() slog.Level {
	switch l.Level {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// Default returns the defaults. EventLog and Store default to the sample event log and a
// folder beside it, as in the design brief, so that a fresh checkout seals the sample day
// with no configuration at all.
func Default() *Config {
	return &Config{
		EventLog: "./testdata/eventlog",
		Store:    "./archive",
		// Far above the largest expected snapshot (43 MB at 4M events a day, growing with
		// users and chats, not days): archiver.DirectoryCap.
		DirectoryMaxSize: 1 << 30,
		// New stores are sealed in layout 3; an existing layout-2 store continues its
		// chains in layout 3 at the first seal (layout.json). 2 keeps it in layout 2.
		StoreLayout: 3,
		S3:          S3{Region: "us-east-1", PartSize: 8 << 20, PresignExpiry: 15 * time.Minute, MaxAttempts: 10, MaxBackoff: 20 * time.Second, APIMaxAttempts: 3},
		Export: Export{
			ExcludeContentTypes: []string{"wave", "roomInvitation"},
			SortMemory:          256 << 20,
			IgnoreFiles:         []string{},
		},
		Schedule: Schedule{Cron: "30 0 * * *", Grace: time.Hour, RetryInterval: 5 * time.Minute, Enabled: true, LeaseMaxSkew: time.Minute},
		HTTP: HTTP{Addr: ":8080", ShutdownTimeout: 30 * time.Second, TokenRate: 5, TokenConcurrency: 16, ClientRate: 20, TrustedProxies: []string{}, AuthFailures: 10,
			ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: time.Minute,
			IdleTimeout: 2 * time.Minute, MaxConnections: 1024, VerifyFirstMaxSize: 8 << 20, VerifyFirstMemory: 64 << 20},
		Exports: Exports{Concurrency: 2, MaxScanEvents: 50_000_000, MaxIDs: 25, MaxTasksPerOrg: 20, Retention: 60 * 24 * time.Hour,
			URLExpiry: 24 * time.Hour},
		SMTP:  SMTP{Port: 587, Security: "starttls", Timeout: 30 * time.Second},
		Audit: Audit{FlushInterval: time.Minute, MaxPending: 10000, RetentionDays: 2557},
		Log:   Log{Level: "info", Format: "auto"},

		Verify: Verify{Interval: time.Hour, Cycle: 7 * 24 * time.Hour, Sample: 1000},

		Attachments: defaultAttachments(),
	}
}

// MaxWorkers is the most export.workers (0, one per CPU, is capped at it). Each worker
// sorts into a sorter of its own, and the merge opens each sorter's records in memory and
// at least one of its runs at once, at most spillsort.MaxOpenRuns files: a host of 64 CPUs,
// with one worker per CPU, failed every day that spilled after reading it whole. Past a few
// dozen, workers also only split the sort's memory finer, into more runs and merge passes.
const MaxWorkers = spillsort.MaxOpenRuns / 2

// ErrInvalid is wrapped by every error Load and Validate return: a missing or malformed
// file, an unknown key, a value that does not parse or does not validate. The CLI maps it
// to exit status 2.
var ErrInvalid = errors.New("invalid configuration")

// Error is a configuration problem, usually about one key.
type Error struct {
	// Key is the key's path as documented, such as "export.sortMemory"; empty for problems
	// with the file as a whole.
	Key string
	// Source is where the value came from: a flag ("--sort-memory"), an environment
	// variable, or the file's path; empty for defaults and when unknown.
	Source string
	Err    error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("config: ")
	switch {
	case e.Key != "" && e.Source != "":
		fmt.Fprintf(&b, "%s (%s): ", e.Key, e.Source)
	case e.Key != "":
		b.WriteString(e.Key + ": ")
	case e.Source != "":
		b.WriteString(e.Source + ": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Is makes every *Error match ErrInvalid.
func (e *Error) Is(target error) bool { return target == ErrInvalid }

var (
	logLevels  = []string{"debug", "info", "warn", "error"}
	logFormats = []string{"auto", "text", "json"}
)

// Validate reports every problem of c, joined, each an *Error naming its key.
func (c *Config) Validate() error {
	var errs []error
	for _, e := range c.problems() {
		errs = append(errs, e)
	}
	return errors.Join(errs...)
}

func (c *Config) problems() []*Error {
	var ps []*Error
	add := func(key string, format string, args ...any) {
		ps = append(ps, &Error{Key: key, Err: fmt.Errorf(format, args...)})
	}
	location := func(key, v string, required bool) {
		if v == "" {
			if required {
				add(key, "required: a folder or s3://bucket/prefix")
			}
			return
		}
		if err := checkLocation(v); err != nil {
			add(key, "%w", err)
		}
	}
	location("eventlog", c.EventLog, true)
	location("directory", c.Directory, false)
	if c.DirectoryMaxSize < MinDirectoryMaxSize {
		add("directory.maxSize", "%s is below the minimum of %s", FormatSize(c.DirectoryMaxSize), FormatSize(MinDirectoryMaxSize))
	}
	location("store", c.Store, true)
	c.overlaps(add)
	if c.StoreLayout != 2 && c.StoreLayout != 3 {
		add("store.layout", "%d is not a store layout: 2 or 3", c.StoreLayout)
	}

	if c.S3.Endpoint != "" {
		u, err := url.Parse(c.S3.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add("s3.endpoint", "%q is not an http:// or https:// URL", c.S3.Endpoint)
		}
	}
	if c.S3.Region == "" {
		add("s3.region", "required")
	}
	if c.S3.PartSize < 5<<20 {
		add("s3.partSize", "%s is below S3's minimum part size, 5MiB", FormatSize(c.S3.PartSize))
	}
	if c.S3.PartSize > 5<<30 { // S3 refuses larger parts; the store keeps four such buffers
		add("s3.partSize", "%s is above S3's maximum part size, 5GiB", FormatSize(c.S3.PartSize))
	}
	if c.S3.PresignExpiry < time.Second || c.S3.PresignExpiry > 7*24*time.Hour {
		add("s3.presignExpiry", "%s is not between 1s and 168h (7 days)", c.S3.PresignExpiry)
	}
	if c.S3.MaxAttempts < 1 || c.S3.MaxAttempts > 100 {
		add("s3.maxAttempts", "%d is not between 1 and 100", c.S3.MaxAttempts)
	}
	if c.S3.APIMaxAttempts < 1 || c.S3.APIMaxAttempts > 100 {
		add("s3.apiMaxAttempts", "%d is not between 1 and 100", c.S3.APIMaxAttempts)
	}
	if c.S3.MaxBackoff < time.Millisecond || c.S3.MaxBackoff > 5*time.Minute {
		add("s3.maxBackoff", "%s is not between 1ms and 5m", c.S3.MaxBackoff)
	}

	for _, t := range c.Export.ExcludeContentTypes {
		switch {
		case t == "":
			add("export.excludeContentTypes", "empty content type")
		case model.IsMessageContentType(t):
			// Excluding a message type would drop messages from every export while
			// counting them as excluded by rule, which an operator could take for intended.
			add("export.excludeContentTypes", "%q is a message type: excluding it would drop messages from every export", t)
		}
	}
	if c.Export.SortMemory < MinSortMemory {
		add("export.sortMemory", "%s is below the minimum of %s", FormatSize(c.Export.SortMemory), FormatSize(MinSortMemory))
	}
	if c.Export.Workers < 0 {
		add("export.workers", "%d is negative (0 means GOMAXPROCS)", c.Export.Workers)
	}
	if c.Export.Workers > MaxWorkers {
		add("export.workers", "%d is above the maximum of %d (the merge opens every worker's sort at once)", c.Export.Workers, MaxWorkers)
	}
	for _, p := range c.Export.IgnoreFiles {
		// The readers match with path.Match, which reports a malformed pattern only when
		// matching reaches it: checked here, a typo fails at load, not at 1 a.m.
		switch _, err := path.Match(p, ""); {
		case p == "":
			add("export.ignoreFiles", "empty pattern")
		case strings.Contains(p, "/"):
			add("export.ignoreFiles", "%q holds a /, but patterns match an entry's name within the partition", p)
		case err != nil:
			add("export.ignoreFiles", "%q: %w", p, err)
		}
	}

	if sched, err := c.Schedule.CronSchedule(); err != nil {
		add("schedule.cron", "%q: %w", c.Schedule.Cron, err)
	} else if sched.Next(time.Now()).IsZero() {
		// robfig/cron gives the zero time for a day no month has (February 30th): the
		// scheduler's wait would be negative and it would tick in a tight loop.
		add("schedule.cron", "%q never fires (a day its months do not have)", c.Schedule.Cron)
	}
	if c.Schedule.Grace < 0 {
		add("schedule.grace", "%s is negative", c.Schedule.Grace)
	}
	if r := c.Schedule.RetryInterval; r != 0 && r < time.Minute {
		add("schedule.retryInterval", "%s is below 1m (0 retries only at the cron times)", r)
	}
	if s := c.Schedule.LeaseMaxSkew; s < time.Second || s > time.Hour {
		add("schedule.leaseMaxSkew", "%s is outside 1s to 1h", s)
	}

	if c.HTTP.TokenRate < 0 {
		add("http.tokenRate", "%d is negative (0 means no limit)", c.HTTP.TokenRate)
	}
	if c.HTTP.ClientRate < 0 {
		add("http.clientRate", "%d is negative (0 means no limit)", c.HTTP.ClientRate)
	}
	if c.SMTP.Host != "" {
		if _, err := mail.ParseAddress(c.SMTP.From); err != nil {
			add("smtp.from", "%q is not a mail address (required when smtp.host is set)", c.SMTP.From)
		}
		if c.SMTP.Username != "" && c.SMTP.PasswordFile == "" {
			add("smtp.passwordFile", "is empty but smtp.username is set")
		}
		// The mailer authenticates unencrypted only to a relay on this host and refuses at
		// each mail otherwise: better said at start than after every e-mail task's export.
		if c.SMTP.Username != "" && c.SMTP.Security == "none" && !smtp.LocalRelay(c.SMTP.Host) {
			add("smtp.security", "none with smtp.username would send the password in the clear to %s: use starttls or tls (none authenticates only to a relay on this host)", c.SMTP.Host)
		}
	}
	if c.SMTP.Port <= 0 || c.SMTP.Port > 65535 {
		add("smtp.port", "%d is not a port", c.SMTP.Port)
	}
	if !slices.Contains([]string{"starttls", "tls", "none"}, c.SMTP.Security) {
		add("smtp.security", "%q is not one of starttls, tls, none", c.SMTP.Security)
	}
	if c.SMTP.Timeout <= 0 {
		add("smtp.timeout", "%s is not positive", c.SMTP.Timeout)
	}
	if c.Audit.FlushInterval < time.Second || c.Audit.FlushInterval > time.Minute {
		add("audit.flushInterval", "%s is not between 1s and 1m", c.Audit.FlushInterval)
	}
	// At most MaxAuditPending: a flush writes up to twice this many records of one
	// organization into one segment, and a segment larger than the store's cap for its
	// kind (archiver's objectcap.go, 256 MiB) would be refused when read back, leaving the
	// audit chain's head unreadable.
	if c.Audit.MaxPending < 100 || c.Audit.MaxPending > MaxAuditPending {
		add("audit.maxPending", "%d is not between 100 and %d", c.Audit.MaxPending, MaxAuditPending)
	}
	if c.Audit.RetentionDays < 0 {
		add("audit.retentionDays", "%d is negative (0 means not locked)", c.Audit.RetentionDays)
	}
	switch {
	case c.Verify.Interval < 0 || (c.Verify.Interval > 0 && c.Verify.Interval < time.Minute):
		add("verify.interval", "%s is neither 0 (off) nor at least 1m", c.Verify.Interval)
	case c.Verify.Interval > 0 && c.Verify.Cycle < c.Verify.Interval:
		add("verify.cycle", "%s is shorter than verify.interval (%s)", c.Verify.Cycle, c.Verify.Interval)
	}
	switch {
	case c.Verify.Sample < 0:
		add("verify.sample", "%d is negative (0 re-hashes no old day)", c.Verify.Sample)
	}
	for _, p := range c.HTTP.TrustedProxies {
		if _, err := ParsePrefix(p); err != nil {
			add("http.trustedProxies", "%q is neither an IP address nor a CIDR prefix", p)
		}
	}
	if c.HTTP.TokenConcurrency < 0 {
		add("http.tokenConcurrency", "%d is negative (0 means no limit)", c.HTTP.TokenConcurrency)
	}
	if c.HTTP.MaxConnections <= 0 {
		add("http.maxConnections", "%d is not positive", c.HTTP.MaxConnections)
	}
	if c.HTTP.AuthFailures < 0 {
		add("http.authFailures", "%d is negative (0 means no limit)", c.HTTP.AuthFailures)
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{
		{"http.readHeaderTimeout", c.HTTP.ReadHeaderTimeout}, {"http.readTimeout", c.HTTP.ReadTimeout},
		{"http.writeTimeout", c.HTTP.WriteTimeout}, {"http.idleTimeout", c.HTTP.IdleTimeout},
	} {
		// 0 would mean "no timeout" to net/http: exactly what these keys exist to prevent.
		if d.v <= 0 {
			add(d.key, "%s is not positive", d.v)
		}
	}
	switch tls := c.HTTP.TLS; {
	case tls.CertFile != "" && tls.KeyFile == "":
		add("http.tls.keyFile", "required with http.tls.certFile: set both or neither")
	case tls.CertFile == "" && tls.KeyFile != "":
		add("http.tls.certFile", "required with http.tls.keyFile: set both or neither")
	}
	if c.HTTP.VerifyFirstMaxSize < 0 {
		add("http.verifyFirstMaxSize", "%d is negative (0 streams every export)", c.HTTP.VerifyFirstMaxSize)
	}
	if c.HTTP.VerifyFirstMemory < c.HTTP.VerifyFirstMaxSize || c.HTTP.VerifyFirstMemory <= 0 {
		add("http.verifyFirstMemory", "%s must be positive and hold at least one body of http.verifyFirstMaxSize (%s)",
			FormatSize(c.HTTP.VerifyFirstMemory), FormatSize(c.HTTP.VerifyFirstMaxSize))
	}
	if c.Signing.PublicKeyFile != "" && c.Signing.PublicKeyFile == c.Signing.KeyFile {
		add("signing.publicKeyFile", "names the private key file signing.keyFile: give the public key (chatvault keys public)")
	}
	if c.HTTP.ShutdownTimeout <= 0 {
		add("http.shutdownTimeout", "%s is not positive", c.HTTP.ShutdownTimeout)
	}
	if _, _, err := net.SplitHostPort(c.HTTP.Addr); err != nil {
		add("http.addr", "%q is not host:port (such as :8080)", c.HTTP.Addr)
	}
	if m := c.HTTP.MetricsAddr; m != "" {
		if _, _, err := net.SplitHostPort(m); err != nil {
			add("http.metricsAddr", "%q is not host:port (such as 127.0.0.1:9090)", m)
		} else if _, port, _ := net.SplitHostPort(m); m == c.HTTP.Addr && port != "0" {
			add("http.metricsAddr", "%q is http.addr too: give the metrics their own address", m)
		}
	}

	if c.Exports.Concurrency < 1 || c.Exports.Concurrency > 64 {
		add("exports.concurrency", "%d is not between 1 and 64", c.Exports.Concurrency)
	}
	if c.Exports.MaxScanEvents < 1 || c.Exports.MaxScanEvents > 100_000_000_000 {
		add("exports.maxScanEvents", "%d is not between 1 and 100000000000", c.Exports.MaxScanEvents)
	}
	if c.Exports.MaxIDs < 1 || c.Exports.MaxIDs > 1000 {
		add("exports.maxIds", "%d is not between 1 and 1000", c.Exports.MaxIDs)
	}
	if c.Exports.MaxTasksPerOrg < 1 || c.Exports.MaxTasksPerOrg > 10000 {
		add("exports.maxTasksPerOrg", "%d is not between 1 and 10000", c.Exports.MaxTasksPerOrg)
	}
	if c.Exports.Retention < time.Hour {
		add("exports.retention", "%s is below 1h", c.Exports.Retention)
	}
	if c.Exports.URLExpiry < time.Minute || c.Exports.URLExpiry > c.Exports.Retention {
		add("exports.urlExpiry", "%s is not between 1m and exports.retention", c.Exports.URLExpiry)
	}
	if c.Exports.BaseURL != "" {
		u, err := url.Parse(c.Exports.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			add("exports.baseURL", "%q is not an http:// or https:// URL without query", c.Exports.BaseURL)
		}
	}

	if g := c.FS.Group; g != "" && !validGroup(g) {
		add("fs.group", "%q is neither a group name nor a numeric gid", g)
	}

	c.attachmentProblems(add)

	if !slices.Contains(logLevels, c.Log.Level) {
		add("log.level", "%q is not one of %s", c.Log.Level, strings.Join(logLevels, ", "))
	}
	if !slices.Contains(logFormats, c.Log.Format) {
		add("log.format", "%q is not one of %s", c.Log.Format, strings.Join(logFormats, ", "))
	}
	return ps
}

// validGroup accepts a numeric gid or a POSIX-style group name; whether the group
// exists is checked when a command resolves it.
func validGroup(g string) bool {
	if n, err := strconv.ParseUint(g, 10, 31); err == nil {
		return n < 1<<31-1
	}
	if len(g) > 64 {
		return false
	}
	for i, c := range g {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_':
		case i > 0 && (c >= '0' && c <= '9' || c == '.' || c == '-'):
		case i > 0 && i == len(g)-1 && c == '$':
		default:
			return false
		}
	}
	return true
}

// checkLocation accepts a local path or s3://bucket[/prefix]. Any other URL is refused
// rather than taken for a folder whose name happens to contain "://".
func checkLocation(v string) error {
	scheme, rest, ok := strings.Cut(v, "://")
	switch {
	case !ok:
		if strings.HasPrefix(strings.ToLower(v), "s3:") {
			return fmt.Errorf("%q: write s3://bucket/prefix", v)
		}
		if v == "~" || strings.HasPrefix(v, "~/") || strings.HasPrefix(v, `~\`) {
			// Only a shell expands it, and not in quotes, after --store=, in this file
			// or a unit's Environment=: the path would be a folder named "~" here.
			return fmt.Errorf("%q: ~ is not expanded here (only a shell expands it, not in quotes or after --flag=): give the full path", v)
		}
		return nil
	case scheme != "s3":
		return fmt.Errorf("%q: unsupported scheme %q (use a folder or s3://bucket/prefix)", v, scheme)
	}
	bucket, _, _ := strings.Cut(rest, "/")
	if bucket == "" {
		return fmt.Errorf("%q has no bucket (use s3://bucket/prefix)", v)
	}
	return nil
}

// resolve fills in what derives from other keys and normalizes case.
func (c *Config) resolve() {
	// An invalid eventlog is reported as such, not again as an invalid derived directory.
	if c.Directory == "" && c.EventLog != "" && checkLocation(c.EventLog) == nil {
		c.Directory = defaultDirectory(c.EventLog)
	}
	c.Exports.BaseURL = strings.TrimRight(c.Exports.BaseURL, "/")
	c.Log.Level = strings.ToLower(c.Log.Level)
	c.Log.Format = strings.ToLower(c.Log.Format)
}

// defaultDirectory is <eventlog>/directory.json. An s3:// location is joined with "/" on
// every OS; filepath would use "\" on Windows.
func defaultDirectory(eventlog string) string {
	if strings.HasPrefix(eventlog, "s3://") {
		return strings.TrimRight(eventlog, "/") + "/directory.json"
	}
	return filepath.Join(eventlog, "directory.json")
}
