package audit

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sort"
	"time"

	"github.com/chatvault/chatvault/archiver"
)

// Heads returns every organization's audit chain head, by organization id: HeadsAt today.
func Heads(ctx context.Context, store archiver.Store) ([]archiver.WitnessAuditHead, error) {
	return HeadsAt(ctx, store, archiver.DayOf(time.Now()))
}

// HeadsAt returns every organization's audit chain head, by organization id, with today
// being today. It lists the folders of audit/orgs/ (the organizations) and finds each
// head as a writer does (headKey: a listing from yesterday's folder, or bounded probes of
// the folders by date), then reads only the heads: the cost grows with the organizations,
// not with the segments ever written.
func HeadsAt(ctx context.Context, store archiver.Store, today archiver.Day) ([]archiver.WitnessAuditHead, error) {
	last := map[string]string{}
	err := archiver.ListFolders(ctx, store, "audit/orgs/", func(org string) error {
		key, err := headKey(ctx, store, org, today)
		if err != nil {
			return err
		}
		if _, _, _, ok := parseAuditSegmentKey(key); ok {
			last[org] = key
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("witness: audit heads: %w", err)
	}
	heads := make([]archiver.WitnessAuditHead, 0, len(last))
	for org, key := range last {
		b, err := archiver.ReadAll(ctx, store, key)
		if err != nil {
			return nil, fmt.Errorf("witness: read %s: %w", key, err)
		}
		if err := checkHeadAt(key, b); err != nil {
			return nil, fmt.Errorf("witness: %w", err)
		}
		_, day, seq, _ := parseAuditSegmentKey(key)
		heads = append(heads, archiver.WitnessAuditHead{Org: org, Seq: seq, Date: day.String(), SHA256: hexSum(sha256.Sum256(b))})
	}
	sort.Slice(heads, func(i, j int) bool { return heads[i].Org < heads[j].Org })
	return heads, nil
}
