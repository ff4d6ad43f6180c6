package archiver

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path"
	"sync"
	"time"

	"github.com/chatvault/chatvault/internal/crashpoint"
	"github.com/chatvault/chatvault/internal/panics"
	"github.com/chatvault/chatvault/model"
	"github.com/klauspost/compress/gzip"
)

// gzipLevel trades size for speed. Level 1 keeps compression off the critical path of a
// 2-core machine; the output is still deterministic for a given library version, and
// reruns compare the JSONL, not the gzip bytes.
const gzipLevel = gzip.BestSpeed

// Exports are compressed in 1 MiB blocks, several at once (blockGzip, in the format of
// klauspost/pgzip): the merge feeds one organization at a time, so without this a large
// organization's compression would run on one core while the others wait. The blocks form
// one ordinary gzip member (deflate blocks joined by sync flushes, each primed with the
// previous block's tail), so any gzip reader decodes it, and the same records always give
// the same bytes.
//
// Two blocks at once per compressor (one filled while the other is compressed) keep every
// core busy, as each of the seal's writers has its own; four kept twice the buffers, for
// the whole seal, and held the live heap at the runtime's soft limit, so the collector ran
// back to back (TestBlockGzipHoldsTwoBlocks). The bytes do not depend on it.
const (
	gzipBlock  = 1 << 20
	gzipBlocks = 2
)

// writer merges the sorted runs and turns each organization's records into a staged
// export, then commits them, several organizations at once.
type writer struct {
	// previous holds, by organization id, the revisions ([]AccountedManifest, oldest first)
	// a commit follows that no accounting object of the day names, for this run's to name
	// (accounting.go). Rare,
	// so kept here rather than in every organization's orgCommit.
	previous sync.Map
	s        *Sealer
	day      Day
	rt       *router
	only     string
	res      *DayResult
	counts   *dayCounts
	log      *slog.Logger
	work     string    // the run's folder for sort runs and staged exports
	start    time.Time // when the seal began: the directory snapshot was read before
	// stagers and batches are reused from one organization to the next (stager.go).
	stagers *stagerList
	batches chan []byte
	// storing bounds the organizations whose exports are being stored (stageOrg).
	storing chan struct{}
	// breaker stops the day's store requests once the store is found down (breaker.go).
	breaker storeBreaker
	// batch, when the store is a Batcher, takes the objects of the day that manifests
	// name until flushStaged makes them durable at once (writerbatch.go).
	batch Batch

	mu      sync.Mutex
	commits map[int32]*orgCommit
	// orgQuarantine holds each organization's staged quarantine object (quarantine_org.go),
	// complete before the merge reaches the first organization's records.
	orgQuarantine map[int32]*stagedObject

	accounted dayAccounting // dayhistory.go
	signed    signedChains  // signer.go
	retired   retiredKeys   // retiredkey.go
	marker    *StoreLayout  // the store's layout marker in layout 3 (writer3.go), nil in layout 2
}

// orgJob receives one organization's records, in order, from the merge.
type orgJob struct {
	org   int32
	lines chan []byte // batches of '\n'-terminated lines
	free  chan []byte // where they go back once written, for the next batch (writer.batches)
}

const jobBatch = 256 << 10

