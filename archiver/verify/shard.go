package verify

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/chatvault/chatvault/archiver"
)

// shardJoin collects, day by day, the shards' accounting objects (Accounting.Shard) that
// checkAccountingObjects reads, to check the join rule (archiver/shard.go): a sharded day's accounting is complete when every
// shard 0..n-1 of one split (n, directory, generator) has an object. Each object balances
// on its own (a shard counts the lines it owns, shard.go), so the day's numbers are their
// sum; a missing shard would leave the lines it owns, and its quarantine, on no record.
//
// A split lacking a shard is a problem while it is the day's latest record. When the day's
// latest accounting object is unsharded or of another split that is complete, the day was
// sealed again by a run that read all of it (the operator gave up on the split, as status
// does, which reads the latest: archiver.Ledger.DayTotals): the abandoned split is then a
// warning, not a problem no run could clear but one of its own missing shards. Only if
// that object was sealed no earlier than the abandoned split's: a copy of an earlier
// object (its signed bytes under a later number) must not hide a shard's deleted object.
type shardJoin struct {
	seen     map[string]map[string]map[int]bool // day → group → shard indexes seen
	sealed   map[string]map[string]time.Time    // day → group → its latest sealedAt
	latest   map[string]string                  // day → group of its latest object ("": unsharded)
	latestAt map[string]time.Time               // day → its latest object's sealedAt
}

// last notes a, an accounting object of day, as the day's latest so far (keys come in
// order).
func (j *shardJoin) last(day archiver.Day, a *archiver.StoredAccounting) {
	if j.latest == nil {
		j.latest, j.latestAt = map[string]string{}, map[string]time.Time{}
	}
	g := ""
	if a.Shard != nil {
		g = shardGroup(a)
	}
	j.latest[day.String()], j.latestAt[day.String()] = g, sealedAt(a)
}

// add notes a's shard and checks what one object can show alone: a valid index, and that
// every manifest it names is of an organization of its shard.
func (j *shardJoin) add(day archiver.Day, a *archiver.StoredAccounting, rep *Report) {
	sh := a.Shard
	if sh.Count < 1 || sh.Count > archiver.MaxShards || sh.Index < 0 || sh.Index >= sh.Count {
		rep.problem("%s: shard %s is not a shard", a.Key, sh)
		return
	}
	for _, m := range a.Manifests {
		if got := archiver.ShardOf(m.Org, sh.Count); got != sh.Index {
			rep.problem("%s: shard %s names a manifest of organization %s, which is shard %d's", a.Key, sh, m.Org, got)
		}
	}
	d, g := day.String(), shardGroup(a)
	if j.seen == nil {
		j.seen = map[string]map[string]map[int]bool{}
	}
	if j.seen[d] == nil {
		j.seen[d] = map[string]map[int]bool{}
	}
	if j.seen[d][g] == nil {
		j.seen[d][g] = map[int]bool{}
	}
	j.seen[d][g][sh.Index] = true
	if j.sealed == nil {
		j.sealed = map[string]map[string]time.Time{}
	}
	if j.sealed[d] == nil {
		j.sealed[d] = map[string]time.Time{}
	}
	if at := sealedAt(a); at.After(j.sealed[d][g]) {
		j.sealed[d][g] = at
	}
}

// check reports every split of a day that lacks a shard's accounting object.
func (j *shardJoin) check(rep *Report) {
	for _, day := range slices.Sorted(maps.Keys(j.seen)) {
		// The group of the day's latest object, when it accounts for the whole day.
		latest, whole := j.latest[day], false
		if latest == "" {
			whole = true // unsharded (or outside the range read, which keys cannot be)
		} else if seen, ok := j.seen[day][latest]; ok {
			whole = len(missingOf(latest, seen)) == 0
		}
		for _, g := range slices.Sorted(maps.Keys(j.seen[day])) {
			missing := missingOf(g, j.seen[day][g])
			count := countOfGroup(g)
			if len(missing) > 0 && whole && g != latest && !j.latestAt[day].Before(j.sealed[day][g]) {
				rep.Warn(fmt.Sprintf("%s: a sharded seal in %d shards has no accounting object of shard(s) %v, but a later run that finished sealed the whole day again: its accounting object is the day's record",
					day, count, missing))
				continue
			}
			if len(missing) > 0 {
				rep.problem("%s: a sharded seal in %d shards has no accounting object of shard(s) %v: their pods did not finish (rerun `chatvault run --date %s --shard i/%d` for each), and the lines they own are on no record",
					day, count, missing, day, count)
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
func missingOf(g string, seen map[int]bool) []int {
	var missing []int
	for i := range countOfGroup(g) {
		if !seen[i] {
			missing = append(missing, i)
		}
	}
	return missing
}

// countOfGroup returns the n of a shardGroup key.
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

// shardGroup is the join key of a shard's accounting object: the shards of one sharded
// seal split the day the same way only with the same n, directory and program.
func shardGroup(a *archiver.StoredAccounting) string {
	return strconv.Itoa(a.Shard.Count) + " " + a.DirectorySHA256 + " " + a.Generator
}
