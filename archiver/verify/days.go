package verify

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/ledger"
)

// runDays verifies the days opt.From to opt.To only, so that its work grows with the days
// asked about, not with the history (verify --date): for each day, it reads the day's
// accounting objects, and for each organization (opt.Org, or the directory's archiving
// organizations and those the accounting objects name) the objects of its day folder:
// each revision's day index, the chain entry it copies and the chain entry before it
// (the link: its SHA-256 is the manifest's previous), and the objects the manifest names.
// What only a walk of whole chains can show (a gap further back, a witness head past the
// range's manifests when its entry is gone, the audit chains) is left to a full verify;
// coverage is checked for the days of the range: a day sealed for some organizations
// must be sealed for every archiving one. The witness's heads are each read by key.
func runDays(ctx context.Context, l ledger.Ledger, opt Options, rep *Report) error {
	s := rep.state
	known := map[string]bool{}
	if opt.Org != "" {
		known[opt.Org] = true
	} else {
		for id := range s.archiving {
			known[id] = true
		}
	}
	if opt.Org == "" && s.archiving == nil {
		rep.Warnings = append(rep.Warnings, "without a directory, only the organizations the days' accounting objects name are verified")
	}
	// The newest checkpoint's record of the attachment indexes (attachstate.go), when
	// asked for: reading it costs a listing of the checkpoints and a read of one that
	// grows with the organizations, too much for each slice of a continuous verification.
	var anchor *Checkpoint
	anchorKey := ""
	if opt.AttachmentRecord {
		var err error
		if anchor, err = attachmentAnchor(ctx, l, opt, rep); err != nil {
			return err
		}
		if anchor != nil {
			anchorKey = anchor.Key
		}
	}
	found := map[string]map[archiver.Day]bool{} // organization → days with a manifest
	sealed := map[archiver.Day]bool{}           // days with a manifest or an accounting object
	lk, _ := l.Store.(archiver.Locker)
	for day := opt.From; !day.After(opt.To); day = day.Next() {
		prefix := archiver.AccountingPrefix + day.String() + "/"
		keys, err := listKeys(ctx, l.Store, prefix)
		if err != nil {
			return err
		}
		orgs := maps.Clone(known)
		read := map[string]readAccounting{}
		for _, key := range keys {
			var r readAccounting
			r.a, r.err = l.ReadAccounting(ctx, key)
			read[key] = r
			if r.a == nil {
				continue
			}
			for _, am := range r.a.Manifests {
				if (opt.Org == "" || am.Org == opt.Org) && archiver.CheckKey(archiver.ChainPrefix(am.Org)+"x") == nil {
					orgs[am.Org] = true
				}
			}
		}
		if len(keys) > 0 {
			sealed[day] = true
		}
		for _, org := range slices.Sorted(maps.Keys(orgs)) {
			n, err := verifyOrgDay(ctx, l, org, day, rep)
			if err != nil {
				return err
			}
			if archiver.CheckKey(archiver.DayPrefix(org, day)+"x") == nil {
				if err := verifyAttachmentDay(ctx, l, org, day, anchor.attachments(org), anchorKey, rep); err != nil {
					return err
				}
			}
			if n > 0 {
				sealed[day] = true
				if found[org] == nil {
					found[org] = map[archiver.Day]bool{}
				}
				found[org][day] = true
			}
		}
		if err := checkAccountingObjects(ctx, l, keys, read, opt, rep); err != nil {
			return err
		}
		if lk != nil {
			for _, p := range []string{prefix, "quarantine/" + day.String() + "/"} {
				if err := archiver.CheckVersions(ctx, lk, p, rep); err != nil {
					return err
				}
			}
		}
	}
	if gaps := missingDays(sealed, opt.From, opt.To); len(gaps) > 0 {
		// Not a problem by itself (a day not sealed yet looks the same), but never a
		// silent pass: a day whose folders and accounting objects were all deleted looks
		// the same too. verify --date of the next sealed day checks the link into it.
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("%s: nothing sealed (no organization's day folder, no accounting object): "+
			"not sealed yet, or its objects were deleted; verify --date of the next sealed day, or a whole-store verify, "+
			"checks the chains through it", joinRanges(gaps)))
	}
	s.members.locks(ctx, l, opt, rep) // layout3.go
	rep.Orgs = len(found)
	checkTally(rep)
	s.checkDayCoverage(opt.From, opt.To, found, sealed, rep)
	if err := checkWitnessByKey(ctx, l, s, rep); err != nil {
		return err
	}
	if lk != nil && !lk.Locking() {
		rep.Warnings = append(rep.Warnings, "the store does not lock objects: retention is not enforced by storage")
	}
	if s.signed && len(s.trusted) == 0 {
		rep.Warnings = append(rep.Warnings, "signatures were checked against the keys the manifests carry, which proves "+
			"integrity, not origin: give the trusted public key (--public-key) to prove who signed")
	}
	return nil
}

