package archiver_test

import (
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/eventlog"
	"github.com/chatvault/chatvault/archiver/fsstore"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestMembersObjectAfterTheStoreWasRestored: serve seals a day whose membership changed,
// storing a new members object (layout 3), and remembers it stored (storedMembers). The
// folder store is then restored in place from a backup taken before that day (rsync -a
// --delete), which removes the day and the object; the scheduler notices and seals the
// day again in the same process. The process trusted its memory, did not store the object
// again, and committed a signed manifest naming a members object the store does not hold:
// the day's chat index never read again, and verify reported it for good. What a process
// remembers storing is no proof that the store still holds it once its chain went back.
func TestMembersObjectAfterTheStoreWasRestored(t *testing.T) {
	const org = "0a1c2e3f-0000-4000-8000-00000000aaaa"
	dirOf := func(members string) []byte {
		return []byte(`{"organizations":[{"id":"` + org + `","name":"Acme","archival":true,"archivalStart":"2026-11-22"}],
"users":[{"id":"u-ada","orgId":"` + org + `","email":"ada@acme.example","displayName":"Ada"},{"id":"u-bob","orgId":"` + org + `","email":"bob@acme.example","displayName":"Bob"}],
"bots":[],"chats":[{"id":"chat-acme","members":[` + members + `]}]}`)
	}
	log := t.TempDir()
	days := []archiver.Day{mustDay("2026-11-22"), mustDay("2026-11-23")}
	for _, d := range days {
		if err := os.MkdirAll(filepath.Join(log, d.String()), 0o755); err != nil {
			t.Fatal(err)
		}
		ts := d.Start().UnixMilli() + 1000
		line := fmt.Sprintf(`{"eventType":"sent","chatId":"chat-acme","timestamp":%d,"eventTimestamp":%d,"messageId":"m-%d","sender":{"participantType":"email","id":"u-ada","displayName":"Ada","email":"ada@acme.example"},"contentType":"text","content":{"contentType":"text","text":"hi","markdownText":"hi","attachments":[]}}`+"\n", ts, ts, ts)
		if err := os.WriteFile(filepath.Join(log, d.String(), "part-0001.jsonl"), []byte(line), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(log, d.String(), "_CLOSED"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	src, err := eventlog.NewDir(log)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	st, err := fsstore.New(root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	seal := func(d archiver.Day, dir []byte) string {
		t.Helper()
		s := &archiver.Sealer{Source: src, Store: st, Chain: ledger.Ledger{Store: st}, Options: archiver.Options{Layout: archiver.Layout3, TempDir: t.TempDir(),
			Now: func() time.Time { return d.End().Add(time.Hour) }, Logger: slog.New(slog.DiscardHandler)}}
		res, err := s.Seal(t.Context(), d, dir, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range res.Failed() {
			t.Fatalf("seal %s: %v", d, o.Err)
		}
		m, err := ledger.Ledger{Store: st}.Latest(t.Context(), org, d)
		if err != nil || m == nil || m.ChatIndex == nil || m.ChatIndex.Inline == nil || m.ChatIndex.Inline.Members.Key == "" {
			t.Fatalf("%s: no members object named (%v)", d, err)
		}
		return m.ChatIndex.Inline.Members.Key
	}
	seal(days[0], dirOf(`"u-ada"`))
	backup := map[string]bool{}
	if err := filepath.WalkDir(root, func(p string, _ fs.DirEntry, err error) error {
		backup[p] = true
		return err
	}); err != nil {
		t.Fatal(err)
	}
	changed := dirOf(`"u-ada","u-bob"`)
	key := seal(days[1], changed)
	// The restore: whatever was written since the backup is gone.
	if err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !backup[p] {
			return os.Remove(p)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if again := seal(days[1], changed); again != key {
		t.Fatalf("the day sealed again names members object %s, want %s", again, key)
	}
	rc, err := st.Open(t.Context(), key)
	if err != nil {
		t.Fatalf("the day sealed again after the restore names members object %s, which the store does not hold: %v", key, err)
	}
	rc.Close()
	reliability.Record(t, "operations", "folder store restored in place from an older backup while serve runs; the days it lacks sealed again, one of them with a membership that changed", reliability.Recovered,
		"the members object the restore removed is stored again: what the process remembers storing is trusted only while its chain has not gone back; before, the resealed day's signed manifest named a members object the store did not hold, and its chat index never read again")
}
