package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/internal/panics"
	"github.com/chatvault/chatvault/model"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/robfig/cron/v3"
)

// Sealer seals a day (archiver.Sealer); only non-empty commits one organization.
type Sealer interface {
	Seal(ctx context.Context, day archiver.Day, directory []byte, only string) (*archiver.DayResult, error)
}

// layoutRefresher is a Ledger that can read the store's layout marker again
// (ledger.Ledger.RefreshStoreLayout), done once the tick holds the lease.
type layoutRefresher interface {
	RefreshStoreLayout(ctx context.Context) (*archiver.StoreLayout, error)
}

// Ledger is what the scheduler reads and records of the store (ledger.Ledger).
type Ledger interface {
	// DayLedger finds the days sealed: after the first tick, one listing per organization
	// that starts past its last sealed day, and a lookup per earlier gap (see dayIndex),
	// so a tick costs the same whatever the archive's age.
	DayLedger
	RecordFailure(ctx context.Context, org string, day archiver.Day, at time.Time, cause error) error
}

// DefaultLookBack is how many days back the scheduler looks for an organization with no
// archivalStart: without a start, "every day since the beginning of time" is not a plan.
const DefaultLookBack = 31

// DefaultRetryFor is how long after its end a pending day is retried every RetryInterval:
// 26 hours: by then the ChatvaultDayNotSealed alert (deploy/prometheus, 6 hours after the
// day's end) has said the day is late and an operator has taken over.
const DefaultRetryFor = 26 * time.Hour

// Scheduler runs the nightly seal.
type Scheduler struct {
	// NewSealer returns the sealer of one run (each run gets fresh progress).
	NewSealer func() Sealer
	Ledger    Ledger
	// Directory reads the current directory snapshot.
	Directory func(ctx context.Context) ([]byte, error)
	// Lease, when set, coordinates replicas.
	Lease *Lease
	// Watermarks, when set, is the store where a sealing tick leaves what it knows of
	// each organization's days, and where a process's first tick starts from (see
	// watermarkPrefix): without, the first tick lists each organization's days from its
	// start.
	Watermarks archiver.Store
	// Schedule is when ticks happen (config.Schedule.CronSchedule).
	Schedule cron.Schedule
	Clock    Clock
	// Through, when not zero, is the last day a tick plans, whatever the clock says when
	// it plans: `chatvault run` announces "through yesterday" from its start, and a run
	// started a moment before UTC midnight must not seal the day that ends after the
	// announcement (the next run seals it). Zero: yesterday at each tick's plan.
	Through archiver.Day
	// LookBack is the number of days looked at for organizations without archivalStart
	// (default DefaultLookBack).
	LookBack int
	// Retries is how many times a transiently failing seal is retried within a tick
	// (default 3), waiting Backoff, then twice that, and so on (default 30s). A negative
	// value retries nothing: `chatvault run` leaves retries to its Job's backoffLimit or
	// the next cron tick rather than sleeping for minutes inside one run.
	Retries int
	Backoff time.Duration
	// RetryInterval, when positive, is how soon Run ticks again after a tick that left a
	// day pending (partition missing or not closed) within RetryFor of the day's end, or
	// that failed before it could look at the days (store or directory unreadable),
	// rather than waiting for the next time of Schedule (config schedule.retryInterval).
	// A producer that closes its partition after the nightly tick then gets its day
	// sealed minutes later, not the next night.
	RetryInterval time.Duration
	// RetryFor is how long after a day's end a pending day is retried every
	// RetryInterval (default DefaultRetryFor); after that, only at the scheduled times:
	// a day never delivered must not have every organization's days listed every few
	// minutes for ever.
	RetryFor time.Duration
	Logger   *slog.Logger
	// OnTick, when set, is called after every tick with its report (tests wait on it).
	OnTick func(Report)
	// OnSealed, when set, is called with each organization-day as soon as its seal is
	// committed (serve verifies it at once: archiver/verifyloop). It must not block.
	OnSealed func(org string, day archiver.Day)

	metrics *metrics
	running atomic.Bool
	// days is what the ticks so far found of each organization's days.
	days dayIndex
	// firstSealed is, per organization without archivalStart, the first day it has
	// sealed once found, or that it had none on a day (chainStart): a chainFirst.
	firstSealed sync.Map
	marks       watermarks
	// janitorDay is the day the janitor last ran in this process (janitor.go).
	janitorDay archiver.Day
}

