package audit

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/chatvault/chatvault/archiver"
)

// Verifier verifies the access audit's chains for ledger.Ledger.Verify (set it as
// VerifyOptions.Audit).
type Verifier struct{}

// VerifyAudit walks every organization's chain of audit segments (or org's): each
// segment must be the next of its chain (seq, previous), match its header (records, their
// SHA-256, first and last times, its key), hold only its organization's records, carry a
// valid signature by a trusted key when verification has trusted keys, and be locked as its header says on a store
// that locks. Objects of the previous layout (one per request) are counted in a warning:
// they predate the chains and are not verifiable beyond being readable.
//
// It reads every segment of the chains it walks: a chain is only as good as its every
// link, so verification is not bounded by a window as List is.
func (Verifier) VerifyAudit(ctx context.Context, store archiver.Store, org string, trusted []ed25519.PublicKey, rep archiver.AuditReport) error {
	prefix := "audit/"
	if org != "" {
		prefix = auditOrgPrefix(org)
	}
	var (
		chain  string
		expect int64
		prev   string
		next   archiver.Day // the folder a closing segment fixed for the next one
		legacy int
		folder string // the organization's folder whose day index entry was checked last
		signer chainSigner
	)
	since, err := indexSince(ctx, store)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	err = store.List(ctx, prefix, func(key string) error {
		if isIndexKey(key) {
			return nil // a finding aid for ListAll, not evidence
		}
		if !strings.HasPrefix(key, "audit/orgs/") {
			legacy++
			return nil
		}
		o, day, seq, ok := parseAuditSegmentKey(key)
		if !ok {
			rep.Problem("%s: not an audit segment", key)
			return nil
		}
		if o != chain {
			chain, expect, prev, next = o, 1, "", archiver.Day{}
			signer = chainSigner{}
		}
		if f := o + "/" + day.String(); f != folder {
			folder = f
			if err := checkDayIndexed(ctx, store, o, day, since, rep); err != nil {
				return err
			}
		}
		if !next.IsZero() && day.String() != next.String() {
			rep.Problem("%s: the closing segment before it leads the chain to the folder of %s", key, next)
		}
		// A segment that cannot be read leaves the next one's previous unchecked (it is
		// a problem already); otherwise the next must name this one's hash.
		prev, next = verifySegment(ctx, store, key, o, day, seq, expect, prev, trusted, &signer, rep)
		rep.Segment(o, seq, prev) // the witnessed head, if any
		expect = seq + 1
		return ctx.Err()
	})
	if err != nil {
		return fmt.Errorf("verify: list %s: %w", prefix, err)
	}
	if legacy > 0 {
		rep.Warn(fmt.Sprintf(
			"%d audit objects of the previous layout (one per request, before segments): readable with chatvault audit, not chained", legacy))
	}
	return rep.CheckVersions(ctx, prefix)
}

// checkDayIndexed reports a problem when org has segments in its folder of day, a day
// the day index covers (since on), but the index has no entry for it: `chatvault audit`
// of every organization (ListAll) finds segments through the index only, so it would
// leave org's records of the day out without a word. The entry is read by key, once per
// folder: at most one request more per folder, whose segments are all read anyway.
func checkDayIndexed(ctx context.Context, store archiver.Store, org string, day, since archiver.Day, rep archiver.AuditReport) error {
	if since.IsZero() || day.Before(since) {
		return nil // before the index: ListAll lists every segment key for those days
	}
	key := dayIndexKey(day, org)
	rc, err := store.Open(ctx, key)
	switch {
	case err == nil:
		return rc.Close()
	case errors.Is(err, archiver.ErrNotFound):
		rep.Problem("%s: missing: the organization has audit segments in its folder of %s, which `chatvault audit` "+
			"without --org does not show (the day index is complete from %s, %s); recreate it as an empty object",
			key, day, since, indexSinceKey)
		return nil
	case ctx.Err() != nil:
		return ctx.Err()
	default:
		rep.Problem("%s: %v", key, err)
		return nil
	}
}

