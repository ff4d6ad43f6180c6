package archiver_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/internal/reliability"
)

// lateAcmeLine is a record of Acme's added to the sample partition after a seal.
const lateAcmeLine = `{"eventType":"sent","chatId":"chat-acme-team","timestamp":1795338000500,"eventTimestamp":1795338000500,"messageId":"m-late","sender":{"participantType":"email","id":"u-ada","displayName":"Ada Lovelace","email":"ada@acme.example"},"contentType":"text","content":{"contentType":"text","text":"late","markdownText":"late","attachments":[]}}`

// TestShardSetBesideCompleteAccounting: the join rule when a day has accounting objects of
// more than one kind (the scheduler's unsharded seal and some shards of a `run --shard i/n`
// for the same day, in either order). The invariant: every line of the day is on one
// complete record, a complete unsharded accounting object or every shard of one split. A
// partial split beside a complete record that it did not change (its shards found their
// organizations sealed: they committed nothing) is a warning, a partial split alone is a
// problem, and so is one that committed revisions the complete record does not hold (an
// unfinished reseal: its missing shards' lines of the new partition are on no record), or
// one that read another partition than every complete split (a line of a missing shard's
// edited in place: the partitions' digests differ);
// two complete records sealed at the same time (their objects interleave) that disagree on
// the day's counts are a problem: neither is the day's record. Status (Ledger.DayTotals)
// reads the day's complete record, never the partial split, and never a sum of both.
func TestShardSetBesideCompleteAccounting(t *testing.T) {
	acmeShard := archiver.ShardOf(acme, 2)
	other := 1 - acmeShard
	sh := func(i, n int) archiver.Options { return archiver.Options{Shard: archiver.Shard{Index: i, Count: n}} }
	type step struct {
		opt  archiver.Options
		edit func(t *testing.T, logDir string) // before the run
	}
	addLate := func(t *testing.T, logDir string) {
		editPartition(t, logDir, func(string) bool { return true }, lateAcmeLine)
	}
	addBad := func(t *testing.T, logDir string) {
		editPartition(t, logDir, func(string) bool { return true }, `not json at all`)
	}
	dropBad := func(t *testing.T, logDir string) {
		editPartition(t, logDir, func(l string) bool { return !strings.HasPrefix(l, "not json") })
	}
	// editOther edits in place the iOS client's copy of Globex's message m-003, the file's
	// last line holding its text: a line of the other shard's, as many lines as before.
	editOther := func(t *testing.T, logDir string) {
		name := filepath.Join(logDir, sampleDay.String(), "part-0001.jsonl")
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		i := bytes.LastIndex(b, []byte("Can Globex review"))
		if i < 0 || archiver.ShardOf("0b1c2e3f-0000-4000-8000-00000000bbbb", 2) != other {
			t.Fatal("the sample's Globex message m-003 is gone, or Globex is Acme's shard")
		}
		copy(b[i:], "Can Globex reread")
		if err := os.WriteFile(name, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name    string
		steps   []step
		problem string // a problem verify must report ("": verify passes)
		warning string // a warning verify must report when it passes
		shards  int    // the day's record DayTotals must read: 0 unsharded, n a split of n
		keys    int    // its number of objects
	}{
		{name: "unsharded, then one shard of 2", steps: []step{{opt: archiver.Options{}}, {opt: sh(acmeShard, 2)}},
			warning: "shard(s) [" + itoa(int64(other)) + "]", shards: 0, keys: 1},
		{name: "unsharded, then the other shard of 2", steps: []step{{opt: archiver.Options{}}, {opt: sh(other, 2)}},
			warning: "shard(s) [" + itoa(int64(acmeShard)) + "]", shards: 0, keys: 1},
		// The unsharded rerun writes its accounting object: the day's latest is a shard's.
		{name: "split of 2, then unsharded", steps: []step{{opt: sh(0, 2)}, {opt: sh(1, 2)}, {opt: archiver.Options{}}},
			shards: 0, keys: 1},
		{name: "split of 2, then one shard of 3", steps: []step{{opt: sh(0, 2)}, {opt: sh(1, 2)}, {opt: sh(1, 3)}},
			warning: "shard(s) [0 2]", shards: 2, keys: 2},
		{name: "one shard of 2 alone", steps: []step{{opt: sh(0, 2)}},
			problem: "shard(s) [1]", shards: 2, keys: 1},
		{name: "unsharded, a late record, then its shard of 2 alone commits revision 2",
			steps:   []step{{opt: archiver.Options{}}, {opt: sh(acmeShard, 2), edit: addLate}},
			problem: "shard(s) [" + itoa(int64(other)) + "]", shards: 0, keys: 1},
		// Acme's shard commits nothing, but read another partition than the split: the
		// other shard's line of the new partition is on no record.
		{name: "split of 2, a line of the other shard's edited in place, then Acme's shard alone",
			steps:   []step{{opt: sh(0, 2)}, {opt: sh(1, 2)}, {opt: sh(acmeShard, 2), edit: editOther}},
			problem: "shard(s) [" + itoa(int64(other)) + "]", shards: 2, keys: 2},
		{name: "shard, unsharded, shard: interleaved, agreeing",
			steps:  []step{{opt: sh(0, 2)}, {opt: archiver.Options{}}, {opt: sh(1, 2)}},
			shards: 2, keys: 2},
		{name: "shard, unsharded of a bad line more, shard: interleaved, disagreeing",
			steps:   []step{{opt: sh(0, 2)}, {opt: archiver.Options{}, edit: addBad}, {opt: sh(1, 2), edit: dropBad}},
			problem: "disagree", shards: 2, keys: 2},
		// An unsharded rerun of the day whose records disagree writes an accounting object
		// (its counts are not the day's record's), wholly after both: the day's record.
		{name: "interleaved, disagreeing, then an unsharded rerun",
			steps:  []step{{opt: sh(0, 2)}, {opt: archiver.Options{}, edit: addBad}, {opt: sh(1, 2), edit: dropBad}, {opt: archiver.Options{}}},
			shards: 0, keys: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logDir := copyLog(t)
			f := newFixture(t, logDir)
			for i, s := range tc.steps {
				if s.edit != nil {
					s.edit(t, logDir)
				}
				// Each run an hour after the one before: sealedAt orders like the keys.
				s.opt.Now = func() time.Time { return fixedClock().Add(time.Duration(i) * time.Hour) }
				f.seal(t, sampleDay, s.opt)
			}
			rep := verifyStore(t, f)
			if tc.problem == "" {
				if !rep.OK() {
					t.Fatalf("verify: problems %v", rep.Problems)
				}
				if tc.warning != "" && !slices.ContainsFunc(rep.Warnings, func(w string) bool { return strings.Contains(w, tc.warning) }) {
					t.Errorf("verify does not mention the partial split (%q): warnings %v", tc.warning, rep.Warnings)
				}
			} else if !slices.ContainsFunc(rep.Problems, func(p string) bool { return strings.Contains(p, tc.problem) }) {
				t.Fatalf("verify: want a problem with %q; problems %v, warnings %v", tc.problem, rep.Problems, rep.Warnings)
			}
			tot, err := ledger.Ledger{Store: f.store}.DayTotals(context.Background(), sampleDay)
			if err != nil {
				t.Fatal(err)
			}
			if tot.Shards != tc.shards || len(tot.Keys) != tc.keys {
				t.Fatalf("day totals read %d objects of a split of %d (0: unsharded), want %d of %d: %+v", len(tot.Keys), tot.Shards, tc.keys, tc.shards, tot)
			}
			if tc.problem == "" {
				// One unsharded seal of the same partition into a store of its own.
				want := newFixture(t, logDir).seal(t, sampleDay, archiver.Options{}).Input
				if len(tot.Missing) > 0 || tot.Input.Read != want.Read || tot.Input.Quarantined != want.Quarantined || !mapsEqual(tot.Input.Excluded, want.Excluded) {
					t.Fatalf("day totals %+v: want the partition's counts once, %+v", tot, want)
				}
			}
		})
	}
	reliability.Record(t, "operations", "a day sealed unsharded and by some shards of a split (`run --shard i/n`), in either order", reliability.Kept,
		"verify passes with a warning while a complete record (unsharded, or every shard of one split) holds every line and the partial split committed nothing; a partial split alone, one that committed a revision, one that read another partition than every complete split, or two interleaved complete records that disagree on the counts are problems; status reads the complete record, never a sum of both")
}

