package verify

import (
	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/ledger"

	"context"
	"crypto/ed25519"
	"fmt"
	"sync"

	"github.com/chatvault/chatvault/model"
)

// state is what Verify carries from one organization to the next for the checks of
// issue 10: the trusted public keys and the recorded key rotations, each organization's
// coverage of days, and the witnessed chain heads. Verify holds one organization's keys
// at a time; this keeps a few numbers per organization, never a list of its days.
type state struct {
	opt       Options
	trusted   []ed25519.PublicKey
	rotations map[string][]string
	// statements are the rotation statements that verify: where each retired key's use
	// ends (archiver.RetiredBy) and the chain heads they fix.
	statements []*archiver.KeyRotation
	// signed is set once any manifest carries a signature.
	signed bool
	// archiving are the directory's archiving organizations by id; nil without a
	// directory (then coverage is not checked).
	archiving map[string]model.Organization
	// chains summarizes each organization's chain as walked.
	chains map[string]*chainSummary
	// witness are the witnessed heads by organization.
	witness map[string]archiver.WitnessHead
	// auditWitness are the witnessed audit chain heads by organization, nil when the
	// witness holds none (version 1); auditChains summarizes those organizations' audit
	// chains as walked (witness.go).
	auditWitness map[string]archiver.WitnessAuditHead
	auditChains  map[string]*auditChainSummary
	// layout is the store's layout marker (nil: a store only layout 2 wrote to, whose
	// days are looked up in the old layout only, as the readers do); layout3 is set once
	// a full verification merged an organization with layout-3 keys.
	layout  *archiver.StoreLayout
	layout3 bool
	// markerOnce reads the marker once per verification (marker).
	markerOnce sync.Once
	markerSL   *archiver.StoreLayout
	markerErr  error
	// members are the members objects a verification of days checked (layout3.go).
	members membersChecked
	// newestElsewhere is, with Org set, a lower bound of the store's newest sealed day
	// read without walking the other chains (coverage.go).
	newestElsewhere archiver.Day
	// held are, on a locking store, the days each organization's recorded hold events
	// hold (org → day → the matters), whose objects must carry a legal hold (locks.go).
	held map[string]map[string][]string
}

// chainSummary is what coverage and the witness need of one organization's chain.
type chainSummary struct {
	// first and last are the oldest and newest days with a committed manifest.
	first, last archiver.Day
	// gaps are the days from the organization's expected start to last without one.
	gaps []dayRange
	// headSeq is the greatest seq in the chain; headSum the hex SHA-256 of the last
	// manifest walked (the head's, when the chain is in order).
	headSeq    int64
	headSum    string
	headSigner string
	// headKey is the key of the manifest headSum is of ("" when the summary was taken
	// from a checkpoint of version 1, which does not record it); tipKey the greatest
	// manifest key under orgs/<org>/d/ ("" when none): what a later commit's key is
	// compared with (layout3.go).
	headKey, tipKey string
	// newDays are the days of the manifests an incremental verification read after the
	// checkpoint.
	newDays []archiver.Day
	// witnessed is set when the witnessed head was found in the chain; witnessSum is
	// the stored manifest's SHA-256 at the witnessed seq.
	witnessed  bool
	witnessSum string
}

