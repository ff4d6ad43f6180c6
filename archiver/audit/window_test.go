package audit_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/audit"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/archiver/verify"
	"github.com/chatvault/chatvault/internal/reliability"
)

// countingStore counts what a reader asks of the store: objects opened, listings, and
// keys the listings returned.
type countingStore struct {
	archiver.Store
	mu                     sync.Mutex
	opened, lists, listed  int
	openedKeys, listedKeys []string
}

func (s *countingStore) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	s.mu.Lock()
	s.opened++
	s.openedKeys = append(s.openedKeys, key)
	s.mu.Unlock()
	return s.Store.Open(ctx, key)
}

func (s *countingStore) List(ctx context.Context, prefix string, fn func(string) error) error {
	s.mu.Lock()
	s.lists++
	s.mu.Unlock()
	return s.Store.List(ctx, prefix, func(key string) error {
		s.mu.Lock()
		s.listed++
		s.listedKeys = append(s.listedKeys, key)
		s.mu.Unlock()
		return fn(key)
	})
}

func (s *countingStore) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opened, s.lists, s.listed = 0, 0, 0
	s.openedKeys, s.listedKeys = nil, nil
}

// auditHistory is a store holding orgs organizations' audit over days days from
// 2026-10-01: one segment per organization and day (one record at noon), and as many
// objects of the previous layout (one per request, every organization's together).
func auditHistory(t *testing.T, orgs, days int) (*countingStore, []string, archiver.Day, string) {
	t.Helper()
	fs, dir := newAuditStore(t)
	cs := &countingStore{Store: fs}
	first := archiver.DayOf(time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC))
	clk := &fakeNow{t: first.Start()}
	log := &audit.Log{Store: cs, Now: clk.Now}
	ids := make([]string, orgs)
	for i := range ids {
		ids[i] = fmt.Sprintf("0a1c2e3f-0000-4000-8000-%012d", i)
	}
	ctx := context.Background()
	d := first
	for range days {
		clk.t = d.Start().Add(12 * time.Hour)
		for i, org := range ids {
			if err := log.Append(ctx, audit.Record{Time: clk.t, Org: org, Status: 200, Date: d.String()}); err != nil {
				t.Fatal(err)
			}
			// The previous layout: audit/<date>/<time>-<uuid>.json, one per request.
			b, _ := json.Marshal(audit.Record{Time: clk.t.Add(time.Second), Org: org, Status: 200, Date: d.String()})
			key := fmt.Sprintf("audit/%s/%s-%012d.json", d, clk.t.Format("150405"), i)
			if err := fs.Create(ctx, key, bytes.NewReader(b), int64(len(b)), sha256.Sum256(b), archiver.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		if err := log.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		d = d.Next()
	}
	cs.reset()
	return cs, ids, first, dir
}

// TestAuditReadsOnlyTheWindow: with 8 organizations' audit over 20 days in the store,
// reading one organization's records of 3 days (GET /v1/audit, `chatvault audit --org`)
// lists and opens only that organization's segments of those days and the day after
// (where a record of just before midnight may land); every organization's records of the
// window (`chatvault audit` without --org) read those days' segments of each, found through
// the day index, not by listing every segment ever written; and the previous layout is
// read only for the days of the window. Counted, not timed.
func TestAuditReadsOnlyTheWindow(t *testing.T) {
	const orgs, days, window = 8, 20, 3
	cs, ids, first, _ := auditHistory(t, orgs, days)
	ctx := context.Background()
	from := archiver.DayOf(first.Start().AddDate(0, 0, 10))
	to := archiver.DayOf(from.Start().AddDate(0, 0, window-1))
	log := &audit.Log{Store: cs}
	cases := []struct {
		name string
		list func(fn func(audit.Record) error) error
		// want is how many records come back; maxOpened and maxListed bound the
		// objects opened and the keys listed to get them. A folder holds a day's segment and
		// the closing segment that moves the chain to the next day's folder.
		want, maxOpened, maxListed int
	}{
		{"one organization's segments (GET /v1/audit)", func(fn func(audit.Record) error) error {
			return log.List(ctx, ids[3], from, to, fn)
		}, window, 2 * (window + 1), 2 * (window + 1)},
		{"every organization's segments (chatvault audit without --org)", func(fn func(audit.Record) error) error {
			return log.ListAll(ctx, from, to, fn)
		}, window * orgs, 2*(window+1)*orgs + 1, 3 * (window + 1) * orgs},
		{"the previous layout (one object per request, every organization's)", func(fn func(audit.Record) error) error {
			return log.ListLegacy(ctx, from, to, fn)
		}, window * orgs, window * orgs, window * orgs},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cs.reset()
			got := 0
			if err := c.list(func(r audit.Record) error {
				if r.Time.Before(from.Start()) || !r.Time.Before(to.End()) {
					t.Errorf("record of %s outside %s..%s", r.Time, from, to)
				}
				got++
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Errorf("%d records, want %d", got, c.want)
			}
			cs.mu.Lock()
			defer cs.mu.Unlock()
			t.Logf("%d records: %d objects opened, %d listings, %d keys listed (store: %d organizations × %d days)",
				got, cs.opened, cs.lists, cs.listed, orgs, days)
			if cs.opened > c.maxOpened || cs.listed > c.maxListed {
				t.Errorf("opened %d objects and listed %d keys, want at most %d and %d:\nopened %s\nlisted %s",
					cs.opened, cs.listed, c.maxOpened, c.maxListed, strings.Join(cs.openedKeys, " "), strings.Join(cs.listedKeys, " "))
			}
		})
	}
	reliability.Record(t, "operations", "one organization's audit of 3 days, read from a store of 8 organizations × 20 days", reliability.Kept,
		"counted: its 3 days' segments and the day after are listed and opened, nothing of other organizations or other days; the previous layout only for the window's days")
}

