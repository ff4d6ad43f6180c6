package ledger

import (
	"context"
	"maps"
	"slices"

	"github.com/chatvault/chatvault/archiver"
)

// DayTotals is a day's accounting as an operator reads it: the latest accounting object's
// numbers, or, when it is a shard's (shard.go), the join of its split: the sum of the latest
// object of each shard of the same n, directory and generator.
type DayTotals struct {
	Input archiver.InputCounts
	// Keys are the accounting objects summed: one, or one per shard present.
	Keys []string
	// Shards is the split's n (0 for an unsharded day); Missing are its shards without an
	// accounting object, whose lines the sum lacks.
	Shards  int
	Missing []int
}

// DayTotals returns day's totals, nil when the day has no accounting object.
func (l Ledger) DayTotals(ctx context.Context, day archiver.Day) (*DayTotals, error) {
	var all []*archiver.StoredAccounting
	if err := l.Accountings(ctx, day, func(a *archiver.StoredAccounting) error {
		all = append(all, a)
		return nil
	}); err != nil {
		return nil, err
	}
	return JoinAccountings(all), nil
}

// JoinAccountings returns the totals of a day whose accounting objects are all, oldest
// first (see DayTotals), nil when there are none.
//
// The day's record is its latest complete accounting: an unsharded object, or a split
// every shard of which has one (the latest of each shard, summed), whichever ends later
// in all. A split lacking a shard beside a complete record is not the record: its shards'
// numbers are a part of the day the record counts already, so adding them would count
// those lines twice, and reading them alone would lose the others (the scheduler seals a
// day unsharded and some shards of `run --shard i/n` run after it, say). Only when no
// accounting is complete are the totals those of the latest object's split, with its
// missing shards. When the latest object is an unsharded run's, it alone is needed: the
// others may be left out of all.
func JoinAccountings(all []*archiver.StoredAccounting) *DayTotals {
	if len(all) == 0 {
		return nil
	}
	last := all[len(all)-1]
	if last.Shard == nil {
		return &DayTotals{Input: last.Input, Keys: []string{last.Key}}
	}
	// Each split's latest object of each shard.
	splits := map[string]map[int]*archiver.StoredAccounting{}
	record, end := -1, -1  // the latest complete record: an index of all (unsharded) ...
	var recordSplit string // ... or a split
	for i, a := range all {
		if a.Shard == nil {
			record, recordSplit, end = i, "", i
			continue
		}
		g := a.ShardGroup()
		if splits[g] == nil {
			splits[g] = map[int]*archiver.StoredAccounting{}
		}
		splits[g][a.Shard.Index] = a
		if completeSplit(splits[g], a.Shard.Count) && i > end {
			record, recordSplit, end = -1, g, i
		}
	}
	switch {
	case recordSplit == "" && record >= 0:
		return &DayTotals{Input: all[record].Input, Keys: []string{all[record].Key}}
	case recordSplit != "":
		return joinSplit(splits[recordSplit], countOf(splits[recordSplit]))
	}
	return joinSplit(splits[last.ShardGroup()], last.Shard.Count)
}

// completeSplit reports whether shards holds an object of every shard 0..n-1.
func completeSplit(shards map[int]*archiver.StoredAccounting, n int) bool {
	for i := range n {
		if shards[i] == nil {
			return false
		}
	}
	return true
}

// countOf returns the n of a split's objects.
func countOf(shards map[int]*archiver.StoredAccounting) int {
	for _, a := range shards {
		return a.Shard.Count
	}
	return 0
}

// joinSplit sums the objects of a split of n shards, by shard.
func joinSplit(latest map[int]*archiver.StoredAccounting, n int) *DayTotals {
	t := &DayTotals{Shards: n, Input: archiver.InputCounts{Excluded: map[string]int64{}}}
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
