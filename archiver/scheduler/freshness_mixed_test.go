package scheduler

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/internal/reliability"
	"github.com/chatvault/chatvault/model"
)

// TestQuarantinedMixedShardsAndUnsharded: a day with accounting objects of an unsharded
// seal and of a split (the scheduler's seal and some shards of `run --shard i/n`, in either
// order). The quarantine gauges count the day's complete record (ledger.JoinAccountings),
// as status does: never a split lacking a shard beside it, nor a sum of both.
func TestQuarantinedMixedShardsAndUnsharded(t *testing.T) {
	type obj struct {
		q     int64
		shard *archiver.Shard // nil: unsharded
	}
	sh := func(i, n int) *archiver.Shard { return &archiver.Shard{Index: i, Count: n} }
	for _, tc := range []struct {
		name string
		objs []obj
		want float64
	}{
		{"unsharded, then one shard of 2", []obj{{5, nil}, {2, sh(0, 2)}}, 5},
		{"unsharded, then the other shard of 2", []obj{{5, nil}, {3, sh(1, 2)}}, 5},
		{"split of 2, then one shard of 3", []obj{{1, sh(0, 2)}, {2, sh(1, 2)}, {7, sh(0, 3)}}, 3},
		{"split of 2, then unsharded", []obj{{1, sh(0, 2)}, {2, sh(1, 2)}, {4, nil}}, 4},
		{"shard, unsharded, shard (interleaved)", []obj{{2, sh(0, 2)}, {5, nil}, {3, sh(1, 2)}}, 5},
		{"one shard of 2 alone", []obj{{3, sh(0, 2)}}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			first := day("2026-01-01")
			store, ids := sealedStore(t, 1, 1, first)
			at := first.Start().Add(25 * time.Hour)
			for i, o := range tc.objs {
				putAccounting(t, store, first, i+1, o.q, o.shard, at.Add(time.Duration(i)*time.Minute))
			}
			dir, err := model.ParseDirectory([]byte(directoryOf(ids, first)))
			if err != nil {
				t.Fatal(err)
			}
			now := first.Start().AddDate(0, 0, 2).Add(9 * time.Hour)
			f := &Freshness{Ledger: ledger.Ledger{Store: store}, Directory: func(context.Context) (*model.Directory, error) { return dir, nil },
				Now: func() time.Time { return now }}
			reg := prometheus.NewRegistry()
			reg.MustRegister(f)
			if err := f.Refresh(context.Background()); err != nil {
				t.Fatal(err)
			}
			if r, d := value(t, reg, "chatvault_quarantined_records"), value(t, reg, "chatvault_quarantined_days"); r != tc.want || d != 1 {
				t.Fatalf("quarantined records %v over %v days, want %v over 1", r, d, tc.want)
			}
			tot, err := ledger.Ledger{Store: store}.DayTotals(context.Background(), first)
			if err != nil || float64(tot.Input.Quarantined) != tc.want {
				t.Fatalf("day totals %+v, %v: want %v quarantined, as the gauges", tot, err, tc.want)
			}
		})
	}
	reliability.Record(t, "operations", "quarantine gauges and status of a day sealed unsharded and by some shards of a split", reliability.Kept,
		"they count the day's complete record (the unsharded object or every shard of one split, whichever ends later), never the partial split beside it nor a sum of both")
}
