package scheduler

import (
	"context"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestLookBackKeepsTheChainWhole: an organization archiving without an archivalStart is
// looked at LookBack (31) days back. After the nightly seal was down for 45 days (a
// broken cron line nobody noticed, a serve stopped for a migration), the catch-up sealed
// the last 31 days only: the 11 days between the organization's last sealed day and the
// look-back, their partitions there and closed, were neither sealed nor reported pending,
// the run exited 0, and only a whole-store verify found the hole inside the chain. Such
// an organization is now looked at from its chain's first day when that is earlier (what
// verify requires: every day from it to the newest), in a new process (`run`) and in a
// long-running one (serve) alike.
func TestLookBackKeepsTheChainWhole(t *testing.T) {
	const days = 60
	first := day("2026-07-01")
	noStart := `{"organizations":[{"id":"` + orgA + `","name":"A","archival":true}],"users":[],"bots":[],"chats":[]}`
	for _, tc := range []struct {
		name  string
		fresh bool // the second tick is a new process's (run), not the same scheduler's (serve)
	}{{"serve", false}, {"run", true}} {
		t.Run(tc.name, func(t *testing.T) {
			clk := NewFakeClock(first.Start().AddDate(0, 0, 3).Add(30 * time.Minute))
			s, store, _ := realSetup(t, clk, first, days)
			s.Directory = func(context.Context) ([]byte, error) { return []byte(noStart), nil }
			ctx := context.Background()
			if rep := s.Tick(ctx); len(rep.Sealed) != 3 || rep.Err != nil || len(rep.Failed) != 0 {
				t.Fatalf("first tick: %+v, want the 3 days from %s sealed", rep, first)
			}
			// 45 days without a tick.
			clk.Set(first.Start().AddDate(0, 0, 48).Add(30 * time.Minute))
			if tc.fresh {
				s2, _, _ := realSetup(t, clk, first, 0)
				s2.NewSealer, s2.Ledger, s2.Directory = s.NewSealer, ledger.Ledger{Store: store}, s.Directory
				s = s2
			}
			rep := s.Tick(ctx)
			if rep.Err != nil || len(rep.Failed) != 0 || len(rep.Sealed) != 45 {
				t.Fatalf("tick after 45 days down: %d sealed (%v), pending %v, failed %v, err %v; want the 45 days from %s sealed",
					len(rep.Sealed), rep.Sealed, rep.Pending, rep.Failed, rep.Err, archiver.DayOf(first.Start().AddDate(0, 0, 3)))
			}
			for d := first; d.Before(archiver.DayOf(first.Start().AddDate(0, 0, 48))); d = d.Next() {
				k, err := (ledger.Ledger{Store: store}).DayKeys(ctx, orgA, d)
				if err != nil || k.Revision == "" {
					t.Errorf("%s: not sealed (%v)", d, err)
				}
			}
		})
	}
	reliability.Record(t, "operations", "an organization without archivalStart after the nightly seal was down longer than the 31-day look-back", reliability.Recovered,
		"the catch-up starts at the organization's first sealed day when that is earlier, so every day since its last seal is sealed; before, the days older than 31 were neither sealed nor pending (exit 0), a hole inside the chain only verify found")
}
