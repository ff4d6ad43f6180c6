package scheduler

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestDayIndexNoticesRestoredStore: a process remembers an organization's last sealed day;
// the store is then restored from an older backup (the last three days' objects gone).
// The next look must find those days unsealed again, not trust the memory until the
// process restarts; and it still costs one listing when nothing was lost.
func TestDayIndexNoticesRestoredStore(t *testing.T) {
	first := archiver.DayOf(time.Date(2026, time.November, 1, 0, 0, 0, 0, time.UTC))
	st, orgs := sealedStore(t, 1, 10, first)
	counting := &countingLedger{DayLedger: ledger.Ledger{Store: st}}
	today := first
	for range 10 {
		today = today.Next()
	}
	ctx := context.Background()
	var x dayIndex
	unsealed := func() []string {
		t.Helper()
		v, err := x.look(ctx, counting, orgs[0], first, today)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		v.unsealed(today, func(d archiver.Day) { got = append(got, d.String()) })
		return got
	}
	if got := unsealed(); len(got) != 0 {
		t.Fatalf("first look: unsealed %q, want none", got)
	}
	counting.n = 0
	if got := unsealed(); len(got) != 0 || counting.n != 1 {
		t.Fatalf("second look: unsealed %q in %d requests, want none in 1", got, counting.n)
	}
	// The restore: the 8th, 9th and 10th lose their objects.
	root := st.(interface{ Dir() string }).Dir()
	var lost []string
	for d, i := first, 0; i < 10; d, i = d.Next(), i+1 {
		if i >= 7 {
			lost = append(lost, d.String())
			if err := os.RemoveAll(filepath.Join(root, "orgs", orgs[0], "days", d.String())); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got := unsealed(); !slices.Equal(got, lost) {
		t.Fatalf("after the restore: unsealed %q, want %q", got, lost)
	}
	counting.n = 0
	if got := unsealed(); !slices.Equal(got, lost) || counting.n != 1 {
		t.Fatalf("look after the restore was seen: unsealed %q in %d requests, want %q in 1", got, counting.n, lost)
	}
	reliability.Record(t, "operations", "store restored from an older backup while the scheduler runs", reliability.Kept,
		"the remembered last sealed day is checked by the listing every look already makes; when it is gone the organization's days are listed afresh from archivalStart, so the days the backup lacks are sealed again at the next tick, not after a restart")
}

// countingLedger counts the requests a look makes.
type countingLedger struct {
	DayLedger
	n int
}

func (c *countingLedger) ListDays(ctx context.Context, org string, from archiver.Day, fn func(ledger.DayKeys) error) error {
	c.n++
	return c.DayLedger.ListDays(ctx, org, from, fn)
}

func (c *countingLedger) DayKeys(ctx context.Context, org string, day archiver.Day) (ledger.DayKeys, error) {
	c.n++
	return c.DayLedger.DayKeys(ctx, org, day)
}
