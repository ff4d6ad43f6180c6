package verifyloop

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/fsstore"
	"github.com/chatvault/chatvault/archiver/verify"
	"github.com/chatvault/chatvault/internal/reliability"
	"github.com/prometheus/client_golang/prometheus"
)

// problemVerifier finds problem on every day while set, and fails while err is set.
type problemVerifier struct {
	mu      sync.Mutex
	problem string
	err     error
}

func (v *problemVerifier) Verify(context.Context, verify.Options) (*verify.Report, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.err != nil {
		return nil, v.err
	}
	rep := &verify.Report{Orgs: 1}
	if v.problem != "" {
		rep.Problems = []string{v.problem}
	}
	return rep, nil
}

func (v *problemVerifier) set(problem string, err error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.problem, v.err = problem, err
}

// TestMetricsAfterTheClockWentBack: serve's clock ran a year ahead for a slice (a bad NTP
// source), which found a problem, and was then stepped back; from then on every slice
// failed (the store unreadable). chatvault_verify_last_run_timestamp_seconds kept the
// year-ahead time (it only grew), so time() minus it stayed negative and
// ChatvaultVerifyStalled silent for a year, and the problem stayed counted by
// chatvault_verify_problems for a year, though no run found it again. The last run is
// now moved back to the clock's time at the next run, so the alert fires two intervals
// later, and the problem is counted for one cycle from the step back.
func TestMetricsAfterTheClockWentBack(t *testing.T) {
	store, err := fsstore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	b := []byte("{}\n")
	if err := store.Create(context.Background(), "orgs/org/days/2026-02-01/r0001.json", bytes.NewReader(b), int64(len(b)), sha256.Sum256(b), archiver.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	v := &problemVerifier{}
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	c := &clock{now: t0}
	l := &Loop{Store: store, Verifier: v, Interval: time.Hour, Cycle: 4 * time.Hour, Now: c.Now, Key: key,
		TrustedKeys: []ed25519.PublicKey{key.Public().(ed25519.PublicKey)}}
	reg := prometheus.NewRegistry()
	l.Register(reg)
	lastSlice := func() time.Time {
		t.Helper()
		return time.Unix(int64(gaugeValue(l.metrics.lastRun.WithLabelValues(KindSlice))), 0).UTC()
	}
	d := start(t, l)
	d.next() // the slice due at start, at t0

	v.set("orgs/org/days/2026-02-01: a problem", nil)
	if r, _ := d.slice(c.add(365 * 24 * time.Hour)); r.Problems != 1 { // the clock a year ahead
		t.Fatalf("slice a year ahead: %+v", r)
	}
	v.set("", errors.New("store unreachable"))
	back := c.add(-365*24*time.Hour + time.Hour) // stepped back: 01:00
	if r, _ := d.slice(back); r.Result() != "error" {
		t.Fatalf("slice after the step back: %+v", r)
	}
	if got := lastSlice(); got.After(back) {
		t.Fatalf("after the step back, last slice run %s, after the clock's %s: ChatvaultVerifyStalled (time() - it > 2 intervals) cannot fire until then", got, back)
	}
	if n := l.Problems(); n != 1 {
		t.Fatalf("problems just after the step back: %d, want 1 (counted for a cycle from now)", n)
	}
	for range 5 { // failing slices, hourly, past a cycle
		d.slice(c.add(time.Hour))
	}
	now := c.Now()
	if stale := now.Sub(lastSlice()); stale <= 2*l.Interval {
		t.Fatalf("%s after the step back with every slice failing, the last slice run is %s old: want more than 2 intervals (ChatvaultVerifyStalled)", now.Sub(back), stale)
	}
	if n := l.Problems(); n != 0 {
		t.Fatalf("problems a cycle after the step back, no run finding it again: %d, want 0", n)
	}
	reliability.Record(t, "fault", "serve's clock a year ahead for a verification slice that found a problem, then stepped back; the slices fail from then on",
		reliability.Kept,
		"chatvault_verify_last_run_timestamp_seconds is moved back to the clock's time at the next run, so ChatvaultVerifyStalled fires two intervals later; the problem is counted a cycle from the step back; "+
			"before, the gauge kept the year-ahead time (the alert silent for a year) and the problem stayed counted for a year")
}
