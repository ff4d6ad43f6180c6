package archiver

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/chatvault/chatvault/internal/crashpoint"
)

// AccountingVersion is the version of the accounting objects this build writes for an
// unsharded run; a shard's object is version AccountingShardVersion, so that a build that
// knows nothing of shards refuses it rather than take one shard's numbers for the day's.
const (
	AccountingVersion      = 1
	AccountingShardVersion = 2
)

// Accounting is a day's accounting for operators: what a run read of the whole partition
// and where every line went, across all organizations, the day's quarantine object, and
// the organizations' manifests the run committed or found unchanged, by seq and SHA-256.
//
// It is day-level data: an organization's manifest, which its compliance officer
// downloads, carries only its own numbers (DESIGN invariant 5), so the counts that cover
// every organization, and the key of the quarantine object they share, live here, in an
// object the API never serves. It is stored create-only under accounting/<date>/, one per
// run that committed something (or found the day's manifests not yet accounted for), kept
// as long as the quarantine object, signed like manifests, and checked by verify.
type Accounting struct {
	Version int    `json:"version"`
	Date    string `json:"date"`
	// Input accounts for every line of the partition, for all organizations:
	// Read = Exported + sum(Excluded) + Duplicates + Quarantined.
	Input InputCounts `json:"input"`
	// Quarantine is the day's quarantine object, if any record was quarantined.
	Quarantine *ObjectRef `json:"quarantine,omitempty"`
	// DirectorySHA256 is the hex SHA-256 of the directory snapshot used for routing.
	DirectorySHA256 string `json:"directorySha256"`
	// Manifests are the organizations' manifests of the day this run covered.
	Manifests []AccountedManifest `json:"manifests"`
	// RetainUntil is how long this object and the quarantine object are kept: the
	// longest retention of the day's organizations (RFC 3339; empty when none has one).
	RetainUntil string `json:"retainUntil,omitempty"`
	Generator   string `json:"generator"`
	SealedAt    string `json:"sealedAt"`
	// Signature is set when a signing key is configured: Ed25519 over the object encoded
	// without its signature, as for manifests.
	Signature *Signature `json:"signature,omitempty"`
	// Shard is set (version 2) when the run was one shard of a sharded seal (shard.go):
	// Input, Quarantine and Manifests are then the shard's part of the day, and the day's
	// accounting is the join of the n shards' objects of one directory and generator.
	Shard *Shard `json:"shard,omitempty"`
	// PartitionLines (version 2) is the number of lines of the whole partition, which
	// every shard reads: shards that read the partition before and after it changed (a
	// late file, then one shard run again) split different days, and do not join.
	PartitionLines int64 `json:"partitionLines,omitempty"`
	// PartitionDigest (version 2) is a hash of the whole partition's lines, which every
	// shard reads ("xxh64:" and 16 hex digits, partitionDigest in shard.go): shards that
	// read a file before and after it was edited in place, with as many lines, do not join
	// either.
	PartitionDigest string `json:"partitionDigest,omitempty"`
}

// ShardGroup is the join key of a shard's accounting object (the day's record, and
// verify's check of it): the shards of one sharded seal split the day the same way only
// with the same n, directory and program, and the same partition, by its line count and
// its digest.
func (a *Accounting) ShardGroup() string {
	return strconv.Itoa(a.Shard.Count) + " " + a.DirectorySHA256 + " " + a.Generator + " " + strconv.FormatInt(a.PartitionLines, 10) +
		" " + a.PartitionDigest
}

// AccountedManifest names one organization's manifest of the day.
type AccountedManifest struct {
	Org      string `json:"org"`
	Seq      int64  `json:"seq"`
	Revision int    `json:"revision"`
	// Outcome is OutcomeCommitted (this run committed it), OutcomeUnchanged or
	// OutcomePrevious.
	Outcome string `json:"outcome"`
	// SHA256 is of the manifest as stored (its chain entry).
	SHA256 string `json:"sha256"`
}

// AccountingPrefix starts the keys of the day-level accounting objects.
const AccountingPrefix = "accounting/"

// AccountingDayPrefix starts the keys of day's accounting objects.
func AccountingDayPrefix(day Day) string { return AccountingPrefix + day.String() + "/" }

// accountingKey names the day's n-th accounting object by its SHA-256, like exports are
// named: nothing else refers to it, so its name is what proves its bytes.
func accountingKey(day Day, n int, sum [sha256.Size]byte) string {
	return fmt.Sprintf("%s%06d-%s.json", AccountingDayPrefix(day), n, HexSum(sum))
}