// verifyOrgDay verifies org's manifests of day: in layout 3 (a store with a layout
// marker, docs/design/layout.md) those of its day prefix, each with the link to the
// manifest its previousKey names and its late copy; in the old layout (a day before the
// marker's since, or a store without one) those of its day folder, each with the chain
// entry its day index copies and the link to the entry before it; and the objects each
// names. It returns how many manifests it found.
func verifyOrgDay(ctx context.Context, l ledger.Ledger, org string, day archiver.Day, rep *Report) (int, error) {
	if archiver.CheckKey(archiver.DayPrefix(org, day)+"x") != nil {
		rep.problem("organization %q: not a valid organization id", org)
		return 0, nil
	}
	n := 0
	if sl := rep.state.layout; sl != nil {
		k, err := verifyOrgDay3(ctx, l, org, day, rep)
		if err != nil {
			return k, err
		}
		n += k
		if since := sl.SinceDay(); !since.IsZero() && !day.Before(since) {
			return n, nil // sealed after the upgrade: layout 3 only
		}
	}
	prefix := archiver.DayPrefix(org, day)
	keys, err := listKeys(ctx, l.Store, prefix)
	if err != nil {
		return 0, err
	}
	referenced := map[string]bool{}
	for _, idx := range keys {
		rev, ok := parseRevision(prefix, idx)
		if !ok {
			continue
		}
		referenced[idx] = true
		n++
		verifyDayManifest(ctx, l, org, day, idx, rev, referenced, rep)
		if err := ctx.Err(); err != nil {
			return n, err
		}
	}
	return n, checkDayObjects(ctx, l, prefix, keys, referenced, rep)
}

// verifyOrgDay3 verifies org's layout-3 manifests of day (verifyOrgDay): one listing of
// the day prefix, then per manifest one GET, one for the manifest its previousKey names
// (the link), one for its late copy when it is late, and its objects.
func verifyOrgDay3(ctx context.Context, l ledger.Ledger, org string, day archiver.Day, rep *Report) (int, error) {
	prefix := archiver.DayPrefix3(org, day)
	keys, err := listKeys(ctx, l.Store, prefix)
	if err != nil {
		return 0, err
	}
	referenced := map[string]bool{}
	n := 0
	for _, key := range keys {
		_, name, ok := archiver.ParseDayKey3(org, key)
		if !ok {
			continue
		}
		if _, ok := archiver.ParseRevisionName(name); !ok {
			continue
		}
		referenced[key] = true
		n++
		if err := verifyDayManifest3(ctx, l, org, day, key, referenced, rep); err != nil {
			return n, err
		}
	}
	return n, checkDayObjects(ctx, l, prefix, keys, referenced, rep)
}

// verifyDayManifest3 verifies the layout-3 manifest at key: where it is stored, its link
// to the manifest its previousKey names, its late copy, and what it names.
func verifyDayManifest3(ctx context.Context, l ledger.Ledger, org string, day archiver.Day, key string, referenced map[string]bool, rep *Report) error {
	m, err := l.ReadManifest(ctx, key)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		rep.problem("%s: %v", key, err)
		return nil
	}
	rep.Manifests++
	rep.Read(1, int64(len(m.Bytes)))
	checkManifest(org, -1, m, rep)
	c := &orgCheck{s: rep.state, org: org, sum: &chainSummary{}, days: map[archiver.Day]bool{}}
	switch {
	case m.Seq < 1:
		rep.problem("%s: seq %d", key, m.Seq)
	case m.Seq == 1 && (m.Previous != "" || m.PreviousKey != ""):
		rep.problem("%s: first manifest names a previous one", key)
	case m.Seq > 1:
		pk := previousManifestKey(org, m)
		prev, err := l.ReadManifest(ctx, pk)
		rep.Read(1, int64(len(prevBytes(prev))))
		switch {
		case err != nil && ctx.Err() != nil:
			return ctx.Err()
		case m.PreviousKey == "" && m.Version >= archiver.ManifestVersion3:
			rep.problem("%s: seq %d names no previousKey", key, m.Seq)
		case err != nil:
			rep.problem("%s: the manifest before it, %s: %v", key, pk, err)
		case prev.Seq != m.Seq-1 || prev.Org != org:
			rep.problem("%s: previousKey %s holds %s seq %d, not seq %d", key, pk, prev.Org, prev.Seq, m.Seq-1)
		case m.Previous != hexSum(prev.SHA256):
			rep.problem("%s: previous is %s, but manifest %d hashes to %s", key, m.Previous, prev.Seq, hexSum(prev.SHA256))
		default:
			c.follow(prev)
			pl := linkOf(prev, prev.Seq)
			checkPreviousKey(linkOf(m, m.Seq), &pl, rep)
			if prev.Version < archiver.ManifestVersion3 {
				checkPrevIndexed(ctx, l, org, key, prev, rep)
			}
		}
	}
	if m.Late {
		referenced[archiver.LateKey(org, m.Seq)] = true
		if err := sameBytes(ctx, l, archiver.LateKey(org, m.Seq), m.SHA256, rep); err != nil {
			return err
		}
	}
	c.manifest(m, rep)
	rep.state.signed = rep.state.signed || c.signed
	checkSealedAfterDay(m, rep)
	for _, k := range namedKeys(key, m) {
		referenced[k] = true
	}
	verifyManifestDay(ctx, l, org, day, m, key, nil, rep)
	rep.state.members.check(ctx, l, org, m, rep)
	return nil
}

