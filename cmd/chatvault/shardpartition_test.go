package main

import (
	"os"
	"path/filepath"
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
	late := `{"eventType":"sent","chatId":"chat-acme-team","timestamp":1795341600000,"eventTimestamp":1795341600000,"messageId":"m-late-0","sender":{"participantType":"email","id":"u-ada","displayName":"Ada Lovelace","email":"ada@acme.example"},"contentType":"text","content":{"contentType":"text","text":"Late, but here","markdownText":"Late, but here","attachments":[]}}` + "\n" +
		`{"eventType":"sent","chatId":"chat-initech-globex","timestamp":1795341600000,"eventTimestamp":1795341600000,"messageId":"m-late-1","sender":{"participantType":"email","id":"u-ivy","displayName":"Ivy Nguyễn","email":"ivy@initech.example"},"contentType":"text","content":{"contentType":"text","text":"One more for Globex","markdownText":"One more for Globex","attachments":[]}}` + "\n" +
		`{"eventType":"sent","chatId":"chat-not-in-directory","timestamp":1795341600000,"eventTimestamp":1795341600000,"messageId":"m-late-2","sender":{"participantType":"email","id":"u-nobody","displayName":"No One","email":"no@one.example"},"contentType":"text","content":{"contentType":"text","text":"x","markdownText":"x","attachments":[]}}` + "\n" +
		"not json\n"
	if err := os.WriteFile(filepath.Join(logDir, "2026-11-22", "part-0003.jsonl"), []byte(late), 0o644); err != nil {
		t.Fatal(err)
	}
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
	// Both shards of the new split: every line of the partition read, the 4 new ones too.
	if got := dayRead(status()); got != "33" {
		t.Fatalf("status after both shards sealed the changed partition: %q lines read, want 33", got)
	}
	reliability.Record(t, "operations", "a day sealed in shards whose partition then changed, and only one shard run again", reliability.Refused,
		"TestShardRerunAfterPartitionChanged: the rerun's object does not join the other shards' (each records the partition's line count), verify fails naming the shard to rerun; before, status showed \"2 of 2 shards\" and verify passed with the new lines of the other shard on no record")
}