// ParseAccountingKey returns the day, number and hex SHA-256 of an accounting key.
func ParseAccountingKey(key string) (Day, int, string, bool) {
	rest, ok := strings.CutPrefix(key, AccountingPrefix)
	if !ok {
		return Day{}, 0, "", false
	}
	date, file, ok := strings.Cut(rest, "/")
	if !ok {
		return Day{}, 0, "", false
	}
	day, err := ParseDay(date)
	if err != nil {
		return Day{}, 0, "", false
	}
	file, ok = strings.CutSuffix(file, ".json")
	num, sum, ok2 := strings.Cut(file, "-")
	if !ok || !ok2 || len(num) != 6 || len(sum) != 2*sha256.Size || strings.Trim(sum, "0123456789abcdef") != "" {
		return Day{}, 0, "", false
	}
	n, err := strconv.Atoi(num)
	return day, n, sum, err == nil && n > 0
}

func encodeAccounting(a *Accounting) ([]byte, error) {
	b, err := json.MarshalIndent(a, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode accounting: %w", err)
	}
	return append(b, '\n'), nil
}

// DecodeAccounting decodes a stored accounting object, refusing unknown fields.
func DecodeAccounting(b []byte) (*Accounting, error) {
	var a Accounting
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&a); err != nil {
		return nil, fmt.Errorf("decode accounting: %w", err)
	}
	switch {
	case a.Version == AccountingVersion && a.Shard == nil:
	case a.Version == AccountingShardVersion && a.Shard != nil:
	default:
		return nil, fmt.Errorf("decode accounting: unsupported version %d (shard %v)", a.Version, a.Shard != nil)
	}
	return &a, nil
}

func signAccounting(a *Accounting, key ed25519.PrivateKey) error {
	a.Signature = nil
	body, err := encodeAccounting(a)
	if err != nil {
		return err
	}
	a.Signature = NewSignature(key, body)
	return nil
}

// verifyAccountingSignature checks a's signature (see checkSignature).
func verifyAccountingSignature(a *Accounting, trusted []ed25519.PublicKey) error {
	unsigned := *a
	unsigned.Signature = nil
	body, err := encodeAccounting(&unsigned)
	if err != nil {
		return err
	}
	return checkSignature("accounting object", a.Signature, body, trusted)
}

// StoredAccounting is an accounting object with its key.
type StoredAccounting struct {
	*Accounting
	Key    string
	SHA256 [sha256.Size]byte
}