func (w *writer) run(ctx context.Context, sorters []*sorter) (err error) {
	s := w.s
	if err := w.prepareLayout(ctx); err != nil { // writer3.go
		return err
	}
	s.Progress.Phase.Store("writing")
	var routed int64
	for _, so := range sorters {
		routed += so.added
	}
	s.Progress.Routed.Store(routed)
	m, closeRuns, err := mergeSorters(sorters, w.work)
	if err != nil {
		return err
	}
	w.commits = make(map[int32]*orgCommit)

	// The quarantine sorts first (org -1); it is stored before any organization commits,
	// because every manifest of the day refers to it.
	var q *stagedObject
	defer func() {
		if q != nil {
			q.remove()
		}
	}()
	// The organizations' quarantined lines sort before the day's: each organization's
	// are staged, then parked (closed) until its export is staged, so that a day with many
	// such organizations holds no file open for each.
	w.orgQuarantine = make(map[int32]*stagedObject)
	var oq *stagedObject
	oqOrg := int32(-1)
	parkOQ := func() error {
		if oq == nil {
			return nil
		}
		st := oq
		oq = nil
		w.orgQuarantine[oqOrg] = st
		if err := st.finish(); err != nil {
			return err
		}
		return st.park()
	}
	defer func() {
		if oq != nil {
			oq.remove()
		}
		for _, st := range w.orgQuarantine {
			st.remove()
		}
	}()
	var wg sync.WaitGroup
	sem := make(chan struct{}, s.Workers)
	var job *orgJob
	var batchBuf []byte
	// prev is the organization's last exported line, to collapse an identical line that
	// follows it (the sort puts identical lines side by side). It is a slice of batchBuf,
	// not a copy (a copy of every line was a tenth of the merge): batchBuf is handed on
	// only when a line is appended, which then becomes prev. Identical lines have the same
	// timestamp, so the bytes are compared only when prevTS matches.
	var prev []byte
	var prevTS int64
	var prevOrg int32 = -2
	var oc *OrgCounts // the current organization's counts
	var win *Window   // and its window
	var skew *ClockSkew
	// Only the current organization's counts are kept here: the others' went with their
	// jobs, and a day of 50,000 organizations must not hold them twice.
	seen := make([]bool, len(w.rt.orgs))
	start, end := w.day.Start().UnixMilli(), w.day.End().UnixMilli()

	// One set of batch buffers for every organization, handed back by stageOrg.
	w.stagers = newStagerList(s.Workers + 2)
	w.storing = make(chan struct{}, storeSlots*s.Workers)
	if b, ok := s.Store.(Batcher); ok {
		w.batch = b.NewBatch()
		// A seal that fails before its flush leaves none of its objects' temporary files.
		defer func() {
			if aerr := w.batch.Abort(); aerr != nil {
				err = errors.Join(err, aerr)
			}
		}()
	}
	w.batches = make(chan []byte, 3*s.Workers)
	for range cap(w.batches) {
		w.batches <- make([]byte, 0, jobBatch)
	}
	startJob := func(org int32, c *OrgCounts, win *Window, skew *ClockSkew) {
		sem <- struct{}{}
		job = &orgJob{org: org, lines: make(chan []byte, 2), free: w.batches}
		batchBuf = (<-job.free)[:0]
		wg.Add(1)
		j := job
		go func() {
			defer wg.Done()
			// c, win and skew are updated by the merge until j.lines is closed, which
			// stageOrg waits for before reading them.
			w.stageOrg(ctx, j, c, win, skew, sync.OnceFunc(func() { <-sem }))
		}()
	}
	endJob := func() {
		if job == nil {
			return
		}
		if len(batchBuf) > 0 {
			job.lines <- batchBuf
		} else {
			job.free <- batchBuf
		}
		batchBuf = nil
		close(job.lines)
		job = nil
	}

	err = m.each(func(r *Record) error {
		crashpoint.Hit("merge.record")
		if o, ok := quarantinedOrg(r.org); ok {
			if oq == nil || oqOrg != o {
				if err := parkOQ(); err != nil {
					return err
				}
				if oq, err = newStagedObject(w.work, w.stagers); err != nil {
					return err
				}
				oqOrg = o
			}
			oq.records++
			return oq.writeLine(r.Line)
		}
		if err := parkOQ(); err != nil {
			return err
		}
		if r.org == -1 {
			if q == nil {
				if q, err = newStagedObject(w.work, w.stagers); err != nil {
					return err
				}
			}
			q.records++
			return q.writeLine(r.Line)
		}
		if r.org != prevOrg {
			// A stopped seal (SIGTERM) ends here rather than merge on with every
			// organization failing: its batch is aborted on the way out.
			if err := ctx.Err(); err != nil {
				return err
			}
			if q != nil && !q.committed {
				if err := w.storeQuarantine(ctx, q); err != nil {
					return err
				}
			}
			endJob()
			prevOrg, prev = r.org, nil
			seen[r.org] = true
			oc = newOrgCounts(w.counts.orgExcluded[r.org])
			win = &Window{Start: start, End: end, FirstEvent: r.Ts}
			skew = new(ClockSkew)
			startJob(r.org, oc, win, skew)
		}
		s.Progress.Written.Add(1)
		if prev != nil && r.Ts == prevTS && bytes.Equal(prev, r.Line) {
			oc.Duplicates++
			if r.primary {
				w.counts.duplicates++
			}
			return nil
		}
		oc.Exported++
		oc.ByEventType[eventTypes[r.Rank]]++
		oc.ByContentType[contentTypes[r.kind]]++
		win.LastEvent = r.Ts
		skew.Add(r.Ts, start, end)
		if r.primary {
			w.counts.exported++
			w.res.ClockSkew.Add(r.Ts, start, end)
		}
		if len(batchBuf)+len(r.Line)+1 > jobBatch && len(batchBuf) > 0 {
			job.lines <- batchBuf
			batchBuf = (<-job.free)[:0]
		}
		at := len(batchBuf)
		batchBuf = append(batchBuf, r.Line...)
		prev, prevTS = batchBuf[at:], r.Ts
		batchBuf = append(batchBuf, '\n')
		return nil
	})
	// The runs are removed once the merge has read them, while the last organizations are
	// compressed: dropping a run's pages took 3 ms a run on disk, one after the other
	// after the commits (15 ms for the five runs of a 1M-event day).
	removed := make(chan struct{})
	var removeErr error
	go func() {
		defer close(removed)
		defer panics.Recover(&removeErr)
		closeRuns() // a run left behind goes with the run's folder (newWorkDir)
	}()
	defer func() { <-removed }()
	if err == nil {
		err = parkOQ()
	}
	if err == nil && q != nil && !q.committed {
		err = w.storeQuarantine(ctx, q)
	}
	endJob()
	if err != nil {
		wg.Wait()
		return err
	}
	// Organizations without a record today still get an (empty) export and a manifest:
	// "nothing happened" must differ from "never ran".
	for i := range w.rt.orgs {
		org := int32(i)
		if seen[org] || !w.rt.mine(org) { // another shard's (shard.go)
			continue
		}
		startJob(org, newOrgCounts(w.counts.orgExcluded[org]), &Window{Start: start, End: end}, new(ClockSkew))
		endJob()
	}
	wg.Wait()
	if sk := w.res.ClockSkew; sk.Total() > 0 {
		w.log.Warn("events outside the partition's day (clock skew); archived and flagged in the manifests",
			"before", sk.Before, "after", sk.After, "earliest", sk.Earliest, "latest", sk.Latest)
	}
	<-removed // long done: the merge ends well before the compression
	if removeErr != nil {
		return removeErr // a panic (a bug) removing the runs: nothing is committed yet
	}
	w.flushStaged(ctx) // writerbatch.go
	w.commitAll(ctx)
	if err := w.breaker.check(); err != nil {
		// The store went down (breaker.go): the accounting object and the holds would wait
		// out their retries only to fail too.
		return w.storeWentDown(err)
	}
	// The day-level accounting, for operators only: the manifests carry each
	// organization's own numbers.
	key, err := w.account(ctx)
	if err != nil {
		return fmt.Errorf("manifests committed, but not the day's accounting object (a rerun writes it): %w", err)
	}
	w.res.Accounting = key
	if err := w.applyHolds(ctx); err != nil {
		return fmt.Errorf("manifests committed, but the legal holds recorded for the day are not all placed (a rerun places them): %w", err)
	}
	// Sized once: with 50,000 organizations, growing it by appends would copy it a dozen times.
	if len(w.commits) > 0 {
		w.res.Orgs = make([]OrgResult, 0, len(w.commits))
	}
	for i := range w.rt.orgs {
		if c, ok := w.commits[int32(i)]; ok {
			if w.s.OrgDone != nil {
				w.s.OrgDone(c.OrgResult)
			}
			w.res.Orgs = append(w.res.Orgs, c.OrgResult.Summary()) // dayresult.go
		}
	}
	if w.only == "" {
		forgetNotArchiving(w.s.Store, w.rt.orgs) // hintcache.go
	}
	return nil
}

