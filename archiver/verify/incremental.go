package verify

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/ledger"
)

// runIncremental verifies what is new since the newest checkpoint, so that a nightly
// verification grows with the days sealed since, not with the history: for each
// organization of the checkpoint, its checkpointed manifest is read by key and must still
// hash as recorded, and the manifests after it are read by key (seq+1, seq+2, … until
// one is missing), each naming the previous one's SHA-256 and each re-hashed with its
// objects; an archiving organization of the directory the checkpoint does not hold (new,
// or left out for a problem) has its whole chain walked. Then opt.Sample
// organization-days verified before are re-hashed, in turn from where the last sample
// ended (each against the next manifest's previous, or the checkpoint's SHA-256), so that
// every old day is re-read once every few runs. The days of the new manifests have their
// accounting objects and coverage checked, and the witness heads are read by key. A new
// checkpoint is written when opt.CheckpointKey is set.
func runIncremental(ctx context.Context, l ledger.Ledger, opt Options, rep *Report) error {
	trusted := opt.trustedKeys()
	if len(trusted) == 0 {
		return errors.New("verify: an incremental verification needs the trusted public key (--public-key) to check the checkpoint's signature")
	}
	cp, err := latestCheckpoint(ctx, l.Store, trusted, rep)
	if err != nil {
		return err
	}
	s := rep.state
	c := newCheckpointer(l.Store, opt, "incremental", rep)
	base := map[string]CheckpointOrg{}
	if cp == nil {
		rep.Warnings = append(rep.Warnings, "no checkpoint: every chain is walked whole")
	} else {
		rep.Checkpoint = cp.Key
		for _, o := range cp.Orgs {
			base[o.Org] = o
			c.keep(o) // kept as it was unless verified further below
		}
		c.cp.Sample = cp.Sample
	}
	orgs := maps.Clone(base)
	for id := range s.archiving {
		if _, ok := orgs[id]; !ok {
			orgs[id] = CheckpointOrg{Org: id}
		}
	}
	if s.archiving == nil && cp == nil {
		rep.Warnings = append(rep.Warnings, "without a directory or a checkpoint, no organization is known: nothing is verified")
	}
	rep.chainedKeys = map[string]bool{}
	w := newWalk(ctx, l, opt, rep, c)
	for _, id := range slices.Sorted(maps.Keys(orgs)) {
		o := orgs[id]
		var err error
		if o.Seq == 0 {
			err = w.submitFunc(id, func(r *Report) (*orgCheck, error) {
				keys, err := listKeys(ctx, l.Store, "orgs/"+id+"/")
				if err != nil {
					return nil, err
				}
				return verifyOrg(ctx, l, id, keys, opt, r)
			})
		} else {
			err = w.submitFunc(id, func(r *Report) (*orgCheck, error) { return verifyAfter(ctx, l, o, r) })
		}
		if err != nil {
			w.wait()
			return err
		}
	}
	if err := w.wait(); err != nil {
		return err
	}
	// The attachment indexes captured since (attachstate.go), organization by organization.
	for _, id := range slices.Sorted(maps.Keys(orgs)) {
		var newDays []archiver.Day
		if sum := s.chains[id]; sum != nil {
			newDays = sum.newDays
		}
		var rec *CheckpointAttachments
		if o, ok := base[id]; ok {
			rec = o.Attachments
		}
		next, err := verifyAttachmentsAfter(ctx, l, opt, cp, id, rec, newDays, rep)
		if err != nil {
			return err
		}
		c.attach[id] = next
	}
	if cp != nil && opt.Sample > 0 {
		next, err := sample(ctx, l, cp, opt.Sample, rep)
		if err != nil {
			return err
		}
		c.cp.Sample = next
	}
	// The days of the new manifests: their accounting objects and coverage.
	found := map[string]map[archiver.Day]bool{}
	sealed := map[archiver.Day]bool{}
	var first, last archiver.Day
	for id, sum := range s.chains {
		for _, d := range sum.newDays {
			if found[id] == nil {
				found[id] = map[archiver.Day]bool{}
			}
			found[id][d], sealed[d] = true, true
			if first.IsZero() || d.Before(first) {
				first = d
			}
			if d.After(last) {
				last = d
			}
		}
	}
	// A new revision of an old day (a rerun of one organization, a late commit) is no
	// new day for the others: a day the checkpoint verified an organization's chain to
	// hold (from its first to its last day, but its gaps) is covered.
	for id, o := range base {
		for d := range sealed {
			if covered(o, d) {
				if found[id] == nil {
					found[id] = map[archiver.Day]bool{}
				}
				found[id][d] = true
			}
		}
	}
	// Accounting objects are checked for the days of the new manifests and for every day
	// the tally counted a manifest of: an organization walked whole (no checkpoint yet,
	// a new organization, one left out for a problem) counts its whole chain, whose days
	// must have their accounting objects read too, or each would be reported as named
	// by none.
	accounted := maps.Clone(sealed)
	for day := range rep.tally {
		if d, err := archiver.ParseDay(day); err == nil {
			accounted[d] = true
		}
	}
	lk, _ := l.Store.(archiver.Locker)
	for _, d := range slices.SortedFunc(maps.Keys(accounted), func(a, b archiver.Day) int { return a.Start().Compare(b.Start()) }) {
		prefix := archiver.AccountingPrefix + d.String() + "/"
		keys, err := listKeys(ctx, l.Store, prefix)
		if err != nil {
			return err
		}
		if err := checkAccountingObjects(ctx, l, keys, nil, opt, rep); err != nil {
			return err
		}
		if lk != nil {
			for _, p := range []string{prefix, "quarantine/" + d.String() + "/"} {
				if err := archiver.CheckVersions(ctx, lk, p, rep); err != nil {
					return err
				}
			}
		}
	}
	checkTally(rep)
	if !first.IsZero() {
		s.checkDayCoverage(first, last, found, sealed, rep)
	}
	if err := checkWitnessByKey(ctx, l, s, rep); err != nil {
		return err
	}
	if s.signed && len(s.trusted) == 0 {
		rep.Warnings = append(rep.Warnings, "signatures were checked against the keys the manifests carry, which proves "+
			"integrity, not origin: give the trusted public key (--public-key) to prove who signed")
	}
	if opt.CheckpointKey != nil {
		return c.write(ctx, true)
	}
	return nil
}

