package archiver

import (
	"fmt"
)

// WitnessAuditHead is one organization's access audit chain head: its newest segment. As
// each segment names its predecessor's SHA-256, matching the head's hash at its seq
// vouches for the whole audit chain up to it, as for manifests. Without it, deleting an
// organization's newest segments (or all of them) leaves a chain that holds together,
// and the store alone cannot show who read the archive and was erased from its audit.
// archiver/audit.Heads reads them from the store; Verify compares them with the chains it
// walks (through VerifyOptions.Audit).
type WitnessAuditHead struct {
	Org  string `json:"org"`
	Seq  int64  `json:"seq"`
	Date string `json:"date"`
	// SHA256 is the hex SHA-256 of the head segment as stored.
	SHA256 string `json:"sha256"`
}

// checkAuditHeads refuses malformed or repeated audit heads in a witness.
func checkAuditHeads(heads []WitnessAuditHead) error {
	seen := map[string]bool{}
	for _, h := range heads {
		switch {
		case h.Org == "" || h.Seq < 1 || len(h.SHA256) != 64:
			return fmt.Errorf("witness: malformed audit head %+v", h)
		case seen[h.Org]:
			return fmt.Errorf("witness: organization %s's audit chain twice", h.Org)
		}
		seen[h.Org] = true
	}
	return nil
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
func (s *verifyState) auditSegment(org string, seq int64, sum string) {
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
func (s *verifyState) checkAuditWitness(rep *VerifyReport) {
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
