package scheduler

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/model"
	"github.com/prometheus/client_golang/prometheus"
)

// FreshnessLedger is what the freshness metrics read of the store (ledger.Ledger).
type FreshnessLedger interface {
	DayLedger
	AccountingKeysFrom(ctx context.Context, from archiver.Day, fn func(key string, day archiver.Day) error) error
	ReadAccounting(ctx context.Context, key string) (*archiver.StoredAccounting, error)
}

// Freshness publishes how far each archiving organization's archive is sealed, as the
// store's ledger says, not as this process remembers: every sealing process (serve's
// scheduler, another replica's, or `chatvault run` from a CronJob, cron or a systemd
// timer, which has no metrics endpoint) writes the ledger, so the alerts built on these
// gauges work in every mode, and a restart re-reads them instead of starting from
// nothing (which would page, or stay silent, until the next seal).
//
// Refresh reads the store; Collect only reports what the last successful Refresh found,
// so a scrape never waits on the store. serve refreshes at start, periodically, and
// right after each tick of its own scheduler.
//
// A day is counted from the organization's archivalStart (or LookBack days back when it
// has none) through yesterday (the last day that has ended). What the store said is
// remembered as the scheduler remembers it (dayIndex): the first Refresh lists each
// organization's days from its start; each later one lists only the days after its last
// sealed day and looks up the gaps before it, one request per organization (plus one
// per gap), whatever the archive's age; and it reads only the accounting objects it has
// not read. The accounting objects are listed whole by the first Refresh of each UTC day
// (the gauges total every sealed day), and by the others from the oldest of the last
// LookBack days and the days the Refresh saw sealed that were not before (a catch-up of
// an old day): one listing of the newest days, not of the archive's history. (A day
// older than that sealed again by hand shows by the next day.)
// A day sealed in shards counts the join of its shards' objects (ledger.JoinAccountings).
type Freshness struct {
	Ledger FreshnessLedger
	// Directory returns the current directory (which organizations archive, from when).
	Directory func(ctx context.Context) (*model.Directory, error)
	// Now is the time that says which day is today (default time.Now).
	Now func() time.Time
	// LookBack is the number of days counted for organizations without archivalStart
	// (default DefaultLookBack, as the scheduler).
	LookBack int
	// OnOrgs, when set, hears the archiving organizations after each successful Refresh
	// (serve creates the scheduler's per-organization counters with it).
	OnOrgs func(orgs []string)
	// Watermarks, when set, is where the scheduler leaves its watermarks (see
	// watermarkPrefix): the first Refresh starts from the newest, as a process's first
	// tick does, instead of listing each organization's days from its start.
	Watermarks archiver.Store

	refreshFailures atomic.Int64
	// firstTry is when the first Refresh started (Unix nanoseconds; 0: none yet). Until
	// one succeeds it stands in for the last read, so that ChatvaultLedgerUnread fires
	// for a ledger unreadable from the start rather than on a series that never appears.
	firstTry atomic.Int64

	mu        sync.Mutex // serializes Refresh
	days      dayIndex
	marksRead bool
	// seen is each organization's view at the last read, and sealedSince the earliest day
	// this read saw sealed that was not then (a gap filled, days after the last sealed
	// one): its accounting objects are new, however old the day.
	seen        map[string]orgView
	sealedSince archiver.Day
	// accounting caches, per day, what its accounting objects say.
	accounting map[archiver.Day]dayAccounting
	// fullListed is the day (UTC) of the last Refresh that listed every accounting object.
	fullListed archiver.Day

	snapMu sync.Mutex
	snap   *freshnessSnapshot
}

type dayAccounting struct {
	keys        []string // the day's accounting keys, as last listed
	quarantined int64
	sealedAt    time.Time
	// objects are the day's objects read, reduced to what a join needs: the latest only
	// when it is an unsharded run's; every one when it is a shard's.
	objects map[string]*archiver.StoredAccounting
}

// OrgFreshness is one organization's state in the ledger.
type OrgFreshness struct {
	Org string
	// LastSealed is the latest day sealed (zero when none of the counted days is).
	LastSealed archiver.Day
	// FirstUnsealed is the oldest counted day not sealed: today when every day that has
	// ended is sealed (the archival start when it lies ahead). A day is late once the
	// time passes its end plus the deadline the alert rules set.
	FirstUnsealed archiver.Day
	// Pending counts the days that have ended, are not sealed, and have no failed
	// attempt recorded; Failed those whose latest attempt failed.
	Pending, Failed int
}

