package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/eventlog"
	"github.com/chatvault/chatvault/archiver/fsstore"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/archiver/s3"
	"github.com/chatvault/chatvault/config"
	"github.com/spf13/pflag"
)

// Exit codes, documented in the README.
const (
	exitOK          = 0
	exitFailure     = 1 // nothing half-committed
	exitUsage       = 2 // bad usage or configuration
	exitQuarantined = 3 // sealed, but records were quarantined
)

// version is set at build time with -ldflags "-X main.version=…"; otherwise it is taken
// from the VCS stamp Go records in the binary, so manifests name the code that sealed them.
var version string

func init() {
	if version == "" {
		version = vcsVersion()
	}
}

func vcsVersion() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	var rev, dirty string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev == "" {
		return "dev"
	}
	return "dev-" + rev + dirty
}

// command is one subcommand: its flags are registered by flags, and run does the work.
// Main builds a cobra command from each registered one (cli.go), so a new command is one
// register call in its own file.
type command struct {
	name    string
	summary string
	usage   string
	flags   func(fs *pflag.FlagSet)
	run     func(ctx context.Context, env *env, fs *pflag.FlagSet) int
	// subArgs lets positional arguments through (a subcommand such as `token create`).
	subArgs bool
	// args are the positional arguments a subArgs command knows, for shell completion.
	args []string
}

var commands []*command

func register(c *command) { commands = append(commands, c) }

// env is what a command runs with: configuration, output streams and a logger.
type env struct {
	cfg    *config.Config
	stdout io.Writer
	stderr io.Writer
	log    *slog.Logger
	// tty: stderr is a terminal and logs are not JSON, so progress bars are drawn in place
	// instead of log lines (with JSON logs every line on stderr stays a JSON record).
	tty  bool
	json bool          // the log is JSON: operator messages on stderr are log records too
	s3   *awss3.Client // made by s3Client on first use
	// s3Throttled counts the S3 client's retries of throttled requests (503 SlowDown),
	// for serve's chatvault_s3_throttled_retries_total.
	s3Throttled atomic.Uint64
	// interrupted returns the signal that stopped the process (main's
	// signal.NotifyContext cause), or nil: fail names it rather than the
	// "context canceled" of whichever call it cut.
	interrupted func() error
}

// usageError is bad usage: exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

// fail reports err as the error that ends command cmd (see fatal) and returns its exit code.
func (e *env) fail(cmd string, err error) int {
	if e.interrupted != nil && errors.Is(err, context.Canceled) {
		if cause := e.interrupted(); cause != nil {
			err = fmt.Errorf("interrupted (%v): %w", cause, err)
		}
	}
	code := exitFailure
	var ue *usageError
	if errors.As(err, &ue) || errors.Is(err, config.ErrInvalid) {
		code = exitUsage
	}
	fatal(e.stderr, e.json, e.log, cmd, err, code)
	return code
}

// openSource opens the configured event log.
func (e *env) openSource() (archiver.Source, error) {
	if strings.HasPrefix(e.cfg.EventLog, "s3://") {
		bucket, prefix, err := s3.ParseURL(e.cfg.EventLog)
		if err != nil {
			return nil, usagef("eventlog: %v", err)
		}
		client, err := e.s3Client()
		if err != nil {
			return nil, err
		}
		el := s3.NewEventLog(client, bucket, prefix)
		el.Ignore = e.cfg.Export.IgnoreFiles
		return el, nil
	}
	d, err := eventlog.NewDir(e.cfg.EventLog)
	if errors.Is(err, os.ErrNotExist) {
		// The default, ./testdata/eventlog, is the checkout's: run from bin/ or a cron job's
		// home folder, a relative path names a folder the operator never meant.
		return nil, fmt.Errorf("eventlog %s: no such folder%s (give --eventlog, CHATVAULT_EVENTLOG or eventlog in a --config file)", e.cfg.EventLog, inWorkingDir(e.cfg.EventLog))
	}
	if err != nil {
		return nil, err
	}
	d.Ignore = e.cfg.Export.IgnoreFiles
	return d, nil
}

// inWorkingDir names the working directory a relative path is read from, for an error
// that the path does not exist; nothing for an absolute one.
func inWorkingDir(path string) string {
	if filepath.IsAbs(path) {
		return ""
	}
	wd, _ := os.Getwd()
	return " in the working directory " + wd
}

// openStore opens the configured store for writing, creating a missing folder; the caller
// closes it. Commands that only read the archive use openStoreReadOnly instead.
func (e *env) openStore() (archiver.Store, func() error, error) {
	return e.openStoreMode(false)
}