// covered reports whether the chain the checkpoint o records holds day d: between its
// first and last days, outside its gaps.
func covered(o CheckpointOrg, d archiver.Day) bool {
	first, err1 := archiver.ParseDay(o.First)
	last, err2 := archiver.ParseDay(o.Last)
	if err1 != nil || err2 != nil || d.Before(first) || d.After(last) {
		return false
	}
	for _, g := range o.Gaps {
		f, _ := archiver.ParseDay(g[0])
		t, _ := archiver.ParseDay(g[1])
		if !d.Before(f) && !d.After(t) {
			return false
		}
	}
	return true
}

// verifyAfter verifies o's chain after the checkpointed manifest: that manifest, read by
// the key the checkpoint records, still hashes as recorded, and each manifest after it
// links to the one before and is re-hashed with its objects. The manifests after it are
// found by key in the old chain (seq+1, seq+2, … until one is missing, while the head is
// an old chain entry) and, in a store with a layout marker, by one listing of
// orgs/<org>/d/ after the checkpoint's tip (the manifests that are not late) and one of
// orgs/<org>/late/ after its seq (the late ones, whose day keys are read from there).
func verifyAfter(ctx context.Context, l ledger.Ledger, o CheckpointOrg, rep *Report) (*orgCheck, error) {
	ck := rep.state.beginOrg(o.Org)
	ck.sum.first, _ = archiver.ParseDay(o.First)
	ck.sum.last, _ = archiver.ParseDay(o.Last)
	ck.sum.headSeq, ck.sum.headSum, ck.sum.headSigner = o.Seq, o.SHA256, o.Signer
	ck.sum.headKey, ck.sum.tipKey = o.headKey(), o.Tip
	for _, g := range o.Gaps {
		f, _ := archiver.ParseDay(g[0])
		t, _ := archiver.ParseDay(g[1])
		ck.sum.gaps = append(ck.sum.gaps, dayRange{f, t})
	}
	if o.Signer != "" {
		ck.prevSigned, ck.prevKey, ck.signed = true, o.Signer, true
	}
	key := o.headKey()
	head, err := l.ReadManifest(ctx, key)
	switch {
	case err != nil && ctx.Err() != nil:
		return nil, ctx.Err()
	case err != nil:
		rep.problem("%s: the manifest the checkpoint verified: %v", key, err)
		return ck, nil
	case hexSum(head.SHA256) != o.SHA256:
		rep.problem("%s: hashes to %s, the checkpoint verified it as %s: the manifest was rewritten", key, hexSum(head.SHA256), o.SHA256)
		return ck, nil
	}
	rep.Read(1, int64(len(head.Bytes)))
	base := linkOf(head, o.Seq)
	ck.layout3 = base.layout3 || o.Tip != ""
	var links []link
	members := membersChecked{}
	seen := map[string]bool{}
	visit := func(key string, seq int64, m *archiver.StoredManifest) {
		seen[key] = true
		rep.Manifests++
		rep.Read(1, int64(len(m.Bytes)))
		checkManifest(o.Org, seq, m, rep)
		if seq < 0 {
			seq = m.Seq
		}
		links = append(links, linkOf(m, seq))
		ck.signature(m, rep)
		checkSealedAfterDay(m, rep)
		day, err := archiver.ParseDay(m.Date)
		if err != nil {
			rep.problem("%s: date: %v", key, err)
			return
		}
		ck.sum.newDays = append(ck.sum.newDays, day)
		if ck.sum.first.IsZero() || day.Before(ck.sum.first) {
			ck.sum.first = day
		}
		if day.After(ck.sum.last) {
			ck.sum.last = day
		}
		verifyManifestDay(ctx, l, o.Org, day, m, indexKey(o.Org, day, m), nil, rep)
		members.check(ctx, l, o.Org, m, rep)
	}
	read := func(key string) (*archiver.StoredManifest, error) {
		m, err := l.ReadManifest(ctx, key)
		if err != nil && !errors.Is(err, archiver.ErrNotFound) {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			rep.problem("%s: %v", key, err)
		}
		return m, nil
	}
	if !ck.layout3 {
		for seq := o.Seq + 1; ; seq++ {
			key := archiver.ChainKey(o.Org, seq)
			m, err := read(key)
			if err != nil {
				return nil, err
			}
			if m == nil {
				break
			}
			visit(key, seq, m)
		}
	}
	if ck.layout3 && rep.state.layout == nil {
		rep.problem("organization %s: its checkpointed chain is in layout 3, but the store has no layout marker (%s): the marker was deleted, "+
			"and readers that trust its absence look for the days in the old layout only", o.Org, archiver.LayoutKey)
	}
	if rep.state.layout != nil || ck.layout3 {
		after := o.Tip
		if base.layout3 && base.dayKey > after {
			after = base.dayKey
		}
		var keys []string
		if err := archiver.ListAfter(ctx, l.Store, archiver.DayRoot3(o.Org), after, func(k string) error {
			if seq, ok := manifestKey(o.Org, k); ok && seq < 0 {
				keys = append(keys, k)
			}
			return nil
		}); err != nil {
			return nil, fmt.Errorf("verify: list %s: %w", archiver.DayRoot3(o.Org), err)
		}
		copies := map[int64]string{}
		if err := archiver.ListAfter(ctx, l.Store, archiver.LatePrefix(o.Org), archiver.LateKey(o.Org, o.Seq), func(k string) error {
			if seq, ok := archiver.ParseLateKey(o.Org, k); ok {
				copies[seq] = k
			}
			return nil
		}); err != nil {
			return nil, fmt.Errorf("verify: list %s: %w", archiver.LatePrefix(o.Org), err)
		}
		for _, k := range keys {
			m, err := read(k)
			if err != nil {
				return nil, err
			}
			if m != nil {
				visit(k, -1, m)
			}
		}
		// A late manifest committed since sorts before the tip: its copy names its day.
		for _, seq := range sortedSeqs(copies) {
			c, err := read(copies[seq])
			if err != nil {
				return nil, err
			}
			if c == nil {
				continue // reported by lateCopies
			}
			day, derr := archiver.ParseDay(c.Date)
			if derr != nil {
				continue // reported by lateCopies
			}
			k := archiver.DayKey3(o.Org, day, c.Revision)
			if seen[k] {
				continue
			}
			m, err := read(k)
			if err != nil {
				return nil, err
			}
			if m != nil {
				visit(k, -1, m)
			}
		}
		found, err := lateCopies(ctx, l, o.Org, links, copies, map[string]bool{}, rep)
		if err != nil {
			return nil, err
		}
		links = append(links, found...)
	}
	members.locks(ctx, l, rep.state.opt, rep) // layout3.go
	ck.checkChain(&base, links, rep)
	ck.incremental = true
	return ck, nil
}

