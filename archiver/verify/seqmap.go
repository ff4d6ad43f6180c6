package verify

import (
	"cmp"
	"crypto/sha256"
	"slices"

	"github.com/chatvault/chatvault/archiver"
)

// The seq-map walk (docs/design/layout.md, "What verify proves, and how"): an
// organization's manifests are read in the order their keys come, whatever the layout
// that stores them, and what the walk keeps of each (a link: its key, seq, SHA-256, the
// SHA-256 it names as previous and its signer) is then ordered by seq, so that the chain
// checks do not depend on key order being chain order: seqs 1…K each exactly once, each
// previous the SHA-256 of the manifest at seq−1, and a fork (two manifests with one seq,
// one previous named twice) reported. A link is a few hundred bytes: an organization's
// links in flight, not its manifests, are what a walk holds.

// link is what the walk keeps of one manifest.
type link struct {
	key string
	// seq is the manifest's place in the chain: the key's seq for an old chain entry
	// (orgs/<org>/manifests/<seq>.json, even when its content says otherwise: that is
	// reported with the manifest), the manifest's own otherwise; 0 when neither is known
	// (an unreadable manifest under a key that does not say).
	seq int64
	// readable is false when the manifest could not be read or decoded (reported where
	// it was read): its place is taken, but no link into or out of it is checked.
	readable bool
	sum      [sha256.Size]byte
	previous string
	// previousKey is the key the manifest names as the one before it ("" before version
	// 3, whose previous is the old chain key of seq−1).
	previousKey string
	// signer is the id of the key that signed it ("" unsigned); signerErr is set when
	// its signature could not be read (reported with the manifest).
	signer    string
	signerErr bool
	day       archiver.Day
	// layout3 is set for a version 3 manifest, late when it says it is a late commit
	// (layout3.go). dayKey is where its content says it is stored: its day key (version
	// 3) or its old chain key; what the next manifest's previousKey names.
	layout3, late bool
	dayKey        string
}

// linkOf is the link of m, a readable manifest whose place in the chain is seq.
func linkOf(m *archiver.StoredManifest, seq int64) link {
	lk := link{key: m.Key, seq: seq, readable: true, sum: m.SHA256, previous: m.Previous}
	lk.signer, lk.signerErr = signerOf(m)
	lk.day, _ = archiver.ParseDay(m.Date)
	lk.previousKey = previousKeyOf(m)
	lk.layout3, lk.late = m.Version >= archiver.ManifestVersion3, m.Late
	if lk.layout3 {
		lk.dayKey = archiver.DayKey3(m.Org, lk.day, m.Revision)
	} else {
		lk.dayKey = archiver.ChainKey(m.Org, seq)
	}
	return lk
}

// signerOf returns the id of the key that signed m, and whether its signature could not
// be read.
func signerOf(m *archiver.StoredManifest) (string, bool) {
	id, err := archiver.ManifestSigner(m.Manifest)
	return id, err != nil
}

// previousKeyOf is the key m names as the manifest before it; "" when m names none (a
// manifest before version 3 names it by seq only).
func previousKeyOf(m *archiver.StoredManifest) string { return m.PreviousKey }

// previousManifestKey is the key of the manifest before m in org's chain (m.Seq > 1): the
// key m names (version 3), or else the old chain key of seq−1.
func previousManifestKey(org string, m *archiver.StoredManifest) string {
	if k := previousKeyOf(m); k != "" {
		return k
	}
	return archiver.ChainKey(org, m.Seq-1)
}

// checkChain orders links by seq and checks the chain they form, reporting to rep and
// noting each link in c in seq order. base, when not nil, is the manifest before the
// first of links, verified earlier (an incremental verification's checkpoint): the links
// continue its chain from base.seq+1. Without base they are the whole chain, from seq 1.
func (c *orgCheck) checkChain(base *link, links []link, rep *Report) {
	slices.SortStableFunc(links, func(a, b link) int { return cmp.Compare(a.seq, b.seq) })
	expect := int64(1)
	var prev []link // the manifests at the seq before the one being checked
	if base != nil {
		expect, prev = base.seq+1, []link{*base}
		c.layout3 = c.layout3 || base.layout3
	}
	type namer struct {
		key string
		seq int64
	}
	named := map[string]namer{} // previous → the manifest that names it
	for i := 0; i < len(links); {
		if links[i].seq == 0 {
			i++ // unreadable, place unknown: reported where it was read
			continue
		}
		j := i + 1
		for j < len(links) && links[j].seq == links[i].seq {
			j++
		}
		group := links[i:j]
		seq := group[0].seq
		if len(group) > 1 {
			keys := make([]string, len(group))
			for k, g := range group {
				keys[k] = g.key
			}
			rep.problem("%s: fork: %d manifests have seq %d: %v (two commits forked the chain; the witness's head shows which branch was published)",
				group[1].key, len(group), seq, keys)
		}
		if seq < expect {
			// Only when a base precedes the links: they are read after it.
			for _, e := range group {
				rep.problem("%s: seq %d is not after the verified seq %d", e.key, seq, expect-1)
			}
			i = j
			continue
		}
		gap := seq != expect
		if gap {
			rep.problem("%s: chain gap: expected seq %d", group[0].key, expect)
		}
		for _, e := range group {
			if !e.readable {
				continue
			}
			switch {
			case gap:
			case seq == 1 && (e.previous != "" || e.previousKey != ""):
				rep.problem("%s: first manifest names a previous one", e.key)
			case seq > 1:
				checkLink(e, prev, rep)
			}
			if e.previous != "" {
				switch other, ok := named[e.previous]; {
				case !ok:
					named[e.previous] = namer{e.key, seq}
				case other.seq != seq: // one seq twice is reported above
					rep.problem("%s: fork: it and %s both name %s as their previous manifest", e.key, other.key, e.previous)
				}
			}
		}
		for _, e := range group {
			if e.readable {
				c.keyOrder(e, rep) // layout3.go
				c.ordered(e, rep)
			}
		}
		prev, expect = group, seq+1
		i = j
	}
}

// checkLink checks that e, a manifest after the first, names as previous the SHA-256 of
// a manifest of prev (the manifests at seq−1; more than one is a fork, reported).
func checkLink(e link, prev []link, rep *Report) {
	var want *link
	for k := range prev {
		p := &prev[k]
		if !p.readable {
			return // unreadable: reported, its hash unknown
		}
		if hexSum(p.sum) == e.previous {
			checkPreviousKey(e, p, rep)
			return
		}
		if want == nil {
			want = p
		}
	}
	if want == nil {
		return
	}
	rep.problem("%s: previous is %s, but manifest %d hashes to %s", e.key, e.previous, want.seq, hexSum(want.sum))
}

// checkPreviousKey checks that e, a version 3 manifest after the first, names as
// previousKey the key of the manifest before it, p (its day key, or its old chain key at
// the layout boundary).
func checkPreviousKey(e link, p *link, rep *Report) {
	if !e.layout3 || p == nil || !p.readable {
		return
	}
	if want := p.dayKey; e.previousKey != want {
		rep.problem("%s: previousKey is %q, but the manifest before it (seq %d) is stored at %s", e.key, e.previousKey, p.seq, want)
	}
}
