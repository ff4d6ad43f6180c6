// Package verifyloop is serve's continuous verification. Every day serve's scheduler
// seals is verified right after the seal; every interval, the next slice of the store's
// sealed organization-days is verified, so that the whole archive is re-hashed once per
// cycle; days another process sealed (a CronJob) are verified one interval after they
// appear, and by the slices. Verification is verify.Run, the one `chatvault
// verify` runs, narrowed to an organization and its days.
//
// Each run is recorded in the store (record.go), signed like the other records, so that
// an examiner can see the archive was checked, when, and what was found; the slice
// position lives in those records too, so that a restart (or another replica) carries on
// where the last slice ended instead of starting the pass again.
//
// With several replicas on one store, one at a time verifies the slices: the holder of
// the verification lease (lease.go); the others read its records to report its results.
package verifyloop

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/archiver/verify"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Verifier verifies (verify.Verifier).
type Verifier interface {
	Verify(ctx context.Context, opt verify.Options) (*verify.Report, error)
}

// OrgDay is a sealed day of one organization.
type OrgDay struct {
	Org string
	Day archiver.Day
}

func compareOrgDay(a, b OrgDay) int {
	if c := strings.Compare(a.Org, b.Org); c != 0 {
		return c
	}
	return a.Day.Start().Compare(b.Day.Start())
}

// Loop is the continuous verification. Set the fields, Register the metrics, then Run.
type Loop struct {
	Store    archiver.Store
	Verifier Verifier
	// TrustedKeys, when set, must have signed every manifest (verify.Options.TrustedKeys)
	// and are the keys the records' signatures are checked against when read back.
	TrustedKeys []ed25519.PublicKey
	// Key signs the records; nil leaves them unsigned.
	Key ed25519.PrivateKey
	// Interval is the time between slices; Cycle the time of a pass over the store.
	Interval, Cycle time.Duration
	Now             func() time.Time
	// Holder names this process in the records.
	Holder string
	Logger *slog.Logger
	// OnRun, when set, hears every run's record once it is stored (tests wait on it).
	OnRun func(*Record)
	// Lease, when set, makes one replica at a time verify the store's slices (lease.go).
	Lease Lease
	// Witness, when set, returns the witness kept outside the store (verify.witness):
	// every slice checks the witnessed chain heads the store does not list against it
	// (witnessed), since a store emptied of its days and of these records shows no trace
	// of them.
	Witness func(ctx context.Context) (*archiver.Witness, error)
	// After is the clock a replica that does not hold the Lease tries it again on, every
	// tenth of an interval (default time.After).
	After func(time.Duration) <-chan time.Time
	// started, when set, is called once Run has decided whether a slice was due at start
	// (and run it): a test that moves the clock before then races that decision.
	started func()
	// ticked, when set, is called once a tick has been handled (slice or not); retried
	// once a try of the lease between ticks has.
	ticked, retried func()

	mu      sync.Mutex
	queue   []OrgDay
	wake    chan struct{}
	found   map[string]time.Time // problem → when a run last found it
	metrics *metrics

	// Run's own: the organization-days of the last listing (nil before the first) and
	// those that listing saw appear, verified by the next slice.
	known map[OrgDay]bool
	fresh []OrgDay
	// Run's own, with Lease (lease.go): whether this replica holds it and when it last
	// renewed it; the records read (or written) so far, by key, among the days follow
	// lists; the organization-days that sealed runs of other replicas verified, which the
	// fresh days need not be verified again for.
	holding   bool
	renewed   time.Time
	sliced    time.Time // when Run's last slice started
	seen      map[string]bool
	elsewhere map[OrgDay]bool
}

func (l *Loop) defaults() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.Logger == nil {
		l.Logger = slog.Default()
	}
	if l.Now == nil {
		l.Now = time.Now
	}
	if l.After == nil {
		l.After = time.After
	}
	if l.wake == nil {
		l.wake = make(chan struct{}, 1)
	}
	if l.found == nil {
		l.found = map[string]time.Time{}
	}
	if l.seen == nil {
		l.seen = map[string]bool{}
	}
	if l.metrics == nil {
		l.metrics = newMetrics(l)
	}
}

// slices is how many slices make a cycle.
func (l *Loop) slices() int {
	if l.Interval <= 0 {
		return 1
	}
	return max(1, int(l.Cycle/l.Interval))
}