// openStoreReadOnly opens the configured store for a command that only reads it (verify,
// status, export, audit, witness): a folder that does not exist is an error naming it,
// never created, since a mistyped path would otherwise read as an empty, intact archive.
// An S3 store is never created by opening it; its missing bucket fails at NewStore.
func (e *env) openStoreReadOnly() (archiver.Store, func() error, error) {
	return e.openStoreMode(true)
}

func (e *env) openStoreMode(readOnly bool) (archiver.Store, func() error, error) {
	s, closeStore, err := e.openStoreOf(readOnly)
	if err == nil && wrapStore != nil {
		s = wrapStore(s)
	}
	return s, closeStore, err
}

// wrapStore, set by tests only, wraps the store every command opens (to order or count its
// requests).
var wrapStore func(archiver.Store) archiver.Store

func (e *env) openStoreOf(readOnly bool) (archiver.Store, func() error, error) {
	if strings.HasPrefix(e.cfg.Store, "s3://") {
		bucket, prefix, err := s3.ParseURL(e.cfg.Store)
		if err != nil {
			return nil, nil, usagef("store: %v", err)
		}
		client, err := e.s3Client()
		if err != nil {
			return nil, nil, err
		}
		// NewStore asks the bucket whether Object Lock is on; the commands open their
		// store before they have work to cancel, so a timeout bounds it instead.
		ctx, cancel := context.WithTimeout(context.Background(), s3OpenTimeout)
		defer cancel()
		st, err := s3.NewStore(ctx, client, bucket, prefix, s3.Options{
			PartSize:      e.cfg.S3.PartSize,
			PresignExpiry: e.cfg.S3.PresignExpiry,
			Logger:        e.log,
		})
		if err != nil {
			return nil, nil, err
		}
		return st, func() error { return nil }, nil
	}
	if readOnly {
		s, err := fsstore.Open(e.cfg.Store)
		if errors.Is(err, iofs.ErrNotExist) {
			return nil, nil, fmt.Errorf("store %s: no such folder%s (check the path: this command never creates a store)", e.cfg.Store, inWorkingDir(e.cfg.Store))
		}
		if err != nil {
			return nil, nil, fmt.Errorf("store %s: %w", e.cfg.Store, err)
		}
		return s, s.Close, nil
	}
	opt, err := e.fsOptions()
	if err != nil {
		return nil, nil, err
	}
	s, err := fsstore.NewWithOptions(e.cfg.Store, opt)
	if errors.Is(err, fsstore.ErrNotOwner) {
		return nil, nil, usagef("store: %v", err) // run as the right user: exit 2
	}
	if err != nil {
		return nil, nil, err
	}
	return s, s.Close, nil
}

// readDirectory reads the directory snapshot.
func (e *env) readDirectory() ([]byte, error) {
	if strings.HasPrefix(e.cfg.Directory, "s3://") {
		bucket, key, err := s3.ParseURL(e.cfg.Directory)
		if err != nil {
			return nil, usagef("directory: %v", err)
		}
		client, err := e.s3Client()
		if err != nil {
			return nil, err
		}
		ctx, cancel := context.WithTimeout(context.Background(), s3OpenTimeout)
		defer cancel()
		b, err := s3.ReadObjectCapped(ctx, client, bucket, key, e.cfg.DirectoryMaxSize)
		if err != nil {
			return nil, directoryError(err)
		}
		return b, nil
	}
	b, err := eventlog.ReadSnapshot(e.cfg.Directory, e.cfg.DirectoryMaxSize)
	if err != nil {
		return nil, directoryError(err)
	}
	return b, nil
}

// directoryError is the error of a directory snapshot that could not be read; one over
// directory.maxSize says which key raises the bound.
func directoryError(err error) error {
	if errors.Is(err, archiver.ErrObjectTooLarge) {
		return fmt.Errorf("read directory: %w; if the snapshot really is this large, raise directory.maxSize", err)
	}
	return fmt.Errorf("read directory: %w", err)
}

// directoryVersion identifies the directory snapshot's content: the file's modification
// time and size, or on S3 the object's ETag and version id (the snapshot of an S3 event
// log is an object, which os.Stat cannot see: serve with one was never ready).
func (e *env) directoryVersion() (string, error) {
	if !strings.HasPrefix(e.cfg.Directory, "s3://") {
		fi, err := os.Stat(e.cfg.Directory)
		if err != nil {
			return "", err
		}
		return fmt.Sprint(fi.ModTime().UnixNano(), " ", fi.Size()), nil
	}
	bucket, key, err := s3.ParseURL(e.cfg.Directory)
	if err != nil {
		return "", usagef("directory: %v", err)
	}
	client, err := e.s3Client()
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), s3OpenTimeout)
	defer cancel()
	return s3.ObjectVersion(ctx, client, bucket, key)
}

