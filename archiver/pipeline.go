package archiver

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strconv"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/chatvault/chatvault/config"
	"github.com/chatvault/chatvault/internal/crashpoint"
	"github.com/chatvault/chatvault/internal/panics"
	"github.com/chatvault/chatvault/model"
	"golang.org/x/sync/errgroup"
)

// Exclusion reasons, as counted in manifests and summaries. Content types excluded by
// configuration count as ReasonContentType + the type, for example "content_type:wave".
const (
	ReasonContentType = "content_type:"
	ReasonNotEntitled = "not_entitled"
)

// ErrNoPartition means the day's partition does not exist: the producer has not
// delivered it. The day stays pending; this is an alert, not a quiet day.
var ErrNoPartition = errors.New("partition does not exist")

// ErrNotClosed means the day's partition is still open: no _CLOSED marker and the grace
// period after the day's end has not passed.
var ErrNotClosed = errors.New("partition not closed yet")

// ErrDayNotEnded means the day asked for has not ended yet. Its partition cannot be
// complete, whatever its _CLOSED marker says (a producer bug, a clock ahead, a test
// partition left behind), and a day is sealed once: sealing it early would commit a day
// that then misses its last events, or force a revision for them. The error also matches
// ErrNotClosed, so that the scheduler keeps such a day pending rather than failed.
var ErrDayNotEnded = errors.New("day has not ended")

// dayNotEndedError is the error of CheckDayEnded.
type dayNotEndedError struct {
	day Day
	now time.Time
}

func (e *dayNotEndedError) Error() string {
	return fmt.Sprintf("%s: %v: it ends at %s and it is now %s; a day is sealed only once it is over, whatever its partition's _CLOSED marker says",
		e.day, ErrDayNotEnded, e.day.End().UTC().Format(time.RFC3339), e.now.UTC().Format(time.RFC3339))
}

func (e *dayNotEndedError) Is(target error) bool {
	return target == ErrDayNotEnded || target == ErrNotClosed
}

// CheckDayEnded returns an error matching ErrDayNotEnded (and ErrNotClosed) when day has
// not ended at now.
func CheckDayEnded(day Day, now time.Time) error {
	if now.Before(day.End()) {
		return &dayNotEndedError{day: day, now: now}
	}
	return nil
}

// Options tune a Sealer. The zero value works: defaults are those of the configuration.
type Options struct {
	// ExcludeContentTypes are non-message content types excluded by rule; any other
	// unknown content type is quarantined.
	ExcludeContentTypes []string
	// SortMemory is a run's memory budget in bytes (default 256 MiB), split by
	// SplitMemory: most of it for the external sort's arenas, the rest for the Go heap.
	SortMemory int64
	// TempDir receives sort runs and staged exports (default os.TempDir()), in a folder of
	// the run's own, which the next run removes if this one is killed before it can.
	TempDir string
	// Workers is the number of decoding and writing goroutines (default GOMAXPROCS), at
	// most MaxWorkers.
	Workers int
	// Grace is how long after a day's end a partition without _CLOSED counts as closed.
	Grace time.Duration
	// SigningKey, when set, signs every manifest.
	SigningKey ed25519.PrivateKey
	// Generator is recorded in manifests (default "chatvault").
	Generator string
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger receives progress and warnings (default slog.Default()).
	Logger *slog.Logger
	// Progress, when set, is updated as the run goes.
	Progress *Progress
	// Supersede, when set, lets one organization's new revision drop records of the
	// revision it follows (see revision.go); without it such a revision fails.
	Supersede *Supersede
	// Shard, when set, seals only the organizations of one shard of the day (shard.go).
	Shard Shard
	// Layout is the store layout the seal commits in: Layout3 (writer3.go,
	// docs/design/layout.md), the default (0); Layout2 for a store that must stay in
	// layout 2 (config store.layout; a store that has layout.json refuses it).
	Layout int
	// OnSortMemory, when set, is called with the bytes the external sort's arenas hold
	// outside the Go heap whenever that changes: when they are mapped, and 0 once they
	// are unmapped before the merge. The Go runtime's soft memory limit cannot see them;
	// cmd/chatvault sets it to the budget less them (HeapLimit).
	OnSortMemory func(arenas int64)
	// OrgDone, when set, is called with each organization's whole result once the day is
	// settled, in the directory's order, before Seal returns; DayResult.Orgs keeps only
	// its summary (see OrgResult.Summary).
	OrgDone func(OrgResult)
}

