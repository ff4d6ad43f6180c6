package audit

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/ledger"
)

// Record is one line of the access audit: who asked for which export, and what
// they got. A compliance archive must show who read it.
type Record struct {
	// Time is when the request finished (UTC).
	Time time.Time `json:"time"`
	// TokenID and TokenName identify the caller (a valid token: requests without one are
	// never stored, only counted).
	TokenID   string `json:"tokenId"`
	TokenName string `json:"tokenName"`
	// Org is the token's organization (the only one it can reach).
	Org string `json:"org"`
	// Date is the day asked for, as sent (it may be invalid).
	Date string `json:"date"`
	// Status is the HTTP status; Error the API error code when it was not 200.
	Status int    `json:"status"`
	Error  string `json:"error,omitempty"`
	// Revision is the revision served.
	Revision int `json:"revision,omitempty"`
	// Bytes is how many body bytes were sent, Encoding their content coding ("gzip" or
	// "identity"), and SHA256 the hex SHA-256 of exactly those bytes.
	Bytes    int64  `json:"bytes"`
	Encoding string `json:"encoding,omitempty"`
	SHA256   string `json:"sha256,omitempty"`
	// Complete is false when the transfer stopped early (client gone, read error).
	Complete bool `json:"complete"`
	// Client is the client's address as the server saw it.
	Client string `json:"client"`
	// Action is empty for a day's export (POST /messageevent.export) and quarantine for
	// a day's quarantined lines (GET /v1/exports/{date}/quarantine); for export tasks it
	// is task.create, task.status, task.list or task.download, with the task's id in TaskID
	// and its range (from..to) in Date.
	Action string `json:"action,omitempty"`
	TaskID string `json:"taskId,omitempty"`
	// Attachment is the SHA-256 of the captured file asked for (action attachment), when
	// the request named a valid one.
	Attachment string `json:"attachment,omitempty"`
}

// Audit actions of export tasks.
const (
	ActionTaskCreate   = "task.create"
	ActionTaskStatus   = "task.status"
	ActionTaskList     = "task.list"
	ActionTaskDownload = "task.download"
)

// ActionQuarantine is the audit action of GET /v1/exports/{date}/quarantine: the
// organization's quarantined lines of a day (issue 12).
const ActionQuarantine = "quarantine"

// Audit actions of captured attachments (issue 14): a day's attachment index (GET
// /v1/exports/{date}/attachments) and one captured file (GET
// /v1/exports/attachments/{sha256}).
const (
	ActionAttachmentIndex = "attachments"
	ActionAttachment      = "attachment"
)

// Store layout of the access audit:
//
//	audit/orgs/<org>/<date>/<seq>.jsonl   a segment: a header line, then the records
//	audit/<date>/<time>-<uuid>.json       the previous layout, one object per request
//
// A segment holds one organization's records of one window (at most audit.flushInterval,
// never across midnight). Each organization's segments form a hash chain like its
// manifests (seq from 1, previous = SHA-256 of the segment before, a signature over the
// header when a signing key is configured), so that a removed or changed segment is
// detected by verify. Keys sort by (date, seq) and the writer never puts a segment in a
// folder earlier than the one before it, so listing an organization's folder walks its
// chain in order. Reading one organization and a range lists only that organization's
// folders of the range (and the day after it, where a record of just before midnight
// lands when its segment follows one of the next day, written by another replica).
func auditOrgPrefix(org string) string { return "audit/orgs/" + org + "/" }

func auditDayPrefix(org string, day archiver.Day) string {
	return auditOrgPrefix(org) + day.String() + "/"
}

func auditSegmentKey(org string, day archiver.Day, seq int64) string {
	return fmt.Sprintf("%s%012d.jsonl", auditDayPrefix(org, day), seq)
}

// legacyAuditPrefix is where the previous layout kept a day's records, one per request.
func legacyAuditPrefix(day archiver.Day) string { return "audit/" + day.String() + "/" }

