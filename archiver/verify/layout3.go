package verify

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/ledger"
)

// Layout 3 (docs/design/layout.md): a version 3 manifest is stored once, under its day
// (orgs/<org>/d/<yyyy>/<mm>/<dd>.r<rev>.json), and a late one (its key sorted before the
// greatest manifest key under d/ when it was committed) also as a copy under
// orgs/<org>/late/<seq>.json. What verify proves of it, beside the chain (seqmap.go):
//
//   - its key is its date and revision (nothing was moved), and the layouts agree: no
//     version 1 or 2 manifest under d/, no version 3 one under manifests/ or days/;
//   - in seq order, a manifest that is not late sorts after every manifest key under d/
//     before it, and a late one before the greatest of them: key order is chain order
//     off the late commits, so that moving a manifest to another day or revision shows;
//   - every late manifest has its copy, with the same bytes, and no copy is without its
//     manifest;
//   - the old chain does not grow once the organization has a version 3 manifest;
//   - a day without records names no object and the empty hashes, one with records an
//     export; the inline chat index is the records' and its members object hashes and
//     decodes as it should, checked once per object (ledger.Ledger.CheckExport,
//     CheckMembers).

// manifestKey reports whether key, one of org's keys, is where a manifest of its chain
// is stored: an old chain entry (the seq its key gives; 0 when the key is not a valid
// one) or a layout-3 day key (seq -1: the manifest's own).
func manifestKey(org, key string) (int64, bool) {
	switch archiver.KeyLayout(key) {
	case archiver.Layout2:
		if !strings.HasPrefix(key, archiver.ChainPrefix(org)) {
			return 0, false
		}
		seq, ok := archiver.ParseSeq(org, key)
		if !ok {
			return 0, true
		}
		return seq, true
	case archiver.Layout3:
		if _, name, ok := archiver.ParseDayKey3(org, key); ok {
			if _, ok := archiver.ParseRevisionName(name); ok {
				return -1, true
			}
		}
	}
	return 0, false
}

// checkManifest checks what m, stored at its key with seq as its place in the chain
// (-1: a layout-3 key, whose place is the manifest's seq), shows alone: that its key is
// where its content says it belongs, in the layout of its version, and that its input
// balances.
func checkManifest(org string, seq int64, m *archiver.StoredManifest, rep *Report) {
	v3 := m.Version >= archiver.ManifestVersion3
	switch {
	case seq < 0 && !v3:
		rep.problem("%s: a version %d manifest under %s: layout 3 holds version 3 manifests only", m.Key, m.Version, archiver.DayRoot3(org))
	case seq < 0:
		day, name, _ := archiver.ParseDayKey3(org, m.Key)
		rev, _ := archiver.ParseRevisionName(name)
		switch {
		case m.Org != org:
			rep.problem("%s: manifest of organization %q", m.Key, m.Org)
		case m.Date != day.String() || m.Revision != rev:
			rep.problem("%s: manifest of %s revision %d (seq %d) under the key of %s revision %d: a version 3 manifest's key is its date and revision: it was moved",
				m.Key, m.Date, m.Revision, m.Seq, day, rev)
		}
	case v3:
		rep.problem("%s: a version 3 manifest under the old chain's %s: version 3 manifests are stored under %s", m.Key, archiver.ChainPrefix(org), archiver.DayRoot3(org))
	case m.Seq != seq:
		rep.problem("%s: manifest says seq %d", m.Key, m.Seq)
	case m.Org != org:
		rep.problem("%s: manifest of organization %q", m.Key, m.Org)
	}
	if m.Input != nil && !m.Input.Balanced() {
		rep.problem("%s: input counts do not balance", m.Key)
	}
}

