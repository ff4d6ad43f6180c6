package archiver

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/chatvault/chatvault/model"
	"github.com/klauspost/compress/gzip"
)

// A revision never silently drops a record (DESIGN invariant 6). A rerun whose records
// differ from the day's latest revision commits a new revision on its own only when the
// new records are a superset of the committed ones; when some would disappear (the
// partition lost lines, the directory no longer entitles the organization to a chat) the
// organization's day fails, and only an operator's explicit supersession, with a reason,
// commits it. The superset check and its verification live here.

// ErrRevisionShrinks is wrapped by a ShrinkError.
var ErrRevisionShrinks = errors.New("new revision would drop records of the committed one")

// MaxSupersedeReason bounds a supersession's reason: it is evidence for an examiner, a
// sentence or a ticket reference, not a document.
const MaxSupersedeReason = 1000

// Supersede is an operator's explicit permission for one organization's new revision of
// the day to drop records of the revision it follows.
type Supersede struct {
	// Org is the only organization the permission is for.
	Org string
	// Reason is recorded in the new manifest; it must not be blank (CheckReason).
	Reason string
}

// CheckReason reports why reason cannot justify a supersession, or nil.
func CheckReason(reason string) error {
	switch {
	case strings.TrimSpace(reason) == "":
		return errors.New("the reason is empty")
	case len(reason) > MaxSupersedeReason:
		return fmt.Errorf("the reason is %d bytes long; at most %d", len(reason), MaxSupersedeReason)
	case !utf8.ValidString(reason):
		return errors.New("the reason is not valid UTF-8")
	}
	return nil
}

// Supersession is recorded in a manifest that drops records of the revision it follows.
type Supersession struct {
	// Revision is the revision replaced (always the manifest's revision - 1).
	Revision int `json:"revision"`
	// Dropped counts the records of Revision that the new revision does not hold.
	Dropped int64 `json:"dropped"`
	// Reason is the operator's, verbatim.
	Reason string `json:"reason"`
}

// ShrinkError is an organization's failure when its new revision would drop records.
type ShrinkError struct {
	Org, Name string
	Day       Day
	// Revision is the day's latest committed revision, which stays the one served.
	Revision int
	// Records is Revision's record count; Dropped of them would disappear, Added records
	// would be new.
	Records, Dropped, Added int64
}

func (e *ShrinkError) Error() string {
	return fmt.Sprintf("organization %s (%s), %s: the new records would drop %d of the %d records of revision %d (and add %d); "+
		"nothing committed, revision %d stays served. If the loss is intended, supersede it explicitly: "+
		"chatvault run --date %s --org %s --supersede --reason TEXT",
		e.Org, e.Name, e.Day, e.Dropped, e.Records, e.Revision, e.Added, e.Revision, e.Day, e.Org)
}

func (e *ShrinkError) Unwrap() error { return ErrRevisionShrinks }

// RevisionDiff compares a committed revision's records with a new revision's.
type RevisionDiff struct {
	Old, New       int64 // records on each side
	Dropped, Added int64 // records only in the old, only in the new
}

// DiffRevisions walks two exports' JSONL (old and new), both in export order, side by
// side and counts the records that only one of them holds. Memory is a line of each side,
// whatever the day's size.
//
// Each line is decoded and encoded again before it is compared, so that a record whose
// canonical spelling changed between generator versions still counts as the same record.
func DiffRevisions(old, new io.Reader) (RevisionDiff, error) {
	var d RevisionDiff
	a, b := newRecordCursor(old, "committed"), newRecordCursor(new, "new")
	okA, err := a.next()
	if err != nil {
		return d, err
	}
	okB, err := b.next()
	if err != nil {
		return d, err
	}
	for okA || okB {
		c := 0
		switch {
		case !okA:
			c = 1
		case !okB:
			c = -1
		default:
			c = CompareRecords(&a.cur, &b.cur)
		}
		if c <= 0 {
			if c < 0 {
				d.Dropped++
			}
			if okA, err = a.next(); err != nil {
				return d, err
			}
		}
		if c >= 0 {
			if c > 0 {
				d.Added++
			}
			if okB, err = b.next(); err != nil {
				return d, err
			}
		}
	}
	d.Old, d.New = a.n, b.n
	return d, nil
}

