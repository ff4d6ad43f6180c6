package verify

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/eventlog"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/archiver/s3"
	"github.com/chatvault/chatvault/internal/miniotest"
	"github.com/chatvault/chatvault/internal/reliability"
	"github.com/chatvault/chatvault/model"
)

// shortMembersStore is an S3 store that locks the members objects it creates only until
// until, and never extends one: a members object stored by an older build, before the
// organization's retention grew, or by a bug.
type shortMembersStore struct {
	*s3.Store
	until time.Time
}

func (s shortMembersStore) opt(key string, opt archiver.CreateOptions) archiver.CreateOptions {
	if strings.Contains(key, "/members/") {
		return archiver.CreateOptions{RetainUntil: s.until}
	}
	return opt
}

func (s shortMembersStore) Create(ctx context.Context, key string, body io.Reader, size int64, sum [sha256.Size]byte, opt archiver.CreateOptions) error {
	return s.Store.Create(ctx, key, body, size, sum, s.opt(key, opt))
}

func (s shortMembersStore) CreateVersion(ctx context.Context, key string, body io.Reader, size int64, sum [sha256.Size]byte, opt archiver.CreateOptions) (string, error) {
	return s.Store.CreateVersion(ctx, key, body, size, sum, s.opt(key, opt))
}

// lockCountingStore counts the lock reads (GetObjectRetention and GetObjectLegalHold) of
// each key.
type lockCountingStore struct {
	*s3.Store
	mu    sync.Mutex
	locks map[string]int
}

func (s *lockCountingStore) Lock(ctx context.Context, key string) (archiver.ObjectLock, error) {
	s.mu.Lock()
	s.locks[key]++
	s.mu.Unlock()
	return s.Store.Lock(ctx, key)
}

