package archiver_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/archiver/synth"
	"github.com/chatvault/chatvault/archiver/verify"
	"github.com/chatvault/chatvault/internal/reliability"
)

// shardedDay is a generated day with many organizations and every kind of bad line.
func shardedDay(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if _, err := synth.Generate(context.Background(), dir, synth.Options{Day: sampleDay, Events: 30_000, Orgs: 60, Seed: 13, Bad: 60, Files: 3}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// storeFiles returns the files of a folder store under prefix, by path, with their bytes.
func shardStoreFiles(t *testing.T, root, prefix string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if !strings.HasPrefix(rel, prefix) {
			return nil
		}
		b, err := os.ReadFile(path)
		out[rel] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// quarantineLines returns the lines of every day-level quarantine object in a folder store.
func quarantineLines(t *testing.T, root string) []string {
	t.Helper()
	var lines []string
	for _, b := range shardStoreFiles(t, root, "quarantine/") {
		for l := range strings.Lines(string(gunzip(t, bytes.NewReader(b)))) {
			lines = append(lines, l)
		}
	}
	slices.Sort(lines)
	return lines
}

// TestShardsMatchUnsharded seals a generated day of 60 organizations (with bad lines of
// every kind) once unsharded and once in n shards, each a Sealer of its own, and checks:
// every object under orgs/ (exports, organization quarantines, chat indexes, manifests)
// is byte-identical; each shard's day-level counts balance and their sum is the unsharded
// run's; the shards' quarantine objects hold the unsharded quarantine's lines, each once;
// verify passes; and each shard decodes only a share of the day (the rest it skips
// undecoded), counted, not timed.
func TestShardsMatchUnsharded(t *testing.T) {
	logDir := shardedDay(t)
	base := newFixture(t, logDir)
	whole := base.seal(t, sampleDay, archiver.Options{})
	wantOrgs := shardStoreFiles(t, base.storeDir, "orgs/")
	wantQ := quarantineLines(t, base.storeDir)
	if whole.Input.Quarantined == 0 || len(wantQ) != int(whole.Input.Quarantined) {
		t.Fatalf("unsharded: %d quarantined, %d quarantine lines", whole.Input.Quarantined, len(wantQ))
	}
	for _, n := range []int{1, 2, 4} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			f := newFixture(t, logDir)
			var sum archiver.InputCounts
			sum.Excluded = map[string]int64{}
			var decoded int64
			for i := range n {
				res := f.seal(t, sampleDay, archiver.Options{Shard: archiver.Shard{Index: i, Count: n}})
				if !res.Input.Balanced() {
					t.Fatalf("shard %d/%d: counts do not balance: %+v", i, n, res.Input)
				}
				sum.Read += res.Input.Read
				sum.Exported += res.Input.Exported
				sum.Duplicates += res.Input.Duplicates
				sum.Quarantined += res.Input.Quarantined
				for k, v := range res.Input.Excluded {
					sum.Excluded[k] += v
				}
				decoded += whole.Input.Read - res.Skipped
				for _, o := range res.Orgs {
					if archiver.ShardOf(o.Org, n) != i {
						t.Errorf("shard %d/%d committed %s, of shard %d", i, n, o.Org, archiver.ShardOf(o.Org, n))
					}
				}
				if res.Accounting == "" {
					t.Errorf("shard %d/%d wrote no accounting object", i, n)
				}
			}
			if sum.Read != whole.Input.Read || sum.Exported != whole.Input.Exported || sum.Duplicates != whole.Input.Duplicates ||
				sum.Quarantined != whole.Input.Quarantined || !mapsEqual(sum.Excluded, whole.Input.Excluded) {
				t.Fatalf("shards' counts sum to %+v, unsharded %+v", sum, whole.Input)
			}
			got := shardStoreFiles(t, f.storeDir, "orgs/")
			if len(got) != len(wantOrgs) {
				t.Fatalf("%d objects under orgs/, unsharded %d", len(got), len(wantOrgs))
			}
			for k, b := range wantOrgs {
				if !bytes.Equal(got[k], b) {
					t.Fatalf("%s differs from the unsharded run's", k)
				}
			}
			if q := quarantineLines(t, f.storeDir); !slices.Equal(q, wantQ) {
				t.Fatalf("shards quarantined %d lines, unsharded %d (or other lines)", len(q), len(wantQ))
			}
			rep, err := verify.Run(context.Background(), ledger.Ledger{Store: f.store}, verify.Options{})
			if err != nil || !rep.OK() {
				t.Fatalf("verify: %v %v", err, rep.Problems)
			}
			tot, err := ledger.Ledger{Store: f.store}.DayTotals(context.Background(), sampleDay)
			if err != nil || tot.Shards != n || len(tot.Missing) > 0 || len(tot.Keys) != n || tot.Input.Read != whole.Input.Read ||
				tot.Input.Quarantined != whole.Input.Quarantined || !mapsEqual(tot.Input.Excluded, whole.Input.Excluded) {
				t.Fatalf("day totals: %+v, %v; unsharded %+v", tot, err, whole.Input)
			}
			// Each line is decoded by its owner and by the shards of its organizations; a
			// shard that decoded every line would make this n times the day.
			if limit := whole.Input.Read + whole.Input.Read/4; n > 1 && decoded > limit {
				t.Fatalf("%d shards decoded %d lines of %d, want at most %d", n, decoded, whole.Input.Read, limit)
			}
			t.Logf("%d shards: %d lines decoded in all, for a day of %d", n, decoded, whole.Input.Read)
		})
	}
	reliability.Record(t, "operations", "a day sealed in n shards (`run --shard i/n`), n = 1, 2, 4", reliability.Kept,
		"every object under orgs/ byte-identical to one unsharded run; shard counts balance and sum to the day's; quarantine lines each once; verify passes; other shards' lines skipped undecoded")
}

