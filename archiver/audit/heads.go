package audit

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sort"

	"github.com/chatvault/chatvault/archiver"
)

// Heads returns every organization's audit chain head, by organization id. It lists
// the audit/orgs/ prefix once, keeping one key per organization, and reads only the heads.
func Heads(ctx context.Context, store archiver.Store) ([]archiver.WitnessAuditHead, error) {
	last := map[string]string{}
	err := store.List(ctx, "audit/orgs/", func(key string) error {
		// List is in key order and keys sort by (date, seq): the last is the head.
		if org, _, _, ok := parseAuditSegmentKey(key); ok {
			last[org] = key
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("witness: list audit/orgs/: %w", err)
	}
	heads := make([]archiver.WitnessAuditHead, 0, len(last))
	for org, key := range last {
		b, err := archiver.ReadAll(ctx, store, key)
		if err != nil {
			return nil, fmt.Errorf("witness: read %s: %w", key, err)
		}
		_, day, seq, _ := parseAuditSegmentKey(key)
		heads = append(heads, archiver.WitnessAuditHead{Org: org, Seq: seq, Date: day.String(), SHA256: hexSum(sha256.Sum256(b))})
	}
	sort.Slice(heads, func(i, j int) bool { return heads[i].Org < heads[j].Org })
	return heads, nil
}