// Report is what one tick did.
type Report struct {
	Start   time.Time
	Skipped string // why the tick did nothing: "running", "lease held"
	Sealed  []string
	Failed  []string
	Pending []string // days that could not be sealed yet (partition missing or open)
	Err     error
}

func (s *Scheduler) defaults() {
	if s.LookBack <= 0 {
		s.LookBack = DefaultLookBack
	}
	if s.Retries == 0 {
		s.Retries = 3
	}
	if s.Backoff <= 0 {
		s.Backoff = 30 * time.Second
	}
	if s.RetryFor <= 0 {
		s.RetryFor = DefaultRetryFor
	}
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
	if s.Clock == nil {
		s.Clock = RealClock{}
	}
	if s.metrics == nil {
		s.metrics = newMetrics()
	}
}

// Register adds the scheduler's metrics to r.
func (s *Scheduler) Register(r prometheus.Registerer) {
	s.defaults()
	s.metrics.register(r)
}

// Run ticks once at start (catching up after downtime), then at every time of the
// schedule (sooner, every RetryInterval, while a recent day is pending: see retrySoon),
// until stop is closed: a tick under way then finishes, and Run returns. A
// cancelled ctx aborts a running seal instead; nothing is half-committed because the
// manifest, written last, is the commit point.
func (s *Scheduler) Run(ctx context.Context, stop <-chan struct{}) {
	s.defaults()
	for {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		default:
		}
		rep := s.Tick(ctx)
		now := s.Clock.Now()
		wait := s.Schedule.Next(now).Sub(now)
		if s.RetryInterval > 0 && s.RetryInterval < wait && s.retrySoon(rep, now) {
			wait = s.RetryInterval
		}
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		case <-s.Clock.After(wait):
		}
	}
}

// retrySoon reports whether the tick should be tried again before the next scheduled
// time: it left a day pending that ended less than RetryFor ago (its partition not yet
// delivered or closed: the producer is late, not absent), or it failed before it could
// look at the days (the store or the directory could not be read). A tick skipped for
// another replica's lease is that replica's to retry. Failed seals are not: they were
// retried with backoff within the tick, and each failure is recorded in the store.
func (s *Scheduler) retrySoon(rep Report, now time.Time) bool {
	switch rep.Skipped {
	case "":
	case "lease held":
		// Another replica is sealing days this tick found due. Look again soon: if it
		// dies mid-seal its lease runs out and this replica takes over within minutes
		// instead of at the next night's tick. Once it has sealed them, the next tick finds
		// nothing due and takes no lease, so this costs a lease read per retryInterval.
		return true
	default:
		return false
	}
	if rep.Err != nil {
		return true
	}
	for _, p := range rep.Pending {
		if d, err := archiver.ParseDay(p); err == nil && now.Before(d.End().Add(s.RetryFor)) {
			return true
		}
	}
	return false
}