// MaxWorkers bounds Options.Workers (config.MaxWorkers says why).
const MaxWorkers = config.MaxWorkers

func (o *Options) defaults() {
	if o.ExcludeContentTypes == nil {
		o.ExcludeContentTypes = []string{"wave", "roomInvitation"}
	}
	if o.SortMemory <= 0 {
		o.SortMemory = 256 << 20
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	o.Workers = min(o.Workers, MaxWorkers)
	if o.Generator == "" {
		o.Generator = "chatvault"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Progress == nil {
		o.Progress = new(Progress)
	}
	if o.Layout == 0 {
		o.Layout = Layout3
	}
}

// SplitMemory divides a run's memory budget (export.sortMemory) between the external
// sort's arenas, which live outside the Go heap, and the Go heap, which holds everything
// else: lines being decoded, merge and compression buffers, the directory's index.
//
// The heap's share is a quarter, less 16 MiB for the runtime and the program itself, and
// never under 16 MiB; the process enforces it as the Go runtime's soft memory limit (see
// cmd/chatvault). Measured on a 1M-event day, the heap needs about 40 MiB at the peak of
// the merge, so 256 MiB gives 192 MiB of arenas and a 48 MiB heap, and the whole process
// stays within the budget.
func SplitMemory(budget int64) (arenas, heap int64) {
	arenas = budget / 4 * 3
	heap = max(budget/4-16<<20, 16<<20)
	return arenas, heap
}

// Progress is a run's progress, safe to read from another goroutine while it runs.
type Progress struct {
	Phase   atomic.Value // string: "reading", "writing", "done"
	Read    atomic.Int64 // lines read
	Routed  atomic.Int64 // records bound for an organization (known once reading is done)
	Written atomic.Int64 // records merged and written
}

// Sealer seals days of a Source into a Store.
type Sealer struct {
	Source Source
	Store  Store
	// Chain reads the chains of Store that the seal appends to: package ledger's Ledger
	// over Store (ledger.Ledger{Store: store}). Required.
	Chain Chain
	Options
}

// Chain is what sealing reads of the chains it appends to: each organization's head, the
// day's latest revision, the day-level accounting, the holds and key rotations a commit
// must follow. Package ledger implements it; the interface lives here, where it is used,
// so that the ledger depends on this package's types and not the other way round.
type Chain interface {
	Head(ctx context.Context, org string) (*StoredManifest, error)
	// HeadTip is Head with the last manifest key under the organization's days in
	// layout 3 ("" when none), which a commit must follow.
	HeadTip(ctx context.Context, org string) (*StoredManifest, string, error)
	ReadManifest(ctx context.Context, key string) (*StoredManifest, error)
	LatestKey(ctx context.Context, org string, day Day) (string, error)
	ManifestAt(ctx context.Context, org string, day Day, rev int) (*StoredManifest, error)
	StoreLayout(ctx context.Context) (*StoreLayout, error)
	Accountings(ctx context.Context, day Day, fn func(*StoredAccounting) error) error
	HoldEvents(ctx context.Context, org string) ([]HoldEvent, error)
	Holdings(ctx context.Context, org string, day Day) (DayHeld, error)
	RevisionEvents(ctx context.Context, org string, day Day) ([]string, error)
	RotationStatements(ctx context.Context, rep Findings) ([]*KeyRotation, error)
}

// DayResult is what sealing one day did.
type DayResult struct {
	Day   Day
	Input InputCounts
	// Orgs are the organizations' results, each its Summary: what the run's summary, the
	// metrics and the exit code need (Options.OrgDone streams the whole of each).
	Orgs            []OrgResult
	Quarantine      *ObjectRef
	QuarantineByWhy map[string]int64
	// Accounting is the key of the day-level accounting object this run wrote (empty
	// when the day's manifests were all unchanged and already accounted for).
	Accounting string
	// ClockSkew counts the day's exported records (each once, whatever the number of
	// organizations) whose eventTimestamp lies outside the day.
	ClockSkew       ClockSkew
	DirectorySHA256 string
	SpilledBytes    int64
	Runs            int
	// Shard is the run's shard (zero when unsharded); Skipped counts the lines it left
	// undecoded as other shards' (shard.go). Input then counts the lines the shard owns.
	Shard   Shard
	Skipped int64
	// Ignored are the partition's files that the Source's ignore patterns named: not read
	// as events, recorded with their size and SHA-256 in every manifest of the day.
	Ignored []IgnoredFile
	// Duration is the whole run; ReadDuration the part spent reading, decoding and
	// sorting runs, before the merge and the writes.
	Duration     time.Duration
	ReadDuration time.Duration
}

// Failed returns the organizations that could not be committed.
func (r *DayResult) Failed() []OrgResult {
	var out []OrgResult
	for _, o := range r.Orgs {
		if o.Err != nil {
			out = append(out, o)
		}
	}
	return out
}

// Outcome of one organization's day.
const (
	OutcomeCommitted = "committed" // a new revision was committed
	OutcomeUnchanged = "unchanged" // the latest revision already holds these records
	OutcomeFailed    = "failed"
)

// OrgResult is one organization's part of a DayResult.
type OrgResult struct {
	Org      string
	Name     string
	Outcome  string
	Revision int
	Seq      int64
	// Counts are the manifest's, but without its counts by type: ByEventType and
	// ByContentType are nil here, and Excluded nil when empty (the manifest has them all).
	// A day of 50,000 organizations would keep 150,000 small maps (orgtally.go).
	Counts OrgCounts
	// ClockSkew counts this organization's exported records outside the day.
	ClockSkew ClockSkew
	Data      DataObject
	// ChatIndex names the day's chat index (nil when the day was sealed before them).
	ChatIndex *ChatIndexRef
	// Supersedes is set when this commit superseded a revision it drops records of.
	Supersedes *Supersession
	// Quarantined is the organization's quarantine object: the day's quarantined lines
	// attributed to it (quarantine_org.go); nil when there are none.
	Quarantined *DataObject
	Err         error
}

// Ready returns the error Seal would return first when day cannot be sealed yet: it has
// not ended, or its partition is missing (ErrNoPartition) or not closed within the grace
// (ErrNotClosed); nil when sealing may go ahead (and may still fail). It only looks at
// the partition's listing and writes nothing: the scheduler asks before it takes its
// store lease, so that a retry that finds the day still open adds no lease link.
func (s *Sealer) Ready(ctx context.Context, day Day) error {
	s.Options.defaults()
	_, err := s.partition(ctx, day, s.Now())
	return err
}

// partition returns the day's partition if the day can be sealed at now.
func (s *Sealer) partition(ctx context.Context, day Day, now time.Time) (Partition, error) {
	if err := CheckDayEnded(day, now); err != nil {
		return Partition{}, fmt.Errorf("seal %w", err)
	}
	part, err := s.Source.Stat(ctx, day)
	if err != nil {
		return Partition{}, fmt.Errorf("seal %s: %w", day, err)
	}
	if !part.Exists {
		return Partition{}, fmt.Errorf("seal %s: %w", day, ErrNoPartition)
	}
	graceEnd := day.End().Add(s.Grace)
	if !part.Closed && now.Before(graceEnd) {
		return Partition{}, fmt.Errorf("seal %s: %w (no _CLOSED marker, grace ends %s)", day, ErrNotClosed,
			graceEnd.UTC().Format(time.RFC3339))
	}
	if !part.Closed && !part.Clock.IsZero() && part.Clock.Before(graceEnd) {
		// The grace is the producer's time to deliver late events, so it is counted on the
		// event log's clock too: this host's may run ahead of it (with a folder store there
		// is no other clock to check it against). On a quiet night the day waits for the
		// producer's next write, or its marker; the ChatvaultDayNotSealed alert says so.
		return Partition{}, fmt.Errorf("seal %s: %w (no _CLOSED marker; the grace ends %s, but the event log's newest write, in the partition or the next day's, is at %s: the producer's clock has not shown the grace's end yet)",
			day, ErrNotClosed, graceEnd.UTC().Format(time.RFC3339), part.Clock.UTC().Format(time.RFC3339))
	}
	return part, nil
}

// Seal seals day: it reads the partition, routes, sorts and writes every archiving
// organization's export and manifest. With only non-empty, only that organization is
// committed (the day is still read whole, so counts are the same as a full run).
//
// Seal returns an error when the day cannot be sealed at all (partition missing or open,
// unreadable input, directory invalid). One organization's failure does not stop the
// others: it is reported in its OrgResult and recorded in the store as a failed attempt.
func (s *Sealer) Seal(ctx context.Context, day Day, directory []byte, only string) (*DayResult, error) {
	// Checked once the partition is known to be ready, as before: a day that is not
	// ready reports that, whatever the snapshot.
	res, err := s.seal(ctx, day, func() (*Directory, error) { return ParseDirectory(directory) }, only)
	logPanic(s.Logger, err, "day", day.String())
	return res, err
}

// SealDirectory is Seal with the directory snapshot already loaded (LoadDirectory), so
// that a run sealing several days decodes it once and does not keep its bytes.
func (s *Sealer) SealDirectory(ctx context.Context, day Day, directory *Directory, only string) (*DayResult, error) {
	res, err := s.seal(ctx, day, func() (*Directory, error) { return directory, nil }, only)
	logPanic(s.Logger, err, "day", day.String())
	return res, err
}

// logPanic logs the stack of a panic (a bug) recovered on one of the seal's goroutines
// (panics.Recover), when err carries one: the error itself says only what it panicked with.
func logPanic(log *slog.Logger, err error, attrs ...any) {
	var p *panics.Error
	if errors.As(err, &p) {
		log.Error("a bug in chatvault: a panic on one of the seal's goroutines, which failed", append(attrs, "err", p.Error(), "stack", string(p.Stack))...)
	}
}

func (s *Sealer) seal(ctx context.Context, day Day, directory func() (*Directory, error), only string) (*DayResult, error) {
	if s.Chain == nil {
		return nil, errors.New("seal: the Sealer has no Chain to read the store's chains (ledger.Ledger{Store: store})")
	}
	s.Options.defaults()
	start := s.Now()
	log := s.Logger.With("day", day.String())

	part, err := s.partition(ctx, day, start)
	if err != nil {
		return nil, err
	}
	if len(part.Unread) > 0 {
		// Checked before anything is read: the day cannot be sealed without those entries,
		// and the operator should see all of them at once.
		return nil, fmt.Errorf("seal %s: %w", day, &UnreadError{Entries: part.Unread})
	}
	dir, err := directory()
	if err != nil {
		return nil, err
	}
	rt, err := newRouter(dir.Directory, day)
	if err != nil {
		return nil, err
	}
	if s.Shard.Sharded() && only != "" {
		return nil, fmt.Errorf("seal %s: a shard seals its organizations, not one organization", day)
	}
	rt.setShard(s.Shard) // shard.go
	if only != "" && !slices.ContainsFunc(rt.orgs, func(o model.Organization) bool { return o.ID == only }) {
		return nil, fmt.Errorf("seal %s: organization %q is not archiving on that day", day, only)
	}
	res := &DayResult{Day: day, DirectorySHA256: dir.SHA256, Shard: s.Shard}

	work, release, err := newWorkDir(s.TempDir, log)
	if err != nil {
		return nil, err
	}
	defer release()
	sorters, counts, ignored, err := s.read(ctx, day, part, rt, work)
	defer func() {
		for _, so := range sorters {
			so.release()
		}
		s.reportSortMemory()
	}()
	if err != nil {
		return nil, err
	}
	// The Source checks that the partition did not change while it scanned, from its own
	// listing; an entry that went away between Stat and that listing would be missed
	// without a word. Listing again now closes the gap: what was read is the partition
	// Stat saw.
	if err := s.samePartition(ctx, day, part); err != nil {
		return nil, err
	}
	res.Ignored = ignored
	res.Skipped = counts.skipped
	res.Input = counts.input()
	res.QuarantineByWhy = counts.quarantined
	res.ReadDuration = s.Now().Sub(start)
	// The merge reads the spilled runs and the records the budget lets the sorters keep;
	// the others' arenas go back before it (memory.go).
	if err := releaseArenas(sorters, s.mergeRoom(len(rt.orgs))); err != nil {
		return nil, err
	}
	for _, so := range sorters {
		res.SpilledBytes += so.spilled()
		res.Runs += so.runs()
	}
	log.Debug("partition read", "lines", res.Input.Read, "runs", res.Runs, "spilled", res.SpilledBytes)
	s.reportSortMemory()
	w := &writer{s: s, day: day, rt: rt, only: only, res: res, counts: counts, log: log, work: work, start: start}
	if err := w.run(ctx, sorters); err != nil {
		return nil, err
	}
	res.Input = counts.input()
	if !res.Input.Balanced() {
		// Cannot happen unless the pipeline itself is wrong; refuse to pretend otherwise.
		return res, fmt.Errorf("seal %s: accounting does not balance: %+v", day, res.Input)
	}
	res.Duration = s.Now().Sub(start)
	s.Progress.Phase.Store("done")
	return res, nil
}

// samePartition lists day's partition again and fails when its entries differ from was.
func (s *Sealer) samePartition(ctx context.Context, day Day, was Partition) error {
	now, err := s.Source.Stat(ctx, day)
	if err != nil {
		return fmt.Errorf("seal %s: list partition after reading: %w", day, err)
	}
	if len(now.Unread) > 0 {
		return fmt.Errorf("seal %s: partition changed during the run: %w", day, &UnreadError{Entries: now.Unread})
	}
	if !slices.Equal(now.Files, was.Files) || !slices.Equal(now.Ignored, was.Ignored) {
		return fmt.Errorf("seal %s: partition changed during the run: its files were %q, ignored %q; now %q, ignored %q",
			day, was.Files, was.Ignored, now.Files, now.Ignored)
	}
	return nil
}

// dayCounts accumulates a day's counts across workers; each worker has its own and they
// are summed, so the hot path takes no locks.
type dayCounts struct {
	read    int64
	skipped int64 // other shards' lines, not decoded (shard.go)
	// lines counts every line of the partition, every shard's: a sharded run's accounting
	// object records it (Accounting.PartitionLines).
	lines int64
	// partitionDigest is the hash of every line of the partition (partitionDigest), for
	// a sharded run's accounting object (Accounting.PartitionDigest): set on the day's
	// total by read, never by a worker.
	partitionDigest string
	exported        int64
	duplicates      int64
	excluded        map[string]int64
	quarantined     map[string]int64
	// orgExcluded[org][reason]
	orgExcluded map[int32]map[string]int64
}

func newDayCounts() *dayCounts {
	return &dayCounts{
		excluded:    map[string]int64{},
		quarantined: map[string]int64{},
		orgExcluded: map[int32]map[string]int64{},
	}
}

func (c *dayCounts) add(o *dayCounts) {
	c.read += o.read
	c.skipped += o.skipped
	c.lines += o.lines
	c.exported += o.exported
	c.duplicates += o.duplicates
	for k, v := range o.excluded {
		c.excluded[k] += v
	}
	for k, v := range o.quarantined {
		c.quarantined[k] += v
	}
	for org, m := range o.orgExcluded {
		if c.orgExcluded[org] == nil {
			c.orgExcluded[org] = map[string]int64{}
		}
		for k, v := range m {
			c.orgExcluded[org][k] += v
		}
	}
}

func (c *dayCounts) input() InputCounts {
	in := InputCounts{Read: c.read, Exported: c.exported, Duplicates: c.duplicates, Excluded: map[string]int64{}}
	for k, v := range c.excluded {
		in.Excluded[k] = v
	}
	for _, v := range c.quarantined {
		in.Quarantined += v
	}
	return in
}

// batch is a slice of lines handed from the reader to a worker.
type batch struct {
	arena []byte
	lines []batchLine
	errs  []error // the lines' read errors (batchLine.errAt), rare
}

// batchLine is one line of a batch. It holds no pointer and takes 32 bytes: a reader fills
// it in memory a worker on the other core read last, and each cache line it writes must
// first come back from that core (the line's read error, as an interface, made it 48 bytes
// and a third of the reader's time).
type batchLine struct {
	file   int32
	errAt  int32 // 1 + the index of the line's read error in batch.errs; 0 for none
	number int64
	off    int
	n      int
}

// add appends a line read from file fi.
func (b *batch) add(fi int32, l Line) {
	off := len(b.arena)
	b.arena = append(b.arena, l.Bytes...)
	var errAt int32
	if l.Err != nil {
		b.errs = append(b.errs, l.Err)
		errAt = int32(len(b.errs))
	}
	b.lines = append(b.lines, batchLine{file: fi, errAt: errAt, number: l.Number, off: off, n: len(l.Bytes)})
}

// reset empties the batch for reuse.
func (b *batch) reset() {
	b.arena, b.lines = b.arena[:0], b.lines[:0]
	clear(b.errs)
	b.errs = b.errs[:0]
}

// lineErr is the read error of the batch's line bl, nil for none.
func (b *batch) lineErr(bl *batchLine) error {
	if bl.errAt == 0 {
		return nil
	}
	return b.errs[bl.errAt-1]
}

const batchBytes = 256 << 10

// maxReaders is how many goroutines read the partition at once when the Source can
// (ConcurrentSource): two let a gzipped file inflate, on one core, while the other core
// decodes another file's lines, which is what a 2-core machine needs. Each costs the
// Source a line buffer and an inflater.
const maxReaders = 2

// reading is one partition reader's state: the batch it fills and the file it is in.
type reading struct {
	b        *batch
	lastFile string
	fi       int32
}

// read scans the partition and decodes, routes and sorts it with s.Workers workers,
// spilling sorted runs to the folder workDir.
func (s *Sealer) read(ctx context.Context, day Day, part Partition, rt *router, workDir string) ([]*sorter, *dayCounts, []IgnoredFile, error) {
	s.Progress.Phase.Store("reading")
	fileIndex := make(map[string]int32, len(part.Files))
	for i, f := range part.Files {
		fileIndex[f] = int32(i)
	}
	excluded := make(map[string]bool, len(s.ExcludeContentTypes))
	for _, t := range s.ExcludeContentTypes {
		excluded[t] = true
	}
	sorters := make([]*sorter, s.Workers)
	budget := int(s.sortArenas()) / s.Workers // memory.go
	for i := range sorters {
		so, err := newSorter(budget, workDir)
		if err != nil {
			return sorters[:i], nil, nil, err
		}
		sorters[i] = so
	}
	s.reportSortMemory()
	g, gctx := errgroup.WithContext(ctx)
	work := make(chan *batch, s.Workers*2)
	free := make(chan *batch, s.Workers*3)
	for range s.Workers * 3 {
		free <- &batch{arena: make([]byte, 0, batchBytes)}
	}
	var ignored []IgnoredFile
	// Each reader of the partition fills its own batch (reading); the folder event log has
	// two (readers), so that a gzipped file inflates while another file is read.
	readers := 1
	cs, concurrent := s.Source.(ConcurrentSource)
	if concurrent {
		readers = min(s.Workers, maxReaders)
	}
	states := make([]reading, readers)
	digest := newPartitionDigest(s.Shard, len(part.Files)) // shard.go: nil when unsharded
	// A panic (a bug) on the reader or a worker is its error, as in every goroutine of the
	// seal (panics.Recover): the others stop, the seal fails and cleans up.
	g.Go(func() (err error) {
		defer close(work)
		defer panics.Recover(&err)
		// send hands a batch to the workers and takes a free one for the reader.
		send := func(st *reading) error {
			select {
			case work <- st.b:
			case <-gctx.Done():
				return gctx.Err()
			}
			st.b = nil
			return nil
		}
		line := func(st *reading, l Line) error {
			crashpoint.Hit("read.line")
			if st.b == nil {
				select {
				case st.b = <-free:
				case <-gctx.Done():
					// A worker failed and will not hand its batch back.
					return gctx.Err()
				}
				st.b.reset()
			}
			if l.File != st.lastFile {
				var ok bool
				if st.fi, ok = fileIndex[l.File]; !ok {
					// A file that appeared after Stat: refuse rather than read a moving target.
					return fmt.Errorf("scan %s: file %s appeared during the run", day, l.File)
				}
				st.lastFile = l.File
			}
			if digest != nil {
				digest.line(st.fi, l)
			}
			b := st.b
			if len(b.arena)+len(l.Bytes) > batchBytes && len(b.lines) > 0 {
				if err := send(st); err != nil {
					return err
				}
				select {
				case st.b = <-free:
				case <-gctx.Done():
					return gctx.Err()
				}
				b = st.b
				b.reset()
			}
			b.add(st.fi, l)
			return nil
		}
		if concurrent && readers > 1 {
			ignored, err = cs.ScanConcurrent(gctx, day, readers, func(r int, l Line) error { return line(&states[r], l) })
		} else {
			ignored, err = s.Source.Scan(gctx, day, func(l Line) error { return line(&states[0], l) })
		}
		if err != nil {
			return err
		}
		// The ignored files must be those Stat listed: one that appeared or went away
		// since is a partition that changed during the run.
		var names []string
		for _, f := range ignored {
			names = append(names, f.Name)
		}
		if !slices.Equal(names, part.Ignored) {
			return fmt.Errorf("scan %s: ignored files were %q before the run, %q when read", day, part.Ignored, names)
		}
		for i := range states {
			if st := &states[i]; st.b != nil && len(st.b.lines) > 0 {
				if err := send(st); err != nil {
					return err
				}
			}
		}
		return nil
	})
	counts := make([]*dayCounts, s.Workers)
	for i := range s.Workers {
		counts[i] = newDayCounts()
		dw := decodeWorker{sorter: sorters[i], counts: counts[i], rt: rt, excluded: excluded, files: part.Files, progress: s.Progress,
			shard: newShardFilter(s.Shard, rt, part.Files), own: true}
		g.Go(func() (err error) {
			defer panics.Recover(&err)
			for b := range work {
				if err := gctx.Err(); err != nil {
					return err // another goroutine failed: stop early
				}
				if err := dw.batch(b); err != nil {
					return err
				}
				if cap(b.arena) > 4*batchBytes {
					// A line of many MiB grew this batch; do not keep that much for
					// the rest of the run in every batch it happens to.
					b.arena = make([]byte, 0, batchBytes)
				}
				free <- b
			}
			// Sort the last, in-memory run here, in parallel, rather than in the merge.
			dw.sorter.sort()
			return nil
		})
	}
	err := g.Wait()
	total := newDayCounts()
	for _, c := range counts {
		total.add(c)
	}
	if digest != nil && err == nil {
		total.partitionDigest = digest.sum(part.Files)
	}
	return sorters, total, ignored, err
}

type decodeWorker struct {
	sorter   *sorter
	counts   *dayCounts
	rt       *router
	excluded map[string]bool
	files    []string
	progress *Progress
	orgs     []int32
	line     []byte
	// dec reuses one buffer for every line's strings: ev is done with before the next
	// line (the sorter copies what it keeps). A canonical line's strings alias the
	// batch, which stays put until the worker is done with it.
	dec model.Decoder
	// shard, when the run is one shard of several, skips the lines of other shards; own
	// says whether the line at hand counts in this shard's day-level accounting (shard.go).
	shard *shardFilter
	own   bool
	// reencoded counts the lines that were not canonical as read and had to be encoded
	// again (TestCanonicalLinesAreCopied).
	reencoded int64
}

func (w *decodeWorker) batch(b *batch) error {
	for i := range b.lines {
		bl := &b.lines[i]
		if err := w.one(bl, b.arena[bl.off:bl.off+bl.n], b.lineErr(bl)); err != nil {
			return err
		}
	}
	w.progress.Read.Add(int64(len(b.lines)))
	w.counts.lines += int64(len(b.lines))
	return nil
}

func (w *decodeWorker) one(bl *batchLine, raw []byte, readErr error) error {
	if w.shard != nil {
		var need bool
		if w.own, need = w.shard.claim(bl, raw); !need {
			w.counts.skipped++
			return nil // another shard's line
		}
	}
	if w.own {
		w.counts.read++
	}
	if readErr != nil {
		var tl *LineTooLongError
		if errors.As(readErr, &tl) {
			return w.quarantineTooLong(bl, raw, tl)
		}
		return w.quarantine(bl, raw, "unreadable_line", readErr.Error())
	}
	ev, canonical, err := w.dec.DecodeCanonical(raw)
	if err != nil {
		var de *model.DecodeError
		if !errors.As(err, &de) {
			return w.quarantine(bl, raw, "invalid_value", err.Error())
		}
		if de.Field == "contentType" && errors.Is(err, model.ErrUnknownVariant) && w.excluded[ev.ContentType] {
			reason := ReasonContentType + ev.ContentType
			if w.own {
				w.counts.excluded[reason]++
			}
			w.orgs = w.rt.route(w.orgs[:0], &ev)
			if err := w.sameRoute(bl); err != nil {
				return err
			}
			for _, o := range w.orgs {
				if !w.rt.mine(o) {
					continue
				}
				m := w.counts.orgExcluded[o]
				if m == nil {
					m = map[string]int64{}
					w.counts.orgExcluded[o] = m
				}
				m[reason]++
			}
			return nil
		}
		return w.quarantine(bl, raw, de.Reason(), err.Error())
	}
	w.orgs = w.rt.route(w.orgs[:0], &ev)
	if err := w.sameRoute(bl); err != nil {
		return err
	}
	if len(w.orgs) == 0 {
		if w.own {
			w.counts.excluded[ReasonNotEntitled]++
		}
		return nil
	}
	// A line already canonical is kept as read (model.DecodeCanonical); the others are
	// encoded again.
	line := raw
	if !canonical {
		w.line = model.AppendJSON(w.line[:0], &ev)
		line = w.line
		w.reencoded++
	}
	r := Record{Ts: ev.EventTimestamp, ID: stringBytes(ev.MessageID), Rank: model.EventTypeRank(ev.EventType), kind: kindOf(ev.ContentType), Line: line}
	for i, o := range w.orgs {
		if !w.rt.mine(o) {
			continue
		}
		r.org, r.primary = o, i == 0
		if err := w.sorter.add(&r); err != nil {
			return err
		}
	}
	return nil
}

// quarantine keeps a bad line with why it was refused and where it came from. The
// quarantine's sort key is (file, line), so the quarantine object is deterministic too.
func (w *decodeWorker) quarantine(bl *batchLine, raw []byte, reason, detail string) error {
	q := quarantineLine(nil, reason, detail, w.files[bl.file], bl.number, raw)
	r := Record{org: -1, Ts: int64(bl.file)<<40 | bl.number, Line: q}
	if w.own {
		w.counts.quarantined[reason]++
		if err := w.sorter.add(&r); err != nil {
			return err
		}
	}
	// A copy for each organization the line can still be attributed to (quarantine_org.go);
	// the day's object above keeps every line whatever happens here.
	w.orgs = w.rt.routeQuarantined(w.orgs[:0], raw)
	for _, o := range w.orgs {
		if !w.rt.mine(o) {
			continue
		}
		r.org = orgQuarantineID(o)
		if err := w.sorter.add(&r); err != nil {
			return err
		}
	}
	return nil
}

// quarantineTooLong keeps what is known of a line longer than the Source's limit: its
// head (cut back to a whole character, so that a UTF-8 line stays readable as "raw"), its
// size and the SHA-256 of the whole line, which the event log's copy can be checked against.
func (w *decodeWorker) quarantineTooLong(bl *batchLine, head []byte, tl *LineTooLongError) error {
	const reason = "line_too_long"
	if !w.own {
		return nil
	}
	w.counts.quarantined[reason]++
	if i := lastRuneStart(head); !utf8.FullRune(head[i:]) {
		head = head[:i]
	}
	q := quarantineLine(nil, reason, tl.Error(), w.files[bl.file], bl.number, head)
	q = append(q[:len(q)-1], `,"truncated":true,"size":`...)
	q = strconv.AppendInt(q, tl.Size, 10)
	q = append(q, `,"sha256":"`...)
	q = hex.AppendEncode(q, tl.SHA256[:])
	q = append(q, `"}`...)
	return w.sorter.add(&Record{org: -1, Ts: int64(bl.file)<<40 | bl.number, Line: q})
}

// lastRuneStart returns the index of the start of b's last (possibly partial) UTF-8
// sequence, or len(b) when b is empty.
func lastRuneStart(b []byte) int {
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			return i
		}
	}
	return len(b)
}

// quarantineLine encodes one quarantine record. The raw bytes are kept whole: as a JSON
// string when they are valid UTF-8, otherwise base64, so nothing is lost either way.
func quarantineLine(dst []byte, reason, detail, file string, number int64, raw []byte) []byte {
	dst = append(dst, `{"reason":`...)
	dst = strconv.AppendQuote(dst, reason)
	dst = append(dst, `,"error":`...)
	dst = model.AppendString(dst, detail)
	dst = append(dst, `,"file":`...)
	dst = model.AppendString(dst, file)
	dst = append(dst, `,"line":`...)
	dst = strconv.AppendInt(dst, number, 10)
	if utf8.Valid(raw) {
		dst = append(dst, `,"raw":`...)
		dst = model.AppendString(dst, string(raw))
	} else {
		dst = append(dst, `,"rawBase64":"`...)
		dst = base64.StdEncoding.AppendEncode(dst, raw)
		dst = append(dst, '"')
	}
	return append(dst, '}')
}