// sample re-hashes n organization-days the checkpoint cp verified, from cp.Sample on (in
// organization order, each chain from its checkpointed head back to seq 1, wrapping
// around), and returns where the next sample starts. Each sampled manifest is read by
// the key the one after it names (previousKey, or the old chain key of seq−1) and must
// hash to what that one names as previous (the checkpoint's SHA-256 for the head): one
// GET a day, whatever the layout, and its objects are re-hashed.
func sample(ctx context.Context, l ledger.Ledger, cp *Checkpoint, n int, rep *Report) (*SampleCursor, error) {
	if len(cp.Orgs) == 0 {
		return nil, nil
	}
	head := func(i int) SampleCursor {
		o := cp.Orgs[i]
		return SampleCursor{Org: o.Org, Seq: o.Seq, Key: o.headKey(), SHA256: o.SHA256}
	}
	i, cur := 0, head(0)
	if c := cp.Sample; c != nil {
		i, _ = slices.BinarySearchFunc(cp.Orgs, c.Org, func(o CheckpointOrg, org string) int { return cmp.Compare(o.Org, org) })
		switch {
		case i >= len(cp.Orgs):
			i, cur = 0, head(0)
		case cp.Orgs[i].Org == c.Org && c.Key != "" && c.Seq >= 1 && c.Seq <= cp.Orgs[i].Seq:
			cur = *c
		default:
			cur = head(i) // a version 1 cursor, or an organization no longer in the checkpoint
		}
	}
	var total int64
	for _, o := range cp.Orgs {
		total += o.Seq
	}
	for taken := int64(0); taken < int64(n) && taken < total; taken++ {
		m, err := sampleOne(ctx, l, cp.Orgs[i].Org, cur, rep)
		if err == nil && m != nil {
			// The day's attachment index, against the checkpoint's record of it.
			if day, derr := archiver.ParseDay(m.Date); derr == nil {
				err = verifyAttachmentDay(ctx, l, cp.Orgs[i].Org, day, cp.Orgs[i].Attachments, cp.Key, rep)
			}
		}
		if err != nil {
			return nil, err
		}
		if m == nil || cur.Seq <= 1 {
			i = (i + 1) % len(cp.Orgs)
			cur = head(i)
			continue
		}
		cur = SampleCursor{Org: cur.Org, Seq: cur.Seq - 1, Key: previousManifestKey(cur.Org, m), SHA256: m.Previous}
	}
	return &cur, nil
}

