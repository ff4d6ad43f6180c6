package archiver_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/internal/reliability"
)

// skewedLocker is a Locker whose objects are all unlocked, on a store whose clock is skew
// from this host's (archiver.StoreNow reads it).
type skewedLocker struct {
	archiver.Locker
	skew time.Duration
}

func (l skewedLocker) Lock(context.Context, string) (archiver.ObjectLock, error) {
	return archiver.ObjectLock{}, nil
}
func (l skewedLocker) ClockSkew() (time.Duration, bool) { return l.skew, true }

type findings struct{ problems []string }

func (f *findings) Problemf(format string, args ...any) {
	f.problems = append(f.problems, fmt.Sprintf(format, args...))
}
func (f *findings) Warn(string)     {}
func (f *findings) Read(int, int64) {}

// TestVerifyJudgesPastRetentionOnTheStoresClock: verify accepts an object unlocked only
// when its retention is over on the store's clock (S3's, from its Date headers), the one
// that keeps the lock: run on a host whose clock is a year ahead, it accepted unlocked a
// day S3 should still keep, a deleted-then-recreated or never-locked object passing.
func TestVerifyJudgesPastRetentionOnTheStoresClock(t *testing.T) {
	want := time.Now().Add(-30 * 24 * time.Hour) // over, on this host's clock
	for _, tc := range []struct {
		name    string
		skew    time.Duration
		problem bool
	}{
		{"store's clock a year behind this host's: retention not over", -365 * 24 * time.Hour, true},
		{"clocks agree: retention over", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var f findings
			archiver.CheckLock(context.Background(), skewedLocker{skew: tc.skew}, "orgs/o/days/d/r0001.json", want, false, &f)
			if got := len(f.problems) > 0; got != tc.problem {
				t.Fatalf("problems %q; want a problem: %v", f.problems, tc.problem)
			}
		})
	}
	reliability.Record(t, "fault", "verify on a host whose clock runs a year ahead of S3's, an object of a day within its retention unlocked", reliability.Refused,
		"reported: an unlocked object is accepted only when its retention is over on the store's clock; before, the host's clock decided and it passed")
}
