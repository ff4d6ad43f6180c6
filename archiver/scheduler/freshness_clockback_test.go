package scheduler

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/chatvault/chatvault/internal/reliability"
	"github.com/chatvault/chatvault/model"
	"github.com/prometheus/client_golang/prometheus"
)

// TestLedgerRefreshAfterTheClockWentBack: serve's clock ran a day ahead for a successful
// ledger read, was stepped back, and from then on every read failed (the store
// unreachable). chatvault_ledger_refresh_timestamp_seconds kept the day-ahead time, so
// time() minus it stayed negative and ChatvaultLedgerUnread (more than 600 s) silent for
// a day. A failed read now moves a last read noted after its clock's time back to it,
// so the alert counts from the step back.
func TestLedgerRefreshAfterTheClockWentBack(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	now := t0.Add(24 * time.Hour) // a day ahead
	l := &ledgerFake{}
	f := &Freshness{Ledger: l, Now: func() time.Time { return now },
		Directory: func(context.Context) (*model.Directory, error) {
			return &model.Directory{Organizations: []model.Organization{{ID: orgA, Archival: true}}}, nil
		}}
	reg := prometheus.NewRegistry()
	reg.MustRegister(f)
	if err := f.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	now = t0 // stepped back
	l.mu.Lock()
	l.err = errors.New("store unreachable")
	l.mu.Unlock()
	for range 3 {
		if err := f.Refresh(context.Background()); err == nil {
			t.Fatal("Refresh of an unreadable ledger succeeded")
		}
		now = now.Add(5 * time.Minute)
	}
	got, err := strconv.ParseFloat(scrape(t, reg)["chatvault_ledger_refresh_timestamp_seconds"], 64)
	if err != nil || int64(got) != t0.Unix() {
		t.Fatalf("chatvault_ledger_refresh_timestamp_seconds after the step back and 15 minutes of failed reads = %v (%v), want %d (the step back): ChatvaultLedgerUnread must be able to fire",
			got, err, t0.Unix())
	}
	reliability.Record(t, "fault", "serve's clock a day ahead for a ledger read, then stepped back; every read fails from then on", reliability.Kept,
		"the first failed read moves chatvault_ledger_refresh_timestamp_seconds back to the clock's time, so ChatvaultLedgerUnread fires 15 minutes later (its 10 minutes and 5 of for:); before, it kept the day-ahead time and the alert stayed silent for a day")
}
