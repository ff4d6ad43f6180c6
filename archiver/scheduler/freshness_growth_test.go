package scheduler

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/fsstore"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/archiver/storetest"
	"github.com/chatvault/chatvault/internal/reliability"
	"github.com/chatvault/chatvault/model"
	"github.com/prometheus/client_golang/prometheus"
)

// putAccounting stores in s, a sealedStore, the n-th accounting object of d quarantining
// q records, as shard (nil: an unsharded run's object), sealed at `at`.
func putAccounting(t *testing.T, s archiver.Store, d archiver.Day, n int, q int64, shard *archiver.Shard, at time.Time) {
	t.Helper()
	a := archiver.Accounting{Version: archiver.AccountingVersion, Date: d.String(),
		Input:           archiver.InputCounts{Read: q, Quarantined: q},
		DirectorySHA256: "00", Generator: "test", SealedAt: at.UTC().Format(time.RFC3339Nano), Manifests: []archiver.AccountedManifest{}}
	if shard != nil {
		a.Version, a.Shard = archiver.AccountingShardVersion, shard
	}
	b, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	key := fmt.Sprintf("%s%s/%06d-%s.json", archiver.AccountingPrefix, d, n, hex.EncodeToString(sum[:]))
	w, err := fsstore.New(s.(*fsstore.Store).Dir()) // sealedStore's is read-only
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.Create(context.Background(), key, bytes.NewReader(b), int64(len(b)), sum, archiver.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestFreshnessReadsOnlyNewAccounting: after its first read, a refresh of the freshness
// metrics (serve, every minute) lists the accounting objects of the last LookBack days
// only (and of the days not sealed yet), not every day's since the archive began, and
// reads only the objects it has not read: the same requests and listed keys with 10 and
// 40 days of history, each day's accounting object quarantining a record; and a new
// day's object is read and counted. An old day sealed again shows the next day, whose
// first refresh lists every day's objects.
func TestFreshnessReadsOnlyNewAccounting(t *testing.T) {
	const orgs = 3
	first := day("2026-01-01")
	var costs []storetest.Counts
	for _, days := range []int{10, 40} {
		store, ids := sealedStore(t, orgs, days, first)
		f, c, reg, now := refreshedFreshness(t, store, ids, first, days)
		ctx := context.Background()
		if v := value(t, reg, "chatvault_quarantined_records"); v != float64(days) {
			t.Fatalf("first read: %v quarantined records, want %d", v, days)
		}
		c.Reset()
		// Another process seals the next day, quarantining 2 records.
		next := archiver.DayOf(*now)
		putAccounting(t, store, next, 1, 2, nil, now.Add(time.Minute))
		*now = now.Add(2 * time.Minute)
		if err := f.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		cost := c.Reset()
		if v := value(t, reg, "chatvault_quarantined_records"); v != float64(days+2) {
			t.Fatalf("next read: %v quarantined records, want %d", v, days+2)
		}
		t.Logf("%d days of accounting: next read %v", days, cost)
		costs = append(costs, cost)
		// The first day is sealed again by hand, now quarantining 5: out of the window,
		// it shows by the first refresh of the next day, which lists every day.
		putAccounting(t, store, first, 2, 5, nil, *now)
		*now = now.Add(24 * time.Hour)
		if err := f.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		if v := value(t, reg, "chatvault_quarantined_records"); v != float64(days+2-1+5) {
			t.Fatalf("the next day: %v quarantined records, want %d", v, days+2-1+5)
		}
	}
	if costs[0].Requests() != costs[1].Requests() || costs[0]["Keys"] != costs[1]["Keys"] || costs[0]["Open"] != costs[1]["Open"] {
		t.Fatalf("a refresh's cost grew with the days of history: %v with 10 days, %v with 40", costs[0], costs[1])
	}
	reliability.Record(t, "operations", "freshness metrics' quarantine gauges over a long history of accounting objects", reliability.Kept,
		"counted: after the first read, a refresh lists the accounting objects of the last days only and reads the new one; the same requests with 10 and 40 days of history")
}

// TestQuarantinedJoinsShards: a day sealed by `run --shard i/n` has one accounting object
// per shard, each with its part of the day's quarantine; the quarantine gauges sum the
// latest object of each shard of the split, as status does (Ledger.DayTotals), not the
// last object listed. A rerun of one shard replaces only its part.
func TestQuarantinedJoinsShards(t *testing.T) {
	first := day("2026-01-01")
	store, ids := sealedStore(t, 1, 2, first)
	at := first.Start().Add(25 * time.Hour)
	putAccounting(t, store, first, 1, 1, &archiver.Shard{Index: 0, Count: 3}, at)
	putAccounting(t, store, first, 2, 2, &archiver.Shard{Index: 1, Count: 3}, at)
	putAccounting(t, store, first, 3, 4, &archiver.Shard{Index: 2, Count: 3}, at)
	putAccounting(t, store, first.Next(), 1, 8, nil, at.Add(24*time.Hour))
	dir, err := model.ParseDirectory([]byte(directoryOf(ids, first)))
	if err != nil {
		t.Fatal(err)
	}
	now := first.Start().AddDate(0, 0, 2).Add(9 * time.Hour)
	f := &Freshness{Ledger: ledger.Ledger{Store: store}, Directory: func(context.Context) (*model.Directory, error) { return dir, nil },
		Now: func() time.Time { return now }}
	reg := prometheus.NewRegistry()
	reg.MustRegister(f)
	ctx := context.Background()
	if err := f.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if r, d := value(t, reg, "chatvault_quarantined_records"), value(t, reg, "chatvault_quarantined_days"); r != 1+2+4+8 || d != 2 {
		t.Fatalf("quarantined records %v over %v days, want 15 over 2 (the three shards' 7 and the next day's 8)", r, d)
	}
	// Shard 1 is run again and now quarantines nothing: its part of the day is replaced.
	putAccounting(t, store, first, 4, 0, &archiver.Shard{Index: 1, Count: 3}, at.Add(time.Hour))
	if err := f.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if r := value(t, reg, "chatvault_quarantined_records"); r != 1+4+8 {
		t.Fatalf("after shard 1's rerun: quarantined records %v, want 13", r)
	}
	reliability.Record(t, "operations", "quarantine gauges of a day sealed in shards (run --shard i/n)", reliability.Kept,
		"the gauges sum the latest accounting object of each shard of the split, as status does; a shard's rerun replaces its part only")
}

// TestFreshnessAccountingWindowAndOldGaps: an organization's day that stays unsealed far
// back (its partition lost, say) does not make every refresh list the accounting objects
// from that day on: a later refresh costs the same with 10 and 40 days of history. When
// such an old day is sealed at last (a catch-up), its accounting object is read by the
// refresh that sees the day sealed, not the next day.
func TestFreshnessAccountingWindowAndOldGaps(t *testing.T) {
	const orgs = 3
	first := day("2026-01-01")
	gap := day("2026-01-02")
	var costs []storetest.Counts
	for _, days := range []int{10, 40} {
		store, ids := sealedStore(t, orgs, days, first)
		root := store.(*fsstore.Store).Dir()
		if err := os.RemoveAll(filepath.Join(root, "orgs", ids[0], "days", gap.String())); err != nil {
			t.Fatal(err)
		}
		f, c, reg, now := refreshedFreshness(t, store, ids, first, days)
		ctx := context.Background()
		*now = now.Add(time.Minute)
		c.Reset()
		if err := f.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		cost := c.Reset()
		t.Logf("%d days, a gap on the 2nd: a later refresh %v", days, cost)
		costs = append(costs, cost)
		// The gap is sealed at last, its new accounting object quarantining 5.
		w, err := fsstore.New(root)
		if err != nil {
			t.Fatal(err)
		}
		b := []byte("{}")
		if err := w.Create(ctx, "orgs/"+ids[0]+"/days/"+gap.String()+"/r0001.json", bytes.NewReader(b), 2, sha256.Sum256(b), archiver.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		w.Close()
		putAccounting(t, store, gap, 2, 5, nil, *now)
		*now = now.Add(time.Minute)
		if err := f.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		if v := value(t, reg, "chatvault_quarantined_records"); v != float64(days-1+5) {
			t.Fatalf("after the gap's seal: %v quarantined records, want %d", v, days-1+5)
		}
	}
	if costs[0].Requests() != costs[1].Requests() || costs[0]["Keys"] != costs[1]["Keys"] {
		t.Fatalf("with an old gap, a refresh's cost grew with the history: %v with 10 days, %v with 40", costs[0], costs[1])
	}
	reliability.Record(t, "operations", "freshness metrics with a day unsealed far back", reliability.Kept,
		"counted: a refresh lists the same accounting keys with 10 or 40 days of history; the day's accounting is read by the refresh that sees it sealed")
}

// refreshedFreshness puts an accounting object (one record, one quarantined) on each of
// the days days from first in store, whose organizations are ids, and returns a Freshness
// over it through a counting store, refreshed once, with its registry and the time its
// clock reads (days after first, 09:00), which the test moves.
func refreshedFreshness(t *testing.T, store archiver.Store, ids []string, first archiver.Day, days int) (*Freshness, *storetest.Counting, *prometheus.Registry, *time.Time) {
	t.Helper()
	for d, i := first, 0; i < days; d, i = d.Next(), i+1 {
		putAccounting(t, store, d, 1, 1, nil, d.Start().Add(25*time.Hour))
	}
	c := storetest.NewCounting(store)
	dir, err := model.ParseDirectory([]byte(directoryOf(ids, first)))
	if err != nil {
		t.Fatal(err)
	}
	now := first.Start().AddDate(0, 0, days).Add(9 * time.Hour)
	f := &Freshness{Ledger: ledger.Ledger{Store: c}, Directory: func(context.Context) (*model.Directory, error) { return dir, nil },
		Now: func() time.Time { return now }, LookBack: 3}
	reg := prometheus.NewRegistry()
	reg.MustRegister(f)
	if err := f.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	return f, c, reg, &now
}