// keyOrder checks e, a manifest of the chain in seq order, against the manifests before
// it: a version 3 manifest that is not late sorts after the greatest manifest key under
// d/ before it (the tip), a late one before it; an old chain entry never follows a
// version 3 manifest.
func (c *orgCheck) keyOrder(e link, rep *Report) {
	if !e.layout3 {
		if c.layout3 {
			rep.problem("%s: an old chain entry (seq %d) after a version 3 manifest: once an organization has one, its old chain never grows", e.key, e.seq)
		}
		return
	}
	c.layout3 = true
	tip := c.sum.tipKey
	switch late := tip != "" && e.dayKey < tip; {
	case late && !e.late:
		rep.problem("%s: seq %d sorts before %s, a manifest before it in the chain, but is not a late commit: "+
			"among the manifests that are not late, key order is seq order: a manifest was moved", e.dayKey, e.seq, tip)
	case !late && e.late:
		rep.problem("%s: seq %d says it is a late commit, but sorts after every manifest before it", e.dayKey, e.seq)
	}
	if e.dayKey > tip {
		c.sum.tipKey = e.dayKey
	}
}

// lateCopies checks org's late copies against its manifests: each late manifest (in
// links) has its copy at orgs/<org>/late/<seq>.json with the same bytes, and each copy
// listed (copies: by seq) is of a late manifest. A copy whose manifest is missing from its
// day key (a late commit that stopped between its two writes, or a deleted day key) is
// read, reported, and its link returned for the chain. Copies read are marked in
// referenced.
func lateCopies(ctx context.Context, l ledger.Ledger, org string, links []link, copies map[int64]string, referenced map[string]bool, rep *Report) ([]link, error) {
	lateAt := map[int64]bool{}
	for _, e := range links {
		if !e.late || !e.readable {
			continue
		}
		lateAt[e.seq] = true
		key := archiver.LateKey(org, e.seq)
		if _, ok := copies[e.seq]; !ok {
			rep.problem("%s: a late commit (seq %d) without its copy %s: the copy was deleted", e.key, e.seq, key)
			continue
		}
		referenced[key] = true
		if err := sameBytes(ctx, l, key, e.sum, rep); err != nil {
			return nil, err
		}
	}
	var found []link
	for _, seq := range sortedSeqs(copies) {
		if lateAt[seq] {
			continue
		}
		key := copies[seq]
		referenced[key] = true
		m, err := l.ReadManifest(ctx, key)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			rep.problem("%s: a late copy without its manifest: %v", key, err)
			continue
		}
		rep.Read(1, int64(len(m.Bytes)))
		if m.Seq != seq || m.Org != org || !m.Late || m.Version < archiver.ManifestVersion3 {
			rep.problem("%s: a late copy of %s seq %d (late %v, version %d): not a late manifest of its seq", key, m.Org, m.Seq, m.Late, m.Version)
			continue
		}
		day, _ := archiver.ParseDay(m.Date)
		rep.problem("%s: a late copy without its manifest at %s: the commit stopped between its copy and its day key "+
			"(the next seal of the organization restores it), or the day key was deleted", key, archiver.DayKey3(org, day, m.Revision))
		found = append(found, linkOf(m, seq))
	}
	return found, nil
}

// sameBytes reports a problem unless the object at key hashes to sum (a late copy and its
// manifest hold the same bytes).
func sameBytes(ctx context.Context, l ledger.Ledger, key string, sum [sha256.Size]byte, rep *Report) error {
	b, err := archiver.ReadAll(ctx, l.Store, key)
	switch {
	case err != nil && ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(err, archiver.ErrNotFound):
		rep.problem("%s: a late commit's copy is missing", key)
	case err != nil:
		rep.problem("%s: %v", key, err)
	default:
		rep.Read(1, int64(len(b)))
		if s := sha256.Sum256(b); !bytes.Equal(s[:], sum[:]) {
			rep.problem("%s: a late commit's copy differs from its manifest", key)
		}
	}
	return nil
}

func sortedSeqs(m map[int64]string) []int64 {
	seqs := make([]int64, 0, len(m))
	for s := range m {
		seqs = append(seqs, s)
	}
	slices.Sort(seqs)
	return seqs
}