// TestShardMissingThenRerun: a sharded day with one shard's run missing (its pod failed)
// fails verify, naming the shard; running that shard completes it; rerunning a shard that
// already finished changes nothing and writes no accounting object.
func TestShardMissingThenRerun(t *testing.T) {
	f := newFixture(t, shardedDay(t))
	const n = 3
	for _, i := range []int{0, 2} {
		f.seal(t, sampleDay, archiver.Options{Shard: archiver.Shard{Index: i, Count: n}})
	}
	lg := ledger.Ledger{Store: f.store}
	rep, err := verify.Run(context.Background(), lg, verify.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() || !slices.ContainsFunc(rep.Problems, func(p string) bool { return strings.Contains(p, "shard(s) [1]") }) {
		t.Fatalf("verify with shard 1 of 3 missing: %v", rep.Problems)
	}
	if tot, err := lg.DayTotals(context.Background(), sampleDay); err != nil || !slices.Equal(tot.Missing, []int{1}) || len(tot.Keys) != 2 {
		t.Fatalf("day totals with shard 1 missing: %+v, %v", tot, err)
	}
	f.seal(t, sampleDay, archiver.Options{Shard: archiver.Shard{Index: 1, Count: n}})
	if rep, err := verify.Run(context.Background(), lg, verify.Options{}); err != nil || !rep.OK() {
		t.Fatalf("verify after shard 1 ran: %v %v", err, rep.Problems)
	}
	before := shardStoreFiles(t, f.storeDir, "")
	res := f.seal(t, sampleDay, archiver.Options{Shard: archiver.Shard{Index: 0, Count: n}})
	for _, o := range res.Orgs {
		if o.Outcome != archiver.OutcomeUnchanged {
			t.Errorf("rerun of shard 0: %s %s", o.Org, o.Outcome)
		}
	}
	if after := shardStoreFiles(t, f.storeDir, ""); res.Accounting != "" || len(after) != len(before) {
		t.Fatalf("rerun of shard 0 wrote %q, %d objects before, %d after", res.Accounting, len(before), len(after))
	}
	reliability.Record(t, "operations", "a shard's run missing from a sharded day (its pod failed)", reliability.Recovered,
		"verify names the missing shard; running it completes the day; rerunning a finished shard writes nothing")
}

// TestShardOf pins the documented hash: the first 8 bytes of SHA-256(id), big-endian, mod n.
func TestShardOf(t *testing.T) {
	for _, id := range []string{acme, globex, "org-1", "x"} {
		sum := sha256.Sum256([]byte(id))
		for _, n := range []int{1, 2, 3, 4, 7, 1000} {
			if got, want := archiver.ShardOf(id, n), int(binary.BigEndian.Uint64(sum[:8])%uint64(n)); got != want {
				t.Errorf("ShardOf(%q, %d) = %d, want %d", id, n, got, want)
			}
		}
	}
	for _, tc := range []struct {
		in   string
		want archiver.Shard
		ok   bool
	}{
		{"0/1", archiver.Shard{Index: 0, Count: 1}, true},
		{"3/4", archiver.Shard{Index: 3, Count: 4}, true},
		{"4/4", archiver.Shard{}, false},
		{"-1/4", archiver.Shard{}, false},
		{"0/0", archiver.Shard{}, false},
		{"1", archiver.Shard{}, false},
		{"a/b", archiver.Shard{}, false},
		{"0/5000", archiver.Shard{}, false},
		{"1/2/3", archiver.Shard{}, false},
		{" 0/2", archiver.Shard{}, false},
		{"0/2\n", archiver.Shard{}, false},
		{"0 /2", archiver.Shard{}, false},
		{"", archiver.Shard{}, false},
	} {
		got, err := archiver.ParseShard(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseShard(%q) = %v, %v", tc.in, got, err)
		}
	}
}

// TestShardSplitSupersededByLaterRun: a split that lacks a shard (its pod failed for good)
// after which the operator sealed the day again whole, or in another split that finished:
// the later run accounts for every line of the day, status reads its numbers, and verify
// must agree with status (a warning about the abandoned split, not a problem it cannot
// clear). A split still lacking a shard while it is the day's latest stays a problem.
func TestShardSplitSupersededByLaterRun(t *testing.T) {
	for _, tc := range []struct {
		name  string
		later []archiver.Shard // the later run's shards; none: one unsharded run
	}{
		{"unsharded", []archiver.Shard{{}}},
		{"split of 2", []archiver.Shard{{Index: 0, Count: 2}, {Index: 1, Count: 2}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, shardedDay(t))
			for _, i := range []int{0, 2} {
				f.seal(t, sampleDay, archiver.Options{Shard: archiver.Shard{Index: i, Count: 3}})
			}
			lg := ledger.Ledger{Store: f.store}
			for i, sh := range tc.later {
				f.seal(t, sampleDay, archiver.Options{Shard: sh})
				rep, err := verify.Run(context.Background(), lg, verify.Options{})
				if err != nil {
					t.Fatal(err)
				}
				if i < len(tc.later)-1 {
					// The later split is itself incomplete: still a problem.
					if rep.OK() {
						t.Fatalf("verify with the later split incomplete too: OK")
					}
					continue
				}
				if !rep.OK() {
					t.Fatalf("verify after the day was sealed again by a run that finished: %v", rep.Problems)
				}
				if !slices.ContainsFunc(rep.Warnings, func(w string) bool { return strings.Contains(w, "shard(s) [1]") }) {
					t.Errorf("verify does not mention the abandoned split: warnings %v", rep.Warnings)
				}
				tot, err := lg.DayTotals(context.Background(), sampleDay)
				if err != nil || len(tot.Missing) != 0 {
					t.Fatalf("day totals after the later run: %+v, %v", tot, err)
				}
			}
		})
	}
	reliability.Record(t, "operations", "a sharded day whose split lacks a shard, sealed again whole or in another split", reliability.Kept,
		"verify agrees with status: the later complete run accounts for the day, the abandoned split is a warning; a split lacking a shard while it is the day's latest stays a problem")
}

