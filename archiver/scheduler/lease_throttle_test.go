package scheduler_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/archiver/s3"
	"github.com/chatvault/chatvault/archiver/scheduler"
	"github.com/chatvault/chatvault/archiver/verify"
	"github.com/chatvault/chatvault/internal/miniotest"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestThrottledLeaseStopsAtTheFence: replica A seals on S3 through a proxy; after its
// first export (before that organization's manifest) S3 starts answering 503 SlowDown to
// every request on the lease's keys, for longer than the lease's TTL and the clock skew
// (counted on the fake clock, not slept). A's renewal at its commit cannot reach the
// lease: its tick stops at the fence naming the lease and SlowDown, with no commit after
// it, no failure record, watermark or janitor run. Replica B (another connection, not
// throttled) takes the lease over and seals every organization-day, once; then, the
// throttling over, A's rerun takes the lease back, finds nothing left, and verify passes.
func TestThrottledLeaseStopsAtTheFence(t *testing.T) {
	days := []string{"2026-11-21", "2026-11-22"}
	w := newSealingWorld(t, days...)
	srv, proxy, open := throttleBucket(t)
	var mu sync.Mutex
	throttled := false
	proxy.SetFaults(func(r *http.Request) miniotest.Fault {
		mu.Lock()
		defer mu.Unlock()
		lease := strings.Contains(r.URL.Path, "/archive/leases/") || strings.Contains(r.URL.Query().Get("prefix"), "archive/leases/")
		if throttled && lease {
			return miniotest.Unavailable
		}
		return miniotest.Pass
	})
	setThrottled := func(on bool) { mu.Lock(); throttled = on; mu.Unlock() }

	pa := &pauseAtExport{Store: open(proxy.URL), paused: make(chan struct{}), resumed: make(chan struct{})}
	direct := open(srv.Endpoint)
	a, b := w.replica("replica-a", pa), w.replica("replica-b", direct)
	ctx := context.Background()
	repA := tick(ctx, a)
	select {
	case <-pa.paused:
	case rep := <-repA:
		t.Fatalf("A's tick ended before its first export: %+v", rep)
	}
	// The throttling outlasts the TTL and the skew while A's seal goes on.
	setThrottled(true)
	w.clock.Add(leaseTTL + scheduler.DefaultMaxSkew + time.Second)
	close(pa.resumed)
	ra := <-repA
	if !errors.Is(ra.Err, archiver.ErrFenced) || !strings.Contains(ra.Err.Error(), "SlowDown") || !strings.Contains(ra.Err.Error(), "leases/scheduler/") {
		t.Fatalf("A's tick under a throttled lease: %+v; want it stopped at the fence, naming the lease and SlowDown", ra)
	}
	t.Logf("A's tick: %v", ra.Err)
	if c := a.commits(); len(c) != 0 {
		t.Fatalf("A committed %v after its lease could not be renewed", c)
	}
	if n := proxy.Count(miniotest.Unavailable); n == 0 {
		t.Fatal("no lease request was throttled")
	}
	// B takes the lease over (A's link expired past the skew) and seals everything.
	rep := <-tick(ctx, b)
	if rep.Skipped != "" || rep.Err != nil || len(rep.Failed) != 0 || len(rep.Sealed) != len(days)*len(w.orgs) {
		t.Fatalf("B's takeover tick: %+v; want %d organization-days sealed", rep, len(days)*len(w.orgs))
	}
	// The throttling ends: A's rerun holds the lease again and has nothing left to seal.
	setThrottled(false)
	w.clock.Add(time.Minute)
	ra = <-tick(ctx, a)
	if ra.Skipped != "" || ra.Err != nil || len(ra.Failed) != 0 || len(ra.Sealed) != 0 {
		t.Fatalf("A's rerun: %+v; want the lease taken and nothing to seal", ra)
	}
	if c := a.commits(); len(c) != 0 {
		t.Fatalf("A's rerun committed %v: B had sealed them", c)
	}
	oneRevisionEach(ctx, t, direct, w.orgs, days)
	vr, err := verify.Run(ctx, ledger.Ledger{Store: direct}, verify.Options{})
	if err != nil || !vr.OK() {
		t.Fatalf("verify: %v %v", err, vr.Problems)
	}
	reliability.Record(t, "fault", "S3 throttles the seal lease's renewals (503 SlowDown on leases/) past the lease's TTL while a replica seals", reliability.Recovered,
		"the replica's next commit cannot renew the lease and stops at the fence (ErrFenced, naming the lease and SlowDown): no commit, no failure record; another replica takes the lease over and seals every organization-day once; a rerun finds nothing left, verify passes")
}

// throttleBucket starts MinIO with a fault proxy in front of a fresh Object Lock bucket,
// and returns them with open, which opens the store under "archive" through an endpoint
// (the proxy's or MinIO's own) with the client serve and run use: s3.maxAttempts (10)
// tries per request, its waits tiny on the wall clock.
func throttleBucket(t *testing.T) (srv *miniotest.Server, proxy *miniotest.FaultProxy, open func(endpoint string) archiver.Store) {
	t.Helper()
	srv = miniotest.Start(t)
	proxy = srv.NewFaultProxy(t)
	bucket := srv.Bucket(t, true)
	t.Setenv("AWS_ACCESS_KEY_ID", miniotest.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", miniotest.SecretKey)
	open = func(endpoint string) archiver.Store {
		c, err := s3.NewClient(t.Context(), s3.ClientConfig{Endpoint: endpoint, Region: miniotest.Region, PathStyle: true, MaxBackoff: time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		s, err := s3.NewStore(t.Context(), c, bucket, "archive", s3.Options{PartSize: s3.MinPartSize, Concurrency: 2})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	return srv, proxy, open
}
