package verifyloop

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"github.com/chatvault/chatvault/archiver"
	"testing"
	"time"

	"crypto/ed25519"
	"crypto/rand"
	"github.com/chatvault/chatvault/archiver/fsstore"
	"github.com/chatvault/chatvault/internal/reliability"
	"github.com/prometheus/client_golang/prometheus"
)

// TestStalledFromTheStartIsExposed: a new deployment whose verification never completes a
// slice (the store unreadable from the first run) must still publish
// chatvault_verify_last_run_timestamp_seconds{kind="slice"}, at 0: ChatvaultVerifyStalled
// compares time() with it, and a series that does not exist compares with nothing, so the
// alert stayed silent for ever on exactly the failure it names.
func TestStalledFromTheStartIsExposed(t *testing.T) {
	store, err := fsstore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	// One sealed day, which the verifier cannot read.
	b := []byte("{}\n")
	if err := store.Create(context.Background(), "orgs/org/days/2026-02-01/r0001.json", bytes.NewReader(b), int64(len(b)), sha256.Sum256(b), archiver.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	v := &countingVerifier{days: map[OrgDay]bool{{"org", day(t, "2026-02-01")}: true}, calls: map[OrgDay]int{}, err: fmt.Errorf("store unreachable")}
	c := &clock{now: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}
	l := &Loop{Store: store, Verifier: v, Interval: time.Hour, Cycle: 4 * time.Hour, Now: c.Now, Key: key,
		TrustedKeys: []ed25519.PublicKey{key.Public().(ed25519.PublicKey)}}
	reg := prometheus.NewRegistry()
	l.Register(reg)

	lastRuns := func() map[string]float64 {
		t.Helper()
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]float64{}
		for _, mf := range mfs {
			if mf.GetName() != "chatvault_verify_last_run_timestamp_seconds" {
				continue
			}
			for _, m := range mf.GetMetric() {
				for _, lp := range m.GetLabel() {
					if lp.GetName() == "kind" {
						got[lp.GetValue()] = m.GetGauge().GetValue()
					}
				}
			}
		}
		return got
	}
	check := func(when string) {
		t.Helper()
		got := lastRuns()
		for _, k := range []string{KindSealed, KindSlice} {
			if v, ok := got[k]; !ok || v != 0 {
				t.Fatalf("%s: chatvault_verify_last_run_timestamp_seconds{kind=%q} = %v (present %v), want 0: ChatvaultVerifyStalled cannot fire on a series that does not exist", when, k, v, ok)
			}
		}
	}
	check("registered, before any run")
	d := start(t, l)
	for range 2 {
		r, _ := d.slice(c.add(time.Hour))
		if r.Result() != "error" {
			t.Fatalf("slice on an unreadable store: %+v", r)
		}
	}
	check("after two failed slices")
	reliability.Record(t, "operations", "continuous verification failing from serve's first slice on a new store", reliability.Kept,
		"chatvault_verify_last_run_timestamp_seconds{kind} is published at 0 from start, so ChatvaultVerifyStalled fires two verify.intervals after start; the series was missing until a slice completed, and the alert never fired")
}
