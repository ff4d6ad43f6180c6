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
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/archiver/scheduler"
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
// the TTL): the attempt due after it is not made, and the organization fails with
// ErrFenced and ErrCommitDeadline (no manifest, no failure record).
//
// Several commits are in flight at once (storeSlots per worker, archiver/writer.go's
// commitAll): another organization's commit whose fence passed before the clock moved,
// and whose commit point is sent after the deadline, is cut the same way, correctly
// (another sealer may hold the lease by then); one whose fence comes later renews the
// lease and commits. So what holds at any commit concurrency is checked: every
// organization is sealed or cut at the deadline, with nothing else failing; no manifest
// of any organization lands once the lease has expired; a cut organization has no
// manifest and no failure record; A's rerun, S3 answering again, seals exactly those cut;
// each organization-day holds one revision and verify passes.
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
	// Each organization's result of A's seals: the report names a failed day, not which of
	// its organizations failed or why.
	results := map[string]error{}
	var resultsMu sync.Mutex
	newSealer := a.sched.NewSealer
	a.sched.NewSealer = func() scheduler.Sealer {
		return orgResults{Sealer: newSealer(), mu: &resultsMu, errs: results}
	}
	// A takes the lease at the tick's start, and nothing but the throttling moves the
	// clock: its link expires a TTL from now. A fence late in the tick renews the lease,
	// but the clock does not reach this expiry unless the throttled commit is retried
	// past its deadline.
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
		if !w.clock.Now().Before(expiry) {
			late = append(late, r.URL.Path) // any organization's manifest, the throttled one or not
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
		t.Fatalf("manifests landed after the lease expired (%s, %d 503s of %s each on %s): %v; A's tick: %+v",
			expiry.Format(time.TimeOnly), gotThrottled, backoff, gotTarget, gotLate, ra)
	}
	if !errors.Is(ra.Err, archiver.ErrFenced) || !errors.Is(ra.Err, archiver.ErrCommitDeadline) || len(ra.Failed) != 1 {
		t.Fatalf("A's tick: %+v; want it stopped at the lease's commit deadline (ErrFenced)", ra)
	}
	if gotThrottled >= burst || gotThrottled < 1 {
		t.Fatalf("%d attempts of the commit point were throttled; want fewer than the %d S3 answered 503", gotThrottled, burst)
	}
	t.Logf("A's tick after %d throttled attempts: %v", gotThrottled, ra.Err)
	// The organization whose commit S3 throttled: its manifest's path names it.
	org, _, _ := strings.Cut(gotTarget[strings.Index(gotTarget, "/orgs/")+len("/orgs/"):], "/")
	resultsMu.Lock()
	var sealed, cut []string
	for _, o := range w.orgs {
		err, ok := results[o]
		switch {
		case !ok:
			t.Fatalf("A's tick has no result for %s: %v", o, results)
		case err == nil:
			sealed = append(sealed, days[0]+" "+o)
		case errors.Is(err, archiver.ErrFenced) && errors.Is(err, archiver.ErrCommitDeadline):
			cut = append(cut, days[0]+" "+o)
		default:
			t.Fatalf("%s failed otherwise than at the lease's commit deadline: %v", o, err)
		}
	}
	resultsMu.Unlock()
	slices.Sort(sealed)
	slices.Sort(cut)
	if !slices.Contains(cut, days[0]+" "+org) {
		t.Fatalf("A's tick cut %v at the commit deadline; want the throttled %s among them", cut, org)
	}
	if got := slices.Sorted(slices.Values(ra.Sealed)); !slices.Equal(got, sealed) {
		t.Fatalf("A's tick reported %v sealed; its organizations committed %v", got, sealed)
	}
	t.Logf("cut at the commit deadline: %v; sealed: %v", cut, sealed)
	// Nothing of a cut organization's commit: no manifest, no failure record.
	direct := open(srv.Endpoint)
	for _, od := range cut {
		_, o, _ := strings.Cut(od, " ")
		var keys []string
		if err := direct.List(ctx, archiver.DayPrefix3(o, mustDayS(t, days[0])), func(k string) error {
			if strings.HasSuffix(k, ".json") {
				keys = append(keys, k)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if len(keys) != 0 {
			t.Fatalf("%s after its cut commit: %v; want no manifest and no failure record", od, keys)
		}
	}
	// S3 answers again: A's rerun seals what was left, and only that.
	w.clock.Add(time.Minute)
	rerun := <-tick(ctx, a)
	if got := slices.Sorted(slices.Values(rerun.Sealed)); rerun.Skipped != "" || rerun.Err != nil || len(rerun.Failed) != 0 || !slices.Equal(got, cut) {
		t.Fatalf("A's rerun: %+v; want %v sealed", rerun, cut)
	}
	oneRevisionEach(ctx, t, direct, w.orgs, days)
	vr, err := verify.Run(ctx, ledger.Ledger{Store: direct}, verify.Options{})
	if err != nil || !vr.OK() {
		t.Fatalf("verify: %v %v", err, vr.Problems)
	}
	reliability.Record(t, "fault", "S3 throttles a seal's commit point (503 SlowDown on the manifest's create) after its lease fence passed, for longer than the lease has left", reliability.CleanFailure,
		"the commit point is written under the lease's commit deadline (its expiry less a sixth of the TTL): no attempt is made past it, so no manifest lands after the lease expired; the organization fails fenced (no manifest, no failure record), as does any other commit in flight whose commit point was due past the deadline; the rerun seals exactly those, one revision each, verify passes")
}

// orgResults is a Sealer that records each organization's error (nil when it was sealed)
// in errs.
type orgResults struct {
	scheduler.Sealer
	mu   *sync.Mutex
	errs map[string]error
}

func (s orgResults) Seal(ctx context.Context, d archiver.Day, dir []byte, only string) (*archiver.DayResult, error) {
	res, err := s.Sealer.Seal(ctx, d, dir, only)
	if res != nil {
		s.mu.Lock()
		for _, o := range res.Orgs {
			s.errs[o.Org] = o.Err
		}
		s.mu.Unlock()
	}
	return res, err
}
