package scheduler

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/internal/reliability"
)

// shrinkingSealer is fakeSealer, except that org's new revision would drop records.
type shrinkingSealer struct {
	*fakeSealer
	org string
}

func (s shrinkingSealer) Seal(ctx context.Context, d archiver.Day, dir []byte, only string) (*archiver.DayResult, error) {
	res, err := s.fakeSealer.Seal(ctx, d, dir, only)
	if err != nil {
		return res, err
	}
	for i, o := range res.Orgs {
		if o.Org == s.org {
			s.mu.Lock()
			delete(s.sealed, o.Org+" "+d.String())
			s.mu.Unlock()
			res.Orgs[i].Outcome = archiver.OutcomeFailed
			res.Orgs[i].Err = &archiver.ShrinkError{Org: o.Org, Day: d, Revision: 1, Records: 3, Dropped: 1}
		}
	}
	return res, nil
}

// TestShrinkingRevisionFailsWithoutRetry: the scheduler never supersedes. A day whose new
// revision would drop records fails at once (retrying cannot change the records) and
// shows in the tick's report as failed; the other organization's day is sealed.
func TestShrinkingRevisionFailsWithoutRetry(t *testing.T) {
	f := &fakeSealer{sealed: map[string]bool{orgA + " 2026-11-20": true}, failOrg: map[string]int{}, state: map[string]error{}}
	clk := NewFakeClock(time.Date(2026, 11, 21, 0, 30, 0, 0, time.UTC))
	s := newScheduler(f, clk)
	s.NewSealer = func() Sealer { return shrinkingSealer{f, orgB} }
	done := make(chan Report)
	go func() { done <- s.Tick(context.Background()) }()
	var rep Report
	for rep.Start.IsZero() {
		select {
		case <-clk.Waiting():
			t.Fatal("the scheduler waits to retry a shrinking revision")
		case rep = <-done:
		}
	}
	if want := []string{"2026-11-18 ", "2026-11-19 ", "2026-11-20 " + orgB}; !slices.Equal(f.calls, want) {
		t.Fatalf("calls %q, want %q", f.calls, want)
	}
	if !slices.Equal(rep.Failed, []string{"2026-11-20 " + orgB}) {
		t.Fatalf("failed %q", rep.Failed)
	}
	if !errors.Is(rep.Err, nil) {
		t.Fatalf("tick error %v", rep.Err)
	}
	reliability.Record(t, "input", "scheduled run meets a day whose new revision would drop records", reliability.CleanFailure,
		"the scheduler never supersedes: the organization's day fails at once (no retries), counted in chatvault_seal_failures_total")
}