// verifySegment checks one segment and returns its hex SHA-256 ("" when unreadable) and,
// for a closing segment, the day of the folder the chain goes on in.
func verifySegment(ctx context.Context, store archiver.Store, key, org string, day archiver.Day, seq, expect int64, prev string, trusted []ed25519.PublicKey, signer *chainSigner, rep archiver.AuditReport) (string, archiver.Day) {
	seg, err := readSegment(ctx, store, key)
	if seg == nil {
		rep.Problem("%s: %v", key, err)
		return "", archiver.Day{}
	}
	stored := hexSum(seg.sum)
	if err != nil {
		rep.Problem("%v", err)
		return stored, archiver.Day{}
	}
	rep.Object(seg.size)
	h := &seg.header
	switch {
	case seq != expect:
		rep.Problem("%s: audit chain gap: expected seq %d", key, expect)
	case h.Seq != seq || h.Org != org || h.Date != day.String():
		rep.Problem("%s: header says %s/%s seq %d", key, h.Org, h.Date, h.Seq)
	case seq == 1 && h.Previous != "":
		rep.Problem("%s: first audit segment names a previous one", key)
	case seq > 1 && prev != "" && h.Previous != prev:
		rep.Problem("%s: previous is %s, but segment %d hashes to %s", key, h.Previous, seq-1, prev)
	}
	if err := verifySegmentSignature(h, trusted); err != nil {
		rep.Problem("%s: %v", key, err)
	}
	signer.check(key, seq, h.Signature, rep)
	checkRetired(key, h, rep)
	if err := seg.checkRecords(); err != nil {
		rep.Problem("%s: %v", key, err)
		return stored, archiver.Day{}
	}
	if h.Next != "" {
		// A closing segment (see Segment.Next): no records, a later folder.
		next, err := archiver.ParseDay(h.Next)
		switch {
		case err != nil || next.String() != h.Next || !next.After(day):
			rep.Problem("%s: closing segment names next folder %q, not a later day", key, h.Next)
			next = archiver.Day{}
		case len(seg.lines) != 0 || !h.First.IsZero() || !h.Last.IsZero():
			rep.Problem("%s: closing segment holds records", key)
		}
		if h.RetentionDays > 0 {
			rep.CheckLock(ctx, key, day.End().AddDate(0, 0, h.RetentionDays))
		}
		return stored, next
	}
	var first, last time.Time
	var recs []Record
	for i, line := range seg.lines {
		var r Record
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&r); err != nil {
			rep.Problem("%s: record %d: %v", key, i+1, err)
			return stored, archiver.Day{}
		}
		switch {
		case r.Org != org:
			rep.Problem("%s: record %d is of organization %q", key, i+1, r.Org)
		case r.Time.Before(last):
			rep.Problem("%s: record %d is out of time order", key, i+1)
		case archiver.DayOf(r.Time).After(day):
			rep.Problem("%s: record %d of %s is in an earlier day's folder", key, i+1, r.Time.Format(time.RFC3339))
		}
		if i == 0 {
			first = r.Time
		}
		last = r.Time
		recs = append(recs, r)
	}
	checkLatePointers(ctx, store, key, org, day, seq, recs, rep)
	if len(seg.lines) == 0 || !first.Equal(h.First) || !last.Equal(h.Last) {
		rep.Problem("%s: records span %s to %s, header says %s to %s", key, first, last, h.First, h.Last)
	}
	if h.RetentionDays > 0 {
		rep.CheckLock(ctx, key, day.End().AddDate(0, 0, h.RetentionDays))
	}
	return stored, archiver.Day{}
}