// FreshnessSnapshot is what a Refresh found.
type freshnessSnapshot struct {
	at   time.Time
	orgs []OrgFreshness
	// Day-level quarantine (records no organization can be told about: they could not be
	// routed), from each day's latest accounting object.
	quarantinedDays    int
	quarantinedRecords int64
	lastQuarantine     time.Time
}

var (
	descLastSealedDay = prometheus.NewDesc("chatvault_last_sealed_day_timestamp_seconds",
		"Start (Unix time) of the organization's latest sealed day, as the store's ledger says (whichever process sealed it).", []string{"org"}, nil)
	descFirstUnsealedDay = prometheus.NewDesc("chatvault_first_unsealed_day_timestamp_seconds",
		"Start (Unix time) of the organization's oldest day not sealed, from its archivalStart: today's when every day that has ended is sealed. A day is late when time() passes this + 86400 + the deadline.", []string{"org"}, nil)
	descDaysPending = prometheus.NewDesc("chatvault_days_pending",
		"Days that have ended and are not sealed, with no failed attempt recorded, from the organization's archivalStart (the store's ledger).", []string{"org"}, nil)
	descDaysFailed = prometheus.NewDesc("chatvault_days_failed",
		"Days not sealed whose latest attempt failed (the store's ledger), from the organization's archivalStart.", []string{"org"}, nil)
	descQuarantinedDays = prometheus.NewDesc("chatvault_quarantined_days",
		"Sealed days whose latest accounting object shows quarantined records (day-level: quarantined records belong to no organization).", nil, nil)
	descQuarantinedRecords = prometheus.NewDesc("chatvault_quarantined_records",
		"Records quarantined in the sealed days, by each day's latest accounting object.", nil, nil)
	descLastQuarantine = prometheus.NewDesc("chatvault_last_quarantine_timestamp_seconds",
		"When a seal last quarantined records (Unix time of its accounting object; 0: never).", nil, nil)
	descLedgerRefreshed = prometheus.NewDesc("chatvault_ledger_refresh_timestamp_seconds",
		"When serve last read the store's ledger for the freshness metrics (Unix time; before a read has succeeded, when it first tried).", nil, nil)
	descLedgerRefreshFailures = prometheus.NewDesc("chatvault_ledger_refresh_failures_total",
		"Reads of the store's ledger for the freshness metrics that failed (the gauges keep the last values read).", nil, nil)
)

// Describe implements prometheus.Collector.
func (f *Freshness) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descLastSealedDay, descFirstUnsealedDay, descDaysPending, descDaysFailed,
		descQuarantinedDays, descQuarantinedRecords, descLastQuarantine, descLedgerRefreshed, descLedgerRefreshFailures} {
		ch <- d
	}
}

// Collect implements prometheus.Collector. Before the first successful Refresh only the
// failure counter and, once a Refresh has started, the time of that first try as the last
// read are reported: a freshness gauge of zero would read as "never sealed" and page.
func (f *Freshness) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(descLedgerRefreshFailures, prometheus.CounterValue, float64(f.refreshFailures.Load()))
	f.snapMu.Lock()
	s := f.snap
	f.snapMu.Unlock()
	if s == nil {
		if first := f.firstTry.Load(); first != 0 {
			ch <- prometheus.MustNewConstMetric(descLedgerRefreshed, prometheus.GaugeValue, float64(first)/1e9)
		}
		return
	}
	ch <- prometheus.MustNewConstMetric(descLedgerRefreshed, prometheus.GaugeValue, unixSeconds(s.at))
	for _, o := range s.orgs {
		if !o.LastSealed.IsZero() {
			ch <- prometheus.MustNewConstMetric(descLastSealedDay, prometheus.GaugeValue, float64(o.LastSealed.Start().Unix()), o.Org)
		}
		ch <- prometheus.MustNewConstMetric(descFirstUnsealedDay, prometheus.GaugeValue, float64(o.FirstUnsealed.Start().Unix()), o.Org)
		ch <- prometheus.MustNewConstMetric(descDaysPending, prometheus.GaugeValue, float64(o.Pending), o.Org)
		ch <- prometheus.MustNewConstMetric(descDaysFailed, prometheus.GaugeValue, float64(o.Failed), o.Org)
	}
	ch <- prometheus.MustNewConstMetric(descQuarantinedDays, prometheus.GaugeValue, float64(s.quarantinedDays))
	ch <- prometheus.MustNewConstMetric(descQuarantinedRecords, prometheus.GaugeValue, float64(s.quarantinedRecords))
	ch <- prometheus.MustNewConstMetric(descLastQuarantine, prometheus.GaugeValue, unixSeconds(s.lastQuarantine))
}