// membersChecked remembers the members objects an organization's walk checked, so that
// each is read once however many days name it, and how long the days that name each need
// it kept: its lock is read once too, after the walk (locks).
type membersChecked map[string]*membersUse

// membersUse is what the days a walk verified need of one members object.
type membersUse struct {
	need      time.Time    // the latest end of retention of a day that names it
	day       archiver.Day // that day
	retention int          // the longest retentionDays of a day that names it
}

// check checks the members object m's inline chat index names, once, and notes how long
// m's day needs it kept.
func (mc membersChecked) check(ctx context.Context, l ledger.Ledger, org string, m *archiver.StoredManifest, rep *Report) {
	if m.ChatIndex == nil || m.ChatIndex.Inline == nil {
		return
	}
	ref := m.ChatIndex.Inline.Members
	u := mc[ref.Key]
	if u == nil {
		u = &membersUse{}
		mc[ref.Key] = u
		n, err := l.CheckMembers(ctx, org, ref)
		rep.Read(1, n)
		if err != nil {
			rep.problem("%s: members object: %v", m.Key, err)
		}
		verifyPinnedVersion(ctx, l, ref.Key, ref.VersionID, rep)
	}
	day, err := archiver.ParseDay(m.Date)
	if err != nil || m.RetentionDays <= 0 {
		return
	}
	if need := day.End().AddDate(0, 0, m.RetentionDays); need.After(u.need) {
		u.need, u.day = need, day
	}
	u.retention = max(u.retention, m.RetentionDays)
}

// locks checks, once per members object, that it is locked in COMPLIANCE mode at least
// until the latest day that names it needs: one lock read per object, not per day (a
// members object is shared by the days of its year whose membership is the same). The
// writer lengthens the lock when a retention grows (CreateOptions.Extend), but not of an
// object stored by an older build or left short by a bug, which a seal that finds the
// object named by its head with the same retention never looks at again. With
// opt.ExtendLocks a short lock is lengthened (archiver.RetentionExtender) to what the
// writer gives a members object: the end of its year plus the longest retention.
func (mc membersChecked) locks(ctx context.Context, l ledger.Ledger, opt Options, rep *Report) {
	lk, ok := l.Store.(archiver.Locker)
	if !ok || !lk.Locking() {
		return
	}
	for _, key := range slices.Sorted(maps.Keys(mc)) {
		u := mc[key]
		if u.need.IsZero() {
			continue
		}
		lock, err := lk.Lock(ctx, key)
		switch {
		case err != nil:
			rep.problem("%s: lock: %v", key, err)
			continue
		case lock.Mode == "" && archiver.RetentionOver(u.need, archiver.StoreNow(l.Store)):
			continue // stored after the retention it needs ended: nothing to keep
		case lock.Mode != archiver.ModeCompliance && (lock.Mode != "" || !opt.ExtendLocks):
			// No lock at all (a copy of the archive carries none) is lengthened below
			// like a short one under --extend-locks.
			rep.problem("%s: lock mode %q, want %s", key, lock.Mode, archiver.ModeCompliance)
			continue
		case !lock.RetainUntil.Before(u.need):
			continue
		}
		short := fmt.Sprintf("%s: members object retained until %s, but the day %s that names it needs it until %s",
			key, lock.RetainUntil.Format(time.RFC3339), u.day, u.need.Format(time.RFC3339))
		re, ok := l.Store.(archiver.RetentionExtender)
		if !opt.ExtendLocks || !ok {
			rep.problem("%s (verify --extend-locks lengthens it)", short)
			continue
		}
		until := time.Date(u.day.Start().Year()+1, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, u.retention)
		if err := re.ExtendRetention(ctx, key, until); err != nil {
			rep.problem("%s: extending its lock: %v", short, err)
			continue
		}
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("%s: lock extended until %s", short, until.Format(time.RFC3339)))
	}
}
