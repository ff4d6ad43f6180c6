package scheduler

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestOnSealedHearsEachCommittedDay: OnSealed hears every organization-day the tick
// sealed, once its seal is committed, and nothing for the days it did not seal (serve's
// continuous verification verifies what it hears at once).
func TestOnSealedHearsEachCommittedDay(t *testing.T) {
	f := &fakeSealer{sealed: map[string]bool{orgA + " 2026-11-19": true}, failOrg: map[string]int{}, state: map[string]error{}}
	s := newScheduler(f, NewFakeClock(time.Date(2026, 11, 21, 0, 30, 0, 0, time.UTC)))
	var heard []string
	s.OnSealed = func(org string, day archiver.Day) {
		key := org + " " + day.String()
		f.mu.Lock()
		committed := f.sealed[key]
		f.mu.Unlock()
		if !committed {
			t.Errorf("heard %s before its commit", key)
		}
		heard = append(heard, day.String()+" "+org)
	}
	rep := s.Tick(context.Background())
	if len(rep.Sealed) == 0 || !slices.Equal(heard, rep.Sealed) {
		t.Fatalf("heard %q, the tick sealed %q", heard, rep.Sealed)
	}
	reliability.Record(t, "operations", "a day sealed by serve's scheduler is announced for verification", reliability.Kept,
		"OnSealed hears each organization-day once committed, in the order sealed")
}