// beginVerify reads what the checks of issue 10 need before the chains are walked: the
// trusted keys, the store's rotation statements, the directory's archiving organizations
// and the witness.
func beginVerify(ctx context.Context, l ledger.Ledger, opt Options, rep *Report) error {
	s := &state{opt: opt, chains: map[string]*chainSummary{}}
	s.trusted = append(s.trusted, opt.TrustedKeys...)
	if opt.TrustedKey != nil {
		s.trusted = append(s.trusted, opt.TrustedKey)
	}
	stmts, err := l.RotationStatements(ctx, rep)
	if err != nil {
		return err
	}
	for _, r := range stmts {
		if !r.Bounded() {
			rep.Warn(fmt.Sprintf("%s: the key rotation statement records no chain heads (version 1): manifests its old key %s "+
				"signed after it cannot be told from those signed before; if that key may be in other hands, rotate to a new "+
				"key with this version, whose statement does (see Keys in the README)", r.Key(), r.From.KeyID))
		}
	}
	if opt.days() || opt.Incremental {
		// They look days up by key; a full verification lists every key, and reads the
		// marker only once it met a layout-3 one (verifyOrg, verifyAccounting).
		if s.layout, err = s.marker(ctx, l); err != nil {
			return err
		}
	}
	s.members = membersChecked{}
	s.rotations, s.statements = ledger.RotationGraph(stmts), stmts
	if opt.Directory != nil {
		s.archiving = map[string]model.Organization{}
		for _, o := range opt.Directory.Organizations {
			if o.Archival {
				s.archiving[o.ID] = o
			}
		}
	}
	if opt.Org != "" && s.archiving != nil && !opt.days() {
		if s.newestElsewhere, err = newestElsewhere(ctx, l, opt.Org, s.archiving, rep); err != nil {
			return err
		}
	}
	if opt.Witness != nil {
		s.witness = map[string]archiver.WitnessHead{}
		for _, h := range opt.Witness.Heads {
			s.witness[h.Org] = h
		}
		// A version 1 witness says nothing of the audit chains: they are not checked
		// against it. From version 2 an absent list means the store had no segment.
		if opt.Witness.Version >= 2 {
			s.auditWitness, s.auditChains = map[string]archiver.WitnessAuditHead{}, map[string]*auditChainSummary{}
			for _, h := range opt.Witness.AuditHeads {
				s.auditWitness[h.Org] = h
			}
		}
	}
	if lk, ok := l.Store.(archiver.Locker); ok && lk.Locking() {
		// An unreadable hold event is verifyAccounting's problem to report; the holds the
		// others record are checked all the same.
		events, _ := l.HoldEvents(ctx, opt.Org)
		s.held = heldDays(events)
	}
	rep.state = s
	return nil
}

// marker reads the store's layout marker, once per verification and from the store,
// not from the readers' cache (ledger.Ledger.StoreLayout): verify checks the store as it
// is, a marker deleted since this process first read it included.
func (s *state) marker(ctx context.Context, l ledger.Ledger) (*archiver.StoreLayout, error) {
	s.markerOnce.Do(func() { s.markerSL, s.markerErr = archiver.ReadStoreLayout(ctx, l.Store) })
	return s.markerSL, s.markerErr
}

// endVerify runs the checks that need every chain: coverage and the witness (manifest
// and audit chains).
func endVerify(rep *Report) {
	s := rep.state
	if s == nil {
		return
	}
	s.checkCoverage(rep)
	s.checkWitness(rep)
	s.checkAuditWitness(rep) // witness.go
	if s.signed && len(s.trusted) == 0 {
		rep.Warnings = append(rep.Warnings, "signatures were checked against the keys the manifests carry, which proves "+
			"integrity, not origin: give the trusted public key (--public-key) to prove who signed")
	}
}

// orgCheck follows one organization's chain manifest by manifest.
type orgCheck struct {
	s    *state
	org  string
	sum  *chainSummary
	days map[archiver.Day]bool
	// prevSigned and prevKey describe the previous manifest's signature.
	prevSigned bool
	prevKey    string
	// incremental is set when the chain was verified from a checkpoint on (end then
	// keeps its gaps as they were: its days before are not known).
	incremental bool
	// signed is set once a manifest of the chain carries a signature (state.signed, set
	// when the organization's report is merged: organizations are checked concurrently).
	signed bool
	// layout3 is set once a manifest of layout 3 was walked (in seq order): the old
	// chain must not grow after it (layout3.go). layout3Keys is set when the
	// organization's keys include layout-3 ones.
	layout3, layout3Keys bool
}

// beginOrg starts the walk of org's chain. A Verify without beginVerify (nil state)
// checks signatures only. It changes nothing in s, so that organizations can be walked
// concurrently: merge records the walk.
func (s *state) beginOrg(org string) *orgCheck {
	if s == nil {
		s = &state{chains: map[string]*chainSummary{}}
	}
	return &orgCheck{s: s, org: org, sum: &chainSummary{}, days: map[archiver.Day]bool{}}
}

