//go:build unix

package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver/fsstore"
	"github.com/chatvault/chatvault/archiver/scheduler"
	"github.com/chatvault/chatvault/archiver/verifyloop"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestVerifyLeaseAfterRestart: serve's verification lease, held by a process that is gone
// (a serve of this host restarted in place, its process id reused or not), is taken over
// at once by the restarted serve instead of after the lease's TTL; one held by another
// host's serve, or by a process of this host still running, is left to run out.
func TestVerifyLeaseAfterRestart(t *testing.T) {
	host, _ := os.Hostname()
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, holder string
		takeOver     bool
	}{
		{"this process's id (a container restarted in place)", fmt.Sprintf("%s-verify%d-0badc0de", host, os.Getpid()), true},
		{"a process of this host that is gone", fmt.Sprintf("%s-verify%d-0badc0de", host, gone.Process.Pid), true},
		{"a process of this host still running", fmt.Sprintf("%s-verify%d-0badc0de", host, os.Getppid()), false},
		{"another host", fmt.Sprintf("%s-other-verify%d-0badc0de", host, os.Getpid()), false},
		{"a serve of an older version (no process id)", host + "-0badc0de", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store, err := fsstore.New(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			defer store.Close()
			c := scheduler.NewFakeClock(time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC))
			ttl := verifyloop.LeaseTTL(time.Hour)
			old := &scheduler.Lease{Store: store, Prefix: verifyloop.LeasePrefix, Holder: tc.holder, TTL: ttl, Clock: c}
			if err := old.Acquire(t.Context()); err != nil {
				t.Fatal(err)
			}
			c.Add(time.Minute)
			l := verifyLease{&scheduler.Lease{Store: store, Prefix: verifyloop.LeasePrefix, Holder: verifyHolderName(), TTL: ttl, Clock: c}}
			err = l.Acquire(t.Context())
			if tc.takeOver && err != nil {
				t.Fatalf("lease of %s not taken over: %v", tc.holder, err)
			}
			if !tc.takeOver && !errors.Is(err, scheduler.ErrLeaseHeld) {
				t.Fatalf("lease of %s: %v, want held", tc.holder, err)
			}
		})
	}
	reliability.Record(t, "crash", "serve killed while it holds the verification lease, restarted on the same host", reliability.Recovered,
		"the restarted serve takes the lease over at once (its holder's process is gone), so a single replica's restart does not pause the slices for the lease's TTL; another host's holder is left until its lease runs out")
}