var eventTypes = [...]string{model.EventSent, model.EventEdited, model.EventDeleted, "unknown"}

// contentTypes names record kinds; a kind is the index of its content type here.
var contentTypes = [...]string{model.ContentText, model.ContentEmoji, model.ContentItem, model.ContentTextSnippet, model.ContentMembersChanged}

func kindOf(contentType string) uint8 {
	for i, t := range contentTypes {
		if t == contentType {
			return uint8(i)
		}
	}
	panic("archiver: not a message content type: " + contentType)
}

func newOrgCounts(excluded map[string]int64) *OrgCounts {
	c := &OrgCounts{ByEventType: map[string]int64{}, ByContentType: map[string]int64{}, Excluded: map[string]int64{}}
	for k, v := range excluded {
		c.Excluded[k] = v
	}
	return c
}

func (w *writer) storeQuarantine(ctx context.Context, q *stagedObject) error {
	if err := q.finish(); err != nil {
		return err
	}
	key := quarantineKey(w.day, q.sum)
	// Quarantined records belong to no organization yet, so they are kept as long as the
	// longest retention of the day's archiving organizations.
	keep := w.dayRetention()
	version, err := q.store(ctx, w.s.Store, key, keep)
	if err != nil {
		return fmt.Errorf("store quarantine: %w", err)
	}
	crashpoint.Hit("store.quarantine")
	q.committed = true
	w.res.Quarantine = &ObjectRef{Key: key, Size: q.size, SHA256: HexSum(q.sum), Records: q.records, VersionID: version}
	w.log.Warn("records quarantined", "records", q.records, "key", key)
	return nil
}