// merge records a walked chain in s.
func (s *state) merge(c *orgCheck) {
	s.chains[c.org] = c.sum
	s.signed = s.signed || c.signed
	s.layout3 = s.layout3 || c.layout3Keys
}

// manifest checks one manifest of the chain, read in seq order: signature (signature)
// and its place in the chain (ordered).
func (c *orgCheck) manifest(m *archiver.StoredManifest, rep *Report) {
	c.signature(m, rep)
	c.ordered(linkOf(m, m.Seq), rep)
}

// signature checks m's signature against the trusted keys: what needs no other manifest.
func (c *orgCheck) signature(m *archiver.StoredManifest, rep *Report) {
	if err := archiver.CheckManifestSignature(m.Manifest, c.s.trusted); err != nil {
		rep.problem("%s: %v", m.Key, err)
	}
}

// ordered notes one manifest of the chain, in seq order: that a signed chain stays
// signed, and that its key changes only as a rotation statement says; and it notes the
// day and the witnessed head.
func (c *orgCheck) ordered(e link, rep *Report) {
	id := e.signer
	switch {
	case e.signerErr:
		// Reported with the manifest.
	case id == "" && c.prevSigned:
		rep.problem("%s: the chain goes from signed (key %s) to unsigned at seq %d: a manifest replaced by one "+
			"without a signature, or signing turned off (which a signed archive must never do)", e.key, c.prevKey, e.seq)
	case id != "" && c.prevSigned && id != c.prevKey && !ledger.Rotated(c.s.rotations, c.prevKey, id):
		rep.problem("%s: the signing key changes from %s to %s at seq %d without a recorded rotation "+
			"(no statement under %s signed by both keys: see chatvault keys rotate)", e.key, c.prevKey, id, e.seq, archiver.RotationsPrefix)
	}
	if id != "" && !e.signerErr && e.readable {
		if r := archiver.RetiredBy(c.s.statements, id, c.org, e.seq); r != nil {
			rep.problem("%s: signed at seq %d by key %s, which the rotation statement %s retired at the organization's seq %d: "+
				"a manifest signed by a rotated-away key after its rotation, what a thief of that key would write", e.key, e.seq, id, r.Key(), r.HeadSeq(c.org))
		}
	}
	if e.readable {
		for _, r := range c.s.statements {
			if want := r.HeadAt(c.org, e.seq); want != "" && want != hexSum(e.sum) {
				rep.problem("%s: seq %d is not the manifest the rotation statement %s fixed as the organization's chain head "+
					"(SHA-256 %s, stored %s): the chain was rewritten after the rotation", e.key, e.seq, r.Key(), want, hexSum(e.sum))
			}
		}
	}
	if id != "" && !e.signerErr {
		c.signed = true
		c.prevSigned, c.prevKey = true, id
	}
	if !e.day.IsZero() {
		c.days[e.day] = true
	}
	if e.seq > c.sum.headSeq {
		c.sum.headSeq = e.seq
	}
	c.sum.headSum, c.sum.headSigner = hexSum(e.sum), id
	c.sum.headKey = e.key
	if w, ok := c.s.witness[c.org]; ok && w.Seq == e.seq {
		c.sum.witnessed, c.sum.witnessSum = true, hexSum(e.sum)
	}
}

// follow sets the previous manifest's signature from prev, the manifest before the first
// one checked (a verification of days reads it for the link).
func (c *orgCheck) follow(prev *archiver.StoredManifest) {
	if id, err := archiver.ManifestSigner(prev.Manifest); err == nil && id != "" {
		c.prevSigned, c.prevKey = true, id
	}
}

// end summarizes the chain for the checks that need every chain.
func (c *orgCheck) end() {
	if c.incremental {
		return
	}
	for d := range c.days {
		if c.sum.first.IsZero() || d.Before(c.sum.first) {
			c.sum.first = d
		}
		if d.After(c.sum.last) {
			c.sum.last = d
		}
	}
	o, archiving := c.s.archiving[c.org]
	if !archiving || c.sum.first.IsZero() {
		return
	}
	from := c.sum.first
	if start, err := archiver.ParseDay(o.ArchivalStart); err == nil && start.After(from) {
		from = start
	}
	c.sum.gaps = missingDays(c.days, from, c.sum.last)
}
