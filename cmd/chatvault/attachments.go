package main

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/attach"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/model"
)

// newAttachmentCapturer builds the capture of issue 14 from attachments.*, or returns nil
// when attachments.enabled is off. The token is read here, once, and goes nowhere but
// the Authorization header of requests to the allowed hosts over https. Files are staged
// in a work folder of the run's own in export.tempDir, which release removes (and the
// next run sweeps, if this one is killed).
func newAttachmentCapturer(e *env, store archiver.Store, key ed25519.PrivateKey) (c *runCapture, release func(), err error) {
	release = func() {}
	a := e.cfg.Attachments
	if !a.Enabled {
		return nil, release, nil
	}
	var tokens func() (string, error)
	if a.TokenFile != "" {
		// Read now, so that a bad file stops the command at once (exit 2), and again at
		// every fetch, so that a token rotated while serve runs is used without a restart.
		tokens = tokenFile(a.TokenFile)
		if _, err := tokens(); err != nil {
			return nil, release, usagef("%v", err)
		}
	}
	work, release, err := archiver.NewWorkDir(e.cfg.Export.TempDir, e.log)
	if err != nil {
		return nil, func() {}, err
	}
	f, err := attach.NewFetcher(attach.Options{AllowedHosts: a.AllowedHosts, Concurrency: a.Concurrency,
		MaxSize: a.MaxSize, ConnectTimeout: a.ConnectTimeout, HeaderTimeout: a.HeaderTimeout, Timeout: a.Timeout,
		TempDir: work, TokenSource: tokens, TokenHosts: a.TokenHosts})
	if err != nil {
		release()
		return nil, func() {}, usagef("%v", err)
	}
	var trusted []ed25519.PublicKey
	if key != nil {
		trusted = []ed25519.PublicKey{key.Public().(ed25519.PublicKey)}
	}
	return &runCapture{Capturer: &attach.Capturer{Ledger: ledger.Ledger{Store: store}, Fetcher: f, SigningKey: key,
		TrustedKeys: trusted, RetryFor: a.RetryFor, Now: runClock, Log: e.log.With("component", "attachments")},
		done: map[string]bool{}}, release, nil
}

// tokenFile returns the token of path as read at each call: a credential to the
// platform's files, refused, like a signing key, when every user of the host may read it,
// and trimmed of the line break an editor leaves. Errors name the file, never its
// contents.
func tokenFile(path string) func() (string, error) {
	return func() (string, error) {
		b, err := readSecret(path)
		if err != nil {
			return "", fmt.Errorf("attachments.tokenFile: %w", err)
		}
		token := strings.TrimSpace(string(b))
		if token == "" {
			return "", fmt.Errorf("attachments.tokenFile: %s is empty", path)
		}
		return token, nil
	}
}

// runCapture is a run's capture: the capturer, and the organization-days it captured
// after their seal, which the retry pass (captureRecent) then leaves alone.
type runCapture struct {
	*attach.Capturer
	mu   sync.Mutex
	done map[string]bool // org + " " + day
}

func (c *runCapture) mark(org string, day archiver.Day) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.done[org+" "+day.String()] = true
}

// forget clears the days marked: serve's retry pass of the next tick takes them up again.
func (c *runCapture) forget() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.done)
}

func (c *runCapture) captured(org string, day archiver.Day) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.done[org+" "+day.String()]
}

// captureAttachments captures, after a seal, the files linked by the day's records of
// every organization the seal committed or found unchanged (a rerun retries what failed).
// A file that cannot be fetched is an outcome in the day's attachment index, not an
// error; an error here (the store failed) fails the run, and the next run resumes.
func captureAttachments(ctx context.Context, e *env, c *runCapture, res *archiver.DayResult) error {
	var failed error
	for _, o := range res.Orgs {
		if o.Outcome != archiver.OutcomeCommitted && o.Outcome != archiver.OutcomeUnchanged {
			continue
		}
		c.mark(o.Org, res.Day)
		r, err := c.CaptureDay(ctx, o.Org, res.Day)
		if err != nil {
			e.note(slog.LevelError, fmt.Sprintf("chatvault run: %s: attachments of %s: %v", res.Day, o.Org, err),
				"attachment capture failed", "day", res.Day.String(), "org", o.Org, "err", err)
			if failed == nil {
				failed = err
			}
			continue
		}
		if r.Revision == 0 && r.Fetched == 0 {
			continue // nothing linked, or nothing new
		}
		fmt.Fprintf(e.stdout, "  attachments %s: %d captured, %d failed, %d fetched (%d bytes), index revision %d\n",
			o.Org, r.Captured, r.Failed, r.Fetched, r.FetchedBytes, r.Revision)
	}
	return failed
}

// captureRecent is the catch-up's retry pass: every archiving organization's sealed days
// still within attachments.retryFor are captured again, which retries what failed and
// completes a capture a stopped run never made; a day with nothing left to do costs two
// listings and two reads.
func captureRecent(ctx context.Context, e *env, c *runCapture, directory []byte) error {
	dir, err := model.ParseDirectory(directory)
	if err != nil {
		return err
	}
	return captureRecentOrgs(ctx, e, c, archivingOrgs(dir), func(r attach.DayResult) {
		if r.Revision != 0 || r.Fetched != 0 {
			fmt.Fprintf(e.stdout, "  attachments %s %s: %d captured, %d failed, %d fetched (%d bytes), index revision %d\n",
				r.Day, r.Org, r.Captured, r.Failed, r.Fetched, r.FetchedBytes, r.Revision)
		}
	})
}