// stageOrg stages one organization's export from its job and stores it, unless the
// latest revision already holds the same records. The manifest waits for commitAll: the
// day's counts are final only once the merge is done.
//
// compressed gives the job's worker back. It is called once the export is compressed:
// storing it waits on the store (reads, fsyncs, uploads), not on a core, and the next
// organization is compressed meanwhile. At most storeSlots per worker store at once.
func (w *writer) stageOrg(ctx context.Context, j *orgJob, counts *OrgCounts, win *Window, skew *ClockSkew, compressed func()) {
	o := w.rt.orgs[j.org]
	skip := w.only != "" && w.only != o.ID
	var err error
	staged := false
	// A panic (a bug) below fails the organization as an error does (panics.Recover): the
	// merge's batches are still taken and handed back, so that it goes on with the others,
	// and the failure is the organization's result.
	defer func() {
		if staged {
			return
		}
		for b := range j.lines {
			j.free <- b
		}
		if skip {
			return
		}
		res := &orgCommit{OrgResult: OrgResult{Org: o.ID, Name: o.Name, Outcome: OutcomeFailed, Counts: *counts, ClockSkew: *skew}, org: o, window: *win,
			quarantine: w.orgQuarantine[j.org]}
		w.fail(ctx, res, err)
		res.compact()
		w.mu.Lock()
		w.commits[j.org] = res
		w.mu.Unlock()
	}()
	defer panics.Recover(&err)
	defer compressed()
	var st *stagedObject
	var ix *ChatIndexBuilder
	if !skip {
		if err = w.breaker.check(); err == nil {
			st, err = w.newExportObject(ctx, o.ID)
		}
		ix = NewChatIndexBuilder()
	}
	if st != nil {
		// From here on, panic or not: a streamed export's temporary object is aborted,
		// and its compressor goes back to w.stagers for the next organization.
		defer st.remove()
	}
	for b := range j.lines {
		crashpoint.Hit("stage.batch")
		if err == nil && !skip {
			err = st.write(b)
		}
		if err == nil && !skip {
			err = ix.addLines(b)
		}
		if cap(b) > 4*jobBatch {
			// A line of many MiB grew this batch; do not keep that much for the rest of
			// the day.
			b = make([]byte, 0, jobBatch)
		}
		j.free <- b
	}
	if skip {
		staged = true
		return
	}
	res := &orgCommit{OrgResult: OrgResult{Org: o.ID, Name: o.Name, Outcome: OutcomeFailed, Counts: *counts, ClockSkew: *skew}, org: o, window: *win,
		quarantine: w.orgQuarantine[j.org], index: ix.Index(o.ID, w.day, w.rt.orgMembers(j.org))}
	if err == nil {
		err = st.finish()
	}
	// A place among those storing first, the worker after: an organization waiting for
	// the store keeps its worker, so the merge starts no more. Given back first, the
	// worker let every organization of a wide day be compressed and wait, each with its
	// export's file open (TestStoringBounded).
	w.storing <- struct{}{}
	defer func() { <-w.storing }()
	compressed()
	if err == nil {
		err = w.stage(ctx, st, res)
	}
	w.breaker.observe(ctx, err)
	if err != nil {
		w.fail(ctx, res, err)
	}
	res.compact()
	w.mu.Lock()
	w.commits[j.org] = res
	w.mu.Unlock()
	staged = true
}

// storeWentDown is the seal's error once the breaker has tripped: how many organizations
// were committed before the store went down, how many failed, and that a rerun seals them.
func (w *writer) storeWentDown(err error) error {
	committed, failed := 0, 0
	for _, c := range w.commits {
		switch {
		case c.Err != nil:
			failed++
		case c.Outcome == OutcomeCommitted:
			committed++
		}
	}
	return fmt.Errorf("the store became unreachable during the seal: %d organizations committed before it did, %d failed or not attempted, and the day's accounting object is not written; a rerun once it is back seals the rest: %w",
		committed, failed, err)
}

// orgCommit is an organization's result on its way to being committed.
type orgCommit struct {
	OrgResult
	org    model.Organization
	window Window
	head   *StoredManifest // the chain head before this commit, until compact
	latest *StoredManifest // the day's latest revision before this commit, until compact
	// headSeq and headSHA256 are the chain head's (0 when the chain is new), and
	// latestRevision the day's latest revision (0 when none): what commit needs of head and
	// latest, which compact drops.
	headSeq        int64
	headSHA256     [sha256.Size]byte
	latestRevision int
	// headKey is the chain head's key as the next manifest names it (previousKey), and tip
	// the last manifest key under d/ that the head's lookup saw: layout 3 only (writer3.go).
	headKey, tip string
	// supersedes is set when the operator superseded a revision this one drops records of.
	supersedes *Supersession
	// manifestSHA256 is of the manifest committed, or of the latest found unchanged, for
	// the day's accounting object.
	manifestSHA256 string
	// quarantine is the organization's staged quarantine object, nil when none of the
	// day's quarantined lines is attributed to it.
	quarantine *stagedObject
	// index is the day's chat index (OrgResult.ChatIndex names it once stored), until
	// compact.
	index *ChatIndex
	// tally holds Counts' counts by type from compact on (orgtally.go).
	tally orgTally
}

// compact drops what the organization's commit no longer needs once it is staged: the
// chain head's and the latest revision's manifests (bytes and all) and the chat index.
// Every organization's commit waits in writer.commits until the whole day is staged, so
// whatever one keeps, a day of 50,000 organizations keeps 50,000 times.
func (c *orgCommit) compact() {
	if c.head != nil {
		c.headSeq, c.headSHA256 = c.head.Seq, c.head.SHA256
	}
	if c.latest != nil {
		c.latestRevision = c.latest.Revision
	}
	c.head, c.latest, c.index = nil, nil, nil
	if c.Counts.ByEventType != nil {
		c.tally.pack(&c.Counts)
	}
}