// Tick seals every closed day not sealed yet, unless a run is going on (here or, through
// the lease, in another replica). It takes the lease only when there is a day it can
// seal (see sealable).
func (s *Scheduler) Tick(ctx context.Context) Report {
	s.defaults()
	rep := Report{Start: s.Clock.Now()}
	defer func() {
		if s.OnTick != nil {
			s.OnTick(rep)
		}
	}()
	if !s.running.CompareAndSwap(false, true) {
		rep.Skipped = "running"
		s.metrics.runs.WithLabelValues("skipped").Inc()
		return rep
	}
	defer s.running.Store(false)
	defer s.finish(&rep)
	// Look before taking the lease: a tick with nothing it can seal (every day sealed, or
	// the days due not delivered or not closed yet) writes nothing to the store. The lease
	// is a chain of create-only objects, two more for every tick that takes it, which
	// retries every few minutes and an hourly CronJob would otherwise grow for nothing.
	p, err := s.plan(ctx)
	if err != nil {
		rep.Err = err
		return rep
	}
	if !s.sealable(ctx, p, &rep) {
		return rep
	}
	if s.Lease != nil {
		// Planned again under the lease: another replica may have sealed days since.
		p = nil
		if err := s.Lease.Acquire(ctx); err != nil {
			rep.Skipped, rep.Err = "lease held", err
			if !errors.Is(err, ErrLeaseHeld) || errors.Is(err, ErrClockSkew) {
				s.Logger.Error("lease", "err", err)
			}
			return rep
		}
		// The plan under the lease reads the store's layout marker again if it had none:
		// another replica's first seal may just have written it (layout 3 is the default).
		if r, ok := s.Ledger.(layoutRefresher); ok {
			if _, err := r.RefreshStoreLayout(ctx); err != nil {
				rep.Err = err
				if rerr := s.Lease.Release(context.WithoutCancel(ctx)); rerr != nil {
					s.Logger.Warn("lease release", "err", rerr)
				}
				return rep
			}
		}
		// A sharded run (run --shard i/n) seals under a lease of its shard's, not this
		// one, and its organizations are some of the scheduler's: two writers of one chain
		// would fork it in layout 3. Checked once this lease is held: a sharded run creates
		// its lease while it holds this one (cmd/chatvault's takeShard), so either its lease
		// is seen here or the run finds this one held, and of two starting at once one seals.
		if prefix, holder, err := shardRunning(ctx, s.Lease); err != nil || prefix != "" {
			if err == nil {
				err = fmt.Errorf("%w: a sharded run holds %s (%s)", ErrLeaseHeld, prefix, holder)
			} else {
				s.Logger.Error("lease", "err", err)
			}
			rep.Skipped, rep.Err = "lease held", err
			if rerr := s.Lease.Release(context.WithoutCancel(ctx)); rerr != nil {
				s.Logger.Warn("lease release", "err", rerr)
			}
			return rep
		}
		// Renew at a third of the TTL while the run goes on, so that a long catch-up keeps
		// the lease; a replica that dies stops renewing and its lease runs out. The pace is
		// the wall clock's: a renewal is about real elapsed time, and it keeps the
		// scheduler's Clock (fake in tests) waited on only by the loop and retries.
		renewDone := make(chan struct{})
		stopRenew := make(chan struct{})
		go func() {
			defer close(renewDone)
			// A panic (a bug) stops the renewals, logged: the lease then runs out, and the
			// seal's fence stops its commits, as when another replica takes it.
			defer panics.Log(s.Logger, "lease renewal stopped by a bug")
			for {
				select {
				case <-stopRenew:
					return
				case <-time.After(s.Lease.TTL / 3):
				}
				if err := s.Lease.Acquire(ctx); err != nil {
					s.Logger.Error("lease renewal failed", "err", err)
					if errors.Is(err, ErrLeaseLost) {
						return // another replica holds it: the seal's fence stops the tick
					}
				}
			}
		}()
		defer func() {
			close(stopRenew)
			<-renewDone
			if err := s.Lease.Release(context.WithoutCancel(ctx)); err != nil {
				s.Logger.Warn("lease release", "err", err)
			}
		}()
	}
	if s.Lease != nil {
		// Each organization's commit checks that the lease is still this replica's
		// (lease_fence.go): one paused past the TTL stops at its next commit.
		ctx = archiver.WithFence(ctx, s.Lease.CommitFence)
	}
	rep.Err = s.catchUp(ctx, &rep, p)
	if s.Lease != nil {
		if err := s.Lease.Fence(ctx); err != nil {
			// Lost during the tick: the watermark and the janitor's deletions are the
			// holder's to do.
			s.Logger.Error("lease lost during the tick", "err", err)
			if rep.Err == nil {
				rep.Err = err
			}
			return rep
		}
	}
	if err := s.writeWatermark(ctx); err != nil {
		s.Logger.Warn("the next process will list each organization's days from its start", "err", err)
	}
	s.janitor(ctx) // janitor.go
	return rep
}

