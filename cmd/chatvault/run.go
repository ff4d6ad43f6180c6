package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/archiver/s3"
	"github.com/chatvault/chatvault/archiver/scheduler"
	"github.com/chatvault/chatvault/config"
	"github.com/spf13/pflag"
)

func init() {
	register(&command{
		name:    "run",
		summary: "seal every closed, unsealed day through yesterday, or one day (--date) or a range (--from/--to); idempotent",
		usage:   "[--quarantine-exit-code 0] | --date D [--org ID | --shard I/N] | --from D --to D [--org ID | --shard I/N] | --date D --org ID --supersede --reason TEXT",
		flags: func(fs *pflag.FlagSet) {
			rangeFlags(fs)
			fs.String("org", "", "commit only this organization")
			fs.String("shard", "", "I/N: seal only shard I (0..N-1) of N: the organizations whose id's SHA-256 (first 8 bytes) mod N is I; run every shard of a day, e.g. as a Kubernetes Indexed Job (--shard \"$(JOB_COMPLETION_INDEX)/N\")")
			supersedeFlags(fs)
			fs.Int("quarantine-exit-code", exitQuarantined, "exit code when this run quarantined records (3, or 0 for schedulers that treat non-zero as failure)")
			fs.String("cpuprofile", "", "write a CPU profile (go tool pprof) to FILE")
		},
		run: runRun,
	})
}