// Sealed asks for day of org to be verified now (the scheduler has just sealed it).
func (l *Loop) Sealed(org string, day archiver.Day) {
	l.defaults()
	l.mu.Lock()
	l.queue = append(l.queue, OrgDay{org, day})
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// Run reads what the records of the last cycle found, verifies a slice if one is due,
// then verifies the sealed days as they are announced and a slice at every tick, until
// ctx is done.
func (l *Loop) Run(ctx context.Context, tick <-chan time.Time) {
	l.defaults()
	if err := l.load(ctx); err != nil && ctx.Err() == nil {
		l.Logger.Error("verification records of the last cycle not read: problems they found are not in chatvault_verify_problems", "err", err)
	}
	l.drain(ctx)
	if l.lead(ctx) && l.due(ctx) {
		l.slice(ctx)
	}
	var retry <-chan time.Time
	arm := func() {
		if l.Lease != nil && !l.holding && retry == nil && l.Interval > 0 {
			retry = l.After(l.Interval / 10)
		}
	}
	arm()
	if l.started != nil {
		l.started()
	}
	for {
		select {
		case <-ctx.Done():
			l.release(ctx)
			return
		case <-l.wake:
			l.drain(ctx)
		case <-retry:
			// Between ticks: a holder that stopped (released the lease, or let it run
			// out) is replaced within a tenth of an interval, not at the next tick.
			retry = nil
			if !l.holding && l.lead(ctx) && l.due(ctx) {
				l.slice(ctx)
			}
			arm()
			if l.retried != nil {
				l.retried()
			}
		case <-tick:
			l.drain(ctx)
			if l.Lease != nil {
				// What the other replicas recorded since the last tick: the metrics of
				// one that does not verify show the last slice, whoever ran it.
				if err := l.follow(ctx); err != nil && ctx.Err() == nil {
					l.Logger.Warn("verification records of the other replicas not read", "err", err)
				}
			}
			// A replica that took the lease over between ticks and verified a slice then
			// skips a tick that follows closely: one slice per interval.
			if l.lead(ctx) && (l.Lease == nil || l.sliced.IsZero() || l.Now().Sub(l.sliced) >= l.Interval/2) {
				l.slice(ctx)
			}
			arm()
			if l.ticked != nil {
				l.ticked()
			}
		}
	}
}

// slice verifies the next slice (Slice) and renews the lease.
func (l *Loop) slice(ctx context.Context) {
	l.sliced = l.Now()
	l.Slice(ctx)
	l.renew(ctx)
}

// due reports whether no slice completed in the last interval: then one runs at start,
// so that restarts more frequent than the interval do not stop the slices, and one that
// follows a slice closely does not verify twice.
func (l *Loop) due(ctx context.Context) bool {
	prev, err := l.lastSlice(ctx)
	return err != nil || prev == nil || !l.Now().Before(prev.Finished.Add(l.Interval))
}

// drain verifies the days announced by Sealed.
func (l *Loop) drain(ctx context.Context) {
	l.mu.Lock()
	q := l.queue
	l.queue = nil
	l.mu.Unlock()
	if len(q) == 0 || ctx.Err() != nil {
		return
	}
	slices.SortFunc(q, compareOrgDay)
	q = slices.Compact(q)
	if l.known != nil {
		for _, od := range q {
			l.known[od] = true // not verified again as noticed in the store
		}
	}
	l.fresh = slices.DeleteFunc(l.fresh, func(od OrgDay) bool { _, ok := slices.BinarySearchFunc(q, od, compareOrgDay); return ok })
	l.renew(ctx)
	l.run(ctx, &Record{Kind: KindSealed}, q)
	l.renew(ctx)
}

// Slice verifies the days noticed in the store since the last slice, then the next
// slice of the store, and records both.
func (l *Loop) Slice(ctx context.Context) *Record {
	l.defaults()
	rec := &Record{Kind: KindSlice, Started: l.Now()}
	all, err := l.orgDays(ctx)
	if err != nil {
		rec.Error = err.Error()
		l.finish(ctx, rec)
		return rec
	}
	// Days a sealed run of another replica verified (its scheduler sealed them) are
	// not verified again as noticed in the store.
	l.fresh = slices.DeleteFunc(l.fresh, l.verifiedElsewhere)
	if len(l.fresh) > 0 {
		// Noticed one slice ago, so that a commit under way in another process (index
		// before manifest before accounting) was complete before it is verified.
		fresh := l.fresh
		l.fresh = nil
		l.run(ctx, &Record{Kind: KindSealed}, fresh)
	}
	var gone []OrgDay
	if l.known != nil {
		for _, od := range all {
			if !l.known[od] && !l.verifiedElsewhere(od) {
				l.fresh = append(l.fresh, od)
			}
		}
		for od := range l.known {
			if _, ok := slices.BinarySearchFunc(all, od, compareOrgDay); !ok {
				gone = append(gone, od)
			}
		}
		slices.SortFunc(gone, compareOrgDay)
	}
	clear(l.elsewhere)
	l.known = make(map[OrgDay]bool, len(all))
	for _, od := range all {
		l.known[od] = true
	}

	prev, err := l.lastSlice(ctx)
	if err != nil {
		rec.Error = err.Error()
		l.finish(ctx, rec)
		return rec
	}
	start := 0
	rec.CycleStarted = rec.Started
	if prev != nil && prev.Cursor != nil {
		day, err := archiver.ParseDay(prev.Cursor.Day)
		if err == nil {
			at := OrgDay{prev.Cursor.Org, day}
			start = len(all)
			if i := slices.IndexFunc(all, func(od OrgDay) bool { return compareOrgDay(od, at) > 0 }); i >= 0 {
				start = i
			}
			rec.CycleStarted = prev.CycleStarted
		}
	}
	if start >= len(all) {
		// The last pass ended: a new one begins.
		start, rec.CycleStarted = 0, rec.Started
	}
	n := (len(all) + l.slices() - 1) / l.slices()
	sel := all[start:min(start+n, len(all))]
	rec.StoreOrgDays = len(all)
	l.deleted(rec, prev, gone)
	l.witnessed(ctx, rec, all)
	l.verify(ctx, rec, sel)
	switch {
	case rec.Error != "":
		// Not all verified: the next slice takes these again (lastSlice skips this
		// record).
		rec.Cursor = nil
	case len(sel) > 0:
		last := sel[len(sel)-1]
		rec.Cursor = &Position{Org: last.Org, Day: last.Day.String()}
	}
	l.finish(ctx, rec)
	return rec
}

// deleted reports, in rec, the sealed organization-days the store lost: a slice verifies
// the days the store lists, so a store emptied of them (every organization's days
// deleted) would otherwise pass, verifying nothing. chatvault never deletes a sealed day,
// so the store must hold at least as many as a slice ever found (the most, carried in the
// signed records from prev on, which a restart reads back), and every day this process
// listed before (gone: the days of its last listing missing from this one, named).
// Evidence that survives the records' deletion too is the witness, outside the store
// (chatvault verify --witness).
func (l *Loop) deleted(rec, prev *Record, gone []OrgDay) {
	most := rec.StoreOrgDays
	if prev != nil {
		most = max(most, prev.StoreOrgDays, prev.StoreOrgDaysMost)
	}
	rec.StoreOrgDaysMost = most
	var found []string
	if most > rec.StoreOrgDays {
		found = append(found, fmt.Sprintf("the store holds %d sealed organization-days, fewer than the %d an earlier slice found "+
			"(the most its signed records carry): %d deleted, since chatvault never deletes a sealed day; "+
			"check the store against a witness (chatvault verify --witness FILE)", rec.StoreOrgDays, most, most-rec.StoreOrgDays))
	}
	for _, od := range gone {
		found = append(found, fmt.Sprintf("%s %s: a sealed day an earlier listing of the store held is no longer in it: deleted", od.Org, od.Day))
	}
	rec.Problems += len(found)
	for _, p := range found {
		if len(rec.ProblemDetails) < MaxDetails {
			rec.ProblemDetails = append(rec.ProblemDetails, p)
			l.Logger.Error("verification found a problem", "kind", rec.Kind, "problem", p)
		}
	}
}

// witnessed reports, in rec, each organization whose witnessed chain head is a day the
// store's listing (all) does not hold and whose chain in the store falls short of the
// head (Ledger.CheckWitnessed, as serve's day endpoints check it): a store emptied of its
// days and of the records deleted finds, without the witness, nothing to verify. A
// listed head is left to the slices, so that a slice costs a chain head lookup only per
// organization that lost its head day, not per organization of the store.
func (l *Loop) witnessed(ctx context.Context, rec *Record, all []OrgDay) {
	if l.Witness == nil || ctx.Err() != nil {
		return
	}
	w, err := l.Witness(ctx)
	if err != nil {
		rec.Error = err.Error()
		return
	}
	lg := ledger.Ledger{Store: l.Store}
	var errs []error
	for _, h := range w.Heads {
		day, err := archiver.ParseDay(h.Date)
		if err != nil {
			continue // ParseWitness refused a malformed head
		}
		if _, ok := slices.BinarySearchFunc(all, OrgDay{h.Org, day}, compareOrgDay); ok {
			continue
		}
		err = lg.CheckWitnessed(ctx, w, h.Org)
		switch {
		case errors.Is(err, ledger.ErrBehindWitness):
			rec.Problems++
			if len(rec.ProblemDetails) < MaxDetails {
				rec.ProblemDetails = append(rec.ProblemDetails, err.Error())
				l.Logger.Error("verification found a problem", "kind", rec.Kind, "org", h.Org, "problem", err.Error())
			}
		case err != nil:
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		rec.Error = err.Error()
	}
}

// run verifies days as one run of rec's kind, and records it.
func (l *Loop) run(ctx context.Context, rec *Record, days []OrgDay) {
	rec.Started = l.Now()
	l.verify(ctx, rec, days)
	l.finish(ctx, rec)
}

// verify verifies days (sorted) with verify.Run, one organization's range at a time.
func (l *Loop) verify(ctx context.Context, rec *Record, days []OrgDay) {
	rec.Ranges = ranges(days)
	rec.OrgDays = len(days)
	logged := len(rec.ProblemDetails) // deleted and witnessed log each one they keep
	var errs []error
	for _, r := range rec.Ranges {
		from, _ := archiver.ParseDay(r.From)
		to, _ := archiver.ParseDay(r.To)
		opt := verify.Options{Org: r.Org, From: from, To: to, TrustedKeys: l.TrustedKeys}
		rep, err := l.Verifier.Verify(ctx, opt)
		if err == nil && rep != nil && !rep.OK() {
			// Confirm: a day another process was committing while this run read the
			// store (its manifest written, its accounting object not yet) looks broken
			// for an instant. What a second pass finds is what is reported.
			rep, err = l.Verifier.Verify(ctx, opt)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("verify %s %s to %s: %w", r.Org, r.From, r.To, err))
		}
		if rep == nil {
			continue
		}
		rec.Manifests += rep.Manifests
		rec.Objects += rep.Objects
		rec.Bytes += rep.Bytes
		rec.Problems += len(rep.Problems)
		for _, p := range rep.Problems {
			if len(rec.ProblemDetails) < MaxDetails {
				rec.ProblemDetails = append(rec.ProblemDetails, p)
			}
			if logged < MaxDetails {
				logged++
				l.Logger.Error("verification found a problem", "kind", rec.Kind, "org", r.Org, "from", r.From, "to", r.To, "problem", p)
			}
		}
		for _, w := range rep.Warnings {
			if len(rec.Warnings) < MaxDetails && !slices.Contains(rec.Warnings, w) {
				rec.Warnings = append(rec.Warnings, w)
			}
		}
	}
	if logged < rec.Problems {
		l.Logger.Error("verification found more problems than logged", "kind", rec.Kind, "problems", rec.Problems, "logged", logged)
	}
	if err := errors.Join(errs...); err != nil {
		// After an error of the witness check (witnessed), not instead of it.
		rec.Error = strings.TrimPrefix(rec.Error+"\n"+err.Error(), "\n")
	}
}

// finish stores rec, and updates the metrics and the problems found.
func (l *Loop) finish(ctx context.Context, rec *Record) {
	if ctx.Err() != nil {
		// Cut short by shutdown: not a run that failed, and nothing to record.
		l.Logger.Info("verification run cut short by shutdown", "kind", rec.Kind)
		return
	}
	rec.Version, rec.Holder = 1, l.Holder
	// Every stored time in UTC: Now is time.Now in serve, in the host's zone, and the
	// signed record's bytes must not depend on where the process ran.
	rec.Finished = l.Now().UTC()
	rec.Started, rec.CycleStarted = rec.Started.UTC(), rec.CycleStarted.UTC()
	if rec.Error != "" {
		l.Logger.Error("verification run did not complete", "kind", rec.Kind, "err", rec.Error)
	}
	l.note(rec)
	if err := write(ctx, l.Store, rec, l.Key); err != nil {
		l.Logger.Error("verification run not recorded in the store", "kind", rec.Kind, "err", err)
	} else {
		l.mu.Lock()
		l.seen[rec.Key] = true // follow does not read it back
		l.mu.Unlock()
		l.Logger.Info("verification run", "kind", rec.Kind, "result", rec.Result(), "orgDays", rec.OrgDays,
			"objects", rec.Objects, "bytes", rec.Bytes, "problems", rec.Problems, "record", rec.Key)
	}
	if l.OnRun != nil {
		l.OnRun(rec)
	}
}

// note counts rec in the metrics and keeps the problems it found.
func (l *Loop) note(rec *Record) {
	l.mu.Lock()
	for _, p := range rec.ProblemDetails {
		if rec.Finished.After(l.found[p]) {
			l.found[p] = rec.Finished
		}
	}
	l.mu.Unlock()
	l.metrics.runs.WithLabelValues(rec.Kind, rec.Result()).Inc()
	l.metrics.bytes.Add(float64(rec.Bytes))
	// rec is this process's own run, finished now on its clock. A last run noted after
	// now was noted before the clock went back (it had stepped ahead): kept, it would
	// hold time() - last_run negative, and ChatvaultVerifyStalled silent, until the clock
	// caught up with it, whatever the runs did meanwhile. It is moved to now, so the
	// alert counts from here.
	now := float64(rec.Finished.Unix())
	for _, k := range []string{KindSealed, KindSlice} {
		if g := l.metrics.lastRun.WithLabelValues(k); gaugeValue(g) > now {
			g.Set(now)
		}
	}
	if rec.Error != "" {
		return // not a verification that ran: the staleness alert must still see it
	}
	if g := l.metrics.lastRun.WithLabelValues(rec.Kind); now > gaugeValue(g) {
		g.Set(now)
	}
}

// Problems is the number of distinct problems the runs of the last cycle found: a
// problem stays counted until a whole cycle has passed without a run finding it again,
// which, since every slice re-verifies its days once per cycle, is when it is gone.
func (l *Loop) Problems() int {
	l.defaults()
	return l.problemsLocked()
}

// load reads the records of the last cycle (and a day): the problems they found and
// when runs last finished, so that a restart neither forgets a problem nor looks like a
// verification that stopped.
func (l *Loop) load(ctx context.Context) error {
	l.defaults()
	now := l.Now()
	for d := archiver.DayOf(now.Add(-l.Cycle - 24*time.Hour)); !d.After(archiver.DayOf(now)); d = d.Next() {
		var keys []string
		if err := l.Store.List(ctx, dayPrefix(d), func(k string) error {
			if isRecordKey(k, "") {
				keys = append(keys, k)
			}
			return nil
		}); err != nil {
			return err
		}
		for _, k := range keys {
			r, err := Read(ctx, l.Store, k, l.TrustedKeys)
			if err != nil {
				if ctx.Err() != nil {
					return err
				}
				l.Logger.Warn("verification record skipped", "err", err)
				continue
			}
			l.noteRead(r)
		}
	}
	return nil
}

// lastSlice returns the newest slice record of the last cycle and a day that completed
// (nil: none), by whichever process wrote it: replicas carry on from each other's
// position. A record that does not read or whose signature fails is skipped (logged): a
// record forged into the store must neither move the position nor stop the slices.
func (l *Loop) lastSlice(ctx context.Context) (*Record, error) {
	now := l.Now()
	oldest := archiver.DayOf(now.Add(-l.Cycle - 24*time.Hour))
	for d := archiver.DayOf(now); !d.Before(oldest); d = archiver.DayOf(d.Start().Add(-time.Hour)) {
		var keys []string
		if err := l.Store.List(ctx, dayPrefix(d), func(k string) error {
			if isRecordKey(k, KindSlice) {
				keys = append(keys, k)
			}
			return nil
		}); err != nil {
			return nil, fmt.Errorf("list %s: %w", dayPrefix(d), err)
		}
		for i := len(keys) - 1; i >= 0; i-- {
			r, err := Read(ctx, l.Store, keys[i], l.TrustedKeys)
			switch {
			case err != nil && ctx.Err() != nil:
				return nil, err
			case err != nil:
				l.Logger.Warn("verification record skipped", "err", err)
			case r.Error == "":
				return r, nil
			}
		}
	}
	return nil, nil
}

// orgDays lists the store's sealed organization-days, sorted by organization, then day:
// the organizations from the ledger (one listing of the folders of orgs/), then each
// one's sealed days (Ledger.SealedDays: one listing of its days, in whichever layout
// they are stored). Nothing here knows the keys of a day.
func (l *Loop) orgDays(ctx context.Context) ([]OrgDay, error) {
	var out []OrgDay
	lg := ledger.Ledger{Store: l.Store}
	err := lg.Orgs(ctx, func(org string) error {
		return lg.SealedDays(ctx, org, func(d archiver.Day) error {
			out = append(out, OrgDay{org, d})
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list the sealed days: %w", err)
	}
	slices.SortFunc(out, compareOrgDay)
	out = slices.Compact(out)
	return out, nil
}

// ranges groups sorted organization-days into one range per run of an organization's
// days.
func ranges(days []OrgDay) []Range {
	var out []Range
	for _, od := range days {
		if n := len(out); n > 0 && out[n-1].Org == od.Org {
			out[n-1].To = od.Day.String()
			out[n-1].Days++
			continue
		}
		out = append(out, Range{Org: od.Org, From: od.Day.String(), To: od.Day.String(), Days: 1})
	}
	return out
}

type metrics struct {
	runs     *prometheus.CounterVec
	bytes    prometheus.Counter
	lastRun  *prometheus.GaugeVec
	problems prometheus.GaugeFunc
	interval prometheus.GaugeFunc
	leader   prometheus.Gauge
}

func newMetrics(l *Loop) *metrics {
	m := &metrics{
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "chatvault_verify_runs_total",
			Help: "Continuous verification runs by kind (sealed, slice) and result (ok, problems, error)."}, []string{"kind", "result"}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{Name: "chatvault_verify_bytes_total",
			Help: "Bytes re-hashed by continuous verification."}),
		lastRun: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "chatvault_verify_last_run_timestamp_seconds",
			Help: "When a verification run of each kind last completed (Unix time; read from the store's records at start)."}, []string{"kind"}),
		problems: prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "chatvault_verify_problems",
			Help: "Distinct integrity problems found by the verification runs of the last verify.cycle."},
			func() float64 { return float64(l.problemsLocked()) }),
		interval: prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "chatvault_verify_interval_seconds",
			Help: "verify.interval: the time between slices (the staleness alert waits two)."},
			func() float64 { return l.Interval.Seconds() }),
		leader: prometheus.NewGauge(prometheus.GaugeOpts{Name: "chatvault_verify_lease_held",
			Help: "1 when this replica holds the verification lease and verifies the slices (always, with one replica)."}),
	}
	// Every series from zero, so that the first problem after a restart is an increase,
	// and the last runs at 0 (never) until a run completes or a record is read back: a
	// series that does not exist compares with nothing, and ChatvaultVerifyStalled would
	// never fire for a verification that fails from its first slice.
	for _, k := range []string{KindSealed, KindSlice} {
		m.lastRun.WithLabelValues(k)
		for _, r := range []string{"ok", "problems", "error"} {
			m.runs.WithLabelValues(k, r)
		}
	}
	return m
}

// problemsLocked is Problems for the metric, which is registered after defaults. It
// forgets the problems older than a cycle, so that found does not grow for ever.
func (l *Loop) problemsLocked() int {
	now := l.Now()
	since := now.Add(-l.Cycle)
	l.mu.Lock()
	defer l.mu.Unlock()
	for p, at := range l.found {
		if at.After(now) {
			// Found before the clock went back: counted for a cycle from now, not
			// until the clock catches up with it (a year, after a step of a year).
			l.found[p], at = now, now
		}
		if at.Before(since) {
			delete(l.found, p)
		}
	}
	return len(l.found)
}

// Register adds the loop's metrics to r.
func (l *Loop) Register(r prometheus.Registerer) {
	l.defaults()
	r.MustRegister(l.metrics.runs, l.metrics.bytes, l.metrics.lastRun, l.metrics.problems, l.metrics.interval, l.metrics.leader)
}

func gaugeValue(g prometheus.Gauge) float64 {
	var m dto.Metric
	if err := g.Write(&m); err != nil {
		return 0
	}
	return m.GetGauge().GetValue()
}