// TestShardSplitNotHiddenByCopiedAccounting: an unsharded seal, then the partition gains a
// record of Acme's and a split of 3 reseals it, lacking one shard (the split committed
// Acme's revision 2, so the unsharded record does not hold the reseal's lines); copying
// the earlier unsharded accounting object (its signed bytes) under the next number must
// not make the incomplete split look superseded.
func TestShardSplitNotHiddenByCopiedAccounting(t *testing.T) {
	logDir := copyLog(t)
	f := newFixture(t, logDir)
	first := f.seal(t, sampleDay, archiver.Options{})
	editPartition(t, logDir, func(string) bool { return true }, lateAcmeLine)
	later := func() time.Time { return fixedClock().Add(time.Hour) }
	ran := archiver.ShardOf(acme, 3)
	missing := (ran + 1) % 3
	for _, i := range []int{ran, (ran + 2) % 3} {
		f.seal(t, sampleDay, archiver.Options{Shard: archiver.Shard{Index: i, Count: 3}, Now: later})
	}
	b, err := os.ReadFile(filepath.Join(f.storeDir, filepath.FromSlash(first.Accounting)))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	copied := fmt.Sprintf("accounting/%s/%06d-%x.json", sampleDay, 4, sum)
	if err := os.WriteFile(filepath.Join(f.storeDir, filepath.FromSlash(copied)), b, 0o444); err != nil {
		t.Fatal(err)
	}
	rep, err := verify.Run(context.Background(), ledger.Ledger{Store: f.store}, verify.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("shard(s) [%d]", missing); !slices.ContainsFunc(rep.Problems, func(p string) bool { return strings.Contains(p, want) }) {
		t.Fatalf("verify with shard %d of 3 missing behind a copied earlier accounting object: problems %v, warnings %v", missing, rep.Problems, rep.Warnings)
	}
	reliability.Record(t, "security", "an earlier accounting object copied under a later number to hide a split's missing shard", reliability.Refused,
		"only a day record sealed no earlier than the split supersedes it; verify still names the missing shard")
}

// TestShardPartitionDigest: a shard's accounting object records the partition's digest
// (partitionDigest) beside its line count: the same whether the partition's files were read
// by one reader or two at once (a join must not fail for that), another once a line is
// edited in place with the line count unchanged; an unsharded object records neither, and
// is as it was.
func TestShardPartitionDigest(t *testing.T) {
	ctx := context.Background()
	// lastAccounting seals day as opt says into f and returns its accounting object, decoded
	// and as stored.
	lastAccounting := func(t *testing.T, f *fixture, opt archiver.Options) (*archiver.StoredAccounting, []byte) {
		t.Helper()
		f.seal(t, sampleDay, opt)
		var last *archiver.StoredAccounting
		if err := (ledger.Ledger{Store: f.store}).Accountings(ctx, sampleDay, func(a *archiver.StoredAccounting) error {
			last = a
			return nil
		}); err != nil || last == nil {
			t.Fatalf("accounting objects: %v, %v", last, err)
		}
		rc, err := f.store.Open(ctx, last.Key)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		var b bytes.Buffer
		if _, err := b.ReadFrom(rc); err != nil {
			t.Fatal(err)
		}
		return last, b.Bytes()
	}
	shard := archiver.Shard{Index: 0, Count: 2}
	logDir := shardedDay(t) // 3 files: two readers read two of them at once
	one, _ := lastAccounting(t, newFixture(t, logDir), archiver.Options{Shard: shard, Workers: 1})
	two, _ := lastAccounting(t, newFixture(t, logDir), archiver.Options{Shard: shard, Workers: 2})
	if !regexp.MustCompile(`^xxh64:[0-9a-f]{16}$`).MatchString(one.PartitionDigest) || one.PartitionDigest != two.PartitionDigest || one.PartitionLines != two.PartitionLines {
		t.Fatalf("the partition read by one reader: %d lines, %q; by two: %d lines, %q", one.PartitionLines, one.PartitionDigest, two.PartitionLines, two.PartitionDigest)
	}
	if _, raw := lastAccounting(t, newFixture(t, logDir), archiver.Options{}); bytes.Contains(raw, []byte(`"partition`)) {
		t.Fatalf("an unsharded accounting object records the partition:\n%s", raw)
	}

	sample := copyLog(t)
	before, _ := lastAccounting(t, newFixture(t, sample), archiver.Options{Shard: shard})
	editPartition(t, sample, func(string) bool { return true }) // rewritten as it was
	if again, _ := lastAccounting(t, newFixture(t, sample), archiver.Options{Shard: shard}); again.PartitionDigest != before.PartitionDigest {
		t.Fatalf("the same partition, rewritten: digest %s, was %s", again.PartitionDigest, before.PartitionDigest)
	}
	// One message's text edited in place: as many lines, as many bytes.
	name := filepath.Join(sample, sampleDay.String(), "part-0001.jsonl")
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, bytes.Replace(b, []byte("Morning!"), []byte("Evening!"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	after, _ := lastAccounting(t, newFixture(t, sample), archiver.Options{Shard: shard})
	if after.PartitionLines != before.PartitionLines || after.PartitionDigest == before.PartitionDigest {
		t.Fatalf("a line edited: %d lines, %s; before %d lines, %s", after.PartitionLines, after.PartitionDigest, before.PartitionLines, before.PartitionDigest)
	}
}