func runRun(ctx context.Context, e *env, fs *pflag.FlagSet) (code int) {
	// The summary's reader leaving (run --from --to | head -1, a log pipe that broke)
	// ended a range or a catch-up by SIGPIPE at its next day's summary, the days after it
	// unsealed. With SIGPIPE asked for, a write to a closed stdout or stderr fails with
	// EPIPE instead: the run seals every day, and Main reports the report it could not
	// print (exit 1). Not stopped when the run returns: Main then reports the lost
	// output on stderr, which may be the same broken pipe (run 2>&1 | head -1).
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	from, to, err := dayRange(fs, false)
	if err != nil {
		return e.fail("run", err)
	}
	catchUp := from.IsZero()
	qcode, _ := fs.GetInt("quarantine-exit-code")
	if qcode != exitQuarantined && qcode != exitOK {
		return e.fail("run", usagef("--quarantine-exit-code is 3 or 0, not %d", qcode))
	}
	org, _ := fs.GetString("org")
	if catchUp && (org != "" || fs.Changed("supersede") || fs.Changed("reason")) {
		return e.fail("run", usagef("--org and --supersede need --date D or --from D --to D; with no date, run seals every organization's pending days"))
	}
	// A day that has not ended cannot be complete, whatever its partition's _CLOSED marker
	// says. The Sealer refuses such a day itself (so does the scheduler's); refusing here,
	// before any day of a range is sealed, makes a --to in the future a usage error that
	// changes nothing rather than a run that seals part of the range.
	if !catchUp {
		if err := archiver.CheckDayEnded(to, runClock()); err != nil {
			return e.fail("run", usagef("%v", err))
		}
	}
	supersede, err := parseSupersede(fs, org)
	if err != nil {
		return e.fail("run", err)
	}
	shard, err := shardFlag(fs, catchUp, org)
	if err != nil {
		return e.fail("run", err)
	}
	if err := checkMemoryLimit(e, false); err != nil { // cgroup.go
		return e.fail("run", err)
	}
	// Before the heap grows: the heap's share of the budget, mapped at once and advised
	// for huge pages (hugepages_linux.go).
	_, heap := archiver.SplitMemory(e.cfg.Export.SortMemory)
	archiver.AdviseHeap(int(heap))
	// The heap gets the budget less what the sort's arenas hold, as they come and go.
	sortMemory := limitHeap(e)
	if sortMemory != nil {
		sortMemory(0)
	}
	if path, _ := fs.GetString("cpuprofile"); path != "" {
		stop, err := startCPUProfile(path)
		if err != nil {
			return e.fail("run", err)
		}
		defer func() {
			// A profile that did not reach its file (a full disk) was an empty file and
			// exit 0: a run that changed the store keeps its own exit code.
			if err := stop(); err != nil && code == exitOK {
				code = e.fail("run", err)
			}
		}()
	}
	src, err := e.openSource()
	if err != nil {
		return e.fail("run", err)
	}
	store, closeStore, err := e.openStore()
	if err != nil {
		return e.fail("run", err)
	}
	defer closeStore()
	key, err := e.signingKeyFor(ctx, store)
	if err != nil {
		return e.fail("run", err)
	}
	// A bad snapshot stops the run here, before any day, with a message that names the
	// file. With --date it is loaded once, as it streams from the file: sealing decodes
	// nothing more of it, and no copy of its bytes lives for the run. The catch-up's
	// scheduler hands each seal the bytes themselves, so those are read and checked.
	var (
		directory *archiver.Directory
		dirBytes  []byte
	)
	if catchUp {
		if dirBytes, err = e.readDirectory(); err != nil {
			return e.fail("run", err)
		}
		if _, err := archiver.ParseDirectory(dirBytes); err != nil {
			return e.fail("run", fmt.Errorf("%s: %w", e.cfg.Directory, err))
		}
	} else if directory, err = e.loadDirectory(); err != nil {
		return e.fail("run", err)
	}
	if org != "" {
		if err := checkOrg(ctx, e, store, org, directory.Directory, false, "a run for it would seal nothing"); err != nil { // holdorg.go
			return e.fail("run", err)
		}
	}
	capture, releaseCapture, err := newAttachmentCapturer(e, store, key) // attachments.go
	if err != nil {
		return e.fail("run", err)
	}
	defer releaseCapture()
	t := &runTally{e: e, quarantineCode: qcode, pendingOK: catchUp}
	newSealer := func() *runSealer {
		progress := new(archiver.Progress)
		opt := sealerOptions(e, key, progress)
		opt.Now = runClock
		opt.OnSortMemory = sortMemory
		sealer := &archiver.Sealer{Source: src, Store: store, Chain: ledger.Ledger{Store: store}, Options: opt}
		sealer.Supersede = supersede
		sealer.Shard = shard
		return &runSealer{inner: sealer, progress: progress, tally: t, capture: capture}
	}
	if catchUp {
		code := runCatchUp(ctx, e, src, store, dirBytes, newSealer, t)
		if capture != nil && code != exitUsage {
			// Later runs retry failed captures, and capture days sealed by a run that stopped
			// before capturing (attachments.go).
			if err := captureRecent(ctx, e, capture, dirBytes); err != nil {
				t.failed = true
			}
			code = t.code()
		}
		return code
	}
	lease := newSealLease(e, store, shard) // runlease.go
	defer lease.release(ctx)
	for day := from; !day.After(to); day = day.Next() {
		sealer := newSealer()
		if sealer.inner.Ready(ctx, day) == nil {
			if err := lease.take(ctx); err != nil {
				return e.fail("run", err)
			}
		}
		sealCtx := lease.fenced(ctx)
		_, err := sealer.SealDirectory(sealCtx, day, directory, org) // runlease.go
		if errors.Is(err, config.ErrInvalid) || errors.Is(err, archiver.ErrDayNotEnded) {
			return exitUsage
		}
		if ctx.Err() != nil {
			// Ctrl-C or SIGTERM: every later day would fail the same way, each with a bare
			// "context canceled"; one last record says why the run ended.
			days := day.String()
			if day != to {
				days += ".." + to.String()
			}
			return e.fail("run", interrupted(ctx, "sealing "+day.String(), days))
		}
		if failedWhole(sealCtx, err) {
			recordDayFailure(sealCtx, e, store, archiver.SealTargets(directory, day, org, shard), day, err)
		}
	}
	return t.code()
}

// interrupted is the error of a run that a signal stopped while doing what; again says
// what the rerun seals. main's signal.NotifyContext gives the signal as the context's cause.
func interrupted(ctx context.Context, what, again string) error {
	return fmt.Errorf("interrupted (%v) while %s: nothing is half-committed; run the command again to seal %s", context.Cause(ctx), what, again)
}

