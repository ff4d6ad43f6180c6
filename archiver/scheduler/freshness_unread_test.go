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

// TestLedgerUnreadFromStart: serve started on a store whose ledger it cannot read from
// the first try (wrong credentials, a proxy in the way of S3, a bucket that does not
// exist) must still publish chatvault_ledger_refresh_timestamp_seconds, as of its first
// try: ChatvaultLedgerUnread is time() minus it, and before the fix the series appeared
// only with the first successful read, so the alert stayed silent on exactly the failure
// it names, while every freshness gauge was missing too.
func TestLedgerUnreadFromStart(t *testing.T) {
	start := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	now := start
	l := &ledgerFake{err: errors.New("AccessDenied")}
	f := &Freshness{Ledger: l, Now: func() time.Time { return now },
		Directory: func(context.Context) (*model.Directory, error) {
			return &model.Directory{Organizations: []model.Organization{{ID: orgA, Archival: true}}}, nil
		}}
	reg := prometheus.NewRegistry()
	reg.MustRegister(f)
	for range 3 {
		if err := f.Refresh(context.Background()); err == nil {
			t.Fatal("Refresh of an unreadable ledger succeeded")
		}
		now = now.Add(5 * time.Minute)
	}
	got := scrape(t, reg)
	if got["chatvault_ledger_refresh_failures_total"] != "3" {
		t.Fatalf("failures %q, want 3", got["chatvault_ledger_refresh_failures_total"])
	}
	want := strconv.FormatInt(start.Unix(), 10)
	if v, ok := got["chatvault_ledger_refresh_timestamp_seconds"]; !ok || v != want {
		t.Fatalf("chatvault_ledger_refresh_timestamp_seconds = %q (present %v) after failing reads only, want %s (the first try): ChatvaultLedgerUnread cannot fire on a missing series", v, ok, want)
	}
	for name := range got {
		if name != "chatvault_ledger_refresh_failures_total" && name != "chatvault_ledger_refresh_timestamp_seconds" {
			t.Errorf("%s published before any successful read (a zero freshness gauge reads as never sealed)", name)
		}
	}

	// The first successful read replaces it with its own time.
	l.mu.Lock()
	l.err = nil
	l.mu.Unlock()
	if err := f.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if v := scrape(t, reg)["chatvault_ledger_refresh_timestamp_seconds"]; v != strconv.FormatInt(now.Unix(), 10) {
		t.Fatalf("after a successful read: %q, want %d", v, now.Unix())
	}
	reliability.Record(t, "operations", "serve started on a store whose ledger it cannot read from the first try", reliability.Kept,
		"chatvault_ledger_refresh_timestamp_seconds is published as of the first try, so ChatvaultLedgerUnread fires 15 minutes later; it was missing until a read succeeded, and the alert never fired")
}
