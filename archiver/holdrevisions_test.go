package archiver_test

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/eventlog"
	"github.com/chatvault/chatvault/archiver/fsstore"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/archiver/s3"
	"github.com/chatvault/chatvault/archiver/storetest"
	"github.com/chatvault/chatvault/internal/miniotest"
	"github.com/chatvault/chatvault/internal/reliability"
)

// runRevisionsHold seals a day of one organization (no retention of its own: only a
// legal hold keeps its objects), holds it, then reruns it with a record fewer (refused,
// and recorded under revisions/refused/) and with the operator's supersession (committed,
// recorded under revisions/superseded/): both records must be held by the seal that
// wrote them, lifted with the hold, and held by a hold placed after they were written.
// held returns the held keys; deletable, when set, tries to delete a key's version.
func runRevisionsHold(t *testing.T, store archiver.Store, held func() []string, deletable func(key string) bool) {
	const org = "0a1c2e3f-0000-4000-8000-00000000aaaa"
	day := mustDay("2026-11-22")
	dir := `{"organizations":[{"id":"` + org + `","name":"Acme","archival":true,"archivalStart":"2026-01-01"}],
"users":[{"id":"u-ada","orgId":"` + org + `","email":"ada@acme.example","displayName":"Ada"}],
"bots":[],"chats":[{"id":"chat-acme","members":["u-ada"]}]}`
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, day.String()), 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name, body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(root, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("directory.json", dir)
	write(day.String()+"/_CLOSED", "")
	records := func(n int) {
		var lines []string
		for i := range n {
			ts := day.Start().UnixMilli() + int64(i+1)*1000
			lines = append(lines, fmt.Sprintf(`{"eventType":"sent","chatId":"chat-acme","timestamp":%d,"eventTimestamp":%d,"messageId":"m-%d","sender":{"participantType":"email","id":"u-ada","displayName":"Ada","email":"ada@acme.example"},"contentType":"text","content":{"contentType":"text","text":"hi","markdownText":"hi","attachments":[]}}`, ts, ts, i))
		}
		write(day.String()+"/part-0001.jsonl", strings.Join(lines, "\n")+"\n")
	}
	src, err := eventlog.NewDir(root)
	if err != nil {
		t.Fatal(err)
	}
	now := day.End().Add(time.Hour)
	seal := func(sup *archiver.Supersede) *archiver.DayResult {
		t.Helper()
		now = now.Add(time.Minute)
		s := &archiver.Sealer{Source: src, Store: store, Chain: ledger.Ledger{Store: store}, Options: archiver.Options{Now: func() time.Time { return now },
			TempDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler), Supersede: sup}}
		res, err := s.Seal(t.Context(), day, []byte(dir), "")
		if err != nil && res == nil {
			t.Fatal(err)
		}
		return res
	}
	lg := ledger.Ledger{Store: store}
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	hold := func(matter string, on bool) {
		t.Helper()
		at = at.Add(time.Minute)
		if _, err := lg.Hold(t.Context(), ledger.HoldRequest{Org: org, Matter: matter, From: day, To: day, On: on, At: at, By: "test"}); err != nil {
			t.Fatal(err)
		}
	}
	revisions := func() []string {
		t.Helper()
		var keys []string
		if err := store.List(t.Context(), "revisions/", func(key string) error {
			keys = append(keys, key)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return keys
	}
	heldRevisions := func() []string {
		var out []string
		for _, k := range held() {
			if strings.HasPrefix(k, "revisions/") {
				out = append(out, k)
			}
		}
		slices.Sort(out)
		return out
	}

	records(2)
	seal(nil)
	hold("case-1", true)
	records(1)
	if res := seal(nil); len(res.Failed()) != 1 || !errors.Is(res.Failed()[0].Err, archiver.ErrRevisionShrinks) {
		t.Fatalf("a rerun dropping a record: %+v, want it refused", res.Orgs)
	}
	if refused := revisions(); len(refused) != 1 || !slices.Equal(heldRevisions(), refused) {
		t.Errorf("held day's rerun refused: held %q, want %q", heldRevisions(), refused)
	}
	if res := seal(&archiver.Supersede{Org: org, Reason: "ticket 42: a line sealed twice"}); len(res.Failed()) != 0 {
		t.Fatalf("a superseding rerun: %v", res.Failed()[0].Err)
	}
	all := revisions()
	if len(all) != 2 || !strings.HasPrefix(all[0], "revisions/refused/"+day.String()+"/"+org+"/") ||
		!strings.HasPrefix(all[1], "revisions/superseded/"+day.String()+"/"+org+"/") {
		t.Fatalf("revision records: %q, want one refused and one superseded", all)
	}
	if got := heldRevisions(); !slices.Equal(got, all) {
		t.Errorf("held day resealed: held %q, want %q", got, all)
	}
	if deletable != nil {
		for _, k := range all {
			if deletable(k) {
				t.Errorf("%s of the held day could be deleted", k)
			}
		}
	}
	hold("case-1", false)
	if got := heldRevisions(); len(got) != 0 {
		t.Errorf("hold lifted: still held %q", got)
	}
	hold("case-2", true)
	if got := heldRevisions(); !slices.Equal(got, all) {
		t.Errorf("hold placed after the reruns: held %q, want %q", got, all)
	}
	hold("case-2", false)
	if got := heldRevisions(); len(got) != 0 {
		t.Errorf("second hold lifted: still held %q", got)
	}
	if deletable != nil && !deletable(all[0]) {
		t.Errorf("%s, held by no hold and kept by no retention, could not be deleted", all[0])
	}
}

// TestHoldRevisions: the records of a held day's revisions under revisions/ (a refused
// shrinking rerun, a supersession) are held with the day. Folder store with a played
// Object Lock.
func TestHoldRevisions(t *testing.T) {
	fs, err := fsstore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	ls := storetest.NewLockingStore(fs)
	runRevisionsHold(t, ls, ls.HeldKeys, nil)
	reliability.Record(t, "security", "legal hold of a day's revision records under revisions/ (folder store with a played Object Lock)", reliability.Kept,
		"a refused rerun's record and a supersession's record of a held day are held by the seal that writes them and by a hold placed later, and released with the hold")
}

// TestHoldRevisionsS3 is TestHoldRevisions on MinIO with Object Lock: GetObjectLegalHold
// reads the status back, and deleting a held record's version is refused.
func TestHoldRevisionsS3(t *testing.T) {
	srv := miniotest.Start(t)
	bucket := srv.Bucket(t, true)
	c := srv.Client()
	st, err := s3.NewStore(t.Context(), c, bucket, "cv", s3.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Keys are named without the store's prefix, as the store names them.
	held := func() []string {
		var out []string
		for _, k := range srv.LegalHeld(t, bucket, "cv/revisions/") {
			out = append(out, "revisions/"+k)
		}
		return out
	}
	deletable := func(key string) bool { return srv.DeleteVersion(t, bucket, "cv/"+key) }
	runRevisionsHold(t, st, held, deletable)
	reliability.Record(t, "security", "legal hold of a day's revision records under revisions/ on S3", reliability.Kept,
		"GetObjectLegalHold reads ON for a held day's refused-rerun and supersession records, deleting their versions is refused, and --off releases them")
}