// TestAuditListAllWithoutTheDayIndex: segments written before the day index existed (no
// index at all, or an index from a day inside the window) are still all listed, in the
// same order: the days before the index's start fall back to listing every segment key.
func TestAuditListAllWithoutTheDayIndex(t *testing.T) {
	cs, _, first, dir := auditHistory(t, 4, 8)
	ctx := context.Background()
	from := archiver.DayOf(first.Start().AddDate(0, 0, 2))
	to := archiver.DayOf(from.Start().AddDate(0, 0, 2))
	log := &audit.Log{Store: cs}
	all := func() []string {
		t.Helper()
		var got []string
		if err := log.ListAll(ctx, from, to, func(r audit.Record) error {
			got = append(got, r.Org+" "+r.Time.Format(time.RFC3339))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return got
	}
	want := all()
	if len(want) != 4*3 {
		t.Fatalf("with the index: %d records, want 12", len(want))
	}
	since := filepath.Join(dir, "audit", "days-since.json")
	// The index starts on the window's second day (a release upgraded then).
	if err := os.WriteFile(since, []byte(`{"since":"`+from.Next().String()+`"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := all(); !slices.Equal(got, want) {
		t.Errorf("index from the window's second day:\n%v\nwant\n%v", got, want)
	}
	// No index at all (segments of the release before it).
	if err := os.RemoveAll(filepath.Join(dir, "audit", "days")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(since); err != nil {
		t.Fatal(err)
	}
	if got := all(); !slices.Equal(got, want) {
		t.Errorf("without the index:\n%v\nwant\n%v", got, want)
	}
	// Verify does not count the index as the previous layout's objects, nor as a problem.
	fs2, _ := newAuditStore(t)
	l2 := &audit.Log{Store: fs2}
	if err := l2.Append(ctx, audit.Record{Time: time.Now(), Org: auditOrgA, Status: 200}); err != nil {
		t.Fatal(err)
	}
	if err := l2.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	rep, err := verify.Run(ctx, ledger.Ledger{Store: fs2}, verify.Options{Audit: audit.Verifier{}})
	if err != nil || !rep.OK() || len(rep.Warnings) > 1 {
		t.Fatalf("verify: %v %v %v", err, rep.Problems, rep.Warnings)
	}
	for _, w := range rep.Warnings {
		if strings.Contains(w, "previous layout") {
			t.Errorf("the day index counted as the previous layout: %s", w)
		}
	}
	reliability.Record(t, "operations", "chatvault audit of every organization over segments written before the day index", reliability.Kept,
		"days before the index's start are found by listing every segment key, as before; the same records in the same order")
}
