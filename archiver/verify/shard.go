package verify

import (
	"maps"
	"slices"
	"strconv"

	"github.com/chatvault/chatvault/archiver"
)

// shardJoin collects, day by day, the shards' accounting objects (Accounting.Shard) that
// checkAccountingObjects reads, to check the join rule (archiver/shard.go): a sharded day's accounting is complete when every
// shard 0..n-1 of one split (n, directory, generator) has an object. Each object balances
// on its own (a shard counts the lines it owns, shard.go), so the day's numbers are their
// sum; a missing shard would leave the lines it owns, and its quarantine, on no record.
type shardJoin map[string]map[string]map[int]bool // day → group → shard indexes seen

// add notes a's shard and checks what one object can show alone: a valid index, and that
// every manifest it names is of an organization of its shard.
func (j shardJoin) add(day archiver.Day, a *archiver.StoredAccounting, rep *Report) {
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
	if j[d] == nil {
		j[d] = map[string]map[int]bool{}
	}
	if j[d][g] == nil {
		j[d][g] = map[int]bool{}
	}
	j[d][g][sh.Index] = true
}

// check reports every split of a day that lacks a shard's accounting object.
func (j shardJoin) check(rep *Report) {
	for _, day := range slices.Sorted(maps.Keys(j)) {
		for _, g := range slices.Sorted(maps.Keys(j[day])) {
			seen := j[day][g]
			var missing []int
			count := countOfGroup(g)
			for i := range count {
				if !seen[i] {
					missing = append(missing, i)
				}
			}
			if len(missing) > 0 {
				rep.problem("%s: a sharded seal in %d shards has no accounting object of shard(s) %v: their pods did not finish (rerun `chatvault run --date %s --shard i/%d` for each), and the lines they own are on no record",
					day, count, missing, day, count)
			}
		}
	}
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
