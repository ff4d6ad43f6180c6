package scheduler

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestArchivalTurnedOffAndOnAgain pins what the catch-up does with the days an
// organization had archival turned off, once it is on again. The directory snapshot is the
// platform's current state, with no history (DESIGN.md: "directory snapshot (now)", the
// inclusion rules "per archiving organization O, day D" read against "the directory at
// export time"): a tick cannot know that archival was off on a past day. With the same
// archivalStart, the days it was off are days since archivalStart with archival on, and
// are sealed (nothing the organization is entitled to is lost, invariant 1). To leave them
// out, the platform (or operator) moves archivalStart to the day archival came back: the
// catch-up then never plans them.
func TestArchivalTurnedOffAndOnAgain(t *testing.T) {
	first := day("2026-11-18")
	org := func(id, name string, on bool, start string) string {
		return fmt.Sprintf(`{"id":%q,"name":%q,"archival":%v,"archivalStart":%q}`, id, name, on, start)
	}
	dirOf := func(aOn bool, aStart string) string {
		return `{"organizations":[` + org(orgA, "A", aOn, aStart) + "," + org(orgB, "B", true, "2026-11-18") + `],"users":[],"bots":[],"chats":[]}`
	}
	for _, tc := range []struct {
		name      string
		again     string // the directory once A archives again
		offSealed bool   // A's days of the 21st to the 23rd sealed
	}{
		{"same archivalStart", dirOf(true, "2026-11-18"), true},
		{"archivalStart moved to the day archival came back", dirOf(true, "2026-11-24"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := NewFakeClock(time.Date(2026, 11, 21, 0, 30, 0, 0, time.UTC))
			s, store, _ := realSetup(t, clk, first, 8)
			dir := dirOf(true, "2026-11-18")
			s.Directory = func(context.Context) ([]byte, error) { return []byte(dir), nil }
			ctx := context.Background()
			sealed := func(org, d string) bool {
				t.Helper()
				k, err := (ledger.Ledger{Store: store}).DayKeys(ctx, org, day(d))
				if err != nil {
					t.Fatal(err)
				}
				return k.Revision != ""
			}
			if rep := s.Tick(ctx); rep.Err != nil || len(rep.Failed) != 0 || len(rep.Sealed) != 6 {
				t.Fatalf("first tick: %+v", rep)
			}
			dir = dirOf(false, "2026-11-18") // A turns archival off on the 21st
			clk.Set(time.Date(2026, 11, 24, 0, 30, 0, 0, time.UTC))
			if rep := s.Tick(ctx); rep.Err != nil || len(rep.Failed) != 0 || len(rep.Sealed) != 3 {
				t.Fatalf("tick with A's archival off: %+v", rep)
			}
			for _, d := range []string{"2026-11-21", "2026-11-22", "2026-11-23"} {
				if sealed(orgA, d) || !sealed(orgB, d) {
					t.Fatalf("%s: sealed for A %v (its archival off), for B %v", d, sealed(orgA, d), sealed(orgB, d))
				}
			}
			dir = tc.again // and on again on the 24th
			clk.Set(time.Date(2026, 11, 25, 0, 30, 0, 0, time.UTC))
			if rep := s.Tick(ctx); rep.Err != nil || len(rep.Failed) != 0 {
				t.Fatalf("tick with A's archival on again: %+v", rep)
			}
			for _, d := range []string{"2026-11-21", "2026-11-22", "2026-11-23"} {
				if got := sealed(orgA, d); got != tc.offSealed {
					t.Errorf("%s (A's archival off then) sealed for A: %v, want %v", d, got, tc.offSealed)
				}
			}
			if !sealed(orgA, "2026-11-24") || !sealed(orgB, "2026-11-24") {
				t.Error("2026-11-24 not sealed for both")
			}
		})
	}
	reliability.Record(t, "operations", "an organization's archival turned off for some days, then on again", reliability.Kept,
		"the directory has no history, so the catch-up goes by the snapshot it reads: with the same archivalStart the days it was off are sealed (nothing lost); moving archivalStart to the day archival came back leaves them unplanned")
}
