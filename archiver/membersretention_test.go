package archiver_test

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/eventlog"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/archiver/s3"
	"github.com/chatvault/chatvault/internal/miniotest"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestMembersRetentionGrowsS3: on MinIO with Object Lock, an organization's members
// object (layout 3, shared by the days of a year whose membership did not change) is
// locked until the end of its year plus the organization's retention. When retentionDays
// grows, the next day that names the same object lengthens its lock to the new retention
// (read back with GetObjectRetention): by the same process (which remembers the objects it
// stored) and by a new one. A retention that shrinks never shortens it.
func TestMembersRetentionGrowsS3(t *testing.T) {
	srv := miniotest.Start(t)
	bucket := srv.Bucket(t, true)
	c := srv.Client()
	const org = "0a1c2e3f-0000-4000-8000-00000000aaaa"
	dirOf := func(retention int) string {
		return `{"organizations":[{"id":"` + org + `","name":"Acme","archival":true,"archivalStart":"2026-01-01","retentionDays":` + fmt.Sprint(retention) + `}],
"users":[{"id":"u-ada","orgId":"` + org + `","email":"ada@acme.example","displayName":"Ada"}],
"bots":[],"chats":[{"id":"chat-acme","members":["u-ada"]}]}`
	}
	root := t.TempDir()
	days := []archiver.Day{mustDay("2026-11-22"), mustDay("2026-11-23"), mustDay("2026-11-24"), mustDay("2026-11-25")}
	for _, d := range days {
		if err := os.MkdirAll(filepath.Join(root, d.String()), 0o755); err != nil {
			t.Fatal(err)
		}
		ts := d.Start().UnixMilli() + 1000
		line := fmt.Sprintf(`{"eventType":"sent","chatId":"chat-acme","timestamp":%d,"eventTimestamp":%d,"messageId":"m-%d","sender":{"participantType":"email","id":"u-ada","displayName":"Ada","email":"ada@acme.example"},"contentType":"text","content":{"contentType":"text","text":"hi","markdownText":"hi","attachments":[]}}`+"\n", ts, ts, ts)
		if err := os.WriteFile(filepath.Join(root, d.String(), "part-0001.jsonl"), []byte(line), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, d.String(), "_CLOSED"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "directory.json"), []byte(dirOf(0)), 0o644); err != nil {
		t.Fatal(err)
	}
	src, err := eventlog.NewDir(root)
	if err != nil {
		t.Fatal(err)
	}
	newStore := func() *s3.Store {
		st, err := s3.NewStore(t.Context(), c, bucket, "cv", s3.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	seal := func(st archiver.Store, d archiver.Day, retention int) string {
		t.Helper()
		s := &archiver.Sealer{Source: src, Store: st, Chain: ledger.Ledger{Store: st}, Options: archiver.Options{Layout: archiver.Layout3, TempDir: t.TempDir(),
			Now: func() time.Time { return d.End().Add(time.Hour) }, Logger: slog.New(slog.DiscardHandler)}}
		res, err := s.Seal(t.Context(), d, []byte(dirOf(retention)), "")
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
	retainUntil := func(key string) time.Time {
		t.Helper()
		mode, until := srv.Retention(t, bucket, "cv/"+key)
		if mode != "COMPLIANCE" {
			t.Errorf("%s: lock mode %q", key, mode)
		}
		return until
	}
	endOfYear := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	st := newStore()
	key := seal(st, days[0], 30)
	if got, want := retainUntil(key), endOfYear.AddDate(0, 0, 30); !got.Equal(want) {
		t.Fatalf("members object created with retention 30: retained until %s, want %s", got, want)
	}
	steps := []struct {
		name      string
		store     *s3.Store
		retention int
		want      time.Time
	}{
		{"retention grown, same process", st, 400, endOfYear.AddDate(0, 0, 400)},
		{"retention grown, a new process", newStore(), 800, endOfYear.AddDate(0, 0, 800)},
		{"retention shrunk: never shortened", newStore(), 10, endOfYear.AddDate(0, 0, 800)},
	}
	for i, s := range steps {
		if k := seal(s.store, days[i+1], s.retention); k != key {
			t.Fatalf("%s: the day names members object %s, want the same %s", s.name, k, key)
		}
		if got := retainUntil(key); !got.Equal(s.want) {
			t.Errorf("%s: members object retained until %s, want %s", s.name, got, s.want)
		}
	}
	reliability.Record(t, "security", "members object's lock when the organization's retention grows (S3 Object Lock)", reliability.Kept,
		"a day that names an existing members object lengthens its COMPLIANCE lock to the end of its year plus the new retention, in the same process and in a new one; a shorter retention never shortens it")
}