// parseAuditSegmentKey splits audit/orgs/<org>/<date>/<seq>.jsonl.
func parseAuditSegmentKey(key string) (org string, day archiver.Day, seq int64, ok bool) {
	rest, found := strings.CutPrefix(key, "audit/orgs/")
	if !found {
		return "", archiver.Day{}, 0, false
	}
	parts := strings.Split(rest, "/")
	if len(parts) != 3 {
		return "", archiver.Day{}, 0, false
	}
	d, err := archiver.ParseDay(parts[1])
	if err != nil {
		return "", archiver.Day{}, 0, false
	}
	num, found := strings.CutSuffix(parts[2], ".jsonl")
	if !found || len(num) != 12 {
		return "", archiver.Day{}, 0, false
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 1 {
		return "", archiver.Day{}, 0, false
	}
	return parts[0], d, n, true
}

// SegmentVersion is the version of the segment header this build writes.
const SegmentVersion = 1

// Segment is a segment's header, its first line.
type Segment struct {
	Version int    `json:"version"`
	Org     string `json:"org"`
	// Date is the day of the folder the segment is stored in.
	Date string `json:"date"`
	// Seq numbers the organization's segments from 1; Previous is the hex SHA-256 of
	// segment Seq-1 as stored, empty for the first.
	Seq      int64  `json:"seq"`
	Previous string `json:"previous"`
	// Records is how many record lines follow; RecordsSHA256 the hex SHA-256 of those
	// lines (each with its newline); First and Last the times of the first and last.
	Records       int       `json:"records"`
	RecordsSHA256 string    `json:"recordsSha256"`
	First         time.Time `json:"first"`
	Last          time.Time `json:"last"`
	// RetentionDays is how long after its day the segment is locked (0: not locked).
	RetentionDays int    `json:"retentionDays,omitempty"`
	WrittenAt     string `json:"writtenAt"`
	// Writer is a random id of the process that wrote it: two replicas' segments never
	// have the same bytes, so an idempotent create can never pass one off as the other.
	Writer string `json:"writer"`
	// Signature is over the header's JSON without it (one line, no newline).
	Signature *archiver.Signature `json:"signature,omitempty"`

	// Next, set on a closing segment only, is the day of the folder the chain goes on in.
	// A closing segment holds no records (First and Last are zero): a writer moving the
	// chain to a later day's folder first closes the current folder with one, so that the
	// folder of every segment is fixed by the segment before it. Two replicas extending
	// the same segment then always race for the same key, and the store's create-only
	// conflict, not luck, keeps the chain from forking (see writeSegment).
	Next string `json:"next,omitempty"`
}

// Defaults and bounds of the audit log's buffering.
const (
	// MaxFlushInterval is the longest a record may wait in memory before its
	// segment is written (and audit.flushInterval's default).
	MaxFlushInterval = time.Minute
	// DefaultMaxPending is how many records may wait in memory before requests
	// are refused (audit.maxPending's default).
	DefaultMaxPending = 10000
)

// ErrUnavailable is returned (wrapped) by Admit when records could not be written for
// longer than the log's bound: requests must not be answered unaudited.
var ErrUnavailable = errors.New("the access audit cannot be written")

// Log buffers access records and writes them in segments, one hash chain per
// organization (see auditOrgPrefix for the layout).
//
// Records wait in memory at most FlushInterval: Append and Admit write the buffer when
// it is due, and `serve` also calls Flush every FlushInterval and once more after its
// HTTP server has drained on shutdown, so that SIGTERM loses nothing. A crash (SIGKILL,
// power loss) loses at most the records of the last FlushInterval. When writes fail, the
// records stay in memory and are retried; once the oldest has waited 2×FlushInterval, or
// MaxPending records wait, Admit refuses new requests until a write succeeds.
//
// The zero value is not usable; set Store (and the rest as needed) and use a pointer.
type Log struct {
	Store archiver.Store
	// SigningKey, when set, signs every segment's header.
	SigningKey ed25519.PrivateKey
	// RefuseRetired, with SigningKey, keeps the writer from signing a segment that verify
	// reports as signed by a retired key: one whose records are more than
	// archiver.RetiredSkew after a rotation statement from SigningKey (archiver.RetiredAt),
	// a rotation recorded while the process runs on the old key. The statements are read
	// at the first write and again every RetiredSkew/4, so that one is seen well within
	// the skew; a refused segment's records wait in memory, retried, like any failed
	// write, until a restart on the new key. serve sets it.
	RefuseRetired bool
	// TrustedKeys, when set, must have signed every segment List shows (serve's, like the
	// manifests it serves); without, List checks each segment's records against its header.
	TrustedKeys []ed25519.PublicKey
	// FlushInterval is the longest a record waits in memory (0: MaxFlushInterval).
	FlushInterval time.Duration
	// MaxPending bounds the records waiting in memory (0: DefaultMaxPending).
	MaxPending int
	// RetentionDays says how many days after its day an organization's segments are
	// locked (nil or 0: not locked).
	RetentionDays func(org string) int
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger (default slog.Default()).
	Logger *slog.Logger

	mu      sync.Mutex
	pending []pendingRecord
	nextTry time.Time // no automatic retry before, after a failed write
	stats   Stats
	flushMu sync.Mutex           // one write at a time: the chains are extended in order
	heads   map[string]chainHead // with flushMu held
	writer  string               // with flushMu held
	// marked is, per organization, the folder this process last wrote the day index's
	// entry for (see dayIndexKey); indexed is set once the index's start is recorded.
	marked  map[string]string // with flushMu held
	indexed bool              // with flushMu held
	// rotations are the store's rotation statements as read at rotationsRead, with
	// flushMu held (RefuseRetired).
	rotations     []*archiver.KeyRotation
	rotationsRead time.Time
}

type pendingRecord struct {
	r  Record
	at time.Time // when it was appended, on the log's clock
}

// chainHead is the last segment of an organization's chain.
type chainHead struct {
	seq int64
	day archiver.Day
	sum string // hex SHA-256 of the segment as stored
	// next is the folder a closing segment leads to (zero for a segment of records).
	next archiver.Day
}

// folder is the day of the folder the chain's next segment goes in: the head's own, or
// the one a closing head names.
func (h chainHead) folder() archiver.Day {
	if !h.next.IsZero() {
		return h.next
	}
	return h.day
}

// Stats are the log's counters, for metrics.
type Stats struct {
	Pending       int           // records waiting in memory
	OldestPending time.Duration // how long the oldest has waited
	Segments      int64         // segments written
	Records       int64         // records written
	FlushFailures int64         // writes that failed (each retried)
	Refused       int64         // requests refused by Admit
}

func (a *Log) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

func (a *Log) interval() time.Duration {
	if a.FlushInterval <= 0 || a.FlushInterval > MaxFlushInterval {
		return MaxFlushInterval
	}
	return a.FlushInterval
}

func (a *Log) maxPending() int {
	if a.MaxPending <= 0 {
		return DefaultMaxPending
	}
	return a.MaxPending
}

func (a *Log) log() *slog.Logger {
	if a.Logger != nil {
		return a.Logger
	}
	return slog.Default()
}

// retryPause is how long after a failed write the log waits before Append or Admit try
// again (Flush always tries): a store that is down is not hammered by every request.
func (a *Log) retryPause() time.Duration { return min(5*time.Second, a.interval()) }

// due reports, with a.mu held, whether the buffer should be written now.
func (a *Log) due(now time.Time) bool {
	if len(a.pending) == 0 || now.Before(a.nextTry) {
		return false
	}
	return now.Sub(a.pending[0].at) >= a.interval() || len(a.pending) >= a.maxPending()/2
}

// broken reports, with a.mu held, whether records have waited beyond the bound.
func (a *Log) broken(now time.Time) bool {
	if len(a.pending) == 0 {
		return false
	}
	return len(a.pending) >= a.maxPending() || now.Sub(a.pending[0].at) >= 2*a.interval()
}

// Admit is called before a request is served: it writes the buffer when due, and returns
// an error wrapping ErrUnavailable when records have waited beyond the bound (writes
// keep failing), so that nothing is served that the audit may never show.
func (a *Log) Admit() error { return a.admit(true) }

// Writable reports what Admit would, without counting a refusal: nil, or an error
// wrapping ErrUnavailable while records wait beyond the bound. Like Admit it writes
// the buffer when due, so a readiness probe also retries a store that came back while
// no request reached the replica (a load balancer having taken it out).
func (a *Log) Writable() error { return a.admit(false) }

func (a *Log) admit(count bool) error {
	now := a.now()
	a.mu.Lock()
	due := a.due(now)
	a.mu.Unlock()
	if due {
		_ = a.flush(context.Background(), false) // counted and logged; the bound decides
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.broken(now) {
		if count {
			a.stats.Refused++
		}
		return fmt.Errorf("%w: %d records waiting, the oldest for %s", ErrUnavailable,
			len(a.pending), now.Sub(a.pending[0].at).Round(time.Second))
	}
	return nil
}

// Append adds r to the buffer, and writes the buffer when it is due. A request admitted
// before it was served is always kept: only beyond twice MaxPending (requests admitted
// while the store fails, in flight at once) is a record refused, with an error.
func (a *Log) Append(ctx context.Context, r Record) error {
	if r.Org == "" {
		return errors.New("audit: a record needs an organization (requests without a valid token are not stored)")
	}
	// The organization names the record's keys: one that cannot be a key segment would
	// fail every write of the buffer it sits in.
	if err := archiver.CheckKey(r.Org); err != nil || strings.Contains(r.Org, "/") {
		return fmt.Errorf("audit: organization %q cannot name a segment", r.Org)
	}
	now := a.now()
	if r.Time.IsZero() {
		r.Time = now
	}
	r.Time = r.Time.UTC()
	a.mu.Lock()
	if len(a.pending) >= 2*a.maxPending() {
		a.mu.Unlock()
		return fmt.Errorf("%w: %d records waiting", ErrUnavailable, len(a.pending))
	}
	a.pending = append(a.pending, pendingRecord{r: r, at: now})
	due := a.due(now)
	a.mu.Unlock()
	if due {
		// A failure is counted and logged; the records stay buffered and Admit enforces
		// the bound. The request's own answer does not depend on this write.
		_ = a.flush(context.WithoutCancel(ctx), false)
	}
	return nil
}

// Flush writes every buffered record now. Serve calls it every FlushInterval and after
// its HTTP server has drained; a one-shot command calls it before it exits.
func (a *Log) Flush(ctx context.Context) error { return a.flush(ctx, true) }

// Stats returns the log's counters.
func (a *Log) Stats() Stats {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.stats
	s.Pending = len(a.pending)
	if len(a.pending) > 0 {
		s.OldestPending = a.now().Sub(a.pending[0].at)
	}
	return s
}

func (a *Log) flush(ctx context.Context, force bool) error {
	if force {
		a.flushMu.Lock()
	} else if !a.flushMu.TryLock() {
		return nil // a write is under way; what it did not take waits for the next
	}
	defer a.flushMu.Unlock()
	a.mu.Lock()
	batch := a.pending
	a.pending = nil
	a.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	done, err := a.write(ctx, batch)
	a.mu.Lock()
	defer a.mu.Unlock()
	if err != nil {
		// Put back what was not written, ahead of what came meanwhile.
		rest := make([]pendingRecord, 0, len(batch)-done+len(a.pending))
		for _, p := range batch {
			if !p.written() {
				rest = append(rest, p)
			}
		}
		a.pending = append(rest, a.pending...)
		a.stats.FlushFailures++
		a.nextTry = a.now().Add(a.retryPause())
		a.log().Error("audit segments not written; the records wait in memory and are retried",
			"err", err, "pending", len(a.pending))
		return err
	}
	a.nextTry = time.Time{}
	return nil
}

// written marks records in a batch once their segment is stored: r.Org is cleared.
func (p *pendingRecord) written() bool { return p.r.Org == "" }

// write stores batch as segments, one per organization and day, and marks each written
// record. It returns how many were written.
func (a *Log) write(ctx context.Context, batch []pendingRecord) (int, error) {
	type group struct {
		org  string
		day  archiver.Day
		recs []int // indexes into batch
	}
	groups := map[string]*group{}
	var order []*group
	for i, p := range batch {
		day := archiver.DayOf(p.r.Time)
		k := p.r.Org + "/" + day.String()
		g := groups[k]
		if g == nil {
			g = &group{org: p.r.Org, day: day}
			groups[k] = g
			order = append(order, g)
		}
		g.recs = append(g.recs, i)
	}
	// Organization, then day: each chain is extended in time order.
	slices.SortStableFunc(order, func(x, y *group) int {
		if c := strings.Compare(x.org, y.org); c != 0 {
			return c
		}
		return strings.Compare(x.day.String(), y.day.String())
	})
	// One organization's failure (its chain, its keys) must not hold up the others: its
	// later groups wait with it, so that its chain stays in time order; others go on.
	done := 0
	var errs []error
	failed := map[string]bool{}
	for _, g := range order {
		if failed[g.org] {
			continue
		}
		recs := make([]Record, len(g.recs))
		for i, idx := range g.recs {
			recs[i] = batch[idx].r
		}
		// Records of one request finish in order, but two requests may finish out of
		// order against the clock: sort by time (stable) so a segment reads in order.
		slices.SortStableFunc(recs, func(x, y Record) int { return x.Time.Compare(y.Time) })
		if err := a.writeSegment(ctx, g.org, g.day, recs); err != nil {
			failed[g.org] = true
			errs = append(errs, err)
			continue
		}
		for _, idx := range g.recs {
			batch[idx].r.Org = ""
		}
		done += len(g.recs)
		a.mu.Lock()
		a.stats.Segments++
		a.stats.Records += int64(len(recs))
		a.mu.Unlock()
	}
	return done, errors.Join(errs...)
}

// writeSegment extends org's chain with one segment of recs. Another replica may extend
// the chain at the same time: a conflict on the key reloads the head and tries again.
func (a *Log) writeSegment(ctx context.Context, org string, day archiver.Day, recs []Record) error {
	var body bytes.Buffer
	for _, r := range recs {
		b, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("audit: %w", err)
		}
		body.Write(b)
		body.WriteByte('\n')
	}
	recSum := sha256.Sum256(body.Bytes())
	if err := a.checkRetired(ctx, recs[len(recs)-1].Time); err != nil {
		return err
	}
	retention := 0
	if a.RetentionDays != nil {
		retention = a.RetentionDays(org)
	}
	for attempt := 0; ; attempt++ {
		head, err := a.head(ctx, org)
		if err != nil {
			return err
		}
		// The head decides where the chain's next segments go, and the readers look for
		// a day's records in that day's folder (and the next's): a head planted by someone
		// who can write to the store but holds no key, leading the chain to a far-future
		// folder, would put every later record where no read of its day finds it. So the
		// writer never extends a closing head that leads past the day after both its
		// clock's and the records' (a replica's clock may run ahead, not by days; a head
		// of records is extended in its own folder, where the reads of its days look,
		// whatever its day): the records wait in memory, retried, naming the key, until
		// the object is removed. (What else a head must be to be followed, checkHeadSigner
		// says: an unsigned chain goes on, since it may have begun before signing was
		// turned on.)
		limit := archiver.DayOf(a.now())
		if day.After(limit) {
			limit = day
		}
		if head.seq > 0 && !head.next.IsZero() && head.next.After(limit.Next()) {
			a.forgetHead(org)
			return fmt.Errorf("audit: %w: %s, found as the audit chain's head, leads the chain to the folder of %s, after %s: "+
				"planted by someone with write access to the store? chatvault verify reports it",
				ErrIntegrity, auditSegmentKey(org, head.day, head.seq), head.folder(), limit.Next())
		}
		// The segment goes in the folder the head fixes, or a later one (its records'
		// day) after a closing segment in the head's: never behind the chain's last
		// folder, so listing order stays chain order.
		folder := day
		if head.seq > 0 && !head.folder().Before(day) {
			folder = head.folder()
		}
		if head.seq > 0 && folder.After(head.folder()) {
			closing := Segment{
				Version: SegmentVersion, Org: org, Date: head.folder().String(), Seq: head.seq + 1, Previous: head.sum,
				RecordsSHA256: hexSum(sha256.Sum256(nil)), RetentionDays: retention,
				WrittenAt: a.now().UTC().Format(time.RFC3339Nano), Writer: a.writerID(), Next: folder.String(),
			}
			err := a.create(ctx, org, &closing, nil, retention)
			if errors.Is(err, archiver.ErrConflict) && attempt < 5 {
				a.forgetHead(org)
				continue
			}
			if err != nil {
				a.forgetHead(org)
				return err
			}
			head = a.heads[org]
		}
		h := Segment{
			Version: SegmentVersion, Org: org, Date: folder.String(), Seq: head.seq + 1, Previous: head.sum,
			Records: len(recs), RecordsSHA256: hexSum(recSum), First: recs[0].Time, Last: recs[len(recs)-1].Time,
			RetentionDays: retention, WrittenAt: a.now().UTC().Format(time.RFC3339Nano), Writer: a.writerID(),
		}
		if err := a.markLate(ctx, org, recs, folder, h.Seq, retention); err != nil {
			return err
		}
		err = a.create(ctx, org, &h, body.Bytes(), retention)
		if errors.Is(err, archiver.ErrConflict) && attempt < 5 {
			a.forgetHead(org)
			continue
		}
		if err != nil {
			a.forgetHead(org)
			return err
		}
		return nil
	}
}

// create stores segment h with body as its records, create-only, and makes it org's head.
func (a *Log) create(ctx context.Context, org string, h *Segment, body []byte, retention int) error {
	hb, err := encodeSegmentHeader(h, a.SigningKey)
	if err != nil {
		return err
	}
	obj := append(append(hb, '\n'), body...)
	sum := sha256.Sum256(obj)
	folder := mustParseDay(h.Date)
	var opt archiver.CreateOptions
	if retention > 0 {
		opt.RetainUntil = folder.End().AddDate(0, 0, retention)
	}
	if err := a.markDay(ctx, org, folder, opt); err != nil {
		return err
	}
	key := auditSegmentKey(org, folder, h.Seq)
	if err := a.Store.Create(ctx, key, bytes.NewReader(obj), int64(len(obj)), sum, opt); err != nil {
		return fmt.Errorf("audit: create %s: %w", key, err)
	}
	a.heads[org] = chainHead{seq: h.Seq, day: folder, sum: hexSum(sum), next: mustParseDay(h.Next)}
	return nil
}

func (a *Log) forgetHead(org string) { delete(a.heads, org) }

// markLate creates the pointers (see latePrefix) to the segment seq of org's folder for
// the days of recs a read of their day would not find there, before the segment: a
// pointer whose segment then fails to land (or lands with another replica's records)
// only costs a read. It warns, since it means this host's clock went back.
func (a *Log) markLate(ctx context.Context, org string, recs []Record, folder archiver.Day, seq int64, retention int) error {
	days := lateDays(recs, folder)
	for _, d := range days {
		var opt archiver.CreateOptions
		if retention > 0 {
			opt.RetainUntil = folder.End().AddDate(0, 0, retention)
		}
		key := lateKey(org, d, folder, seq)
		err := a.Store.Create(ctx, key, bytes.NewReader(nil), 0, sha256.Sum256(nil), opt)
		if err != nil && !errors.Is(err, archiver.ErrConflict) {
			return fmt.Errorf("audit: create %s: %w", key, err)
		}
	}
	if len(days) > 0 {
		a.log().Warn("audit records go in a folder more than a day after their own: the clock went back after the chain moved on (pointers written, so reads of their days find them)",
			"org", org, "folder", folder.String(), "first", recs[0].Time.UTC().Format(time.RFC3339Nano), "days", len(days))
	}
	return nil
}

// latePointed returns the segment keys that org's late pointers (of every organization's
// when org is "") name for the days from..to, in key order (chain order within an
// organization), leaving out those in a folder on or before skipThrough (already read).
func latePointed(ctx context.Context, st archiver.Store, org string, from, to, skipThrough archiver.Day) ([]string, error) {
	prefix, startAfter := latePrefix, latePrefix
	if org != "" {
		prefix = lateOrgPrefix(org)
		startAfter = prefix + from.Prev().String() + "/~" // past the day before from's pointers
	}
	seen := map[string]bool{}
	var keys []string
	err := archiver.ListAfter(ctx, st, prefix, startAfter, func(k string) error {
		o, d, seg, ok := parseLateKey(k)
		if !ok {
			return nil
		}
		if org != "" && d.After(to) {
			return archiver.ErrStopListing
		}
		_, folder, _, _ := parseAuditSegmentKey(seg)
		if (org == "" || o == org) && !d.Before(from) && !d.After(to) && folder.After(skipThrough) && !seen[seg] {
			seen[seg] = true
			keys = append(keys, seg)
		}
		return nil
	})
	if err != nil && !errors.Is(err, archiver.ErrStopListing) {
		return nil, fmt.Errorf("audit: list %s: %w", prefix, err)
	}
	slices.Sort(keys)
	return keys, nil
}

// The day index finds every organization's segments of a day without listing every
// segment ever written (ListAll):
//
//	audit/days/<date>/<org>     empty; org has segments in its folder of date
//	audit/days-since.json       {"since":"<date>"}: the index is complete from that day
//
// A writer creates a folder's entry before the folder's first segment it writes (once per
// folder and process; creating it again is a no-op, since it is empty), locked like the
// segment. The entries are a finding aid, not evidence: verify walks the chains
// themselves, and reading one organization (List) never needs them.
func dayIndexPrefix(day archiver.Day) string { return "audit/days/" + day.String() + "/" }

func dayIndexKey(day archiver.Day, org string) string { return dayIndexPrefix(day) + org }

const indexSinceKey = "audit/days-since.json"

// isIndexKey reports whether key is the day index's (see dayIndexPrefix) or a late
// record's pointer (see latePrefix).
func isIndexKey(key string) bool {
	return strings.HasPrefix(key, "audit/days/") || key == indexSinceKey || strings.HasPrefix(key, latePrefix)
}

// A host's clock that went back by more than a day (it had run days ahead: an RTC wrong at
// boot, a VM restored from a snapshot, NTP stepping it back) leaves the chain's folder
// ahead of the records: the writer never puts a segment behind the chain's last folder,
// so records of a day land in a folder more than a day after it, where no read of their
// day looks (the reads list the day's folder and the next). For each such day the writer
// creates, before the segment, an empty pointer to it:
//
//	audit/late/<org>/<date>/<folder>.<seq>   org has records of date in segment <folder>/<seq>
//
// Reading one organization's range (List) lists its pointers of the range, one listing,
// and reads the segments they name after the range's folders (they are later in the
// chain); reading every organization's (ListAll) lists the pointers of all. Like the day
// index they are a finding aid: verify reports a late record whose pointer is missing.
const latePrefix = "audit/late/"

func lateOrgPrefix(org string) string { return latePrefix + org + "/" }

func lateKey(org string, day, folder archiver.Day, seq int64) string {
	return fmt.Sprintf("%s%s/%s.%012d", lateOrgPrefix(org), day, folder, seq)
}

// parseLateKey splits audit/late/<org>/<date>/<folder>.<seq> into org, the records' day
// and the key of the segment it points to.
func parseLateKey(key string) (org string, day archiver.Day, segment string, ok bool) {
	rest, found := strings.CutPrefix(key, latePrefix)
	if !found {
		return "", archiver.Day{}, "", false
	}
	parts := strings.Split(rest, "/")
	if len(parts) != 3 {
		return "", archiver.Day{}, "", false
	}
	f, s, found := strings.Cut(parts[2], ".")
	d, err1 := archiver.ParseDay(parts[1])
	folder, err2 := archiver.ParseDay(f)
	seq, err3 := strconv.ParseInt(s, 10, 64)
	if !found || err1 != nil || err2 != nil || err3 != nil || seq < 1 || !folder.After(d.Next()) {
		return "", archiver.Day{}, "", false
	}
	return parts[0], d, auditSegmentKey(parts[0], folder, seq), true
}

// lateDays returns the days of recs (in time order) whose records go in folder more than
// a day after their day: those a read of the day would not find without a pointer.
func lateDays(recs []Record, folder archiver.Day) []archiver.Day {
	var days []archiver.Day
	for _, r := range recs {
		d := archiver.DayOf(r.Time)
		if folder.After(d.Next()) && (len(days) == 0 || days[len(days)-1] != d) {
			days = append(days, d)
		}
	}
	return days
}

// markDay writes org's day index entry for folder, with flushMu held, and before the
// first entry of the process, the index's start if the store has none.
func (a *Log) markDay(ctx context.Context, org string, folder archiver.Day, opt archiver.CreateOptions) error {
	if a.marked[org] == folder.String() {
		return nil
	}
	if !a.indexed {
		b, _ := json.Marshal(struct {
			Since string `json:"since"`
		}{folder.String()})
		// Another writer's (a day earlier or the same) stays: the index is complete
		// from its day, as every writer since has kept it.
		err := a.Store.Create(ctx, indexSinceKey, bytes.NewReader(b), int64(len(b)), sha256.Sum256(b), archiver.CreateOptions{})
		if err != nil && !errors.Is(err, archiver.ErrConflict) {
			return fmt.Errorf("audit: create %s: %w", indexSinceKey, err)
		}
		a.indexed = true
	}
	key := dayIndexKey(folder, org)
	if err := a.Store.Create(ctx, key, bytes.NewReader(nil), 0, sha256.Sum256(nil), opt); err != nil {
		return fmt.Errorf("audit: create %s: %w", key, err)
	}
	if a.marked == nil {
		a.marked = map[string]string{}
	}
	a.marked[org] = folder.String()
	return nil
}

// indexSince returns the first day the day index is complete for, zero without one.
func indexSince(ctx context.Context, s archiver.Store) (archiver.Day, error) {
	b, err := archiver.ReadAll(ctx, s, indexSinceKey)
	if errors.Is(err, archiver.ErrNotFound) {
		return archiver.Day{}, nil
	}
	if err != nil {
		return archiver.Day{}, fmt.Errorf("audit: %w", err)
	}
	var v struct {
		Since string `json:"since"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return archiver.Day{}, fmt.Errorf("audit: %s: %w", indexSinceKey, err)
	}
	d, err := archiver.ParseDay(v.Since)
	if err != nil {
		return archiver.Day{}, fmt.Errorf("audit: %s: %w", indexSinceKey, err)
	}
	return d, nil
}

func (a *Log) writerID() string {
	if a.writer == "" {
		b := make([]byte, 8)
		_, _ = rand.Read(b) // crypto/rand.Read does not fail
		a.writer = hex.EncodeToString(b)
	}
	return a.writer
}

// head returns org's last segment, from memory or from the store.
func (a *Log) head(ctx context.Context, org string) (chainHead, error) {
	if a.heads == nil {
		a.heads = map[string]chainHead{}
	}
	if h, ok := a.heads[org]; ok {
		return h, nil
	}
	key, err := a.headKey(ctx, org)
	if err != nil {
		return chainHead{}, fmt.Errorf("audit: find head of %s: %w", org, err)
	}
	if key == "" {
		return chainHead{}, nil
	}
	_, day, seq, ok := parseAuditSegmentKey(key)
	if !ok {
		return chainHead{}, fmt.Errorf("audit: %s is not a segment key", key)
	}
	b, err := archiver.ReadAll(ctx, a.Store, key)
	if err != nil {
		return chainHead{}, fmt.Errorf("audit: read head: %w", err)
	}
	if err := checkHeadAt(key, b); err != nil {
		return chainHead{}, fmt.Errorf("audit: %w", err)
	}
	seg, err := parseSegment(key, b)
	if err != nil {
		return chainHead{}, fmt.Errorf("audit: %w: %v, found as the audit chain's head: chatvault verify reports it", ErrIntegrity, err)
	}
	if err := a.checkHeadSigner(ctx, org, key, day, seg); err != nil {
		return chainHead{}, err
	}
	h := chainHead{seq: seq, day: day, sum: hexSum(seg.sum)}
	// A closing head fixes the folder of the next segment.
	hdr := seg.header
	if hdr.Next != "" {
		if h.next, err = archiver.ParseDay(hdr.Next); err != nil || !h.next.After(day) {
			return chainHead{}, fmt.Errorf("audit: head %s: closing segment names next folder %q, not a later day", key, hdr.Next)
		}
	}
	a.heads[org] = h
	return h, nil
}

// checkHeadSigner checks seg, org's chain head found at key (in the folder of day), before
// the writer extends it. The head fixes the seq, previous and folder of every later
// segment: one planted by someone who can write to the store but holds no key would be
// adopted into the chain for good (on a locking store nothing removes it). So the head's
// records must be the ones its header hashes (a closing head holds none); a signed head's
// signature must verify, with TrustedKeys by one of them; and a writer that signs or
// trusts keys follows an unsigned head only after an unsigned segment (or as the first):
// a chain begun before signing was turned on goes on, but one that goes from signed to
// unsigned at its head is what a planter writes. Verify reports each of these the same
// way. Otherwise the records wait in memory, retried, until the object is removed.
func (a *Log) checkHeadSigner(ctx context.Context, org, key string, day archiver.Day, seg *storedSegment) error {
	refuse := func(format string, args ...any) error {
		return fmt.Errorf("audit: %w: %s, found as the audit chain's head, %s: planted by someone with write access to the store? "+
			"chatvault verify reports it", ErrIntegrity, key, fmt.Sprintf(format, args...))
	}
	h := &seg.header
	if err := seg.checkRecords(); err != nil {
		return refuse("does not check: %v", err)
	}
	if h.Next != "" && len(seg.lines) > 0 {
		return refuse("is a closing segment holding records")
	}
	if h.Signature != nil {
		if err := verifySegmentSignature(h, a.TrustedKeys); err != nil {
			return refuse("%v", err)
		}
		return nil
	}
	if a.SigningKey == nil && len(a.TrustedKeys) == 0 || h.Seq == 1 {
		return nil
	}
	prevKey, err := previousKey(ctx, a.Store, org, key, day)
	if err != nil || prevKey == "" {
		return err // none: nothing says the chain was ever signed
	}
	prev, err := readSegment(ctx, a.Store, prevKey)
	if err != nil {
		return fmt.Errorf("audit: read %s, the segment before the chain's head %s: %w", prevKey, key, err)
	}
	if prev.header.Signature != nil {
		return refuse("is not signed, and the segment before it (%s) is: the chain goes from signed to unsigned", prevKey)
	}
	return nil
}

// checkRetired refuses, with RefuseRetired, a segment whose last record is at last when
// the rotation statements retired SigningKey before it (see RefuseRetired).
func (a *Log) checkRetired(ctx context.Context, last time.Time) error {
	if !a.RefuseRetired || a.SigningKey == nil {
		return nil
	}
	if now := a.now(); a.rotationsRead.IsZero() || now.Sub(a.rotationsRead) >= archiver.RetiredSkew/4 {
		stmts, err := ledger.Ledger{Store: a.Store}.RotationStatements(ctx, nil)
		if err != nil {
			return fmt.Errorf("audit: key rotations: %w", err)
		}
		a.rotations, a.rotationsRead = stmts, now
	}
	id := archiver.KeyID(a.SigningKey.Public().(ed25519.PublicKey))
	if r := archiver.RetiredAt(a.rotations, id, last); r != nil {
		return fmt.Errorf("audit: %w: signing.keyFile is key %s, which the rotation statement %s (%s, to key %s) retired more than %s "+
			"before these records (the last at %s): verify would report the segment as signed by a retired key; restart with signing.keyFile on the new key",
			ledger.ErrRetiredKey, id, r.Key(), r.RotatedAt, r.To.KeyID, archiver.RetiredSkew, last.UTC().Format(time.RFC3339))
	}
	return nil
}

// previousKey returns the key of the segment before key, org's head in the folder of day,
// "" when there is none: the greatest key of its folder before it, or the last key of the
// last folder before day.
func previousKey(ctx context.Context, st archiver.Store, org, key string, day archiver.Day) (string, error) {
	var prev string
	if err := st.List(ctx, auditDayPrefix(org, day), func(k string) error {
		if k < key && k > prev {
			prev = k
		}
		return nil
	}); err != nil || prev != "" {
		return prev, err
	}
	lo, err := firstFolderFrom(ctx, st, org, archiver.Day{})
	if err != nil || lo.IsZero() || !lo.Before(day) {
		return "", err
	}
	return lastKeyBefore(ctx, st, org, lo, day)
}

// checkHeadAt checks that b, the segment found at key as its organization's chain head,
// is the segment written there: its header names the key's organization, folder and seq.
// The head is the last key of the last folder; someone who can write to the store (no key
// needed) could copy an old segment to a later day's folder, and the witness would then
// vouch for that old segment only (its hash is the genuine one's), and a writer would
// extend the copy, forking the chain for good on a locking store.
func checkHeadAt(key string, b []byte) error {
	org, day, seq, ok := parseAuditSegmentKey(key)
	line, _, _ := bytes.Cut(b, []byte{'\n'})
	var h Segment
	if !ok || json.Unmarshal(line, &h) != nil || h.Org != org || h.Date != day.String() || h.Seq != seq {
		return fmt.Errorf("%w: %s, found as the audit chain's head, is not the segment written there (its header says %s/%s seq %d): "+
			"copied there by someone with write access to the store? chatvault verify reports it", ErrIntegrity, key, h.Org, h.Date, h.Seq)
	}
	return nil
}

// headKey returns the key of org's last segment, "" when it has none, without listing
// the organization's whole history. Keys sort by (folder date, seq) and no segment goes
// in a folder before its predecessor's, so the head is the last key of the last folder.
// The head is usually in yesterday's or today's folder: one listing of the keys from
// yesterday's folder on finds it (a later folder too, a replica's clock ahead). Else it
// probes for the last folder before yesterday by date, each probe a listing that stops at
// its first key (firstFolderFrom): the first folder of all (none: no chain), then back
// from yesterday in doubling steps, then halving the interval between the last folder
// found and the first day known to have none after it, and lists that folder. An
// organization last audited k days ago costs about 2·log2(k) probes, whatever the
// number of its segments or days.
func (a *Log) headKey(ctx context.Context, org string) (string, error) {
	return headKey(ctx, a.Store, org, archiver.DayOf(a.now()))
}

// headKey is Log.headKey in st, today being today.
func headKey(ctx context.Context, st archiver.Store, org string, today archiver.Day) (string, error) {
	yesterday := archiver.DayOf(today.Start().Add(-time.Hour))
	p := auditOrgPrefix(org)
	var key string
	if err := archiver.ListAfter(ctx, st, p, p+yesterday.String(), func(k string) error {
		key = k
		return nil
	}); err != nil || key != "" {
		return key, err
	}
	lo, err := firstFolderFrom(ctx, st, org, archiver.Day{})
	if err != nil || lo.IsZero() {
		return "", err
	}
	if !lo.Before(yesterday) {
		return lastKey(ctx, st, p) // not a folder of ours: list, as before
	}
	return lastKeyBefore(ctx, st, org, lo, yesterday)
}

// lastKeyBefore returns the last key of org's last folder before hi, lo being one of its
// folders before hi, by the probes headKey describes.
func lastKeyBefore(ctx context.Context, st archiver.Store, org string, lo, hi archiver.Day) (string, error) {
	days := func(from, to archiver.Day) int { return int(to.Start().Sub(from.Start()) / (24 * time.Hour)) }
	for step := 1; ; step *= 2 {
		d := archiver.DayOf(hi.Start().AddDate(0, 0, -step))
		if !d.After(lo) {
			break
		}
		f, err := firstFolderFrom(ctx, st, org, d)
		if err != nil {
			return "", err
		}
		if f.IsZero() || !f.Before(hi) {
			hi = d
			continue
		}
		lo = f
		break
	}
	for days(lo, hi) > 1 {
		mid := archiver.DayOf(lo.Start().AddDate(0, 0, days(lo, hi)/2))
		f, err := firstFolderFrom(ctx, st, org, mid)
		if err != nil {
			return "", err
		}
		if f.IsZero() || !f.Before(hi) {
			hi = mid
		} else {
			lo = f
		}
	}
	return lastKey(ctx, st, auditDayPrefix(org, lo))
}

// firstFolderFrom returns the day of org's first folder on or after d (every folder when
// d is zero), zero when there is none: one listing that starts at d's folder and stops at
// its first segment key.
func firstFolderFrom(ctx context.Context, s archiver.Store, org string, d archiver.Day) (archiver.Day, error) {
	p := auditOrgPrefix(org)
	startAfter := p
	if !d.IsZero() {
		startAfter = p + d.String() // the folder's keys, <date>/…, sort after it
	}
	var found archiver.Day
	err := archiver.ListAfter(ctx, s, p, startAfter, func(key string) error {
		if _, day, _, ok := parseAuditSegmentKey(key); ok {
			found = day
			return archiver.ErrStopListing
		}
		return nil
	})
	if errors.Is(err, archiver.ErrStopListing) {
		err = nil
	}
	return found, err
}

// encodeSegmentHeader returns h as one line of JSON (no newline), signed with key when set.
func encodeSegmentHeader(h *Segment, key ed25519.PrivateKey) ([]byte, error) {
	h.Signature = nil
	b, err := json.Marshal(h)
	if err != nil {
		return nil, fmt.Errorf("audit: encode segment header: %w", err)
	}
	if key == nil {
		return b, nil
	}
	h.Signature = archiver.SignBody(key, b)
	b, err = json.Marshal(h)
	if err != nil {
		return nil, fmt.Errorf("audit: encode segment header: %w", err)
	}
	return b, nil
}

// verifySegmentSignature checks h's signature (see checkSignature).
func verifySegmentSignature(h *Segment, trusted []ed25519.PublicKey) error {
	unsigned := *h
	unsigned.Signature = nil
	b, err := json.Marshal(&unsigned)
	if err != nil {
		return err
	}
	return archiver.CheckSignature("audit segment", h.Signature, b, trusted)
}

// segment is a segment read back: its header, its record lines, and its stored hash.
type storedSegment struct {
	header Segment
	lines  [][]byte // each with its newline
	sum    [sha256.Size]byte
	size   int64
}

// ErrIntegrity is returned (wrapped) when a stored audit segment does not check.
var ErrIntegrity = errors.New("audit segment does not check")

// checkRecords reports whether the segment's record lines are the ones its header counts
// and hashes.
func (seg *storedSegment) checkRecords() error {
	h := sha256.New()
	for _, line := range seg.lines {
		h.Write(line)
	}
	if got := hex.EncodeToString(h.Sum(nil)); len(seg.lines) != seg.header.Records || got != seg.header.RecordsSHA256 {
		return fmt.Errorf("%d records hashing to %s, header says %d records, %s", len(seg.lines), got, seg.header.Records, seg.header.RecordsSHA256)
	}
	return nil
}

// mustParseDay parses a header's date, or gives the zero day (which no key starts with).
func mustParseDay(s string) archiver.Day {
	d, _ := archiver.ParseDay(s)
	return d
}

// readSegment reads and splits a stored segment, checking nothing beyond its shape.
func readSegment(ctx context.Context, s archiver.Store, key string) (*storedSegment, error) {
	b, err := archiver.ReadAll(ctx, s, key)
	if err != nil {
		return nil, err
	}
	return parseSegment(key, b)
}

// parseSegment splits b, the segment stored at key, checking nothing beyond its shape.
func parseSegment(key string, b []byte) (*storedSegment, error) {
	seg := &storedSegment{sum: sha256.Sum256(b), size: int64(len(b))}
	head, rest, ok := bytes.Cut(b, []byte{'\n'})
	if !ok {
		return seg, fmt.Errorf("%s: no header line", key)
	}
	dec := json.NewDecoder(bytes.NewReader(head))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&seg.header); err != nil {
		return seg, fmt.Errorf("%s: header: %w", key, err)
	}
	if seg.header.Version != SegmentVersion {
		return seg, fmt.Errorf("%s: unsupported segment version %d", key, seg.header.Version)
	}
	for len(rest) > 0 {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			return seg, fmt.Errorf("%s: record %d has no newline", key, len(seg.lines)+1)
		}
		seg.lines = append(seg.lines, rest[:i+1])
		rest = rest[i+1:]
	}
	return seg, nil
}

// List calls fn with org's records whose time falls in the days from..to (inclusive), in
// chain order (which is time order within a replica). It lists and opens only org's
// folders of the range and the day after it; records still in memory are not included.
func (a *Log) List(ctx context.Context, org string, from, to archiver.Day, fn func(Record) error) error {
	if org == "" {
		return errors.New("audit: list: an organization is required")
	}
	lo, hi := from.Start(), to.End()
	for d := from; !d.After(to.Next()); d = d.Next() {
		var keys []string
		if err := a.Store.List(ctx, auditDayPrefix(org, d), func(key string) error {
			keys = append(keys, key)
			return nil
		}); err != nil {
			return fmt.Errorf("audit: list %s: %w", d, err)
		}
		for _, key := range keys {
			if err := a.listSegment(ctx, key, org, lo, hi, fn); err != nil {
				return err
			}
		}
	}
	// Records of the range in later folders, after the clock went back (see latePrefix).
	late, err := latePointed(ctx, a.Store, org, from, to, to.Next())
	if err != nil {
		return err
	}
	for _, key := range late {
		if err := a.listSegment(ctx, key, org, lo, hi, fn); err != nil && !errors.Is(err, archiver.ErrNotFound) {
			return err // a pointer whose segment never landed names nothing
		}
	}
	return nil
}

func (a *Log) listSegment(ctx context.Context, key, org string, lo, hi time.Time, fn func(Record) error) error {
	seg, err := readSegment(ctx, a.Store, key)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	// A closing segment holds no record, so no window shows it, but it decides where the
	// chain's next records are: one a trusted key did not sign (planted) may have sent
	// them to a folder no read of their day lists. The listing fails naming it rather than
	// return fewer records as if that were all (verify reports the same).
	if h := &seg.header; h.Next != "" && len(a.TrustedKeys) > 0 {
		if err := verifySegmentSignature(h, a.TrustedKeys); err != nil {
			return fmt.Errorf("audit: %s: %w: closing segment leading to the folder of %s: %v: records after it may be missing from this listing",
				key, ErrIntegrity, h.Next, err)
		}
	}
	if seg.header.Last.Before(lo) || !seg.header.First.Before(hi) {
		return nil
	}
	// Show nothing of a segment that does not check: invented or edited records must not
	// pass for the organization's access history (verify reports the same).
	if h := &seg.header; h.Org != org || !strings.HasPrefix(key, auditDayPrefix(org, mustParseDay(h.Date))) {
		return fmt.Errorf("audit: %s: %w: header of %s/%s, not of its place", key, ErrIntegrity, h.Org, h.Date)
	}
	if err := seg.checkRecords(); err != nil {
		return fmt.Errorf("audit: %s: %w: %v", key, ErrIntegrity, err)
	}
	if len(a.TrustedKeys) > 0 {
		if err := verifySegmentSignature(&seg.header, a.TrustedKeys); err != nil {
			return fmt.Errorf("audit: %s: %w: %v", key, ErrIntegrity, err)
		}
	}
	for i, line := range seg.lines {
		var r Record
		if err := json.Unmarshal(line, &r); err != nil {
			return fmt.Errorf("audit: %s: record %d: %w", key, i+1, err)
		}
		// A record is shown only under the organization its segment belongs to.
		if r.Org != org || r.Time.Before(lo) || !r.Time.Before(hi) {
			continue
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

// ListAll calls fn with every organization's records of the days from..to, one
// organization after another (each in chain order): operators' tool, not the API's. For
// the days the day index covers it lists each day's entries, then those organizations'
// folders of the day (and the day after, as List does); for days before the index it
// lists every segment key, as the release before the index did, opening only the
// window's.
func (a *Log) ListAll(ctx context.Context, from, to archiver.Day, fn func(Record) error) error {
	lo, hi := from.Start(), to.End()
	last := to.Next()
	since, err := indexSince(ctx, a.Store)
	if err != nil {
		return err
	}
	first := from // the first day the index covers
	switch {
	case since.IsZero() || since.After(last):
		first = last.Next()
	case since.After(from):
		first = since
	}
	var keys []string
	for d := first; !d.After(last); d = d.Next() {
		var orgs []string
		prefix := dayIndexPrefix(d)
		if err := a.Store.List(ctx, prefix, func(key string) error {
			if org := key[len(prefix):]; !strings.Contains(org, "/") {
				orgs = append(orgs, org)
			}
			return nil
		}); err != nil {
			return fmt.Errorf("audit: list %s: %w", prefix, err)
		}
		for _, org := range orgs {
			if err := a.Store.List(ctx, auditDayPrefix(org, d), func(key string) error {
				keys = append(keys, key)
				return nil
			}); err != nil {
				return fmt.Errorf("audit: list %s: %w", auditDayPrefix(org, d), err)
			}
		}
	}
	if first.After(from) {
		if err := a.Store.List(ctx, "audit/orgs/", func(key string) error {
			if _, day, _, ok := parseAuditSegmentKey(key); ok && !day.Before(from) && day.Before(first) {
				keys = append(keys, key)
			}
			return nil
		}); err != nil {
			return fmt.Errorf("audit: list audit/orgs/: %w", err)
		}
	}
	// Records of the range in later folders, after the clock went back (see latePrefix).
	late, err := latePointed(ctx, a.Store, "", from, to, last)
	if err != nil {
		return err
	}
	pointed := map[string]bool{}
	for _, key := range late {
		pointed[key] = true
	}
	keys = append(keys, late...)
	// Key order is organization, day, seq: each organization's chain in order.
	slices.Sort(keys)
	keys = slices.Compact(keys)
	for _, key := range keys {
		org, _, _, ok := parseAuditSegmentKey(key)
		if !ok {
			continue
		}
		if err := a.listSegment(ctx, key, org, lo, hi, fn); err != nil && !(pointed[key] && errors.Is(err, archiver.ErrNotFound)) {
			return err // a pointer whose segment never landed names nothing
		}
	}
	return nil
}

// ListLegacy calls fn with the records of the previous layout (one object per request,
// every organization's together, written before segments) of the days from..to, in time
// order. Those objects stay where they are, locked as they were; `chatvault audit` shows
// them beside the segments.
func (a *Log) ListLegacy(ctx context.Context, from, to archiver.Day, fn func(Record) error) error {
	for d := from; !d.After(to); d = d.Next() {
		err := a.Store.List(ctx, legacyAuditPrefix(d), func(key string) error {
			b, err := archiver.ReadAll(ctx, a.Store, key)
			if err != nil {
				return err
			}
			var r Record
			if err := json.Unmarshal(b, &r); err != nil {
				return fmt.Errorf("audit: %s: %w", key, err)
			}
			return fn(r)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func hexSum(sum [sha256.Size]byte) string { return hex.EncodeToString(sum[:]) }

// lastKey returns the greatest key under prefix, "" when there is none.
func lastKey(ctx context.Context, s archiver.Store, prefix string) (string, error) {
	var last string
	err := s.List(ctx, prefix, func(key string) error {
		last = key
		return nil
	})
	return last, err
}
