package verify

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/chatvault/chatvault/archiver"
)

// shardJoin collects, day by day, what checkAccountingObjects reads of each accounting
// object, to check the join rule (archiver/shard.go): every line of a day must be on a
// complete record, an unsharded object or a split (n, directory, generator) every shard
// 0..n-1 of which has an object. Each shard's object balances on its own (a shard counts
// the lines it owns, shard.go), so a split's numbers are their sum; a missing shard would
// leave the lines it owns, and its quarantine, on no record.
//
// A split lacking a shard is a problem unless a complete record of the day holds its
// lines already, which it does when either
//   - the record was sealed no earlier than the split (the operator gave up on the split
//     and sealed the day again: that run read all of it). Only its sealedAt counts, not
//     its number: a copy of an earlier object (its signed bytes under a later number) must
//     not hide a shard's deleted object; or
//   - the split committed nothing: its shards found their organizations sealed as the
//     record has them (the scheduler sealed the day unsharded, then some shards of `run
//     --shard i/n` ran for it), and no complete record is of another partition than the
//     split read. A split that committed a revision is a reseal of a changed partition or
//     directory, and its missing shards' part of it is on no record; so is a split whose
//     complete records are all splits that read another partition (its line count or
//     digest, archiver.Accounting.PartitionDigest, differs: a file edited in place or a
//     late file whose lines only the missing shards' organizations have), though its own
//     organizations did not change.
//
// Then it is a warning. The day's record is the complete one whose last object comes
// last. Another complete record whose objects interleave with it (so neither is a later
// rerun of the other) and that disagrees on the day's counts is a problem: neither can be
// the day's record. A record wholly after another is a rerun and may differ (the
// partition gained a line). An unsharded rerun of a day whose latest object is a shard's
// writes its own (archiver's account), wholly after the others: it clears either problem.
type shardJoin struct {
	days    map[string][]joinEntry // day → its objects, in key order
	sharded map[string]bool        // days with a shard's object
}

// joinEntry is what the join rule needs of one accounting object.
type joinEntry struct {
	group     string // "": unsharded
	index     int
	sealedAt  time.Time
	input     archiver.InputCounts
	committed bool // it names a manifest its run committed
	partition partitionRead
}

// partitionRead is the partition a shard's object says it read: its line count and digest
// (archiver.Accounting.PartitionLines and PartitionDigest); zero for an unsharded object,
// which does not say.
type partitionRead struct {
	lines  int64
	digest string
}

// differs reports whether p and o are known to be different partitions: both say what
// they read (an object of an earlier build may lack the digest) and it differs.
func (p partitionRead) differs(o partitionRead) bool {
	return (p.lines > 0 && o.lines > 0 && p.lines != o.lines) || (p.digest != "" && o.digest != "" && p.digest != o.digest)
}

// add notes a, an accounting object of day (keys come in order), and checks what one
// shard's object can show alone: a valid index, and that every manifest it names is of an
// organization of its shard.
func (j *shardJoin) add(day archiver.Day, a *archiver.StoredAccounting, rep *Report) {
	if j.days == nil {
		j.days, j.sharded = map[string][]joinEntry{}, map[string]bool{}
	}
	e := joinEntry{sealedAt: sealedAt(a), input: a.Input}
	for _, m := range a.Manifests {
		if m.Outcome == archiver.OutcomeCommitted {
			e.committed = true
			break
		}
	}
	if sh := a.Shard; sh != nil {
		if sh.Count < 1 || sh.Count > archiver.MaxShards || sh.Index < 0 || sh.Index >= sh.Count {
			rep.problem("%s: shard %s is not a shard", a.Key, sh)
			return
		}
		for _, m := range a.Manifests {
			if got := archiver.ShardOf(m.Org, sh.Count); got != sh.Index {
				rep.problem("%s: shard %s names a manifest of organization %s, which is shard %d's", a.Key, sh, m.Org, got)
			}
		}
		e.group, e.index = a.ShardGroup(), sh.Index
		e.partition = partitionRead{lines: a.PartitionLines, digest: a.PartitionDigest}
		j.sharded[day.String()] = true
	}
	j.days[day.String()] = append(j.days[day.String()], e)
}

// joinRecord is a complete accounting of a day: one unsharded object, or a split's latest
// object of each shard. first and last are the places of its objects in the day's
// numbering.
type joinRecord struct {
	name        string
	first, last int
	sealedAt    time.Time
	input       archiver.InputCounts
	partition   partitionRead // a split's; zero for an unsharded object
}

// joinSplit is one split of a day as read: its latest object of each shard.
type joinSplit struct {
	latest    map[int]int // shard index → place of its latest object
	sealedAt  time.Time   // of its latest object
	committed bool        // any of its objects committed a manifest
	partition partitionRead
}