// TestRerunAccountsForALineNoManifestTakes: a line added to a sealed day's partition that
// changes no organization's records (a copy of one of Acme's: a duplicate) is counted by
// the rerun, which writes an accounting object: the day's record reads every line.
// Before, the rerun found every manifest and the quarantine object named and wrote
// nothing, and the day's record lacked the line.
func TestRerunAccountsForALineNoManifestTakes(t *testing.T) {
	logDir := copyLog(t)
	f := newFixture(t, logDir)
	first := f.seal(t, sampleDay, archiver.Options{})
	var dup string
	editPartition(t, logDir, func(l string) bool {
		if strings.Contains(l, `"messageId":"m-001"`) {
			dup = strings.TrimSuffix(l, "\n")
		}
		return true
	})
	editPartition(t, logDir, func(string) bool { return true }, dup)
	again := f.seal(t, sampleDay, archiver.Options{})
	if again.Input.Duplicates != first.Input.Duplicates+1 || again.Input.Read != first.Input.Read+1 {
		t.Fatalf("rerun counted %+v, first run %+v: want one more line, a duplicate", again.Input, first.Input)
	}
	tot, err := ledger.Ledger{Store: f.store}.DayTotals(context.Background(), sampleDay)
	if err != nil || tot.Input.Read != again.Input.Read || tot.Input.Duplicates != again.Input.Duplicates {
		t.Fatalf("the day's record %+v, %v: want the rerun's counts %+v", tot, err, again.Input)
	}
	if rep := verifyStore(t, f); !rep.OK() {
		t.Fatalf("verify: %v", rep.Problems)
	}
	reliability.Record(t, "input", "rerun of a sealed day whose partition gained a line no organization's records change (a duplicate)", reliability.Kept,
		"the rerun writes an accounting object: the day's record counts every line of the partition")
}