// failedWhole reports whether err is a seal's failure as a whole that status must show:
// not a day that is pending (its partition missing or open, the day not ended), a usage
// error, a lease lost to another sealer (whose day it is now), or a stopped run. One
// organization's failed commit is no error of the seal's: the writer recorded it.
func failedWhole(ctx context.Context, err error) bool {
	return err != nil && ctx.Err() == nil &&
		!errors.Is(err, archiver.ErrNotClosed) && !errors.Is(err, archiver.ErrNoPartition) &&
		!errors.Is(err, archiver.ErrDayNotEnded) && !errors.Is(err, config.ErrInvalid) &&
		!errors.Is(err, archiver.ErrFenced)
}

// recordDayFailure leaves the failure record of each organization the day's seal would
// have committed, as the scheduler's catch-up does, so that status, the API's listing and
// the days_failed gauge show the day failed, not pending, until a seal succeeds. The run
// already fails with err: a record that cannot be written is logged, not returned.
func recordDayFailure(ctx context.Context, e *env, store archiver.Store, orgs []string, day archiver.Day, err error) {
	skipped := ledger.RecordFailures(ctx, ledger.Ledger{Store: store}, orgs, day, runClock(), err, func(o string, rerr error) {
		e.log.Error("record failure", "org", o, "day", day.String(), "err", rerr)
	})
	if skipped > 0 {
		e.log.Error("the store is down: the failure records of the other organizations are not written", "day", day.String(), "organizations", skipped)
	}
}

// runClock is run's time: which day is yesterday, and which days have ended (tests set it).
var runClock = time.Now

type runClockT struct{ scheduler.RealClock }

func (runClockT) Now() time.Time { return runClock() }

// runCatchUp is `run` with no date: the in-process scheduler's catch-up, once. Every
// archiving organization's days from its archivalStart (or the scheduler's look-back)
// through yesterday that have no manifest are sealed, oldest first. Days whose partition
// is missing or not closed stay pending: they are reported, and the run still exits 0 for
// them, because a producer that has not delivered yet is not a failure of this run (the
// next run seals them, and the freshness alert covers a day that never comes). The store
// lease is the scheduler's, so a CronJob and a serve replica never seal at once.
func runCatchUp(ctx context.Context, e *env, src archiver.Source, store archiver.Store, directory []byte, newSealer func() *runSealer, t *runTally) int {
	// The lease is held under a run's name (runHolderName), as `run --date` holds it: a
	// run of this host tells it alive or killed by its process id.
	lease := &scheduler.Lease{Store: store, Holder: runHolderName(), TTL: sealLeaseTTL, Clock: runClockT{}, MaxSkew: e.cfg.Schedule.LeaseMaxSkew}
	s := &scheduler.Scheduler{
		NewSealer: func() scheduler.Sealer { return newSealer() },
		Ledger:    ledger.Ledger{Store: store},
		Directory: func(context.Context) ([]byte, error) { return directory, nil },
		Lease:     lease,
		Clock:     runClockT{},
		Retries:   -1,
		Logger:    e.log.With("component", "run"),
	}
	// The run's one tick starts from the last sealing tick's watermark, not from each
	// organization's archivalStart.
	s.Watermarks = store
	// Yesterday is decided once, at the start, and the tick plans no later day: a run that
	// starts at 23:59:59.9 and plans after midnight sealed the day that had just ended
	// while it announced the day before as its last.
	s.Through = archiver.DayOf(runClock()).Prev()
	through := s.Through.String()
	e.note(slog.LevelInfo, "chatvault run: sealing every closed, unsealed day through "+through, "catch-up: sealing every closed, unsealed day", "through", through)
	rep := s.Tick(ctx)
	if rep.Skipped != "" && errors.Is(rep.Err, scheduler.ErrLeaseHeld) && !errors.Is(rep.Err, scheduler.ErrClockSkew) {
		// A lease that is not renewed is a killed run's (the CronJob's pod OOMKilled and
		// retried in a new one): waited for once, as `run --date` waits for it
		// (waitUnrenewed, runlease.go), rather than refused until it runs out. A renewed
		// lease, or a live run's of this host, is refused as before.
		held := fmt.Errorf("another sealer is running (%s): %w", rep.Skipped, rep.Err)
		if err := (&sealLease{lease: lease, log: e.log}).waitUnrenewed(ctx, held); err != nil {
			return e.fail("run", err)
		}
		rep = s.Tick(ctx)
	}
	if ctx.Err() != nil {
		// Ctrl-C or SIGTERM: the days it cut fail with a bare "context canceled".
		return e.fail("run", interrupted(ctx, "catching up", "the days still due"))
	}
	if rep.Skipped != "" {
		if errors.Is(rep.Err, scheduler.ErrClockSkew) {
			return e.fail("run", rep.Err) // the clocks disagree: no sealer need be running
		}
		return e.fail("run", fmt.Errorf("another sealer is running (%s): %w", rep.Skipped, rep.Err))
	}
	if rep.Err != nil {
		if errors.Is(rep.Err, config.ErrInvalid) {
			return e.fail("run", usagef("%v", rep.Err))
		}
		return e.fail("run", rep.Err)
	}
	if len(rep.Sealed) == 0 && len(rep.Failed) == 0 {
		if err := checkClockBehindEventLog(ctx, e, src, runClock()); err != nil { // emptylog.go
			return e.fail("run", err)
		}
	}
	fmt.Fprintf(e.stdout, "catch-up: %d sealed (organization-days), %d failed, %d pending (days whose partition is missing or not closed)\n",
		len(rep.Sealed), len(rep.Failed), len(rep.Pending))
	e.log.Info("catch-up summary", "sealed", len(rep.Sealed), "failed", len(rep.Failed), "pending", len(rep.Pending))
	if len(rep.Pending) > 0 {
		fmt.Fprintf(e.stdout, "  pending %s\n", pendingDays(rep.Pending))
	}
	for _, f := range rep.Failed {
		fmt.Fprintf(e.stdout, "  failed %s\n", f)
	}
	if len(rep.Failed) > 0 {
		t.failed = true
	}
	if len(rep.Pending) > 0 && len(rep.Sealed) == 0 && len(rep.Failed) == 0 {
		if err := checkEventLogHasPartitions(ctx, e, src); err != nil { // emptylog.go
			return e.fail("run", err)
		}
	}
	if err := checkProducerDelivering(ctx, e, src, rep.Pending, runClock()); err != nil { // emptylog.go
		return e.fail("run", err)
	}
	return t.code()
}

