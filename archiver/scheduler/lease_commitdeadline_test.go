package scheduler_test

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/verify"
	"github.com/chatvault/chatvault/internal/miniotest"
	"github.com/chatvault/chatvault/internal/reliability"
)

// dayManifest matches the object path of a layout-3 manifest at its day key (the commit
// point of a commit that is not late).
var dayManifest = regexp.MustCompile(`/d/\d{4}/\d{2}/\d{2}\.r\d+\.json$`)

// TestThrottledCommitStopsAtTheLeaseDeadline: replica A holds the seal lease (serve's TTL,
// 2 minutes) and its fence lets an organization's commit through with the whole TTL left.
// S3 then throttles that commit point (503 SlowDown on the manifest's create), and the
// client retries it, up to s3.maxAttempts (10) with backoffs up to s3.maxBackoff (20s):
// each 503 moves A's clock by those 20s (counted on the fake clock, not slept). Before, the
// retries went on past the lease's expiry and the manifest landed after it, when another
// sealer may have taken the lease over and committed on the same head (a fork). Now the
// commit point is written under the lease's commit deadline (its expiry less a sixth of
// the TTL): the attempt due after it is not made, the organization fails with ErrFenced
// (no manifest, no failure record), and A's rerun, S3 answering again, seals it; each
// organization-day holds one revision and verify passes.
func TestThrottledCommitStopsAtTheLeaseDeadline(t *testing.T) {
	const (
		ttl     = 2 * time.Minute  // serve's and run's sealLeaseTTL
		backoff = 20 * time.Second // s3.maxBackoff: the longest wait before a retry
		burst   = 8                // 503s before S3 takes the create: within s3.maxAttempts
	)
	days := []string{"2026-11-22"}
	w := newSealingWorld(t, days...)
	// The waits are counted on the fake clock by the proxy.
	srv, proxy, open := throttleBucket(t)
	a := w.replica("replica-a", open(proxy.URL))
	a.sched.Lease.TTL = ttl
	// A takes the lease at the tick's start, and nothing moves the clock before the
	// throttling: its link expires a TTL from now.
	expiry := w.clock.Now().Add(ttl)

	var mu sync.Mutex
	throttling := true
	target := ""   // the first manifest A commits: the one S3 throttles
	throttled := 0 // 503s answered to it
	var late []string
	proxy.SetFaults(func(r *http.Request) miniotest.Fault {
		mu.Lock()
		defer mu.Unlock()
		if r.Method != http.MethodPut || !dayManifest.MatchString(r.URL.Path) {
			return miniotest.Pass
		}
		if target == "" {
			target = r.URL.Path
		}
		if throttling && r.URL.Path == target && throttled < burst {
			throttled++
			w.clock.Add(backoff) // the backoff before the client's next attempt
			return miniotest.Unavailable
		}
		if !w.clock.Now().Before(expiry) && r.URL.Path == target {
			late = append(late, r.URL.Path)
		}
		return miniotest.Pass
	})

	ctx := context.Background()
	ra := <-tick(ctx, a)
	mu.Lock()
	gotLate, gotThrottled, gotTarget := slices.Clone(late), throttled, target
	throttling = false
	mu.Unlock()
	if gotTarget == "" {
		t.Fatalf("A committed no manifest: %+v", ra)
	}
	if len(gotLate) != 0 {
		t.Fatalf("the throttled commit point landed after the lease expired (%s, %d 503s of %s each): %v; A's tick: %+v",
			expiry.Format(time.TimeOnly), gotThrottled, backoff, gotLate, ra)
	}
	if !errors.Is(ra.Err, archiver.ErrFenced) || !errors.Is(ra.Err, archiver.ErrCommitDeadline) || len(ra.Failed) != 1 {
		t.Fatalf("A's tick: %+v; want the throttled organization stopped at the lease's commit deadline (ErrFenced)", ra)
	}
	if gotThrottled >= burst || gotThrottled < 1 {
		t.Fatalf("%d attempts of the commit point were throttled; want fewer than the %d S3 answered 503", gotThrottled, burst)
	}
	t.Logf("A's tick after %d throttled attempts: %v", gotThrottled, ra.Err)
	// The organization whose commit S3 throttled: its manifest's path names it.
	org, _, _ := strings.Cut(gotTarget[strings.Index(gotTarget, "/orgs/")+len("/orgs/"):], "/")
	if want := []string{days[0] + " " + org}; !slices.Equal(ra.Sealed, slices.DeleteFunc(slices.Clone(sealedAll(w.orgs, days)), func(s string) bool { return s == want[0] })) {
		t.Fatalf("A's tick sealed %v; want every organization-day but %v", ra.Sealed, want)
	}
	// Nothing of the organization's commit: no manifest, no failure record.
	var keys []string
	direct := open(srv.Endpoint)
	if err := direct.List(ctx, archiver.DayPrefix3(org, mustDayS(t, days[0])), func(k string) error {
		if strings.HasSuffix(k, ".json") {
			keys = append(keys, k)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(keys) != 0 {
		t.Fatalf("%s %s after the cut commit: %v; want no manifest and no failure record", org, days[0], keys)
	}
	// S3 answers again: A's rerun seals what was left.
	w.clock.Add(time.Minute)
	rerun := <-tick(ctx, a)
	if want := []string{days[0] + " " + org}; rerun.Skipped != "" || rerun.Err != nil || len(rerun.Failed) != 0 || !slices.Equal(rerun.Sealed, want) {
		t.Fatalf("A's rerun: %+v; want %v sealed", rerun, want)
	}
	oneRevisionEach(ctx, t, direct, w.orgs, days)
	vr, err := verify.Run(ctx, archiver.Ledger{Store: direct}, verify.Options{})
	if err != nil || !vr.OK() {
		t.Fatalf("verify: %v %v", err, vr.Problems)
	}
	reliability.Record(t, "fault", "S3 throttles a seal's commit point (503 SlowDown on the manifest's create) after its lease fence passed, for longer than the lease has left", reliability.CleanFailure,
		"the commit point is written under the lease's commit deadline (its expiry less a sixth of the TTL): no attempt is made past it, so the manifest never lands after the lease expired; the organization fails fenced (no manifest, no failure record) and the rerun seals it, one revision, verify passes")
}

// sealedAll is every organization-day of orgs and days as a Report lists them, day by day.
func sealedAll(orgs, days []string) []string {
	var all []string
	for _, d := range days {
		for _, o := range orgs {
			all = append(all, d+" "+o)
		}
	}
	return all
}
