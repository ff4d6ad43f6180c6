package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestShardRerunAfterPartitionChanged: a day sealed by shards 0 and 1 of 2, then its
// partition gains a file (4 late lines: for Acme, shard 0's, for Globex, shard 1's, and
// two no organization takes), and only shard 0 is run again. Shard 0's new object joined
// shard 1's old one, of the same n, directory and generator: verify passed and status
// showed the join, though Globex's new record and the new lines shard 1 owns were on no
// record. The shards of a split must have read the same partition: each shard's object
// records the partition's line count, which joins only objects that agree, so the rerun
// of shard 0 is a split lacking shard 1, a problem until shard 1 runs again too.
func TestShardRerunAfterPartitionChanged(t *testing.T) {
	late := `{"eventType":"sent","chatId":"chat-acme-team","timestamp":1795341600000,"eventTimestamp":1795341600000,"messageId":"m-late-0","sender":{"participantType":"email","id":"u-ada","displayName":"Ada Lovelace","email":"ada@acme.example"},"contentType":"text","content":{"contentType":"text","text":"Late, but here","markdownText":"Late, but here","attachments":[]}}` + "\n" +
		`{"eventType":"sent","chatId":"chat-initech-globex","timestamp":1795341600000,"eventTimestamp":1795341600000,"messageId":"m-late-1","sender":{"participantType":"email","id":"u-ivy","displayName":"Ivy Nguyễn","email":"ivy@initech.example"},"contentType":"text","content":{"contentType":"text","text":"One more for Globex","markdownText":"One more for Globex","attachments":[]}}` + "\n" +
		`{"eventType":"sent","chatId":"chat-not-in-directory","timestamp":1795341600000,"eventTimestamp":1795341600000,"messageId":"m-late-2","sender":{"participantType":"email","id":"u-nobody","displayName":"No One","email":"no@one.example"},"contentType":"text","content":{"contentType":"text","text":"x","markdownText":"x","attachments":[]}}` + "\n" +
		"not json\n"
	checkShardRerunAfterChange(t, func(logDir string) {
		if err := os.WriteFile(filepath.Join(logDir, "2026-11-22", "part-0003.jsonl"), []byte(late), 0o644); err != nil {
			t.Fatal(err)
		}
	}, "33")
	reliability.Record(t, "operations", "a day sealed in shards whose partition then changed, and only one shard run again", reliability.Refused,
		"TestShardRerunAfterPartitionChanged: the rerun's object does not join the other shards' (each records the partition's line count), verify fails naming the shard to rerun; before, status showed \"2 of 2 shards\" and verify passed with the new lines of the other shard on no record")
}

// TestShardRerunAfterPartitionEditedInPlace: as TestShardRerunAfterPartitionChanged, but
// the partition's file is edited in place, the same number of lines: a copy of Globex's
// message m-003 (shard 1's, which shard 0 skips) says something else. The line count joined shard
// 0's new object with shard 1's old one: verify passed and status showed the split
// complete, though shard 1's records hold the text the partition no longer has. Each
// shard's object records the partition's digest too (partitionDigest), so they do not.
func TestShardRerunAfterPartitionEditedInPlace(t *testing.T) {
	checkShardRerunAfterChange(t, func(logDir string) {
		name := filepath.Join(logDir, "2026-11-22", "part-0001.jsonl")
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		// The line the iOS client sent again (a duplicate of m-003, non-canonical): edited,
		// it is a record more for Globex (revision 2), where an edit of the first would
		// drop one (refused without --supersede).
		lines := strings.SplitAfter(string(b), "\n")
		i := slices.IndexFunc(lines, func(l string) bool {
			return strings.HasPrefix(l, `{ "clientInfo"`) && strings.Contains(l, `"messageId":"m-003"`)
		})
		if i < 0 || !strings.Contains(lines[i], "Can Globex review the TPS report?") {
			t.Fatal("the sample no longer has the iOS client's copy of Globex's message m-003")
		}
		lines[i] = strings.ReplaceAll(lines[i], "Can Globex review the TPS report?", "Can Globex shred the TPS report?")
		if err := os.WriteFile(name, []byte(strings.Join(lines, "")), 0o644); err != nil {
			t.Fatal(err)
		}
	}, "29")
	reliability.Record(t, "operations", "a day sealed in shards whose partition file was then edited in place (same line count), and only one shard run again", reliability.Refused,
		"TestShardRerunAfterPartitionEditedInPlace: the rerun's object does not join the other shards' (each records a digest of the partition's lines, which every shard reads anyway, and verify reports a split that read another partition than the complete one even when it committed nothing), verify fails naming the shard to rerun; before, the line count matched, status showed \"2 of 2 shards\" and verify passed with the other shard's records holding what the partition no longer says")
}

// checkShardRerunAfterChange seals 2026-11-22 with shards 0 and 1 of 2, changes the
// partition (change), runs shard 0 alone again and checks that verify fails naming shard 1
// and that status still shows the first split; then, once shard 1 ran again too, that
// verify passes and status shows the new split, which read wantRead lines.
func checkShardRerunAfterChange(t *testing.T, change func(logDir string), wantRead string) {
	t.Helper()
	cleanEnv(t)
	logDir := copyEventLog(t)
	store := t.TempDir()
	common := []string{"--eventlog", logDir, "--store", store}
	globex := "0b1c2e3f-0000-4000-8000-00000000bbbb"
	if archiver.ShardOf(acme, 2) != 0 || archiver.ShardOf(globex, 2) != 1 {
		t.Fatal("the sample's Acme and Globex are no longer shards 0 and 1 of 2")
	}
	run := func(shard string) {
		t.Helper()
		if code, out, errOut := chatvault(t, append([]string{"run", "--date", "2026-11-22", "--shard", shard}, common...)...); code != exitOK && code != exitQuarantined {
			t.Fatalf("run --shard %s: exit %d\n%s%s", shard, code, out, errOut)
		}
	}
	verify := func() (int, string) {
		code, out, errOut := chatvault(t, append([]string{"verify"}, common...)...)
		return code, out + errOut
	}
	// dayRead returns the READ column of status's day-level line of a split.
	dayRead := func(out string) string {
		for l := range strings.Lines(out) {
			if f := strings.Fields(l); len(f) > 1 && f[0] == "2026-11-22" && strings.Contains(l, "2 of 2 shards") {
				return f[1]
			}
		}
		return "no complete split in:\n" + out
	}
	status := func() string {
		_, out, _ := chatvault(t, "status", "--store", store, "--org", acme, "--date", "2026-11-22")
		return out
	}
	run("0/2")
	run("1/2")
	if code, out := verify(); code != exitOK {
		t.Fatalf("verify after both shards: exit %d\n%s", code, out)
	}
	change(logDir)
	run("0/2")
	code, out := verify()
	if code != exitFailure || !strings.Contains(out, "shard(s) [1]") {
		t.Fatalf("verify after shard 0 alone sealed the changed partition: exit %d, want %d naming shard 1\n%s", code, exitFailure, out)
	}
	// status still shows the day's complete record, the first split's (29 lines read).
	if got := dayRead(status()); got != "29" {
		t.Fatalf("status after shard 0 alone sealed the changed partition: %q lines read, want the first split's 29", got)
	}
	run("1/2")
	if code, out := verify(); code != exitOK {
		t.Fatalf("verify after both shards sealed the changed partition: exit %d\n%s", code, out)
	}
	// Both shards of the new split: every line of the partition read (a late file's too).
	if got := dayRead(status()); got != wantRead {
		t.Fatalf("status after both shards sealed the changed partition: %q lines read, want %s", got, wantRead)
	}
}