// pendingDays lists the pending days as ranges (2026-01-01..2026-03-31,2026-04-02), so a
// long backlog of undelivered days stays one line.
func pendingDays(days []string) string {
	var ds []archiver.Day
	for _, s := range days {
		if d, err := archiver.ParseDay(s); err == nil && (len(ds) == 0 || ds[len(ds)-1] != d) {
			ds = append(ds, d)
		}
	}
	return dayRanges(ds)
}

// runSealer seals one day (or one organization of it) for `run`, showing its progress and
// printing its summary, and counts the outcome into the run's exit code.
type runSealer struct {
	inner    *archiver.Sealer
	progress *archiver.Progress
	tally    *runTally
	// capture, when attachments.enabled, captures the day's linked files once it is sealed.
	capture *runCapture
}

func (r *runSealer) Seal(ctx context.Context, day archiver.Day, directory []byte, only string) (*archiver.DayResult, error) {
	return r.seal(ctx, day, func() (*archiver.DayResult, error) { return r.inner.Seal(ctx, day, directory, only) })
}

// SealDirectory is Seal with the snapshot loaded once for the run.
func (r *runSealer) SealDirectory(ctx context.Context, day archiver.Day, directory *archiver.Directory, only string) (*archiver.DayResult, error) {
	return r.seal(ctx, day, func() (*archiver.DayResult, error) { return r.inner.SealDirectory(ctx, day, directory, only) })
}

func (r *runSealer) seal(ctx context.Context, day archiver.Day, seal func() (*archiver.DayResult, error)) (*archiver.DayResult, error) {
	stop := startProgress(ctx, r.tally.e, day, r.progress)
	res, err := seal()
	stop()
	r.tally.observe(day, res, err)
	if err == nil && res != nil && r.capture != nil {
		if cerr := captureAttachments(ctx, r.tally.e, r.capture, res); cerr != nil {
			r.tally.failed = true
		}
	}
	return res, err
}