func (w *writer) fail(ctx context.Context, c *orgCommit, err error) {
	logPanic(w.log, err, "org", c.Org) // pipeline.go
	if errors.Is(err, ErrFenced) {
		// The sealer lost its lease (fence.go): the store is another sealer's now, and a
		// failure record would mark a day that sealer may have sealed as failed after it.
		c.Err, c.Outcome = err, OutcomeFailed
		return
	}
	if w.breaker.tripped() {
		// The store is down (breaker.go): the record would wait out its retries only to
		// fail too. The run's summary and exit status carry the failure.
		c.Err, c.Outcome = err, OutcomeFailed
		return
	}
	if rerr := w.recordFailure(ctx, c.org, err); rerr != nil {
		err = errors.Join(err, fmt.Errorf("recording the failure: %w", rerr))
	}
	c.Err, c.Outcome = err, OutcomeFailed
}

// stage decides whether the organization's day changed and, if so, stores its export.
func (w *writer) stage(ctx context.Context, st *stagedObject, c *orgCommit) error {
	if w.layout3() {
		return w.stage3(ctx, st, c) // writer3.go
	}
	store := w.s.Store
	l := w.s.Chain
	head, err := l.Head(ctx, c.Org)
	if err != nil {
		return fmt.Errorf("read chain head: %w", err)
	}
	w.noteSigner(head) // signer.go
	if head != nil {
		// A crash between the chain manifest and its day index leaves the index missing;
		// restore it first so that the day's latest revision below is right.
		hd, keep, err := headCopyRetention(head)
		if err != nil {
			return err
		}
		if err := store.Create(ctx, RevisionKey(c.Org, hd, head.Revision), bytes.NewReader(head.Bytes), int64(len(head.Bytes)), head.SHA256, keep); err != nil {
			return fmt.Errorf("restore day index of %s: %w", head.Key, err)
		}
	}
	latest, err := w.latestRevision(ctx, c.Org, head) // dayhistory.go: from the chain when an index is missing
	if err != nil {
		return fmt.Errorf("read latest revision: %w", err)
	}
	c.head, c.latest = head, latest
	c.Data = stagedData(st, dataKey(c.Org, w.day, st.sum), c.Counts.Exported)
	c.Quarantined = stagedQuarantine(c.quarantine, func(sum [sha256.Size]byte) string { return orgQuarantineKey(c.Org, w.day, sum) })
	changed, err := w.storeChange(ctx, st, c, head, latest)
	if err != nil || !changed {
		return err
	}
	return w.storeChatIndex(ctx, c)
}

// stagedData is the DataObject of a staged export stored under key.
func stagedData(st *stagedObject, key string, records int64) DataObject {
	return DataObject{
		Key: key, Size: st.size, SHA256: HexSum(st.sum),
		JSONLSize: st.jsonlSize, JSONLSHA256: HexSum(st.jsonlSum), Records: records,
	}
}

// stagedQuarantine is the DataObject of the organization's staged quarantine (nil when it
// has none), stored under the key named by its sum.
func stagedQuarantine(oq *stagedObject, key func(sum [sha256.Size]byte) string) *DataObject {
	if oq == nil {
		return nil
	}
	return &DataObject{
		Key: key(oq.sum), Size: oq.size, SHA256: HexSum(oq.sum),
		JSONLSize: oq.jsonlSize, JSONLSHA256: HexSum(oq.jsonlSum), Records: oq.records,
	}
}

// headCopyRetention parses the chain head's day and returns it with the retention a copy
// of the head (a restored day index or day key) is created with: as long as the manifest
// it copies is kept.
func headCopyRetention(head *StoredManifest) (Day, CreateOptions, error) {
	hd, err := ParseDay(head.Date)
	if err != nil {
		return Day{}, CreateOptions{}, fmt.Errorf("chain head %s: %w", head.Key, err)
	}
	var keep CreateOptions
	if head.RetentionDays > 0 {
		keep.RetainUntil = hd.End().AddDate(0, 0, head.RetentionDays)
	}
	return hd, keep, nil
}