// Orgs returns each archiving organization's state as of the last successful Refresh
// (nil before it).
func (f *Freshness) Orgs() []OrgFreshness {
	f.snapMu.Lock()
	defer f.snapMu.Unlock()
	if f.snap == nil {
		return nil
	}
	return slices.Clone(f.snap.orgs)
}

// Refresh reads the ledger. On an error the metrics keep what the previous Refresh found,
// and the failure is counted.
func (f *Freshness) Refresh(ctx context.Context) error {
	now := time.Now
	if f.Now != nil {
		now = f.Now
	}
	f.firstTry.CompareAndSwap(0, now().UnixNano())
	f.mu.Lock()
	defer f.mu.Unlock()
	s, err := f.read(ctx)
	if err != nil {
		f.refreshFailures.Add(1)
		// A last read dated after now was made before the clock went back (it had
		// stepped ahead): kept, time() minus it stays negative and ChatvaultLedgerUnread
		// silent until the clock catches up. Moved to now, the alert counts from here.
		f.snapMu.Lock()
		// On the wall clock: time.Now's monotonic reading would say the last read was
		// before now whatever the wall clock did (Round(0) drops it).
		if at := now(); f.snap != nil && f.snap.at.Round(0).After(at.Round(0)) {
			back := *f.snap
			back.at = at
			f.snap = &back
		}
		f.snapMu.Unlock()
		return fmt.Errorf("freshness metrics: %w", err)
	}
	f.snapMu.Lock()
	f.snap = s
	f.snapMu.Unlock()
	if f.OnOrgs != nil {
		orgs := make([]string, len(s.orgs))
		for i, o := range s.orgs {
			orgs[i] = o.Org
		}
		f.OnOrgs(orgs)
	}
	return nil
}

func (f *Freshness) read(ctx context.Context) (*freshnessSnapshot, error) {
	now := time.Now
	if f.Now != nil {
		now = f.Now
	}
	lookBack := f.LookBack
	if lookBack <= 0 {
		lookBack = DefaultLookBack
	}
	if f.accounting == nil {
		f.accounting = map[archiver.Day]dayAccounting{}
	}
	dir, err := f.Directory(ctx)
	if err != nil {
		return nil, fmt.Errorf("read directory: %w", err)
	}
	s := &freshnessSnapshot{at: now()}
	today := archiver.DayOf(s.at)
	if f.Watermarks != nil && !f.marksRead {
		// A watermark that cannot be read only makes this read list from the start.
		_, _ = seedFromWatermark(ctx, f.Watermarks, today, &f.days)
		f.marksRead = true
	}
	archiving := map[string]bool{}
	for _, o := range dir.Organizations {
		if !o.Archival {
			continue
		}
		archiving[o.ID] = true
		from := archiver.DayOf(today.Start().AddDate(0, 0, -lookBack))
		if o.ArchivalStart != "" {
			if from, err = archiver.ParseDay(o.ArchivalStart); err != nil {
				return nil, fmt.Errorf("organization %s: archivalStart: %w", o.ID, err)
			}
		}
		st, err := f.readOrg(ctx, o.ID, from, today)
		if err != nil {
			return nil, err
		}
		s.orgs = append(s.orgs, st)
	}
	f.days.forget(archiving)
	// The accounting objects that may have been written since the last Refresh: those of
	// the last lookBack days (a rerun's) and of the days this read saw sealed that were
	// not before (a catch-up's, however old the day). A day still unsealed costs nothing.
	from := archiver.DayOf(today.Start().AddDate(0, 0, -lookBack))
	if !f.sealedSince.IsZero() && f.sealedSince.Before(from) {
		from = f.sealedSince
	}
	for org := range f.seen {
		if !archiving[org] {
			delete(f.seen, org)
		}
	}
	if f.fullListed != today {
		from = archiver.Day{} // once a day, all of them
	}
	if err := f.readQuarantine(ctx, s, from); err != nil {
		return nil, err // sealedSince is kept for the next read
	}
	f.sealedSince = archiver.Day{}
	return s, nil
}

// readOrg counts the organization's days from..today (exclusive), from what the store
// says of the days not known sealed (dayIndex.look).
func (f *Freshness) readOrg(ctx context.Context, org string, from, today archiver.Day) (OrgFreshness, error) {
	st := OrgFreshness{Org: org, FirstUnsealed: from}
	v, err := f.days.look(ctx, f.Ledger, org, from, today)
	if err != nil {
		return st, fmt.Errorf("organization %s: %w", org, err)
	}
	f.noteSealed(org, v)
	st.LastSealed = v.last
	unsealed := len(v.gaps)
	if v.after.Before(today) {
		unsealed += int(today.Start().Sub(v.after.Start()) / (24 * time.Hour))
	}
	switch {
	case len(v.gaps) > 0:
		st.FirstUnsealed = v.gaps[0]
	case v.after.Before(today):
		st.FirstUnsealed = v.after
	case from.Before(today):
		st.FirstUnsealed = today
	}
	st.Failed = len(v.failed)
	st.Pending = unsealed - st.Failed
	return st, nil
}

