package archiver

import (
	"context"
	"maps"
	"slices"
)

// DayTotals is a day's accounting as an operator reads it: the latest accounting object's
// numbers, or, when it is a shard's (shard.go), the join of its split: the sum of the latest
// object of each shard of the same n, directory and generator.
type DayTotals struct {
	Input InputCounts
	// Keys are the accounting objects summed: one, or one per shard present.
	Keys []string
	// Shards is the split's n (0 for an unsharded day); Missing are its shards without an
	// accounting object, whose lines the sum lacks.
	Shards  int
	Missing []int
}

// DayTotals returns day's totals, nil when the day has no accounting object.
func (l Ledger) DayTotals(ctx context.Context, day Day) (*DayTotals, error) {
	var all []*StoredAccounting
	if err := l.Accountings(ctx, day, func(a *StoredAccounting) error {
		all = append(all, a)
		return nil
	}); err != nil {
		return nil, err
	}
	return JoinAccountings(all), nil
}

// JoinAccountings returns the totals of a day whose accounting objects are all, oldest
// first (see DayTotals), nil when there are none. When the latest is an unsharded run's,
// it alone is needed: the others may be left out of all.
func JoinAccountings(all []*StoredAccounting) *DayTotals {
	if len(all) == 0 {
		return nil
	}
	last := all[len(all)-1]
	if last.Shard == nil {
		return &DayTotals{Input: last.Input, Keys: []string{last.Key}}
	}
	group := last.shardGroup()
	latest := map[int]*StoredAccounting{}
	for _, a := range all {
		if a.Shard != nil && a.shardGroup() == group {
			latest[a.Shard.Index] = a
		}
	}
	t := &DayTotals{Shards: last.Shard.Count, Input: InputCounts{Excluded: map[string]int64{}}}
	for i := range t.Shards {
		a := latest[i]
		if a == nil {
			t.Missing = append(t.Missing, i)
			continue
		}
		t.Keys = append(t.Keys, a.Key)
		t.Input.Read += a.Input.Read
		t.Input.Exported += a.Input.Exported
		t.Input.Duplicates += a.Input.Duplicates
		t.Input.Quarantined += a.Input.Quarantined
		for _, k := range slices.Sorted(maps.Keys(a.Input.Excluded)) {
			t.Input.Excluded[k] += a.Input.Excluded[k]
		}
	}
	return t
}