// storeChange decides, in either layout, whether the organization's day changed against
// its latest revision, with c.Data and c.Quarantined named. Unchanged, c takes the latest
// revision's outcome and objects and storeChange reports false. Changed, it checks the new
// revision and stores its export (unless keyless) and quarantine, and reports true: the
// chat index is left to the caller.
func (w *writer) storeChange(ctx context.Context, st *stagedObject, c *orgCommit, head, latest *StoredManifest) (bool, error) {
	store := w.s.Store
	jsonlSum := HexSum(st.jsonlSum)
	// The quarantine the organization is shown is part of its day: the same records with
	// other quarantined lines (or the first record of them, for a day sealed before
	// manifests carried it) make a new revision, so that what is served is on record.
	sameQuarantine := latest != nil && sameQuarantined(latest.Quarantined, c.Quarantined)
	if latest != nil && latest.Data.JSONLSHA256 == jsonlSum && sameQuarantine {
		c.Outcome, c.Revision, c.Seq, c.Data = OutcomeUnchanged, latest.Revision, latest.Seq, latest.Data
		c.Quarantined = latest.Quarantined
		c.manifestSHA256 = HexSum(latest.SHA256)
		c.ChatIndex = latest.ChatIndex // nil when sealed before chat indexes: it stays without
		return false, nil
	}
	if err := w.checkSigner(head); err != nil { // signer.go
		return false, err
	}
	if err := w.checkRetired(ctx, c.Org, head); err != nil { // retiredkey.go
		return false, err
	}
	if latest != nil {
		// A new revision must hold every record of the one it follows (revision.go).
		if err := w.checkRevision(ctx, st, c); err != nil {
			return false, err
		}
		// A run stopped between its manifests and its accounting object, then a rerun on a
		// partition that changed meanwhile: the revision followed is on no record of the
		// day, and no later run would find it unchanged to name it. This run's does.
		acc, err := w.accountedRevision(ctx, c.Org) // dayhistory.go: read once per run
		if err != nil {
			return false, err
		}
		if acc < latest.Revision {
			prev, err := w.unaccountedRevisions(ctx, c.Org, acc, latest) // accounting.go
			if err != nil {
				return false, err
			}
			w.previous.Store(c.Org, prev)
		}
	}
	if !c.Data.Keyless() { // an empty day has no export object in layout 3
		version, err := st.store(ctx, store, c.Data.Key, w.batched(c.org))
		if err != nil {
			return false, fmt.Errorf("store export: %w", err)
		}
		c.Data.VersionID = version // the version readers open (issue 10.6)
		crashpoint.Hit("store.export")
	}
	switch {
	case c.Quarantined == nil:
	case sameQuarantine:
		c.Quarantined = latest.Quarantined // stored already, in the version it names
	default:
		version, err := c.quarantine.store(ctx, store, c.Quarantined.Key, w.batched(c.org))
		if err != nil {
			return false, fmt.Errorf("store the organization's quarantine: %w", err)
		}
		c.Quarantined.VersionID = version
	}
	return true, nil
}

// storeChatIndex stores the organization's chat index of the day, create-only and named
// by its hash, for the manifest to name.
func (w *writer) storeChatIndex(ctx context.Context, c *orgCommit) error {
	b, err := encodeChatIndex(c.index)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(b)
	key := chatIndexKey(c.Org, w.day, sum)
	version, err := createVersion(ctx, w.s.Store, key, bytes.NewReader(b), int64(len(b)), sum, w.batched(c.org))
	if err != nil {
		return fmt.Errorf("store chat index: %w", err)
	}
	c.ChatIndex = &ChatIndexRef{Key: key, Size: int64(len(b)), SHA256: HexSum(sum), VersionID: version, MembersAt: w.start.UnixMilli()}
	return nil
}

// sameQuarantined reports whether two manifests' organization quarantines hold the same
// lines (both none counts as the same).
func sameQuarantined(a, b *DataObject) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.JSONLSHA256 == b.JSONLSHA256
}

// storeSlots is how many organizations per worker may be storing their exports while
// others are compressed. Each holds only a finished export (a file) and its chat index,
// and waits on round trips or fsyncs. On this project's 2-core VM, a 1M-event day sealed
// into a folder on disk took 3.13 s against 3.20 (medians of five interleaved pairs, the
// sort's runs also removed earlier: README, Performance).
const storeSlots = 4

// commitAll writes the manifests of every staged organization, storeSlots per worker at a
// time: a commit waits on the store (its manifest's file and folder fsyncs on the folder
// store, the fork check's listing, S3's round trips), not on a core. On the VM's disk the
// day of 50,000 organizations took 98 s with Workers commits at a time, most of it in
// commits, and 78 s so. More commits in flight also means more of them may be cut when
// the lease's clock passes their commit deadline (a commit S3 throttles past it, a pause):
// each such commit fails fenced, writing nothing, and the next seal commits it
// (TestThrottledCommitStopsAtTheLeaseDeadline).
func (w *writer) commitAll(ctx context.Context) {
	sem := make(chan struct{}, storeSlots*w.s.Workers)
	var wg sync.WaitGroup
	for _, c := range w.commits {
		if c.Err != nil || c.Outcome == OutcomeUnchanged {
			continue
		}
		if err := w.checkNewChain(c); err != nil { // signer.go
			w.fail(ctx, c, err)
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			var err error
			defer wg.Done()
			defer func() { <-sem }()
			defer func() {
				if err != nil {
					w.fail(ctx, c, err)
				}
			}()
			defer panics.Recover(&err) // a panic (a bug) fails the organization's commit
			if err = w.breaker.check(); err == nil {
				err = w.commit(ctx, c)
				w.breaker.observe(ctx, err)
			}
		}()
	}
	wg.Wait()
}