// finish counts the tick in the metrics.
func (s *Scheduler) finish(rep *Report) {
	if rep.Skipped != "" {
		s.metrics.runs.WithLabelValues("skipped").Inc()
		return
	}
	result := "ok"
	if rep.Err != nil || len(rep.Failed) > 0 {
		result = "failed"
		s.Logger.Error("scheduled run failed", "err", rep.Err, "failed", rep.Failed)
	}
	s.metrics.runs.WithLabelValues(result).Inc()
	s.metrics.duration.Observe(s.Clock.Now().Sub(rep.Start).Seconds())
}

// Readier is a Sealer that can tell, without sealing, that a day cannot be sealed yet
// (archiver.Sealer.Ready): its error then matches archiver.ErrNotClosed or
// archiver.ErrNoPartition.
type Readier interface {
	Ready(ctx context.Context, day archiver.Day) error
}

// sealable reports whether the tick has a day to seal. When the sealer is a Readier and
// every day due is pending (partition missing or not closed), the tick reports them
// without taking the lease; otherwise the seal itself finds out, under the lease.
func (s *Scheduler) sealable(ctx context.Context, p *plan, rep *Report) bool {
	if len(p.days) == 0 {
		return false
	}
	r, ok := s.NewSealer().(Readier)
	if !ok {
		return true
	}
	var pending []string
	missing := 0
	for _, d := range p.days {
		err := r.Ready(ctx, d)
		if errors.Is(err, archiver.ErrNotClosed) {
			pending = append(pending, d.String())
			break // later days are not closed either
		}
		if !errors.Is(err, archiver.ErrNoPartition) {
			return true // ready, or an error the seal reports
		}
		pending = append(pending, d.String())
		missing++
	}
	rep.Pending = pending
	s.metrics.missing.Add(float64(missing))
	s.warnPending(rep)
	return false
}

func (s *Scheduler) warnPending(rep *Report) {
	if n := len(rep.Pending); n > 0 {
		s.Logger.Warn("days not sealed yet: partition missing or open", "days", n, "first", rep.Pending[0], "last", rep.Pending[n-1])
	}
}

// plan is what a tick has to seal: the directory it routes with, and the organizations
// that need each day.
type plan struct {
	dirBytes []byte
	dir      *model.Directory
	days     []archiver.Day // oldest first
	need     map[archiver.Day][]string
}