// recordCursor reads an export's records in order, one at a time.
type recordCursor struct {
	what string
	br   *bufio.Reader
	n    int64
	cur  Record
	prev Record
	buf  []byte // the current normalized line
	pbuf []byte // the previous one
	long []byte // a line longer than br's buffer, assembled
}

func newRecordCursor(r io.Reader, what string) *recordCursor {
	// A small buffer: several organizations' checks may run at once, each with two
	// cursors; a longer line is assembled in long.
	return &recordCursor{what: what, br: bufio.NewReaderSize(r, 64<<10)}
}

// next moves to the next record; false at the end.
func (c *recordCursor) next() (bool, error) {
	line, err := c.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		c.long = append(c.long[:0], line...)
		for err == bufio.ErrBufferFull {
			line, err = c.br.ReadSlice('\n')
			c.long = append(c.long, line...)
		}
		line = c.long
	}
	if len(line) == 0 {
		if err == io.EOF {
			return false, nil
		}
		return false, fmt.Errorf("read %s revision: %w", c.what, err)
	}
	if err != nil && err != io.EOF {
		return false, fmt.Errorf("read %s revision: %w", c.what, err)
	}
	if line[len(line)-1] != '\n' {
		return false, fmt.Errorf("%s revision: record %d has no newline", c.what, c.n+1)
	}
	ev, derr := model.Decode(line[:len(line)-1])
	if derr != nil {
		return false, fmt.Errorf("%s revision: record %d: %w", c.what, c.n+1, derr)
	}
	c.n++
	// Keep the previous record to check the order: the walk is only right on sorted input.
	c.prev, c.pbuf, c.buf = c.cur, c.buf, c.pbuf
	c.buf = model.AppendJSON(c.buf[:0], &ev)
	c.cur = Record{Ts: ev.EventTimestamp, ID: []byte(ev.MessageID), Rank: model.EventTypeRank(ev.EventType), Line: c.buf}
	if c.n > 1 && CompareRecords(&c.prev, &c.cur) >= 0 {
		return false, fmt.Errorf("%s revision: record %d is not after the previous one in export order", c.what, c.n)
	}
	return true, nil
}

// checkRevision compares the staged export with the day's latest revision, which it
// differs from. When records would disappear it returns a ShrinkError, unless the
// operator superseded this organization's day, in which case it records the supersession
// for the manifest.
func (w *writer) checkRevision(ctx context.Context, st *stagedObject, c *orgCommit) error {
	latest := c.latest
	if latest.Data.Keyless() {
		// A version 3 day without records names no export: it has no record to drop.
		return nil
	}
	rc, err := w.s.Store.Open(ctx, latest.Data.Key)
	if err != nil {
		return fmt.Errorf("read revision %d to compare: %w", latest.Revision, err)
	}
	defer rc.Close()
	// The committed export is hashed as it is read: a tampered one must not decide what
	// the new revision may drop.
	stored := sha256.New()
	oldZ, err := gzip.NewReader(io.TeeReader(rc, stored))
	if err != nil {
		return fmt.Errorf("read revision %d to compare: %w", latest.Revision, err)
	}
	newZ, err := gzip.NewReader(io.NewSectionReader(st.readerAt(), 0, st.size))
	if err != nil {
		return fmt.Errorf("read staged export: %w", err)
	}
	d, err := DiffRevisions(oldZ, newZ)
	if err != nil {
		return fmt.Errorf("compare with revision %d: %w", latest.Revision, err)
	}
	if _, err := io.Copy(io.Discard, io.TeeReader(rc, stored)); err != nil {
		return fmt.Errorf("read revision %d to compare: %w", latest.Revision, err)
	}
	if hex.EncodeToString(stored.Sum(nil)) != latest.Data.SHA256 {
		return fmt.Errorf("revision %d's export %s does not match its manifest: run chatvault verify", latest.Revision, latest.Data.Key)
	}
	if d.Dropped == 0 {
		return nil
	}
	if sup := w.s.Supersede; sup != nil && sup.Org == c.Org {
		if err := CheckReason(sup.Reason); err != nil {
			return fmt.Errorf("supersede: %w", err)
		}
		c.supersedes = &Supersession{Revision: latest.Revision, Dropped: d.Dropped, Reason: sup.Reason}
		w.log.Warn("superseding a revision: records dropped by the operator's decision",
			"org", c.Org, "revision", latest.Revision, "dropped", d.Dropped, "added", d.Added, "reason", sup.Reason)
		return nil
	}
	se := &ShrinkError{Org: c.Org, Name: c.Name, Day: w.day, Revision: latest.Revision,
		Records: d.Old, Dropped: d.Dropped, Added: d.Added}
	if err := w.recordRefusal(ctx, c, se); err != nil {
		return errors.Join(se, err)
	}
	return se
}