// account writes the day's accounting object after commitAll, when the run committed a
// manifest or covered one that no accounting object of the day names yet (a run that
// stopped between its manifests and its accounting object leaves them unaccounted; the
// rerun, finding them unchanged, accounts for them), or when its quarantine object is
// named by none: a rerun whose partition gained bad lines (or lost some) has the same
// records, but quarantined what the day's accounting does not show, and an object that
// nothing names is neither evidence nor verified. It returns the key written, or "".
func (w *writer) account(ctx context.Context) (string, error) {
	l := w.s.Chain
	covered := map[string]bool{}
	quarantines := map[string]bool{} // quarantine keys named, "" for none
	last := 0
	shard := w.s.Shard
	grouped := false       // whether an object of this shard (of the same group) exists
	var latest *Accounting // the day's latest accounting object
	err := l.Accountings(ctx, w.day, func(a *StoredAccounting) error {
		if _, n, _, ok := ParseAccountingKey(a.Key); ok && n > last {
			last = n
		}
		latest = a.Accounting
		if shard.Sharded() {
			// A shard's object accounts for its part of the day only, so only an object of
			// the same shard of the same split covers this run (shard.go).
			if a.Shard == nil || *a.Shard != shard || a.DirectorySHA256 != w.res.DirectorySHA256 || a.Generator != w.s.Generator ||
				a.PartitionLines != w.counts.lines || a.PartitionDigest != w.counts.partitionDigest {
				return nil
			}
			grouped = true
		}
		for _, m := range a.Manifests {
			covered[m.Org+"/"+m.SHA256] = true
		}
		quarantines[namedQuarantine(a.Quarantine)] = true
		return nil
	})
	if err != nil {
		return "", err
	}
	a := &Accounting{
		Version: AccountingVersion, Date: w.day.String(), Input: w.counts.input(), Quarantine: w.res.Quarantine,
		DirectorySHA256: w.res.DirectorySHA256,
		Generator:       w.s.Generator, SealedAt: w.s.Now().UTC().Format(time.RFC3339Nano),
	}
	// The manifests are listed as they are written (accounting_stream.go), not gathered.
	manifests := func(yield func(AccountedManifest) bool) {
		for i := range w.rt.orgs {
			c, ok := w.commits[int32(i)]
			if !ok || c.Err != nil || c.manifestSHA256 == "" {
				continue
			}
			for _, p := range w.previousUnaccounted(c, covered) {
				if !yield(p) {
					return
				}
			}
			if !yield(AccountedManifest{Org: c.Org, Seq: c.Seq, Revision: c.Revision, Outcome: c.Outcome, SHA256: c.manifestSHA256}) {
				return
			}
		}
	}
	fresh, listed := false, 0
	for m := range manifests {
		listed++
		if !covered[m.Org+"/"+m.SHA256] {
			fresh = true
		}
	}
	if listed > 0 && last > 0 && !quarantines[namedQuarantine(a.Quarantine)] {
		fresh = true
	}
	failed := false
	for _, c := range w.commits {
		failed = failed || c.Err != nil
	}
	if !shard.Sharded() && w.only == "" && !failed && latest != nil && (latest.Shard != nil || !latest.Input.Equal(a.Input)) {
		// An unsharded run reads the whole day: when the day's latest object is a shard's
		// (a split, complete or not, or an unsharded seal and some shards beside it,
		// verify/shard.go) or counts the day otherwise, this run's object becomes the
		// day's record, wholly after the others. So an unsharded rerun always settles a
		// day sealed both ways (two complete records that disagree, a split lacking a
		// shard that owns no organization), and a line added that no organization takes
		// (not entitled) is not left on no record. Not when an organization failed: its
		// records in these counts are on no committed manifest; nor for run --org, which
		// commits one organization's.
		fresh = true
	}
	if shard.Sharded() {
		// A shard writes its object even with no organization of its own: the day's join
		// needs every shard's, and it may own lines nonetheless (shard.go).
		a.Version, a.Shard, a.PartitionLines, a.PartitionDigest = AccountingShardVersion, &shard, w.counts.lines, w.counts.partitionDigest
		if !grouped || !quarantines[namedQuarantine(a.Quarantine)] {
			fresh = true
		}
	}
	if !fresh {
		return "", nil
	}
	keep := w.dayRetention()
	if !keep.RetainUntil.IsZero() {
		a.RetainUntil = keep.RetainUntil.UTC().Format(time.RFC3339)
	}
	f, size, sum, err := w.spillAccounting(a, manifests)
	if err != nil {
		return "", err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	// The number orders a day's accounting objects; two runs of one day at once (run
	// --org) may both take it, and their objects still differ by their hash.
	key := accountingKey(w.day, last+1, sum)
	crashpoint.Hit("commit.accounting")
	if err := w.s.Store.Create(ctx, key, f, size, sum, keep); err != nil {
		return "", fmt.Errorf("store accounting %s: %w", key, err)
	}
	return key, nil
}

// OutcomePrevious marks, in an accounting object, the revision this run's commit follows
// when no accounting object of the day names it: a run that committed it was stopped
// before its accounting object, and the partition changed before the rerun, which
// therefore committed a new revision instead of finding that one unchanged.
const OutcomePrevious = "previous"

// previousUnaccounted returns the revisions c's commit follows that no accounting object
// of the day (covered, by "org/sha256") names, oldest first, when c committed one
// (storeChange found them). Without them those manifests would be on no record of the day
// for good: every later run finds a later revision.
func (w *writer) previousUnaccounted(c *orgCommit, covered map[string]bool) []AccountedManifest {
	v, ok := w.previous.Load(c.Org)
	if c.Outcome != OutcomeCommitted || !ok {
		return nil
	}
	var out []AccountedManifest
	for _, p := range v.([]AccountedManifest) {
		if !covered[c.Org+"/"+p.SHA256] {
			out = append(out, p)
		}
	}
	return out
}

// unaccountedRevisions returns, oldest first, org's revisions of the day after accounted
// (the highest revision the day's accounting objects name) up to latest, which the new
// revision follows. Not only latest: two runs in a row stopped before their accounting
// object, each on a changed partition, leave two revisions on no record, and only this
// run can name the older one. It reads one manifest per revision before latest, and runs
// only when a run commits over an unaccounted revision, so a day sealed as usual pays
// nothing.
func (w *writer) unaccountedRevisions(ctx context.Context, org string, accounted int, latest *StoredManifest) ([]AccountedManifest, error) {
	l := w.s.Chain
	entry := func(m *StoredManifest) AccountedManifest {
		return AccountedManifest{Org: org, Seq: m.Seq, Revision: m.Revision, Outcome: OutcomePrevious, SHA256: HexSum(m.SHA256)}
	}
	out := []AccountedManifest{entry(latest)}
	for rev := latest.Revision - 1; rev > accounted; rev-- {
		m, err := l.ManifestAt(ctx, org, w.day, rev)
		if err != nil {
			return nil, fmt.Errorf("read revision %d of the day: %w", rev, err)
		}
		if m == nil {
			break // verify reports a missing revision; the ones found are still named
		}
		out = append(out, entry(m))
	}
	slices.Reverse(out)
	return out, nil
}

func namedQuarantine(q *ObjectRef) string {
	if q == nil {
		return ""
	}
	return q.Key
}

// dayRetention is how long the day's shared objects (quarantine, accounting) are kept:
// they belong to no one organization, so as long as the longest retention of the day's
// archiving organizations.
func (w *writer) dayRetention() CreateOptions {
	var keep CreateOptions
	for _, o := range w.rt.orgs {
		if r := w.retention(o); r.RetainUntil.After(keep.RetainUntil) {
			keep = r
		}
	}
	return keep
}
