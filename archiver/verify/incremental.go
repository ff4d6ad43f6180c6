package verify

import (
	"context"
	"errors"
	"maps"
	"slices"

	"github.com/chatvault/chatvault/archiver"
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
func runIncremental(ctx context.Context, l archiver.Ledger, opt Options, rep *Report) error {
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

// verifyAfter verifies o's chain after the checkpointed manifest: that manifest still
// hashes as recorded, and each manifest after it, read by key until one is missing, links
// to the one before and is re-hashed with its objects.
func verifyAfter(ctx context.Context, l archiver.Ledger, o CheckpointOrg, rep *Report) (*orgCheck, error) {
	ck := rep.state.beginOrg(o.Org)
	ck.sum.first, _ = archiver.ParseDay(o.First)
	ck.sum.last, _ = archiver.ParseDay(o.Last)
	ck.sum.headSeq, ck.sum.headSum, ck.sum.headSigner = o.Seq, o.SHA256, o.Signer
	for _, g := range o.Gaps {
		f, _ := archiver.ParseDay(g[0])
		t, _ := archiver.ParseDay(g[1])
		ck.sum.gaps = append(ck.sum.gaps, dayRange{f, t})
	}
	if o.Signer != "" {
		ck.prevSigned, ck.prevKey, ck.signed = true, o.Signer, true
	}
	key := archiver.ChainKey(o.Org, o.Seq)
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
	var links []link
	for seq := o.Seq + 1; ; seq++ {
		key := archiver.ChainKey(o.Org, seq)
		m, err := l.ReadManifest(ctx, key)
		if errors.Is(err, archiver.ErrNotFound) {
			break
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			rep.problem("%s: %v", key, err)
			break
		}
		rep.Manifests++
		rep.Read(1, int64(len(m.Bytes)))
		links = append(links, linkOf(m, seq))
		checkManifest(o.Org, seq, m, rep)
		ck.signature(m, rep)
		checkSealedAfterDay(m, rep)
		day, err := archiver.ParseDay(m.Date)
		if err != nil {
			rep.problem("%s: date: %v", key, err)
			continue
		}
		ck.sum.newDays = append(ck.sum.newDays, day)
		if ck.sum.first.IsZero() || day.Before(ck.sum.first) {
			ck.sum.first = day
		}
		if day.After(ck.sum.last) {
			ck.sum.last = day
		}
		verifyManifestDay(ctx, l, o.Org, day, m, archiver.RevisionKey(o.Org, day, m.Revision), nil, rep)
	}
	ck.checkChain(&base, links, rep)
	ck.incremental = true
	return ck, nil
}

// sample re-hashes n organization-days the checkpoint cp verified, from cp.Sample on (in
// organization then seq order, wrapping around), and returns where the next sample
// starts. Each sampled manifest must hash to what the next one names as previous (the
// checkpoint's SHA-256 for its newest), and its objects are re-hashed.
func sample(ctx context.Context, l archiver.Ledger, cp *Checkpoint, n int, rep *Report) (*SampleCursor, error) {
	if len(cp.Orgs) == 0 {
		return nil, nil
	}
	i, seq := 0, int64(1)
	if cur := cp.Sample; cur != nil {
		i, _ = slices.BinarySearchFunc(cp.Orgs, cur.Org, func(o CheckpointOrg, org string) int {
			switch {
			case o.Org < org:
				return -1
			case o.Org > org:
				return 1
			}
			return 0
		})
		if i < len(cp.Orgs) && cp.Orgs[i].Org == cur.Org {
			seq = cur.Seq
		}
	}
	var total int64
	for _, o := range cp.Orgs {
		total += o.Seq
	}
	for taken := int64(0); taken < int64(n) && taken < total; {
		if i >= len(cp.Orgs) {
			i, seq = 0, 1
		}
		o := cp.Orgs[i]
		if seq < 1 || seq > o.Seq {
			i, seq = i+1, 1
			continue
		}
		if err := sampleOne(ctx, l, o, seq, rep); err != nil {
			return nil, err
		}
		taken++
		seq++
	}
	if i >= len(cp.Orgs) {
		i, seq = 0, 1
	}
	return &SampleCursor{Org: cp.Orgs[i].Org, Seq: seq}, nil
}

// sampleOne re-hashes manifest seq of o's chain and its day.
func sampleOne(ctx context.Context, l archiver.Ledger, o CheckpointOrg, seq int64, rep *Report) error {
	key := archiver.ChainKey(o.Org, seq)
	m, err := l.ReadManifest(ctx, key)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		rep.problem("%s: sampled: %v", key, err)
		return nil
	}
	rep.Manifests++
	rep.Read(1, int64(len(m.Bytes)))
	want := o.SHA256
	if seq < o.Seq {
		next, err := l.ReadManifest(ctx, archiver.ChainKey(o.Org, seq+1))
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			rep.problem("%s: sampled: the manifest after it: %v", key, err)
			return nil
		}
		rep.Read(1, int64(len(next.Bytes)))
		want = next.Previous
	}
	if got := hexSum(m.SHA256); got != want {
		rep.problem("%s: sampled: hashes to %s, but the chain names %s: the manifest was rewritten", key, got, want)
	}
	if err := archiver.CheckManifestSignature(m.Manifest, rep.state.trusted); err != nil {
		rep.problem("%s: %v", key, err)
	}
	day, err := archiver.ParseDay(m.Date)
	if err != nil {
		rep.problem("%s: date: %v", key, err)
		return nil
	}
	verifyObjects(ctx, l, o.Org, day, m, archiver.RevisionKey(o.Org, day, m.Revision), nil, rep)
	verifyRevision(ctx, l, o.Org, day, m, rep)
	return nil
}