// sampleOne re-hashes the manifest cur names (org's) and its day. It returns the manifest
// (nil when it could not be read: the sample then moves to the next organization).
func sampleOne(ctx context.Context, l ledger.Ledger, org string, cur SampleCursor, rep *Report) (*archiver.StoredManifest, error) {
	key := cur.Key
	m, err := l.ReadManifest(ctx, key)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		rep.problem("%s: sampled: %v", key, err)
		return nil, nil
	}
	rep.Manifests++
	rep.Read(1, int64(len(m.Bytes)))
	if got := hexSum(m.SHA256); got != cur.SHA256 {
		rep.problem("%s: sampled: hashes to %s, but the chain names %s: the manifest was rewritten", key, got, cur.SHA256)
	}
	if m.Seq != cur.Seq || m.Org != org {
		rep.problem("%s: sampled: manifest of %s seq %d, where the chain has seq %d", key, m.Org, m.Seq, cur.Seq)
		return nil, nil
	}
	if err := archiver.CheckManifestSignature(m.Manifest, rep.state.trusted); err != nil {
		rep.problem("%s: %v", key, err)
	}
	day, err := archiver.ParseDay(m.Date)
	if err != nil {
		rep.problem("%s: date: %v", key, err)
		return m, nil
	}
	verifyObjects(ctx, l, org, day, m, indexKey(org, day, m), nil, rep)
	verifyRevision(ctx, l, org, day, m, rep)
	return m, nil
}