// Ready lets the catch-up see that every day due is still pending without taking the
// store lease (scheduler.Readier); the pending line is printed here then, once.
func (r *runSealer) Ready(ctx context.Context, day archiver.Day) error {
	err := r.inner.Ready(ctx, day)
	if errors.Is(err, archiver.ErrNoPartition) || errors.Is(err, archiver.ErrNotClosed) {
		r.tally.observe(day, nil, err)
	}
	return err
}

// runTally turns the days' outcomes into run's exit code.
type runTally struct {
	e              *env
	quarantineCode int
	// pendingOK: a day whose partition is missing or not closed is pending, not failed
	// (the catch-up); a day asked for by date that cannot be sealed is a failure.
	pendingOK bool
	// shown are the days whose pending line is printed (Ready, then maybe Seal).
	shown       map[archiver.Day]bool
	failed      bool
	quarantined bool
}

func (t *runTally) observe(day archiver.Day, res *archiver.DayResult, err error) {
	e := t.e
	if err != nil && t.pendingOK && (errors.Is(err, archiver.ErrNoPartition) || errors.Is(err, archiver.ErrNotClosed)) {
		if !t.shown[day] {
			e.note(slog.LevelWarn, fmt.Sprintf("chatvault run: %s: pending: %v", day, err), "day pending", "day", day.String(), "err", err)
		}
		if t.shown == nil {
			t.shown = map[archiver.Day]bool{}
		}
		t.shown[day] = true
		return
	}
	if err != nil {
		e.note(slog.LevelError, fmt.Sprintf("chatvault run: %s: %v", day, err), "seal failed", "day", day.String(), "err", err)
		if errors.Is(err, archiver.ErrUnreadEntries) {
			const hint = "every entry of a partition must be read: deliver events as *.jsonl or *.jsonl.gz files, or list side files in export.ignoreFiles (CHATVAULT_EXPORT_IGNOREFILES) to record them instead"
			e.note(slog.LevelError, "chatvault run: "+hint, hint, "day", day.String())
		}
		t.failed = true
		return
	}
	printSummary(e.stdout, res)
	e.log.LogAttrs(context.Background(), slog.LevelInfo, "run summary", summaryAttrs(res)...)
	if len(res.Failed()) > 0 {
		t.failed = true
	}
	// Only a run that recorded the day (a new revision, or the day's accounting object that
	// a run killed after its manifests did not write) reports its quarantine with exit 3: a
	// rerun that finds everything unchanged and accounted for re-reads the same bad records,
	// which the run that stored them already reported.
	recorded := res.Accounting != "" || slices.ContainsFunc(res.Orgs, func(o archiver.OrgResult) bool { return o.Outcome == archiver.OutcomeCommitted })
	if res.Input.Quarantined > 0 && recorded {
		t.quarantined = true
	}
}

func (t *runTally) code() int {
	switch {
	case t.failed:
		return exitFailure
	case t.quarantined:
		return t.quarantineCode
	}
	return exitOK
}

// limitHeap makes the Go heap's share of export.sortMemory the runtime's soft memory
// limit (plus the S3 upload buffers, which live on the heap), so that the process as a
// whole keeps to the budget: without it the collector lets garbage grow to twice the live
// heap. An operator's GOMEMLIMIT takes precedence.
//
// It returns what sets the limit from then on to the budget less the bytes the sort's
// arenas hold outside the heap (archiver.HeapLimit; nil under GOMEMLIMIT): `run` hands it
// to its Sealers (Options.OnSortMemory), so that the heap gets what the arenas leave, and
// nearly all of the budget once they are unmapped for the merge (serve too, adding the
// HTTP server's verify-first memory).
func limitHeap(e *env) func(arenas int64) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return nil
	}
	budget := e.cfg.Export.SortMemory
	_, heap := archiver.SplitMemory(budget)
	var extra int64
	if strings.HasPrefix(e.cfg.Store, "s3://") {
		extra = e.cfg.S3.PartSize * s3.DefaultConcurrency
	}
	debug.SetMemoryLimit(heap + extra)
	return func(arenas int64) { debug.SetMemoryLimit(archiver.HeapLimit(budget, arenas) + extra) }
}

