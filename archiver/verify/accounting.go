package verify

import (
	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/ledger"

	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// verifyAccounting checks the day-level accounting objects (see archiver.Accounting) of the days
// in opt's range: each decodes, is signed as opt requires, balances, names a quarantine
// object that re-hashes to what it says (the quarantine of version 2 manifests is checked
// here, once per day, instead of once per organization), and lists manifests that exist
// in their organization's chain with the SHA-256 it gives. On a locking store, each is
// locked like the quarantine object, and no accounting object was deleted or replaced.
// The recorded hold events (see Ledger.Hold) must decode and, on a locking store, be
// neither deleted nor replaced either: they are the evidence of the legal holds.
func verifyAccounting(ctx context.Context, l ledger.Ledger, opt Options, rep *Report) error {
	if s := rep.state; s != nil && s.layout3 && s.layout == nil {
		// Accounting objects name manifests by seq and revision: in layout 3 they are
		// read by their day keys (readNamed).
		sl, err := s.marker(ctx, l)
		if err != nil {
			return err
		}
		s.layout = sl
	}
	keys, err := listKeys(ctx, l.Store, archiver.AccountingPrefix)
	if err != nil {
		return err
	}
	if err := checkAccountingObjects(ctx, l, keys, nil, opt, rep); err != nil {
		return err
	}
	checkTally(rep)
	if _, err := l.HoldEvents(ctx, ""); err != nil {
		rep.problem("%v", err)
	}
	if lk, ok := l.Store.(archiver.Locker); ok {
		for _, p := range []string{archiver.AccountingPrefix, archiver.HoldsPrefix} {
			if err := archiver.CheckVersions(ctx, lk, p, rep); err != nil {
				return err
			}
		}
	}
	return nil
}

// readAccounting is an accounting object read ahead (days.go), or why it could not be.
type readAccounting struct {
	a   *archiver.StoredAccounting
	err error
}

// checkAccountingObjects checks the accounting objects under keys, in key order, of the
// days in opt's range; read holds those already read, by key.
func checkAccountingObjects(ctx context.Context, l ledger.Ledger, keys []string, read map[string]readAccounting, opt Options, rep *Report) error {
	lk, _ := l.Store.(archiver.Locker)
	locking := lk != nil && lk.Locking()
	var numbers accountingNumbers
	var named map[string]bool // the manifests named so far of the day being read
	shards := &shardJoin{}    // shard.go
	var namedDay string
	for _, key := range keys {
		day, _, sum, ok := archiver.ParseAccountingKey(key)
		if !ok {
			rep.problem("%s: not an accounting object", key)
			continue
		}
		if (!opt.From.IsZero() && day.Before(opt.From)) || (!opt.To.IsZero() && day.After(opt.To)) {
			continue
		}
		numbers.check(day, key, rep)
		r, ok := read[key]
		if !ok {
			r.a, r.err = l.ReadAccounting(ctx, key)
		}
		a, err := r.a, r.err
		if err != nil {
			rep.problem("%s: %v", key, err)
			continue
		}
		rep.Objects++
		if hexSum(a.SHA256) != sum {
			rep.problem("%s: its bytes hash to %s, not to the SHA-256 in its name", key, hexSum(a.SHA256))
		}
		if named == nil || day.String() != namedDay {
			named, namedDay = map[string]bool{}, day.String()
		}
		verifyAccountingObject(ctx, l, day, a, opt, rep, named)
		shards.add(day, a, rep) // shard.go
		if locking {
			verifyAccountingLocks(ctx, l, lk, a, rep)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	shards.check(rep)
	return nil
}

// checkTally reports the days whose version 2 manifests are not all named by the day's
// accounting objects.
func checkTally(rep *Report) {
	for _, day := range slices.Sorted(maps.Keys(rep.tally)) {
		if t := rep.tally[day]; t.named < t.chained {
			// "Rerun the day" alone is not enough: a run killed before its accounting
			// object, then rerun and refused for an organization (its new records would
			// drop some of the committed revision's), leaves that revision on no record,
			// and the same rerun is refused again for as long as the partition stays.
			rep.problem("%s: %d of the day's %d manifests (version 2) are named by no accounting object: one was deleted, or the run that committed them stopped before writing it. "+
				"Rerun the day (chatvault run --date %s): its accounting object names them. If that rerun was refused for an organization (it would drop records of the committed revision), "+
				"rerunning is refused again: act on the refusal that chatvault status --org ID --date %s shows, restoring the partition's lines and rerunning, "+
				"or, when the loss is intended, chatvault run --date %s --org ID --supersede --reason TEXT",
				day, t.chained-t.named, t.chained, day, day, day)
		}
	}
}

// listKeys returns the keys under prefix, in key order.
func listKeys(ctx context.Context, s archiver.Store, prefix string) ([]string, error) {
	var keys []string
	if err := s.List(ctx, prefix, func(key string) error {
		keys = append(keys, key)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("verify: list %s: %w", prefix, err)
	}
	return keys, nil
}

// accountingTally is one day's count of version 2 manifests in the chains, and of those
// the day's accounting objects name (each found in its chain with the SHA-256 given).
type accountingTally struct{ chained, named int }

// chained counts m, a manifest of day found in its chain: every version 2 manifest must be
// named by an accounting object of its day, so that deleting a day's accounting objects (or
// writing a manifest outside a run) shows. Version 1 manifests carried their day's
// accounting themselves.
func (rep *Report) chained(day archiver.Day, m *archiver.StoredManifest) {
	if m.Version < 2 {
		return
	}
	if rep.chainedKeys != nil {
		rep.chainedKeys[m.Key] = true
	}
	if rep.tally == nil {
		rep.tally = map[string]*accountingTally{}
	}
	t := rep.tally[day.String()]
	if t == nil {
		t = &accountingTally{}
		rep.tally[day.String()] = t
	}
	t.chained++
}

// verifyAccountingObject checks one accounting object of day; named holds the manifests
// ("org/seq") other accounting objects of the day already named, so each counts once.
func verifyAccountingObject(ctx context.Context, l ledger.Ledger, day archiver.Day, a *archiver.StoredAccounting, opt Options, rep *Report, named map[string]bool) {
	if a.Date != day.String() {
		rep.problem("%s: accounting of %s under the day %s", a.Key, a.Date, day)
	}
	if err := archiver.CheckAccountingSignature(a.Accounting, opt.trustedKeys()); err != nil {
		rep.problem("%s: %v", a.Key, err)
	}
	accountingRetired(a, rep)
	if !a.Input.Balanced() {
		rep.problem("%s: input counts do not balance", a.Key)
	}
	var quarantined int64
	if q := a.Quarantine; q != nil {
		quarantined = q.Records
		size, sum, err := hashObject(ctx, l, q.Key, q.VersionID)
		rep.Objects++
		rep.Bytes += size
		switch {
		case !strings.HasPrefix(q.Key, "quarantine/"+day.String()+"/"):
			rep.problem("%s: quarantine object %s is not the day's", a.Key, q.Key)
		case err != nil:
			rep.problem("%s: quarantine: %v", a.Key, err)
		case size != q.Size || hexSum(sum) != q.SHA256:
			rep.problem("%s: quarantine object %s does not match its accounting", a.Key, q.Key)
		}
		verifyPinnedVersion(ctx, l, q.Key, q.VersionID, rep)
	}
	if quarantined != a.Input.Quarantined {
		rep.problem("%s: %d records quarantined, but the quarantine object holds %d", a.Key, a.Input.Quarantined, quarantined)
	}
	for _, am := range a.Manifests {
		if opt.Org != "" && am.Org != opt.Org {
			continue
		}
		key := archiver.ChainKey(am.Org, am.Seq)
		if archiver.CheckKey(key) != nil {
			rep.problem("%s: names manifest %d of organization %q", a.Key, am.Seq, am.Org)
			continue
		}
		m, err := readNamed(ctx, l, rep.state, am.Org, day, am.Seq, am.Revision)
		if err == nil {
			key = m.Key
		}
		switch {
		case err != nil:
			rep.problem("%s: manifest %s: %v", a.Key, key, err)
		case hexSum(m.SHA256) != am.SHA256:
			rep.problem("%s: manifest %s hashes to %s, the accounting says %s", a.Key, key, hexSum(m.SHA256), am.SHA256)
		case m.Date != a.Date || m.Revision != am.Revision:
			rep.problem("%s: manifest %s is revision %d of %s, the accounting says revision %d of %s", a.Key, key, m.Revision, m.Date, am.Revision, a.Date)
		case m.Version >= 2 && !named[key]:
			named[key] = true
			if t := rep.tally[day.String()]; t != nil && (rep.chainedKeys == nil || rep.chainedKeys[key]) {
				t.named++
			}
		}
	}
}

// verifyAccountingLocks checks that the accounting object and its quarantine object are
// locked in COMPLIANCE mode at least until the retention the accounting names.
func verifyAccountingLocks(ctx context.Context, l ledger.Ledger, lk archiver.Locker, a *archiver.StoredAccounting, rep *Report) {
	if a.RetainUntil == "" {
		return
	}
	want, err := time.Parse(time.RFC3339, a.RetainUntil)
	if err != nil {
		rep.problem("%s: retainUntil: %v", a.Key, err)
		return
	}
	keys := []string{a.Key}
	if a.Quarantine != nil {
		keys = append(keys, a.Quarantine.Key)
	}
	for _, key := range keys {
		checkLock(ctx, lk, key, want, true, rep) // locks.go
	}
}

// accountingNumbers checks that a day's accounting objects are numbered 1, 2, … without a
// gap, as they are read in key order. A run numbers its object one past the day's highest,
// and objects are never deleted, so a gap is a deleted object: one a later object makes
// look redundant (it names the same manifests) but which alone recorded its run's
// quarantine and counts. Two objects may share a number (two runs of the day at once).
type accountingNumbers struct {
	day  archiver.Day
	next int
}

func (a *accountingNumbers) check(day archiver.Day, key string, rep *Report) {
	_, n, _, _ := archiver.ParseAccountingKey(key)
	if day != a.day {
		a.day, a.next = day, 1
	}
	switch {
	case n == a.next:
		a.next++
	case n < a.next: // a number shared by two runs at once
	default:
		rep.problem("%s: the day's accounting objects are numbered from 1 without a gap, but number %d is missing: an accounting object was deleted",
			key, a.next)
		a.next = n + 1
	}
}

// readNamed reads org's manifest seq, revision rev of day, which an accounting object
// names: by its old chain key, or in layout 3 by its day key (a store with a layout
// marker: first for a day from the marker's since on, after the old key before it). The
// manifest read must have that seq.
func readNamed(ctx context.Context, l ledger.Ledger, s *state, org string, day archiver.Day, seq int64, rev int) (*archiver.StoredManifest, error) {
	keys := []string{archiver.ChainKey(org, seq)}
	if s != nil && s.layout != nil && rev >= 1 {
		k3 := archiver.DayKey3(org, day, rev)
		if since := s.layout.SinceDay(); !since.IsZero() && !day.Before(since) {
			keys = []string{k3, keys[0]}
		} else {
			keys = append(keys, k3)
		}
	}
	var first error
	for _, key := range keys {
		m, err := l.ReadManifest(ctx, key)
		switch {
		case err == nil && m.Seq != seq:
			err = fmt.Errorf("%s holds seq %d", key, m.Seq)
		case err == nil:
			return m, nil
		}
		if first == nil || !errors.Is(err, archiver.ErrNotFound) {
			first = err
		}
	}
	return nil, first
}

// accountingRetired reports an accounting object signed by a key that a rotation statement
// had retired when the object was made, as verify does a manifest: one that names a
// manifest past the chain head the statement fixed for the key (archiver.RetiredBy), or,
// naming none there, dated (sealedAt) after the statement (archiver.RetiredAt). A thief of
// the retired key could otherwise rewrite a day's numbers and quarantine under a valid
// signature.
func accountingRetired(a *archiver.StoredAccounting, rep *Report) {
	s := rep.state
	if s == nil || a.Signature == nil {
		return
	}
	id, err := archiver.SignerID(a.Signature)
	if err != nil || id == "" {
		return // reported with the signature
	}
	for _, am := range a.Manifests {
		if r := archiver.RetiredBy(s.statements, id, am.Org, am.Seq); r != nil {
			rep.problem("%s: signed by key %s, which the rotation statement %s retired at the organization's seq %d, and names %s's seq %d: "+
				"an accounting object signed by a rotated-away key after its rotation, what a thief of that key would write", a.Key, id, r.Key(), r.HeadSeq(am.Org), am.Org, am.Seq)
			return
		}
	}
	at, err := time.Parse(time.RFC3339Nano, a.SealedAt)
	if err != nil {
		return
	}
	if r := archiver.RetiredAt(s.statements, id, at); r != nil {
		rep.problem("%s: signed by key %s, which the rotation statement %s retired before the object was sealed (%s): "+
			"an accounting object signed by a rotated-away key after its rotation, what a thief of that key would write", a.Key, id, r.Key(), a.SealedAt)
	}
}
