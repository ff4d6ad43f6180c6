package scheduler

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/eventlog"
	"github.com/chatvault/chatvault/archiver/fsstore"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/internal/reliability"
	"github.com/prometheus/client_golang/prometheus"
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

// TestRevisionMetricsFromStore seals the sample day, has a shrinking rerun refused, then
// superseded, and reads the revision metrics a scrape derives from the store. A
// supersession record whose revision was never committed is not counted.
func TestRevisionMetricsFromStore(t *testing.T) {
	testRevisionMetrics(t, archiver.Layout2, archiver.Layout2)
}

// TestRevisionMetricsLayout3 is TestRevisionMetricsFromStore on a store the writer makes
// in layout 3, and on one whose day was sealed in the old layout and then refused and
// superseded in layout 3.
func TestRevisionMetricsLayout3(t *testing.T) {
	t.Run("layout 3", func(t *testing.T) { testRevisionMetrics(t, archiver.Layout3, archiver.Layout3) })
	t.Run("mixed", func(t *testing.T) { testRevisionMetrics(t, archiver.Layout2, archiver.Layout3) })
	reliability.Record(t, "operations", "revision metrics (superseded, refused) on a store in layout 3 or in both layouts", reliability.Kept,
		"the same counts and times as on an old store: a supersession of an old day committed in layout 3 is counted, an orphan record is not")
}

// testRevisionMetrics is TestRevisionMetricsFromStore with the first seal in layout first
// and the reruns in layout then (0: the default).
func testRevisionMetrics(t *testing.T, first, then int) {
	ctx := context.Background()
	layout := first
	logDir := t.TempDir()
	if err := os.CopyFS(logDir, os.DirFS("../../testdata/eventlog")); err != nil {
		t.Fatal(err)
	}
	src, err := eventlog.NewDir(logDir)
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.ReadFile(filepath.Join(logDir, "directory.json"))
	if err != nil {
		t.Fatal(err)
	}
	store, err := fsstore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	const acme = "0a1c2e3f-0000-4000-8000-00000000aaaa"
	sealedAt := time.Date(2026, 11, 23, 0, 30, 0, 0, time.UTC)
	seal := func(only string, sup *archiver.Supersede) *archiver.DayResult {
		t.Helper()
		s := &archiver.Sealer{Source: src, Store: store, Chain: ledger.Ledger{Store: store}, Options: archiver.Options{
			Now: func() time.Time { return sealedAt }, TempDir: t.TempDir(), Supersede: sup,
			Logger: slog.New(slog.DiscardHandler), Layout: layout}}
		res, err := s.Seal(ctx, day("2026-11-22"), dir, only)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(&RevisionCollector{Ledger: ledger.Ledger{Store: store}})
	scrape := func() map[string]float64 {
		t.Helper()
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]float64{}
		for _, mf := range mfs {
			out[mf.GetName()] = mf.GetMetric()[0].GetGauge().GetValue()
		}
		return out
	}
	want := func(got map[string]float64, name string, v float64) {
		t.Helper()
		if g, ok := got[name]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", name, g, ok, v)
		}
	}

	seal("", nil)
	layout = then
	got := scrape()
	want(got, "chatvault_revisions_superseded", 0)
	want(got, "chatvault_revisions_refused", 0)
	want(got, "chatvault_revisions_superseded_last_timestamp_seconds", 0)

	part := filepath.Join(logDir, "2026-11-22", "part-0001.jsonl")
	b, err := os.ReadFile(part)
	if err != nil {
		t.Fatal(err)
	}
	var keep []string
	for _, l := range strings.SplitAfter(string(b), "\n") {
		if !strings.Contains(l, `"messageId":"m-001"`) {
			keep = append(keep, l)
		}
	}
	if err := os.WriteFile(part, []byte(strings.Join(keep, "")), 0o644); err != nil {
		t.Fatal(err)
	}
	sealedAt = sealedAt.Add(time.Hour)
	seal("", nil)
	got = scrape()
	want(got, "chatvault_revisions_refused", 1)
	want(got, "chatvault_revisions_refused_last_timestamp_seconds", float64(sealedAt.Unix()))
	want(got, "chatvault_revisions_superseded", 0)

	// A record left by an attempt that never committed its manifest.
	orphan := []byte(`{"org":"` + acme + `","date":"2026-11-22","revision":2,"supersedes":{"revision":1,"dropped":1,"reason":"never committed"}}` + "\n")
	if err := store.Create(ctx, "revisions/superseded/2026-11-22/"+acme+"/r0002-0000000000000000.json", bytes.NewReader(orphan), int64(len(orphan)), sha256.Sum256(orphan), archiver.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	want(scrape(), "chatvault_revisions_superseded", 0)

	sealedAt = sealedAt.Add(time.Hour)
	if res := seal(acme, &archiver.Supersede{Org: acme, Reason: "LEGAL-42"}); res.Orgs[0].Supersedes == nil {
		t.Fatalf("not superseded: %+v", res.Orgs[0])
	}
	got = scrape()
	want(got, "chatvault_revisions_superseded", 1)
	want(got, "chatvault_revisions_superseded_dropped_records", 1)
	want(got, "chatvault_revisions_superseded_last_timestamp_seconds", float64(sealedAt.Unix()))
	want(got, "chatvault_revisions_refused", 1)
}