// commit writes an organization's manifest: the chain entry, which is the commit point,
// then its copy in the day's index.
func (w *writer) commit(ctx context.Context, c *orgCommit) error {
	if w.layout3() {
		return w.commit3(ctx, c) // writer3.go
	}
	m := w.newManifest(c)
	b, sum, err := w.sealManifest(ctx, c, m)
	if err != nil {
		return err
	}
	keep := w.retention(c.org)
	if err := w.createCommitPoint(ctx, ChainKey(c.Org, m.Seq), m, b, sum, keep); err != nil {
		return err
	}
	crashpoint.Hit("commit.chain")
	if err := w.s.Store.Create(ctx, RevisionKey(c.Org, w.day, m.Revision), bytes.NewReader(b), int64(len(b)), sum, keep); err != nil {
		return fmt.Errorf("index manifest: %w", err)
	}
	crashpoint.Hit("commit.index")
	c.committed(m, sum)
	return nil
}

// sealManifest records the supersession the manifest declares, signs it when the writer
// has a signing key, and encodes it: the bytes committed and their sum.
func (w *writer) sealManifest(ctx context.Context, c *orgCommit, m *Manifest) ([]byte, [sha256.Size]byte, error) {
	if m.Supersedes != nil {
		if err := w.recordSupersession(ctx, c, m.Revision); err != nil {
			return nil, [sha256.Size]byte{}, err
		}
	}
	if w.s.SigningKey != nil {
		if err := sign(m, w.s.SigningKey); err != nil {
			return nil, [sha256.Size]byte{}, err
		}
	}
	b, err := encodeManifest(m)
	if err != nil {
		return nil, [sha256.Size]byte{}, err
	}
	return b, sha256.Sum256(b), nil
}

// createCommitPoint creates the manifest's commit point (the chain entry in layout 2, a
// late copy in layout 3), create-only: a conflict means another writer took its seq.
func (w *writer) createCommitPoint(ctx context.Context, key string, m *Manifest, b []byte, sum [sha256.Size]byte, keep CreateOptions) error {
	if err := w.s.Store.Create(ctx, key, bytes.NewReader(b), int64(len(b)), sum, keep); err != nil {
		if errors.Is(err, ErrConflict) {
			return fmt.Errorf("commit manifest %d: another writer committed it first: %w", m.Seq, err)
		}
		return fmt.Errorf("commit manifest: %w", err)
	}
	return nil
}

// committed records in c the manifest committed and its sum.
func (c *orgCommit) committed(m *Manifest, sum [sha256.Size]byte) {
	c.Outcome, c.Revision, c.Seq, c.Supersedes = OutcomeCommitted, m.Revision, m.Seq, m.Supersedes
	c.manifestSHA256 = HexSum(sum)
}

// newManifest makes an organization's manifest of the day, unsigned, in version 2: its
// revision follows the day's latest, its seq the chain head's.
func (w *writer) newManifest(c *orgCommit) *Manifest {
	m := &Manifest{
		Version: ManifestVersion, Org: c.Org, OrgName: c.Name, Date: w.day.String(), Revision: 1, Seq: 1,
		Window: c.window, Counts: c.tally.unpack(c.Counts), Data: c.Data, Quarantined: c.Quarantined,
		DirectorySHA256: w.res.DirectorySHA256, RetentionDays: c.org.RetentionDays,
		Generator: w.s.Generator, SealedAt: w.s.Now().UTC().Format(time.RFC3339Nano),
		Ignored: w.res.Ignored, ChatIndex: c.ChatIndex,
	}
	if c.ClockSkew.Total() > 0 {
		sk := c.ClockSkew
		m.ClockSkew = &sk
	}
	if c.latestRevision > 0 {
		m.Revision = c.latestRevision + 1
	}
	m.Supersedes = c.supersedes
	if c.headSeq > 0 {
		m.Seq, m.Previous = c.headSeq+1, HexSum(c.headSHA256)
	}
	return m
}

// retention is how long an organization's objects of the day must be kept: from the end
// of the day, its retentionDays (none when it has none).
func (w *writer) retention(o model.Organization) CreateOptions {
	if o.RetentionDays <= 0 {
		return CreateOptions{}
	}
	return CreateOptions{RetainUntil: w.day.End().AddDate(0, 0, o.RetentionDays)}
}

// recordFailure leaves a trace of a failed attempt for status and alerting, retained as
// long as the day's records would have been: a failed attempt is part of the audit trail.
// Its own failure is returned to be joined to the cause, which the caller reports anyway.
func (w *writer) recordFailure(ctx context.Context, o model.Organization, cause error) error {
	now := w.s.Now().UTC()
	msg := []byte(now.Format(time.RFC3339) + " " + cause.Error() + "\n")
	key := FailedKeyFor(w.marker, o.ID, w.day, now.UnixMilli())
	return w.s.Store.Create(ctx, key, bytes.NewReader(msg), int64(len(msg)), sha256.Sum256(msg), w.retention(o))
}