// plan finds, per organization, the days to seal.
func (s *Scheduler) plan(ctx context.Context) (*plan, error) {
	dirBytes, err := s.Directory(ctx)
	if err != nil {
		return nil, fmt.Errorf("read directory: %w", err)
	}
	dir, err := model.ParseDirectory(dirBytes)
	if err != nil {
		return nil, err
	}
	today := archiver.DayOf(s.Clock.Now())
	if !s.Through.IsZero() && s.Through.Next().Before(today) {
		today = s.Through.Next()
	}
	lookBack := archiver.DayOf(today.Start().AddDate(0, 0, -s.LookBack))
	need := map[archiver.Day][]string{}
	archiving := map[string]bool{}
	s.loadWatermark(ctx, today)
	for _, o := range dir.Organizations {
		if !o.Archival {
			continue
		}
		from := lookBack
		if o.ArchivalStart != "" {
			if from, err = archiver.ParseDay(o.ArchivalStart); err != nil {
				s.Logger.Error("bad archivalStart", "org", o.ID, "err", err)
				continue
			}
		} else if first, err := s.chainStart(ctx, o.ID, today); err != nil {
			return nil, err
		} else if !first.IsZero() && first.Before(from) {
			// Its chain began before the look-back: every day since must be sealed (verify
			// requires it), also after the seal was down for longer than the look-back.
			from = first
		}
		// The days not sealed: those after the organization's last sealed day (its head),
		// and every earlier one since the start that has none (a gap: a partition
		// delivered late, a seal that failed while later days sealed, an archivalStart
		// moved back). Gaps are not forgotten: they are looked up at every tick until
		// sealed. The first tick lists the organization's days since its start; later
		// ticks list only the days after its last sealed one (see dayIndex).
		archiving[o.ID] = true
		v, err := s.days.look(ctx, s.Ledger, o.ID, from, today)
		if err != nil {
			return nil, err
		}
		if !v.last.IsZero() {
			if n, ok := s.firstSealed.Load(o.ID); ok && n.(chainFirst).none {
				// "Nothing sealed" no longer holds: the next tick finds where the chain
				// starts (a day sealed elsewhere may be older than this look's start).
				s.firstSealed.Delete(o.ID)
			}
		}
		v.unsealed(today, func(d archiver.Day) { need[d] = append(need[d], o.ID) })
	}
	s.days.forget(archiving)
	days := make([]archiver.Day, 0, len(need))
	for d := range need {
		days = append(days, d)
	}
	slices.SortFunc(days, func(a, b archiver.Day) int { return a.Start().Compare(b.Start()) })
	return &plan{dirBytes: dirBytes, dir: dir, days: days, need: need}, nil
}

// catchUp seals the days of p (planned afresh when nil) day by day, oldest first: a whole
// day for every organization that needs it at once when that is all of them, else one
// organization at a time, so that a day already sealed for one organization is never
// sealed again for it (which could make a new revision).
func (s *Scheduler) catchUp(ctx context.Context, rep *Report, p *plan) error {
	if p == nil {
		var err error
		if p, err = s.plan(ctx); err != nil {
			return err
		}
	}
	dirBytes, dir, days, need := p.dirBytes, p.dir, p.days, p.need
	for _, d := range days {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		orgs := need[d]
		only := orgs
		if len(orgs) == archivingOn(dir, d) {
			only = []string{""}
		}
		for _, org := range only {
			whole, err := s.sealWithRetry(ctx, d, dirBytes, org, rep)
			switch {
			case errors.Is(err, archiver.ErrNotClosed):
				rep.Pending = append(rep.Pending, d.String())
				return nil // later days are not closed either
			case errors.Is(err, archiver.ErrFenced):
				// This replica lost the lease (it was paused past the TTL): the tick stops;
				// the days are the new holder's now.
				rep.Failed = append(rep.Failed, d.String()+" "+org)
				return err
			case errors.Is(err, archiver.ErrNoPartition):
				// The producer did not deliver: the day stays pending and alerts; later
				// days may well be there.
				rep.Pending = append(rep.Pending, d.String())
				s.metrics.missing.Inc()
			case err != nil:
				rep.Failed = append(rep.Failed, d.String()+" "+org)
				if ctx.Err() != nil {
					break
				}
				// The seals that failed as a whole (the day's, or one organization's) are
				// marked failed for every organization they would have committed, so that
				// status does not say merely pending. One organization's failed commit is
				// not: the writer recorded it, and the others committed.
				for _, w := range whole {
					targets := []string{w}
					if w == "" {
						targets = orgs
					}
					skipped := ledger.RecordFailures(ctx, s.Ledger, targets, d, s.Clock.Now(), err, func(o string, err error) {
						s.Logger.Error("record failure", "org", o, "day", d.String(), "err", err)
					})
					if skipped > 0 {
						s.Logger.Error("the store is down: the failure records of the other organizations are not written", "day", d.String(), "organizations", skipped)
					}
				}
			}
		}
	}
	s.warnPending(rep)
	return nil
}