// Revision events are also kept where an operator's monitoring can count them without
// walking every chain (chatvault serve derives its metrics from them):
//
//	revisions/superseded/<date>/<org>/r<rev>-<sha>.json   a supersession, written before its manifest
//	revisions/refused/<date>/<org>/<ns>.json              a refused shrinking revision (Unix nanoseconds)
//
// The manifest stays the evidence: a superseded record counts only once the manifest of
// its revision says the same (an attempt that never committed leaves one that does not).
const (
	SupersededPrefix = "revisions/superseded/"
	RefusedPrefix    = "revisions/refused/"
)

// SupersessionRecord is a supersession as kept under revisions/superseded/.
type SupersessionRecord struct {
	Org  string `json:"org"`
	Date string `json:"date"`
	// Revision is the superseding revision.
	Revision   int          `json:"revision"`
	Supersedes Supersession `json:"supersedes"`
	// SealedAt is the committed manifest's (not stored in the record, which holds only
	// what its attempt decided, so that a retry of the same decision recreates the same
	// object).
	SealedAt time.Time `json:"-"`
}

func encodeSupersessionRecord(r SupersessionRecord) ([]byte, error) {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode supersession: %w", err)
	}
	return append(b, '\n'), nil
}

// recordSupersession stores the supersession about to be committed in revision rev. Its
// key holds its hash, so that a retry after a failed commit, with another reason, records
// its own instead of conflicting with the first.
func (w *writer) recordSupersession(ctx context.Context, c *orgCommit, rev int) error {
	b, err := encodeSupersessionRecord(SupersessionRecord{Org: c.Org, Date: w.day.String(), Revision: rev, Supersedes: *c.supersedes})
	if err != nil {
		return err
	}
	sum := sha256.Sum256(b)
	key := fmt.Sprintf("%s%s/%s/r%04d-%s.json", SupersededPrefix, w.day, c.Org, rev, HexSum(sum)[:16])
	if err := w.s.Store.Create(ctx, key, bytes.NewReader(b), int64(len(b)), sum, w.retention(c.org)); err != nil {
		return fmt.Errorf("record supersession: %w", err)
	}
	return nil
}

// recordRefusal stores a trace of a refused shrinking revision for monitoring; the
// organization's failed attempt (recordFailure) is the trace status reads.
func (w *writer) recordRefusal(ctx context.Context, c *orgCommit, se *ShrinkError) error {
	b, err := json.Marshal(struct {
		Org      string `json:"org"`
		Date     string `json:"date"`
		Revision int    `json:"revision"`
		Dropped  int64  `json:"dropped"`
		At       string `json:"at"`
	}{c.Org, w.day.String(), se.Revision, se.Dropped, w.s.Now().UTC().Format(time.RFC3339Nano)})
	if err != nil {
		return err
	}
	b = append(b, '\n')
	key := RefusedPrefix + w.day.String() + "/" + c.Org + "/" + strconv.FormatInt(w.s.Now().UnixNano(), 10) + ".json"
	if err := w.s.Store.Create(ctx, key, bytes.NewReader(b), int64(len(b)), sha256.Sum256(b), w.retention(c.org)); err != nil {
		return fmt.Errorf("record refused revision: %w", err)
	}
	return nil
}
