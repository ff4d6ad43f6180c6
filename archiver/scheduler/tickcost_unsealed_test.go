package scheduler

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/fsstore"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/archiver/storetest"
	"github.com/chatvault/chatvault/internal/reliability"
)

// undelivered is a Sealer (and Readier) for an event log whose producer has delivered no
// partition yet: every day is pending.
type undelivered struct{ t *testing.T }

func (u undelivered) Seal(context.Context, archiver.Day, []byte, string) (*archiver.DayResult, error) {
	u.t.Error("a tick sealed a day with no partition")
	return nil, fmt.Errorf("seal: %w", archiver.ErrNoPartition)
}

func (u undelivered) Ready(context.Context, archiver.Day) error {
	return fmt.Errorf("seal: %w", archiver.ErrNoPartition)
}

// TestTickCostsPerOrganizationWithNothingSealed: a tick over organizations that archive
// without an archivalStart and have sealed nothing yet (new ones, or an event log not
// delivered yet) costs one request per organization, like one over organizations with
// sealed days (TestTickCostsPerOrganization). Finding where such an organization's chain
// starts (chainStart) listed its days from the beginning at every tick, since "nothing
// sealed" was not remembered: two listings per organization per tick, every few minutes
// while a recent day is pending. "Nothing sealed" is now remembered for the day it was
// found, and forgotten as soon as a look finds a sealed day.
func TestTickCostsPerOrganizationWithNothingSealed(t *testing.T) {
	const orgs = 10
	fs, err := fsstore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fs.Close() })
	c := storetest.NewCounting(fs)
	var b strings.Builder
	b.WriteString(`{"organizations":[`)
	for o := range orgs {
		if o > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"id":"org-%04d","name":"O%d","archival":true}`, o, o)
	}
	b.WriteString(`],"users":[],"bots":[],"chats":[]}`)
	dir := b.String()
	clk := NewFakeClock(time.Date(2026, 11, 24, 0, 30, 0, 0, time.UTC))
	s := &Scheduler{
		NewSealer: func() Sealer { return undelivered{t} },
		Ledger:    ledger.Ledger{Store: c},
		Directory: func(context.Context) ([]byte, error) { return []byte(dir), nil },
		Clock:     clk,
		Retries:   -1,
		Logger:    slog.New(slog.DiscardHandler),
	}
	ctx := context.Background()
	if rep := s.Tick(ctx); len(rep.Pending) != DefaultLookBack || rep.Err != nil || len(rep.Sealed)+len(rep.Failed) != 0 {
		t.Fatalf("first tick: %d pending, %+v", len(rep.Pending), rep)
	}
	first := c.Reset()
	for i := range 3 {
		clk.Add(5 * time.Minute) // serve's retries while a recent day is pending
		if rep := s.Tick(ctx); len(rep.Pending) != DefaultLookBack || rep.Err != nil {
			t.Fatalf("tick %d: %+v", i+2, rep)
		}
		if n := c.Reset(); n.Requests() > orgs {
			t.Fatalf("tick %d over %d organizations with nothing sealed: %v (first tick %v); want at most %d requests",
				i+2, orgs, n, first, orgs)
		}
	}
	reliability.Record(t, "operations", "scheduler tick over organizations without archivalStart that have sealed nothing yet", reliability.Kept,
		"one request per organization per tick after the first; before, a second listing of each one's whole history at every tick to find where its chain starts")
}