// AuditHeadSum reads the segment a witnessed audit head names, by key, and returns its
// hex SHA-256 as stored (archiver.AuditHeadReader): one GET, whatever the chain's length.
func (Verifier) AuditHeadSum(ctx context.Context, store archiver.Store, h archiver.WitnessAuditHead) (string, error) {
	day, err := archiver.ParseDay(h.Date)
	if err != nil || day.String() != h.Date || h.Seq < 1 {
		return "", fmt.Errorf("witness: malformed audit head %+v", h)
	}
	key := auditSegmentKey(h.Org, day, h.Seq)
	if err := archiver.CheckKey(key); err != nil {
		return "", fmt.Errorf("witness: audit head of organization %q: %w", h.Org, err)
	}
	b, err := archiver.ReadAll(ctx, store, key)
	if err != nil {
		return "", err
	}
	return hexSum(sha256.Sum256(b)), nil
}

// chainSigner follows the signing key of one organization's audit chain, segment by
// segment in seq order, as verify does for a manifest chain: whatever the trusted keys
// (none: signatures are checked against the keys they carry), a chain that goes from
// signed to unsigned, or changes key without a rotation statement leading from the old
// key to the new one, is a problem. That is what someone who can write to the store but
// holds no key produces by replacing an organization's newest segments.
type chainSigner struct {
	key string // the key id of the last signed segment, "" before one
}

func (c *chainSigner) check(key string, seq int64, sig *archiver.Signature, rep archiver.AuditReport) {
	id, err := archiver.SignerID(sig)
	if err != nil {
		return // reported with the segment's signature
	}
	rotated := false
	if r, ok := rep.(archiver.AuditRotations); ok && id != "" && c.key != "" && id != c.key {
		rotated = r.Rotated(c.key, id)
	}
	switch {
	case id == "" && c.key != "":
		rep.Problem("%s: the audit chain goes from signed (key %s) to unsigned at seq %d: a segment replaced by one without a signature, "+
			"or a writer without signing.keyFile", key, c.key, seq)
	case id != "" && c.key != "" && id != c.key && !rotated:
		rep.Problem("%s: the signing key changes from %s to %s at seq %d without a recorded rotation (no statement under %s signed by both keys)",
			key, c.key, id, seq, archiver.RotationsPrefix)
	}
	if id != "" {
		c.key = id
	}
}

// checkRetired reports a segment signed by a key that a rotation statement had retired
// before the requests it records (its last record's time), as verify does a manifest
// signed past the chain heads the statement fixed: what a thief of a key rotated away
// after a compromise would write (archiver.RetiredAt says what the dates can and cannot
// show). A closing segment records nothing, and the one after it is checked.
func checkRetired(key string, h *Segment, rep archiver.AuditReport) {
	r, ok := rep.(archiver.AuditRotations)
	if !ok || h.Signature == nil || h.Last.IsZero() {
		return
	}
	id, err := archiver.SignerID(h.Signature)
	if err != nil || id == "" {
		return // reported with the segment's signature
	}
	if stmt := r.RetiredAt(id, h.Last); stmt != "" {
		rep.Problem("%s: signed by key %s, which the rotation statement %s retired before the requests it records (the last at %s): "+
			"an audit segment signed by a rotated-away key after its rotation, what a thief of that key would write", key, id, stmt, h.Last.Format(time.RFC3339))
	}
}

// checkLatePointers reports a missing pointer (see latePrefix) for each day of recs, the
// records of the segment seq in org's folder of day, that a read of the day would not find
// there: `chatvault audit` and GET /v1/audit of that day would leave them out without a
// word (a pointer deleted by mistake or to hide them). A read per such day, only for
// segments a clock that went back made.
func checkLatePointers(ctx context.Context, store archiver.Store, key, org string, day archiver.Day, seq int64, recs []Record, rep archiver.AuditReport) {
	for _, d := range lateDays(recs, day) {
		pk := lateKey(org, d, day, seq)
		rc, err := store.Open(ctx, pk)
		switch {
		case err == nil:
			_ = rc.Close()
		case errors.Is(err, archiver.ErrNotFound):
			rep.Problem("%s: missing: %s holds records of %s, more than a day before its folder (the clock went back), "+
				"which a read of that day finds only through it; recreate it as an empty object", pk, key, d)
		case ctx.Err() == nil:
			rep.Problem("%s: %v", pk, err)
		}
	}
}
