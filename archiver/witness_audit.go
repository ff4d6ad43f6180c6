package archiver

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sort"
)

// WitnessAuditHead is one organization's access audit chain head: its newest segment. As
// each segment names its predecessor's SHA-256, matching the head's hash at its seq
// vouches for the whole audit chain up to it, as for manifests. Without it, deleting an
// organization's newest segments (or all of them) leaves a chain that holds together,
// and the store alone cannot show who read the archive and was erased from its audit.
type WitnessAuditHead struct {
	Org  string `json:"org"`
	Seq  int64  `json:"seq"`
	Date string `json:"date"`
	// SHA256 is the hex SHA-256 of the head segment as stored.
	SHA256 string `json:"sha256"`
}

// AuditHeads returns every organization's audit chain head, by organization id. It lists
// the audit/orgs/ prefix once, keeping one key per organization, and reads only the heads.
func (l Ledger) AuditHeads(ctx context.Context) ([]WitnessAuditHead, error) {
	last := map[string]string{}
	err := l.Store.List(ctx, "audit/orgs/", func(key string) error {
		// List is in key order and keys sort by (date, seq): the last is the head.
		if org, _, _, ok := parseAuditSegmentKey(key); ok {
			last[org] = key
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("witness: list audit/orgs/: %w", err)
	}
	heads := make([]WitnessAuditHead, 0, len(last))
	for org, key := range last {
		b, err := readAll(ctx, l.Store, key)
		if err != nil {
			return nil, fmt.Errorf("witness: read %s: %w", key, err)
		}
		_, day, seq, _ := parseAuditSegmentKey(key)
		heads = append(heads, WitnessAuditHead{Org: org, Seq: seq, Date: day.String(), SHA256: hexSum(sha256.Sum256(b))})
	}
	sort.Slice(heads, func(i, j int) bool { return heads[i].Org < heads[j].Org })
	return heads, nil
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