// s3OpenTimeout bounds the S3 calls made while opening a store or reading the directory.
const s3OpenTimeout = time.Minute

// s3Client returns the S3 client of the s3.* settings, made once per command and shared
// by the event log, the directory and the store.
func (e *env) s3Client() (*awss3.Client, error) {
	if e.s3 != nil {
		return e.s3, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), s3OpenTimeout)
	defer cancel()
	c, err := s3.NewClient(ctx, s3.ClientConfig{
		Endpoint:  e.cfg.S3.Endpoint,
		Region:    e.cfg.S3.Region,
		PathStyle: e.cfg.S3.PathStyle,
		Logger:    e.log,

		MaxAttempts: e.cfg.S3.MaxAttempts,
		MaxBackoff:  e.cfg.S3.MaxBackoff,
		OnThrottle:  func() { e.s3Throttled.Add(1) },
	})
	if err != nil {
		return nil, err
	}
	e.s3 = c
	return c, nil
}

// signingKey loads the Ed25519 key of signing.keyFile (PKCS #8 PEM, as written by
// `chatvault keys generate` or `openssl genpkey -algorithm ed25519`), or returns nil when
// none is configured.
func (e *env) signingKey() (ed25519.PrivateKey, error) {
	if e.cfg.Signing.KeyFile == "" {
		return nil, nil
	}
	key, err := readPrivateKey(e.cfg.Signing.KeyFile)
	if err != nil {
		// A key that is missing, empty or no key is configuration to fix (exit 2), not a
		// failure to retry: systemd's RestartPreventExitStatus=2 relies on the difference.
		return nil, usagef("signing.keyFile: %v", err)
	}
	return key, nil
}

// signingKeyFor is signingKey for a process that signs into store (run, serve,
// export-task): a key the store's rotation statements retired is refused before
// anything is written (ledger.Ledger.CheckSigningKey), exit 1, since all it would sign
// verify reports as signed by a retired key.
func (e *env) signingKeyFor(ctx context.Context, store archiver.Store) (ed25519.PrivateKey, error) {
	key, err := e.signingKey()
	if err != nil {
		return nil, err
	}
	if err := (ledger.Ledger{Store: store}).CheckSigningKey(ctx, key); err != nil {
		return nil, err
	}
	return key, nil
}

// dayRange reads --date or --from/--to.
func dayRange(fs *pflag.FlagSet, required bool) (from, to archiver.Day, err error) {
	date, _ := fs.GetString("date")
	f, _ := fs.GetString("from")
	t, _ := fs.GetString("to")
	switch {
	case date != "" && (f != "" || t != ""):
		return from, to, usagef("give --date or --from/--to, not both")
	case date != "":
		d, err := parseDayArg(date)
		if err != nil {
			return from, to, usagef("--date: %v", err)
		}
		return d, d, nil
	case f != "" || t != "":
		if f == "" || t == "" {
			return from, to, usagef("--from and --to go together")
		}
		if from, err = parseDayArg(f); err != nil {
			return from, to, usagef("--from: %v", err)
		}
		if to, err = parseDayArg(t); err != nil {
			return from, to, usagef("--to: %v", err)
		}
		if to.Before(from) {
			return from, to, usagef("--to %s is before --from %s", to, from)
		}
		return from, to, nil
	case required:
		return from, to, usagef("give --date D or --from D --to D")
	}
	return from, to, nil
}

// parseDayArg reads a day argument: YYYY-MM-DD, or "yesterday" or "today" (UTC), so that
// a scheduler needs no date arithmetic in a shell (BusyBox's date knows no "yesterday").
func parseDayArg(s string) (archiver.Day, error) {
	today := archiver.DayOf(runClock())
	switch s {
	case "today":
		return today, nil
	case "yesterday":
		return today.Prev(), nil
	}
	return archiver.ParseDay(s)
}

func rangeFlags(fs *pflag.FlagSet) {
	fs.String("date", "", "one day, YYYY-MM-DD (UTC), or yesterday or today")
	fs.String("from", "", "first day of a range, YYYY-MM-DD")
	fs.String("to", "", "last day of a range (inclusive)")
}