// archivingOn counts the organizations whose export the day would commit.
func archivingOn(dir *model.Directory, d archiver.Day) int {
	n := 0
	for _, o := range dir.Organizations {
		if !o.Archival {
			continue
		}
		if o.ArchivalStart != "" {
			if start, err := archiver.ParseDay(o.ArchivalStart); err != nil || d.Before(start) {
				continue
			}
		}
		n++
	}
	return n
}

// sealWithRetry seals and retries what may be transient: the whole day when it failed,
// or only the organizations whose commit failed. Closedness and missing partitions are not
// retried; they are states, not failures. On failure, whole names the targets ("" for the
// whole day, else an organization) whose last attempt failed as a whole, before their
// commit, which no failure record of the writer's covers.
func (s *Scheduler) sealWithRetry(ctx context.Context, d archiver.Day, dir []byte, only string, rep *Report) (whole []string, err error) {
	wait := s.Backoff
	targets := []string{only}
	var lastErr, permanent error
	for attempt := 0; attempt <= max(s.Retries, 0); attempt++ {
		if attempt > 0 {
			s.Logger.Warn("retrying seal", "day", d.String(), "attempt", attempt, "in", wait, "err", lastErr)
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-s.Clock.After(wait):
			}
			wait *= 2
		}
		var retry []string
		lastErr, whole = nil, nil
		for _, org := range targets {
			res, err := s.NewSealer().Seal(ctx, d, dir, org)
			if errors.Is(err, archiver.ErrNotClosed) || errors.Is(err, archiver.ErrNoPartition) {
				return nil, err
			}
			if err != nil {
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				s.metrics.failures.WithLabelValues(orgLabel(org)).Inc()
				lastErr = err
				retry = append(retry, org)
				whole = append(whole, org)
				continue
			}
			s.observe(res)
			for _, o := range res.Orgs {
				if errors.Is(o.Err, archiver.ErrRevisionShrinks) {
					// Records would disappear: rerunning cannot change that, and only an
					// operator may supersede (run --supersede); the scheduler never does.
					s.metrics.failures.WithLabelValues(o.Org).Inc()
					s.Logger.Error("seal refused: the new revision would drop records", "day", d.String(), "org", o.Org, "err", o.Err)
					permanent = o.Err
					continue
				}
				if o.Err != nil {
					s.metrics.failures.WithLabelValues(o.Org).Inc()
					lastErr = o.Err
					retry = append(retry, o.Org)
					continue
				}
				rep.Sealed = append(rep.Sealed, d.String()+" "+o.Org)
				if s.OnSealed != nil {
					s.OnSealed(o.Org, d)
				}
			}
		}
		if len(retry) == 0 {
			return nil, permanent
		}
		if errors.Is(lastErr, archiver.ErrFenced) {
			return nil, lastErr // the lease was lost: no retry can commit (lease_fence.go)
		}
		targets = retry
	}
	s.Logger.Error("seal failed", "day", d.String(), "orgs", targets, "err", lastErr)
	return whole, errors.Join(lastErr, permanent)
}

func orgLabel(org string) string {
	if org == "" {
		return "all"
	}
	return org
}

func (s *Scheduler) observe(res *archiver.DayResult) {
	in := res.Input
	s.metrics.events.WithLabelValues("exported").Add(float64(in.Exported))
	s.metrics.events.WithLabelValues("duplicate").Add(float64(in.Duplicates))
	s.metrics.events.WithLabelValues("quarantined").Add(float64(in.Quarantined))
	var ex int64
	for _, n := range in.Excluded {
		ex += n
	}
	s.metrics.events.WithLabelValues("excluded").Add(float64(ex))
}