func sealerOptions(e *env, key []byte, p *archiver.Progress) archiver.Options {
	return archiver.Options{
		ExcludeContentTypes: e.cfg.Export.ExcludeContentTypes,
		SortMemory:          e.cfg.Export.SortMemory,
		TempDir:             e.cfg.Export.TempDir,
		Workers:             e.cfg.Export.Workers,
		Grace:               e.cfg.Schedule.Grace,
		SigningKey:          key,
		Generator:           "chatvault " + version,
		Logger:              e.log,
		Progress:            p,
		Layout:              e.cfg.StoreLayout,
	}
}

// printSummary writes the run's summary: every line read is accounted for.
func printSummary(w io.Writer, r *archiver.DayResult) {
	in := r.Input
	fmt.Fprintf(w, "sealed %s in %s: %d events read, %d exported, %d excluded, %d duplicates, %d quarantined\n",
		r.Day, r.Duration.Round(time.Millisecond), in.Read, in.Exported, sum(in.Excluded), in.Duplicates, in.Quarantined)
	if rate := float64(in.Read) / r.Duration.Seconds(); r.Duration > 0 {
		fmt.Fprintf(w, "  %.0f events/s; read and sort %s, merge and write %s; sort spilled %s in %d runs\n", rate,
			r.ReadDuration.Round(time.Millisecond), (r.Duration - r.ReadDuration).Round(time.Millisecond),
			config.FormatSize(r.SpilledBytes), r.Runs)
	}
	for _, reason := range sortedKeys(in.Excluded) {
		fmt.Fprintf(w, "  excluded %-28s %d\n", reason, in.Excluded[reason])
	}
	for _, reason := range sortedKeys(r.QuarantineByWhy) {
		fmt.Fprintf(w, "  quarantined %-25s %d\n", reason, r.QuarantineByWhy[reason])
	}
	if r.Quarantine != nil {
		fmt.Fprintf(w, "  quarantine object %s\n", r.Quarantine.Key)
	}
	for _, o := range r.Orgs {
		// The lines each organization is shown (GET /v1/exports/{date}/quarantine).
		if q := o.Quarantined; q != nil && o.Err == nil {
			fmt.Fprintf(w, "  %d quarantined lines attributed to %s (%s): %s\n", q.Records, o.Org, o.Name, q.Key)
		}
	}
	for _, f := range r.Ignored {
		fmt.Fprintf(w, "  ignored %s (export.ignoreFiles): %s, sha256 %s, recorded in the manifests\n", f.Name, config.FormatSize(f.Size), f.SHA256)
	}
	if r.Accounting != "" {
		fmt.Fprintf(w, "  accounting object %s\n", r.Accounting)
	}
	if r.Shard.Sharded() {
		fmt.Fprintf(w, "  shard %s: the counts above are of the lines this shard owns; %d lines of other shards skipped undecoded\n", r.Shard, r.Skipped)
	}
	if sk := r.ClockSkew; sk.Total() > 0 {
		fmt.Fprintf(w, "  clock skew: %d exported events outside the day (%d before, %d after; eventTimestamp %s to %s), flagged in the manifests\n",
			sk.Total(), sk.Before, sk.After, time.UnixMilli(sk.Earliest).UTC().Format(time.RFC3339Nano), time.UnixMilli(sk.Latest).UTC().Format(time.RFC3339Nano))
	}
	bytes := printOrgTable(w, r.Orgs) // orgtable.go
	printSupersessions(w, r)
	fmt.Fprintf(w, "  %d organizations, %s stored\n", len(r.Orgs), config.FormatSize(bytes))
}

func sum(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// startCPUProfile profiles into path; stop ends it and returns the first error writing it
// (pprof drops its writer's errors).
func startCPUProfile(path string) (stop func() error, err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	w := &outputWriter{w: f}
	if err := pprof.StartCPUProfile(w); err != nil {
		f.Close()
		return nil, err
	}
	return func() error {
		pprof.StopCPUProfile()
		err := w.err
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		return nil
	}, nil
}