// check reports every split of a day that lacks a shard's object without a complete
// record beside it that holds its lines, and complete records that contradict each other.
func (j *shardJoin) check(rep *Report) {
	for _, day := range slices.Sorted(maps.Keys(j.sharded)) {
		entries := j.days[day]
		splits := map[string]*joinSplit{}
		var records []joinRecord
		for i, e := range entries {
			if e.group == "" {
				records = append(records, joinRecord{name: "unsharded object " + strconv.Itoa(i+1), first: i, last: i, sealedAt: e.sealedAt, input: e.input})
				continue
			}
			s := splits[e.group]
			if s == nil {
				s = &joinSplit{latest: map[int]int{}}
				splits[e.group] = s
			}
			s.latest[e.index] = i
			s.committed = s.committed || e.committed
			s.partition = e.partition // one group, one partition
			if e.sealedAt.After(s.sealedAt) {
				s.sealedAt = e.sealedAt
			}
		}
		for _, g := range slices.Sorted(maps.Keys(splits)) {
			s := splits[g]
			if len(missingOf(g, s.latest)) > 0 {
				continue
			}
			r := joinRecord{name: fmt.Sprintf("the split in %d shards", countOfGroup(g)), first: len(entries), last: -1, sealedAt: s.sealedAt,
				input: archiver.InputCounts{Excluded: map[string]int64{}}, partition: s.partition}
			for _, i := range s.latest {
				r.first, r.last = min(r.first, i), max(r.last, i)
				in := entries[i].input
				r.input.Read += in.Read
				r.input.Exported += in.Exported
				r.input.Duplicates += in.Duplicates
				r.input.Quarantined += in.Quarantined
				for k, v := range in.Excluded {
					r.input.Excluded[k] += v
				}
			}
			records = append(records, r)
		}
		for _, g := range slices.Sorted(maps.Keys(splits)) {
			s := splits[g]
			missing := missingOf(g, s.latest)
			if len(missing) == 0 {
				continue
			}
			count := countOfGroup(g)
			later := slices.ContainsFunc(records, func(r joinRecord) bool { return !r.sealedAt.Before(s.sealedAt) })
			samePartition := slices.ContainsFunc(records, func(r joinRecord) bool { return !r.partition.differs(s.partition) })
			switch {
			case later:
				rep.Warn(fmt.Sprintf("%s: a sharded seal in %d shards has no accounting object of shard(s) %v, but a later run that finished sealed the whole day again: its accounting object is the day's record",
					day, count, missing))
			case len(records) > 0 && !s.committed && !samePartition:
				rep.problem("%s: a sharded seal in %d shards has no accounting object of shard(s) %v; it committed nothing, but it read another partition than the day's complete accounting (%d lines, digest %s): what changed in the lines of the shards that did not run is on no record (rerun `chatvault run --date %s --shard i/%d` for each)",
					day, count, missing, s.partition.lines, s.partition.digest, day, count)
			case len(records) > 0 && !s.committed:
				rep.Warn(fmt.Sprintf("%s: a sharded seal in %d shards has no accounting object of shard(s) %v, but it committed nothing: a complete accounting of the day (unsharded, or every shard of a split) holds every line, and is the day's record",
					day, count, missing))
			case len(records) > 0:
				rep.problem("%s: a sharded seal in %d shards has no accounting object of shard(s) %v, and it committed revisions the day's complete accounting does not hold: the lines of the shards that did not run are on no record of that reseal (rerun `chatvault run --date %s --shard i/%d` for each)",
					day, count, missing, day, count)
			default:
				rep.problem("%s: a sharded seal in %d shards has no accounting object of shard(s) %v: their pods did not finish (rerun `chatvault run --date %s --shard i/%d` for each), and the lines they own are on no record",
					day, count, missing, day, count)
			}
		}
		// The day's record is the complete one that ends last; one that interleaves with
		// it and counts the day otherwise makes it ambiguous. Records wholly before it are
		// history (reruns), whatever they counted.
		if len(records) < 2 {
			continue
		}
		r := slices.MaxFunc(records, func(a, b joinRecord) int { return a.last - b.last })
		for _, q := range records {
			if q.last != r.last && q.last >= r.first && !q.input.Equal(r.input) {
				rep.problem("%s: two complete accountings of the day sealed at the same time (their objects interleave), %s and %s, disagree on the day's counts (read %d and %d, quarantined %d and %d): neither is the day's record (seal the day again unsharded: `chatvault run --date %s`)",
					day, q.name, r.name, q.input.Read, r.input.Read, q.input.Quarantined, r.input.Quarantined, day)
			}
		}
	}
}

// sealedAt returns a's sealedAt (zero when unreadable: then it supersedes nothing).
func sealedAt(a *archiver.StoredAccounting) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, a.SealedAt)
	return t
}

// missingOf returns the shard indexes of group g not in seen.
func missingOf(g string, seen map[int]int) []int {
	var missing []int
	for i := range countOfGroup(g) {
		if _, ok := seen[i]; !ok {
			missing = append(missing, i)
		}
	}
	return missing
}

// countOfGroup returns the n of a join key (archiver.Accounting.ShardGroup).
func countOfGroup(g string) int {
	n := 0
	for _, c := range g {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int(c-'0')
	}
	return n
}