// metrics are the scheduler's own, counted in this process. How far each organization is
// sealed comes from the store instead (Freshness), whichever process sealed.
type metrics struct {
	runs     *prometheus.CounterVec
	duration prometheus.Histogram
	failures *prometheus.CounterVec
	events   *prometheus.CounterVec
	missing  prometheus.Counter
}

func newMetrics() *metrics {
	return &metrics{
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "chatvault_scheduler_runs_total",
			Help: "Scheduler ticks by result: ok, failed, skipped."}, []string{"result"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "chatvault_scheduler_run_duration_seconds",
			Help: "Duration of scheduler runs.", Buckets: prometheus.ExponentialBuckets(1, 2, 16)}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "chatvault_seal_failures_total",
			Help: "Failed seal attempts by organization (all: the whole day)."}, []string{"org"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "chatvault_events_total",
			Help: "Input events sealed, by outcome: exported, excluded, duplicate, quarantined."}, []string{"outcome"}),
		missing: prometheus.NewCounter(prometheus.CounterOpts{Name: "chatvault_partition_missing_total",
			Help: "Ticks that found a closed day with no partition (the producer did not deliver)."}),
	}
}

func (m *metrics) register(r prometheus.Registerer) {
	// Every series a rule alerts on exists from the start, at zero: a counter that first
	// appears at 1 shows no increase(), so the first failure after a restart would not
	// alert. The per-organization ones are made by KnownOrgs.
	for _, result := range []string{"ok", "failed", "skipped"} {
		m.runs.WithLabelValues(result)
	}
	for _, outcome := range []string{"exported", "excluded", "duplicate", "quarantined"} {
		m.events.WithLabelValues(outcome)
	}
	m.failures.WithLabelValues(orgLabel(""))
	r.MustRegister(m.runs, m.duration, m.failures, m.events, m.missing)
}

// KnownOrgs makes chatvault_seal_failures_total of each organization exist, at zero, before
// its first failure (see register). serve calls it with the archiving organizations each
// time it reads the directory (Freshness.OnOrgs).
func (s *Scheduler) KnownOrgs(orgs []string) {
	s.defaults()
	for _, org := range orgs {
		s.metrics.failures.WithLabelValues(org)
	}
}

// chainFirst is what chainStart found of an organization: its first sealed day, or none
// sealed as of the day `seen`.
type chainFirst struct {
	first archiver.Day
	none  bool
	seen  archiver.Day
}

// chainStart returns the first day org has sealed (zero when it has none): the start of
// the days an organization without archivalStart must have sealed, which the look-back
// alone would leave behind after the nightly seal was down for longer than LookBack days
// (a hole inside the chain that verify reports and nothing sealed). One listing that
// stops at the first sealed day; remembered once found, since a sealed day stays sealed.
// "Nothing sealed" is remembered too, for the rest of the day (today) it was found on:
// listed again at every tick, it cost an organization that has sealed nothing yet a
// second listing per tick, of its whole history. plan forgets it as soon as its look at
// the organization's days finds one sealed; the day's bound catches a day older than the
// look-back sealed by another process (run --date) while none in it is.
func (s *Scheduler) chainStart(ctx context.Context, org string, today archiver.Day) (archiver.Day, error) {
	if c, ok := s.firstSealed.Load(org); ok {
		if c := c.(chainFirst); !c.none || c.seen == today {
			return c.first, nil
		}
	}
	var first archiver.Day
	err := s.Ledger.ListDays(ctx, org, archiver.Day{}, func(k ledger.DayKeys) error {
		if k.Revision == "" {
			return nil
		}
		first = k.Day
		return archiver.ErrStopListing
	})
	if err != nil && !errors.Is(err, archiver.ErrStopListing) {
		return archiver.Day{}, fmt.Errorf("find the first sealed day of %s: %w", org, err)
	}
	s.firstSealed.Store(org, chainFirst{first: first, none: first.IsZero(), seen: today})
	return first, nil
}
