package httpapi_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver/httpapi"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestReadyzFloodReachesTheStoreOnce: /readyz needs no token, and serve's readiness check
// reads the store (a listing of leases/, and on S3 a HEAD of the directory). Every probe
// ran it, so anyone reaching the port turned each request into store requests: on S3 paid
// requests under leases/, the prefix of the seal lease, whose renewals S3 throttles with
// everything else there. The check's answer is now kept for a second (on the server's
// clock), and probes that arrive while one check runs wait for its answer.
func TestReadyzFloodReachesTheStoreOnce(t *testing.T) {
	for _, tc := range []struct {
		name   string
		err    error
		status int
	}{
		{"ready", nil, 200},
		{"store unreachable", errors.New("store unreachable"), 503},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var checks atomic.Int64
			f := newFixture(t, func(s *httpapi.Server) {
				s.Ready = func(context.Context) error { checks.Add(1); return tc.err }
			})
			probe := func() {
				var wg sync.WaitGroup
				for range 50 {
					wg.Go(func() {
						if resp, body := get(t, f.url+"/readyz", ""); resp.StatusCode != tc.status {
							t.Errorf("readyz: %d %s, want %d", resp.StatusCode, body, tc.status)
						}
					})
				}
				wg.Wait()
			}
			probe()
			if n := checks.Load(); n != 1 {
				t.Fatalf("50 probes ran the store check %d times, want 1", n)
			}
			f.clock.Add(time.Second)
			probe()
			if n := checks.Load(); n != 2 {
				t.Fatalf("50 more probes a second later ran it %d times in all, want 2", n)
			}
		})
	}
	reliability.Record(t, "security", "/readyz flood without a token (the probe reads the store)", reliability.Refused,
		"one store check per second whatever the probes, ready or not; the answer is the check's")
}