// stagedObject is a gzipped JSONL object written to a temporary file, hashing both the
// JSONL and the stored bytes, so that its key (named by its hash) and its checksum are
// known before it is uploaded.
type stagedObject struct {
	f         *os.File     // the staging file; nil when streamed
	so        StreamObject // the store's object written straight into; nil when staged
	dir       string       // so's folder, for messages
	sg        *stager      // until finished (or removed), then back in its list
	list      *stagerList
	jsonlSize int64
	size      int64
	sum       [sha256.Size]byte
	jsonlSum  [sha256.Size]byte
	records   int64
	committed bool
	parked    bool // finished and its file closed; store reopens it
}

func newStagedObject(dir string, list *stagerList) (*stagedObject, error) {
	f, err := os.CreateTemp(dir, "chatvault-export-*")
	if err != nil {
		return nil, fmt.Errorf("stage export: %w", err)
	}
	sg := list.get()
	// gzip writes in small pieces; sg.buf batches them into large writes.
	sg.reset(crashpoint.Writer("temp.write", f))
	return &stagedObject{f: f, sg: sg, list: list}, nil
}

// newExportObject begins an organization's export: straight into the store when it can
// take an object whose size and sum are known only at the end (StreamCreator, the folder
// store), else staged in the run's folder (S3 wants both before the upload).
func (w *writer) newExportObject(ctx context.Context, org string) (*stagedObject, error) {
	sc, ok := w.s.Store.(StreamCreator)
	if !ok {
		return newStagedObject(w.work, w.stagers)
	}
	dir := path.Dir(dataKey(org, w.day, [sha256.Size]byte{}))
	if w.layout3() {
		dir = path.Dir(dataKey3(org, w.day, [sha256.Size]byte{}))
	}
	so, err := sc.CreateStream(ctx, dir)
	if err != nil {
		return nil, fmt.Errorf("store export: %w", err)
	}
	sg := w.stagers.get()
	sg.reset(so)
	return &stagedObject{so: so, dir: dir, sg: sg, list: w.stagers}, nil
}

// failed wraps an error writing the object: the store's own message names the object's
// folder when it is streamed, the staging file is named otherwise.
func (st *stagedObject) failed(err error) error {
	if st.so != nil {
		return fmt.Errorf("store export: %w", err)
	}
	return fmt.Errorf("stage export %s: %w", st.f.Name(), err)
}

// readerAt reads back the finished object's bytes.
func (st *stagedObject) readerAt() io.ReaderAt {
	if st.so != nil {
		return st.so
	}
	return st.f
}

func (st *stagedObject) write(b []byte) error {
	st.sg.jsonl.Write(b)
	st.jsonlSize += int64(len(b))
	if _, err := st.sg.zw.Write(b); err != nil {
		return st.failed(err)
	}
	return nil
}

var newline = []byte{'\n'}

func (st *stagedObject) writeLine(b []byte) error {
	if err := st.write(b); err != nil {
		return err
	}
	return st.write(newline)
}

func (st *stagedObject) finish() error {
	sg := st.sg
	st.sg = nil
	defer st.list.put(sg)
	if err := sg.zw.Close(); err != nil {
		return st.failed(err)
	}
	if err := sg.buf.Flush(); err != nil {
		return st.failed(err)
	}
	if st.so != nil {
		st.size = sg.sink.n
	} else {
		size, err := st.f.Seek(0, io.SeekCurrent)
		if err != nil {
			return st.failed(err)
		}
		st.size = size
	}
	sg.stored.Sum(st.sum[:0])
	sg.jsonl.Sum(st.jsonlSum[:0])
	return nil
}

// store uploads the staged object and returns its version id, where the store keeps
// versions.
func (st *stagedObject) store(ctx context.Context, s Store, key string, opt CreateOptions) (string, error) {
	if st.so != nil {
		// Written straight into the store: committing links it, no copy.
		return st.so.Commit(ctx, key, st.size, st.sum, opt)
	}
	if st.parked {
		f, err := os.Open(st.f.Name())
		if err != nil {
			return "", err
		}
		defer f.Close()
		return createVersion(ctx, s, key, f, st.size, st.sum, opt)
	}
	if _, err := st.f.Seek(0, io.SeekStart); err != nil {
		return "", err
	}
	return createVersion(ctx, s, key, st.f, st.size, st.sum, opt)
}

// park closes a finished object's file until store reopens it.
func (st *stagedObject) park() error {
	st.parked = true
	return st.f.Close()
}

func (st *stagedObject) remove() {
	if st.sg != nil {
		// Not finished: put drains the compressor's goroutines before reusing it.
		st.list.put(st.sg)
		st.sg = nil
	}
	if st.so != nil {
		// Nothing to report: after Commit it does nothing, and an object not committed
		// (unchanged, or failed) only leaves a temporary file that is never listed.
		_ = st.so.Abort()
		return
	}
	st.f.Close()
	os.Remove(st.f.Name())
}