// TestVerifyMembersLockS3: on MinIO with Object Lock, a members object locked for less
// than a day that names it needs (here stored by an "older build" with a lock that ends a
// day after its first day, then named by three more days whose seals skipped it, the head
// naming it with the same retention) is a problem of every verification (full, of days, of
// one organization, and incremental after a checkpoint of the first day), naming the key, its retain-until and the date the latest day naming it
// needs. Its lock is read once per verification, not once per day that names it. verify
// with ExtendLocks lengthens it (to the end of its year plus the retention, as the writer
// keeps it) and the next verification finds nothing.
func TestVerifyMembersLockS3(t *testing.T) {
	srv := miniotest.Start(t)
	bucket := srv.Bucket(t, true)
	c := srv.Client()
	const org = "0a1c2e3f-0000-4000-8000-00000000bbbb"
	const retention = 400
	dir := `{"organizations":[{"id":"` + org + `","name":"Acme","archival":true,"archivalStart":"2026-11-22","retentionDays":` + fmt.Sprint(retention) + `}],
"users":[{"id":"u-ada","orgId":"` + org + `","email":"ada@acme.example","displayName":"Ada"}],
"bots":[],"chats":[{"id":"chat-acme","members":["u-ada"]}]}`
	root := t.TempDir()
	var days []archiver.Day
	for _, s := range []string{"2026-11-22", "2026-11-23", "2026-11-24", "2026-11-25"} {
		d, err := archiver.ParseDay(s)
		if err != nil {
			t.Fatal(err)
		}
		days = append(days, d)
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
	src, err := eventlog.NewDir(root)
	if err != nil {
		t.Fatal(err)
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
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
	seal := func(st archiver.Store, d archiver.Day) string {
		t.Helper()
		s := &archiver.Sealer{Source: src, Store: st, Chain: ledger.Ledger{Store: st}, Options: archiver.Options{Layout: archiver.Layout3, TempDir: t.TempDir(), SigningKey: priv,
			Now: func() time.Time { return d.End().Add(time.Hour) }, Logger: slog.New(slog.DiscardHandler)}}
		res, err := s.Seal(t.Context(), d, []byte(dir), "")
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
		_, until := srv.Retention(t, bucket, "cv/"+key)
		return until
	}
	short := days[0].End().AddDate(0, 0, retention) // enough for its first day only
	key := seal(shortMembersStore{Store: newStore(), until: short}, days[0])
	parsed, err := model.ParseDirectory([]byte(dir))
	if err != nil {
		t.Fatal(err)
	}
	// A checkpoint after the first day (whose need the short lock covers), for the
	// incremental verification of the days sealed since.
	if rep, err := Run(t.Context(), ledger.Ledger{Store: newStore()}, Options{Directory: parsed, TrustedKey: pub, CheckpointKey: priv}); err != nil || !rep.OK() || rep.Wrote == "" {
		t.Fatalf("first day: %v, problems %q, checkpoint %q", err, rep.Problems, rep.Wrote)
	}
	for _, d := range days[1:] {
		if k := seal(newStore(), d); k != key {
			t.Fatalf("%s names members object %s, want the same %s", d, k, key)
		}
	}
	if got := retainUntil(key); !got.Equal(short) {
		t.Fatalf("members object retained until %s after the seals skipped it, want the short %s", got, short)
	}
	need := days[len(days)-1].End().AddDate(0, 0, retention)
	runs := []struct {
		name string
		opt  Options
	}{
		{"full", Options{}},
		{"days", Options{From: days[0], To: days[len(days)-1]}},
		{"one organization", Options{Org: org}},
		{"incremental", Options{Incremental: true, CheckpointKey: priv}},
	}
	for _, r := range runs {
		st := &lockCountingStore{Store: newStore(), locks: map[string]int{}}
		r.opt.Directory, r.opt.TrustedKey = parsed, pub
		rep, err := Run(t.Context(), ledger.Ledger{Store: st}, r.opt)
		if err != nil {
			t.Fatalf("%s: %v", r.name, err)
		}
		if r.opt.Incremental && rep.Checkpoint == "" {
			t.Errorf("incremental: not from the first day's checkpoint")
		}
		var found []string
		for _, p := range rep.Problems {
			if strings.Contains(p, key) {
				found = append(found, p)
			}
		}
		want := []string{short.Format(time.RFC3339), need.Format(time.RFC3339), days[len(days)-1].String()}
		if len(found) != 1 {
			t.Errorf("%s: %d problems name %s, want 1: %q (all: %q)", r.name, len(found), key, found, rep.Problems)
		} else {
			for _, w := range want {
				if !strings.Contains(found[0], w) {
					t.Errorf("%s: problem %q does not say %s", r.name, found[0], w)
				}
			}
		}
		if n := st.locks[key]; n != 1 {
			t.Errorf("%s: the members object's lock read %d times (%d days name it), want once", r.name, n, len(days))
		}
		t.Logf("%s: members lock reads %d, problems %q", r.name, st.locks[key], rep.Problems)
	}
	// verify --extend-locks lengthens the lock, as the writer would have kept it.
	rep, err := Run(t.Context(), ledger.Ledger{Store: newStore()}, Options{Directory: parsed, TrustedKey: pub, ExtendLocks: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range rep.Problems {
		if strings.Contains(p, key) {
			t.Errorf("ExtendLocks: still a problem: %q", p)
		}
	}
	if !slices.ContainsFunc(rep.Warnings, func(w string) bool { return strings.Contains(w, key) && strings.Contains(w, "lock extended") }) {
		t.Errorf("ExtendLocks: no warning says the lock of %s was extended: %q", key, rep.Warnings)
	}
	endOfYear := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	if got, want := retainUntil(key), endOfYear.AddDate(0, 0, retention); !got.Equal(want) {
		t.Errorf("ExtendLocks: members object retained until %s, want %s (the end of its year plus the retention)", got, want)
	}
	rep, err = Run(t.Context(), ledger.Ledger{Store: newStore()}, Options{Directory: parsed, TrustedKey: pub})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range append(rep.Problems, rep.Warnings...) {
		if strings.Contains(s, key) {
			t.Errorf("after ExtendLocks: %q", s)
		}
	}

	// A held day's objects: their retention and their legal hold come from one lock read
	// each (verifyLocks and verifyLegalHolds share it); they were read twice.
	held := days[1]
	if _, err := (ledger.Ledger{Store: newStore()}).Hold(t.Context(), ledger.HoldRequest{Org: org, Matter: "case-1", From: held, To: held, On: true,
		At: held.End().Add(2 * time.Hour), By: "test"}); err != nil {
		t.Fatal(err)
	}
	st := &lockCountingStore{Store: newStore(), locks: map[string]int{}}
	rep, err = Run(t.Context(), ledger.Ledger{Store: st}, Options{Directory: parsed, TrustedKey: pub})
	if err != nil || !rep.OK() {
		t.Fatalf("verify of the held day: %v, problems %q", err, rep.Problems)
	}
	m, err := ledger.Ledger{Store: newStore()}.Latest(t.Context(), org, held)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{m.Key, m.Data.Key} {
		if n := st.locks[k]; n != 1 {
			t.Errorf("held day's %s: lock read %d times, want once", k, n)
		}
	}
	reliability.Record(t, "security", "members object locked for less than a day that names it needs (S3 Object Lock)", reliability.Recovered,
		"verify (full, of days, of one organization, incremental) reports the members object's key, its retain-until and the date the latest day naming it needs (incremental: of the days sealed since the checkpoint); its lock read once per verification, not per day; verify --extend-locks lengthens it to the end of its year plus the retention, and the next verify finds nothing")
}