// readQuarantine lists the accounting objects of the days from `from` on (every day when
// from is zero) and reads, of each day whose keys changed, the objects it has not read
// that the day's join needs (ledger.JoinAccountings).
func (f *Freshness) readQuarantine(ctx context.Context, s *freshnessSnapshot, from archiver.Day) error {
	listed := map[archiver.Day][]string{}
	if err := f.Ledger.AccountingKeysFrom(ctx, from, func(key string, day archiver.Day) error {
		listed[day] = append(listed[day], key) // keys are listed oldest first within a day
		return nil
	}); err != nil {
		return err
	}
	for day := range f.accounting {
		if _, ok := listed[day]; !ok && !day.Before(from) {
			delete(f.accounting, day) // not in the store (objects are never deleted, but say what it says)
		}
	}
	for day, keys := range listed {
		if slices.Equal(f.accounting[day].keys, keys) {
			continue
		}
		a, err := f.readDay(ctx, f.accounting[day].objects, keys)
		if err != nil {
			return err
		}
		f.accounting[day] = a
	}
	if from.IsZero() {
		f.fullListed = archiver.DayOf(s.at)
	}
	for _, a := range f.accounting {
		if a.quarantined == 0 {
			continue
		}
		s.quarantinedDays++
		s.quarantinedRecords += a.quarantined
		if a.sealedAt.After(s.lastQuarantine) {
			s.lastQuarantine = a.sealedAt
		}
	}
	return nil
}

// readDay reads what the day's accounting objects (keys, oldest first) say: the latest
// object, and, when it is a shard's, the others too, to join the shards. Objects in known
// are not read again.
func (f *Freshness) readDay(ctx context.Context, known map[string]*archiver.StoredAccounting, keys []string) (dayAccounting, error) {
	read := func(key string) (*archiver.StoredAccounting, error) {
		if a, ok := known[key]; ok {
			return a, nil
		}
		a, err := f.Ledger.ReadAccounting(ctx, key)
		if err != nil {
			return nil, err
		}
		// Only what a join needs: a run's list of manifests may be long.
		return &archiver.StoredAccounting{Key: a.Key, SHA256: a.SHA256, Accounting: &archiver.Accounting{
			Version: a.Version, Date: a.Date, Input: a.Input, DirectorySHA256: a.DirectorySHA256,
			Generator: a.Generator, SealedAt: a.SealedAt, Shard: a.Shard}}, nil
	}
	d := dayAccounting{keys: keys, objects: map[string]*archiver.StoredAccounting{}}
	last, err := read(keys[len(keys)-1])
	if err != nil {
		return d, err
	}
	all := []*archiver.StoredAccounting{last}
	if last.Shard != nil {
		all = all[:0]
		for _, key := range keys {
			a, err := read(key)
			if err != nil {
				return d, err
			}
			all = append(all, a)
		}
	}
	for _, a := range all {
		d.objects[a.Key] = a
	}
	t := ledger.JoinAccountings(all)
	d.quarantined = t.Input.Quarantined
	for _, key := range t.Keys {
		// An unparsable time counts as the epoch: the records are still counted, and the
		// alert (on a recent time) stays quiet about an object verify reports anyway.
		at, _ := time.Parse(time.RFC3339, d.objects[key].SealedAt)
		if at.After(d.sealedAt) {
			d.sealedAt = at
		}
	}
	return d, nil
}

// noteSealed remembers org's view v and moves f.sealedSince back to the earliest day v
// shows sealed that the previous view did not: a gap no longer unsealed, or the days
// after the previous last sealed one.
func (f *Freshness) noteSealed(org string, v orgView) {
	if f.seen == nil {
		f.seen = map[string]orgView{}
	}
	prev, ok := f.seen[org]
	f.seen[org] = orgView{last: v.last, gaps: slices.Clone(v.gaps), after: v.after}
	if !ok {
		return // the first read of org lists every accounting object anyway
	}
	earliest := func(d archiver.Day) {
		if f.sealedSince.IsZero() || d.Before(f.sealedSince) {
			f.sealedSince = d
		}
	}
	for _, g := range prev.gaps {
		if !slices.Contains(v.gaps, g) {
			earliest(g)
		}
	}
	if v.last.After(prev.last) {
		earliest(prev.after)
	}
}