// captureRecentOrgs is the retry pass over orgs, each day's result handed to fn.
func captureRecentOrgs(ctx context.Context, e *env, c *runCapture, orgs []string, fn func(attach.DayResult)) error {
	now := c.Now()
	through := archiver.DayOf(now).Start().AddDate(0, 0, -1)
	from := c.RetryFrom(now)
	var failed error
	for _, org := range orgs {
		skip := func(d archiver.Day) bool { return c.captured(org, d) }
		err := c.CaptureRecent(ctx, org, from, archiver.DayOf(through), skip, fn)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			e.note(slog.LevelError, fmt.Sprintf("chatvault run: attachments of %s: %v", org, err),
				"attachment capture failed", "org", org, "err", err)
			if failed == nil {
				failed = err
			}
		}
	}
	return failed
}

// attachHooks let tests hear serve's captures.
var attachHooks struct {
	// captured hears each organization-day serve's capture loop handled.
	captured func(attach.DayResult, error)
}

// captureLoop runs serve's captures one at a time, off the scheduler's goroutine (its
// OnSealed must not block): each organization-day the scheduler seals, and after each
// tick this replica ran (it held the store lease), the retry pass over every archiving
// organization. Failures are logged; the next tick's retry pass takes them up again.
type captureLoop struct {
	e    *env
	c    *runCapture
	orgs func() ([]string, error)

	mu     sync.Mutex
	sealed []captureJob
	recent bool
	wake   chan struct{}
}

type captureJob struct {
	org string
	day archiver.Day
}

func newCaptureLoop(e *env, c *runCapture, orgs func() ([]string, error)) *captureLoop {
	if c != nil {
		// serve's retry pass follows every scheduler tick (every schedule.retryInterval
		// while a partition is late): it tries a day's failed links at most once per
		// attachments.retryEvery. A run, nightly or by hand, retries them at once.
		c.RetryEvery = e.cfg.Attachments.RetryEvery
	}
	return &captureLoop{e: e, c: c, orgs: orgs, wake: make(chan struct{}, 1)}
}

// serveCaptures is serve's capture loop, nil when attachments.enabled is off (a nil
// loop's methods do nothing); the capturer's clock is serve's.
func (e *env) serveCaptures(store archiver.Store, key ed25519.PrivateKey, now func() time.Time, dir func() (*model.Directory, error)) (*captureLoop, func(), error) {
	c, release, err := newAttachmentCapturer(e, store, key)
	if err != nil || c == nil {
		return nil, release, err
	}
	c.Now = now
	return newCaptureLoop(e, c, func() ([]string, error) {
		d, err := dir()
		if err != nil {
			return nil, err
		}
		return archivingOrgs(d), nil
	}), release, nil
}

// onSealed is the scheduler's OnSealed: next (the continuous verification's), then the
// capture's.
func (l *captureLoop) onSealed(next func(string, archiver.Day)) func(string, archiver.Day) {
	if l == nil {
		return next
	}
	return func(org string, day archiver.Day) {
		if next != nil {
			next(org, day)
		}
		l.Sealed(org, day)
	}
}

// Sealed queues org's day; it never blocks.
func (l *captureLoop) Sealed(org string, day archiver.Day) {
	l.mu.Lock()
	l.sealed = append(l.sealed, captureJob{org, day})
	l.mu.Unlock()
	l.poke()
}

// Ticked queues a retry pass (one, however many ticks come while one waits).
func (l *captureLoop) Ticked() {
	if l == nil {
		return
	}
	l.mu.Lock()
	l.recent = true
	l.mu.Unlock()
	l.poke()
}

func (l *captureLoop) poke() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// Run works through the queue until ctx is done.
func (l *captureLoop) Run(ctx context.Context) {
	if l == nil {
		return
	}
	log := l.e.log.With("component", "attachments")
	for {
		select {
		case <-ctx.Done():
			return
		case <-l.wake:
		}
		for ctx.Err() == nil {
			l.mu.Lock()
			jobs, recent := l.sealed, l.recent
			l.sealed, l.recent = nil, false
			l.mu.Unlock()
			if len(jobs) == 0 && !recent {
				break
			}
			for _, j := range jobs {
				l.c.mark(j.org, j.day)
				r, err := l.c.CaptureDay(ctx, j.org, j.day)
				l.report(ctx, log, r, err)
			}
			if recent {
				orgs, err := l.orgs()
				if err == nil {
					err = captureRecentOrgs(ctx, l.e, l.c, orgs, func(r attach.DayResult) { l.report(ctx, log, r, nil) })
				}
				if err != nil && ctx.Err() == nil {
					log.Error("attachment retry pass", "err", err)
				}
				l.c.forget()
			}
		}
	}
}

func (l *captureLoop) report(ctx context.Context, log *slog.Logger, r attach.DayResult, err error) {
	if err != nil && ctx.Err() != nil {
		// Shutdown cut it short: nothing is half-stored, and the next run (or serve's
		// retry pass) captures the day. Not a failure to alert on.
		log.Info("attachment capture interrupted by shutdown; the next run completes it", "org", r.Org, "date", r.Day.String())
		return
	}
	if err != nil {
		log.Error("attachment capture failed", "org", r.Org, "date", r.Day.String(), "err", err)
	}
	if attachHooks.captured != nil {
		attachHooks.captured(r, err)
	}
}