// parseRevision returns the revision of a day index key (prefix + "r0001.json").
func parseRevision(prefix, key string) (int, bool) {
	s, ok := strings.CutPrefix(key, prefix+"r")
	if !ok {
		return 0, false
	}
	s, ok = strings.CutSuffix(s, ".json")
	if !ok || len(s) != 4 {
		return 0, false
	}
	rev, err := strconv.Atoi(s)
	return rev, err == nil && rev > 0
}

// verifyDayManifest verifies the manifest whose day index is idx (revision rev of org's
// day): the chain entry it copies, that entry's link to the one before it, and what it
// names.
func verifyDayManifest(ctx context.Context, l ledger.Ledger, org string, day archiver.Day, idx string, rev int, referenced map[string]bool, rep *Report) {
	im, err := l.ReadManifest(ctx, idx)
	if err != nil {
		rep.problem("%s: %v", idx, err)
		return
	}
	rep.Read(1, int64(len(im.Bytes)))
	if im.Version >= archiver.ManifestVersion3 {
		rep.problem("%s: a version 3 manifest under the old day folder: version 3 manifests are stored under %s", idx, archiver.DayRoot3(org))
		return
	}
	if im.Seq < 1 || im.Org != org || im.Date != day.String() || im.Revision != rev {
		rep.problem("%s: day index of %s %s revision %d seq %d, under %s %s revision %d", idx, im.Org, im.Date, im.Revision, im.Seq, org, day, rev)
		return
	}
	key := archiver.ChainKey(org, im.Seq)
	m, err := l.ReadManifest(ctx, key)
	if err != nil {
		rep.problem("%s: chain entry %s: %v", idx, key, err)
		return
	}
	rep.Manifests++
	rep.Read(1, int64(len(m.Bytes)))
	c := &orgCheck{s: rep.state, org: org, sum: &chainSummary{}, days: map[archiver.Day]bool{}}
	switch {
	case m.Seq != im.Seq:
		rep.problem("%s: manifest says seq %d", key, m.Seq)
	case m.Org != org:
		rep.problem("%s: manifest of organization %q", key, m.Org)
	case m.Seq == 1 && m.Previous != "":
		rep.problem("%s: first manifest names a previous one", key)
	case m.Seq > 1:
		pk := previousManifestKey(org, m)
		prev, err := l.ReadManifest(ctx, pk)
		rep.Read(1, int64(len(prevBytes(prev))))
		switch {
		case err != nil:
			rep.problem("%s: the manifest before it, %s: %v", key, pk, err)
		case m.Previous != hexSum(prev.SHA256):
			rep.problem("%s: previous is %s, but manifest %d hashes to %s", key, m.Previous, prev.Seq, hexSum(prev.SHA256))
		default:
			c.follow(prev)
			checkPrevIndexed(ctx, l, org, key, prev, rep)
		}
	}
	c.manifest(m, rep)
	rep.state.signed = rep.state.signed || c.signed
	checkSealedAfterDay(m, rep)
	if m.Input != nil && !m.Input.Balanced() {
		rep.problem("%s: input counts do not balance", key)
	}
	referenced[m.Data.Key] = true
	if m.Quarantined != nil {
		referenced[m.Quarantined.Key] = true
	}
	if m.ChatIndex != nil {
		referenced[m.ChatIndex.Key] = true
	}
	verifyManifestDay(ctx, l, org, day, m, idx, im.Bytes, rep)
}

// checkPrevIndexed reports a problem when prev, the chain entry before key, has no day
// index: its day's folder was deleted. Read by key (one request), so that verify --date
// of a day also shows the day before it deleted whole (whose own verify --date finds
// nothing to check).
func checkPrevIndexed(ctx context.Context, l ledger.Ledger, org, key string, prev *archiver.StoredManifest, rep *Report) {
	day, err := archiver.ParseDay(prev.Date)
	if err != nil || prev.Revision < 1 {
		rep.problem("%s: the manifest before it, %s, names day %q revision %d", key, prev.Key, prev.Date, prev.Revision)
		return
	}
	idx := archiver.RevisionKey(org, day, prev.Revision)
	rc, err := l.Store.Open(ctx, idx)
	switch {
	case err == nil:
		rc.Close()
	case errors.Is(err, archiver.ErrNotFound):
		rep.problem("%s: the manifest before it, %s (%s revision %d), has no day index %s: that day's objects were deleted",
			key, prev.Key, prev.Date, prev.Revision, idx)
	default:
		rep.problem("%s: the manifest before it: day index %s: %v", key, idx, err)
	}
}

