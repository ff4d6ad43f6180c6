package verify

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/ledger"
)

// checkWitness compares each witnessed head with the store's chain: the chain must hold
// the witnessed seq, with the witnessed hash. A longer chain is fine (days sealed since);
// a shorter one lost its newest manifests, a different hash means a rewritten chain.
func (s *state) checkWitness(rep *Report) {
	if s.witness == nil {
		return
	}
	s.warnUnwitnessed(rep)
	for _, org := range witnessedOrgs(s.witness, s.opt.Org) {
		w, c := s.witness[org], s.chains[org]
		h := walkedHead{}
		if c != nil {
			h = walkedHead{c.headSeq, c.witnessed, c.witnessSum}
		}
		h.compare(rep, "organization "+org, "manifest", "holds no chain for it", w.Seq, w.Date, w.SHA256)
	}
}

// walkedHead is what the witness check needs of a chain as verify walked it: its greatest
// seq, and the stored SHA-256 of the entry at the witnessed seq, when one was read.
type walkedHead struct {
	headSeq    int64
	witnessed  bool
	witnessSum string
}

// compare reports what a chain (who: "organization X", of entries called unit) lost or
// changed against its witnessed head seq/date/sum: nothing left (none: what the store
// then holds), fewer entries, or another entry at that seq. A longer chain is fine.
func (h walkedHead) compare(rep *Report, who, unit, none string, seq int64, date, sum string) {
	switch {
	case h.headSeq == 0:
		rep.problem("witness: %s had %s %d (%s) but the store %s", who, unit, seq, date, none)
	case h.headSeq < seq:
		rep.problem("witness: %s had %s %d (%s) but the store's chain ends at %d: its newest %ss were removed",
			who, unit, seq, date, h.headSeq, unit)
	case !h.witnessed:
		rep.problem("witness: %s: %s %d (%s) is missing or unreadable in the store", who, unit, seq, date)
	case h.witnessSum != sum:
		rep.problem("witness: %s: %s %d (%s) hashes to %s, the witness says %s: the chain was rewritten",
			who, unit, seq, date, h.witnessSum, sum)
	}
}

// witnessedOrgs are the organizations of a witness's heads to compare, in order: all of
// them, or only the one verify was narrowed to.
func witnessedOrgs[H any](heads map[string]H, only string) []string {
	orgs := make([]string, 0, len(heads))
	for org := range heads {
		if only == "" || org == only {
			orgs = append(orgs, org)
		}
	}
	sort.Strings(orgs)
	return orgs
}

// auditChainSummary is what the witness needs of one organization's audit chain as
// verifyAudit walks it: a few numbers, never its segments.
type auditChainSummary struct {
	headSeq int64
	// witnessed is set when a segment with the witnessed seq was read; witnessSum is its
	// SHA-256 as stored.
	witnessed  bool
	witnessSum string
}

// auditSegment notes one segment of org's audit chain, walked in order, with its stored
// hex SHA-256 ("" when unreadable). Only organizations the witness names are kept.
func (s *state) auditSegment(org string, seq int64, sum string) {
	if s == nil || s.auditWitness == nil {
		return
	}
	w, ok := s.auditWitness[org]
	if !ok {
		return
	}
	c := s.auditChains[org]
	if c == nil {
		c = &auditChainSummary{}
		s.auditChains[org] = c
	}
	c.headSeq = max(c.headSeq, seq)
	// Two segments under one seq are a chain problem already; the witness is satisfied
	// when one of them is the witnessed one.
	if seq == w.Seq && sum != "" && (!c.witnessed || c.witnessSum != w.SHA256) {
		c.witnessed, c.witnessSum = true, sum
	}
}

// checkAuditWitness compares each witnessed audit head with the store's audit chain, like
// checkWitness does for manifests: a longer chain is fine (requests audited since), a
// shorter one or none lost its newest segments, another hash means a rewritten chain.
func (s *state) checkAuditWitness(rep *Report) {
	if s.auditWitness == nil {
		return
	}
	for _, org := range witnessedOrgs(s.auditWitness, s.opt.Org) {
		w, c := s.auditWitness[org], s.auditChains[org]
		h := walkedHead{}
		if c != nil {
			h = walkedHead{c.headSeq, c.witnessed, c.witnessSum}
		}
		h.compare(rep, "audit chain of organization "+org, "segment", "holds no audit segment for it: its access records were removed",
			w.Seq, w.Date, w.SHA256)
	}
}

// checkAuditWitnessByKey compares each witnessed audit head with the segment at its key,
// for a verification that does not walk the audit chains (of days, incremental): the
// witness was given to catch an organization's newest segments deleted or rewritten, and
// that must not depend on which verification reads it. Without an audit verifier that
// can read a head (archiver.AuditHeadReader) a warning says the audit heads were not
// checked.
func checkAuditWitnessByKey(ctx context.Context, l ledger.Ledger, s *state, rep *Report) error {
	orgs := witnessedOrgs(s.auditWitness, s.opt.Org)
	if len(orgs) == 0 {
		return nil
	}
	r, ok := s.opt.Audit.(archiver.AuditHeadReader)
	if !ok {
		rep.Warn("the witness's audit heads were not checked (no audit verifier configured)")
		return nil
	}
	for _, org := range orgs {
		w := s.auditWitness[org]
		sum, err := r.AuditHeadSum(ctx, l.Store, w)
		h := walkedHead{headSeq: w.Seq}
		switch {
		case err != nil && ctx.Err() != nil:
			return ctx.Err()
		case err != nil && !errors.Is(err, archiver.ErrNotFound):
			rep.problem("witness: audit chain of organization %s: segment %d (%s): %v", org, w.Seq, w.Date, err)
			continue
		case err == nil:
			rep.Read(1, 0)
			h.witnessed, h.witnessSum = true, sum
		}
		h.compare(rep, "audit chain of organization "+org, "segment", "holds no audit segment for it: its access records were removed",
			w.Seq, w.Date, w.SHA256)
	}
	return nil
}

// warnUnwitnessed warns of each organization verified for which the witness names no
// head: nothing was compared for it, so its newest days are not witnessed. Silence would
// read as "witnessed" to an auditor verifying one customer with a witness made before its
// first seal, or of another store. The organizations are those whose chains were walked
// and, for a verification of days (which walks none), those the directory archives by
// the range's last day.
func (s *state) warnUnwitnessed(rep *Report) {
	if s.witness == nil {
		return
	}
	orgs := map[string]bool{}
	for o, c := range s.chains {
		if c != nil && c.headSeq > 0 {
			orgs[o] = true
		}
	}
	if s.opt.days() {
		for o, org := range s.archiving {
			if start, err := archiver.ParseDay(org.ArchivalStart); err != nil || !start.After(s.opt.To) {
				orgs[o] = true
			}
		}
	}
	var missing []string
	for o := range orgs {
		if _, ok := s.witness[o]; !ok && (s.opt.Org == "" || o == s.opt.Org) {
			missing = append(missing, o)
		}
	}
	sort.Strings(missing)
	const shown = 10
	for i, o := range missing {
		if i == shown {
			rep.Warn(fmt.Sprintf("and %d more organizations the witness names no head for", len(missing)-shown))
			break
		}
		rep.Warn("the witness names no head for organization " + o + " (it was made before the organization's first seal, " +
			"or of another store): its newest days are not witnessed")
	}
}