func prevBytes(m *archiver.StoredManifest) []byte {
	if m == nil {
		return nil
	}
	return m.Bytes
}

// checkDayCoverage checks, for verify of the days from to to, that every archiving
// organization (archivalStart on or before the day) has a manifest of each day sealed for
// any organization (found: the days with a manifest by organization; sealed: the days
// with a manifest or an accounting object).
func (s *state) checkDayCoverage(from, to archiver.Day, found map[string]map[archiver.Day]bool, sealed map[archiver.Day]bool, rep *Report) {
	if s.archiving == nil {
		return
	}
	for _, id := range slices.Sorted(maps.Keys(s.archiving)) {
		if s.opt.Org != "" && id != s.opt.Org {
			continue
		}
		o := s.archiving[id]
		start, err := archiver.ParseDay(o.ArchivalStart)
		hasStart := err == nil
		have := map[archiver.Day]bool{}
		for d := from; !d.After(to); d = d.Next() {
			if found[id][d] || !sealed[d] || (hasStart && d.Before(start)) {
				have[d] = true
			}
		}
		if gaps := missingDays(have, from, to); len(gaps) > 0 {
			rep.problem("organization %s (%s): no committed manifest for %s, sealed for other organizations", id, o.Name, joinRanges(gaps))
		}
	}
}

// checkWitnessByKey compares each witnessed head with the entry at its seq, read by key
// (a verification of days does not walk the chains).
func checkWitnessByKey(ctx context.Context, l ledger.Ledger, s *state, rep *Report) error {
	if s.witness == nil {
		return nil
	}
	s.warnUnwitnessed(rep) // witness.go
	for _, org := range witnessedOrgs(s.witness, s.opt.Org) {
		w := s.witness[org]
		if archiver.CheckKey(archiver.ChainKey(org, w.Seq)) != nil {
			rep.problem("witness: organization %q is not a valid organization id", org)
			continue
		}
		m, err := readWitnessed(ctx, l, w)
		h := walkedHead{headSeq: w.Seq}
		switch {
		case err != nil && ctx.Err() != nil:
			return ctx.Err()
		case err != nil:
			rep.problem("witness: organization %s: manifest %d (%s) is missing or unreadable in the store: %v", org, w.Seq, w.Date, err)
			continue
		default:
			rep.Read(1, int64(len(m.Bytes)))
			h.witnessed, h.witnessSum = true, hexSum(m.SHA256)
		}
		h.compare(rep, "organization "+org, "manifest", "holds no chain for it", w.Seq, w.Date, w.SHA256)
	}
	return checkAuditWitnessByKey(ctx, l, s, rep) // witness.go
}

// readWitnessed reads the manifest a witnessed head names, by key: at its old chain key
// (an older head), else at the layout-3 key of its date and revision, which must hold the
// witnessed seq. One GET for an old head, two for a layout-3 one.
func readWitnessed(ctx context.Context, l ledger.Ledger, w archiver.WitnessHead) (*archiver.StoredManifest, error) {
	m, err := l.ReadManifest(ctx, archiver.ChainKey(w.Org, w.Seq))
	if !errors.Is(err, archiver.ErrNotFound) {
		return m, err
	}
	day, derr := archiver.ParseDay(w.Date)
	if derr != nil || w.Revision < 1 {
		return nil, err
	}
	m3, err3 := l.ReadManifest(ctx, archiver.DayKey3(w.Org, day, w.Revision))
	switch {
	case errors.Is(err3, archiver.ErrNotFound):
		return nil, err
	case err3 != nil:
		return nil, err3
	case m3.Seq != w.Seq:
		return nil, fmt.Errorf("%s holds seq %d, not the witnessed %d", m3.Key, m3.Seq, w.Seq)
	}
	return m3, nil
}

// checkDayObjects reports the objects under a day's prefix (keys) that no manifest of the
// day referenced and, on a store that keeps versions, checks the prefix's versions.
func checkDayObjects(ctx context.Context, l ledger.Ledger, prefix string, keys []string, referenced map[string]bool, rep *Report) error {
	reportUnreferenced(keys, referenced, rep)
	if lk, ok := l.Store.(archiver.Locker); ok {
		return archiver.CheckVersions(ctx, lk, prefix, rep)
	}
	return nil
}
