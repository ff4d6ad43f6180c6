package s3

import (
	"testing"
	"time"

	"github.com/chatvault/chatvault/internal/reliability"
)

// TestPastRetentionOnTheStoresClock: whether a day's retention is over, so that its objects
// are stored unlocked (S3 refuses a lock date in the past), is judged on S3's clock, the
// one that enforces the lock, as its answers' Date headers show it, not on this host's.
// A host whose clock runs a year ahead took a day still within its retention for one past
// it and stored its objects unlocked, deletable by anyone with the bucket's keys; a host
// behind took a day past its retention for one within it, and S3 refused the lock.
func TestPastRetentionOnTheStoresClock(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		name  string
		skew  time.Duration // S3's clock minus this host's
		until time.Time
		want  bool // locked
	}{
		{"host a year ahead, retention over on the host's clock only", -365 * 24 * time.Hour, now.Add(-30 * 24 * time.Hour), true},
		{"host a year behind, retention over on S3's clock only", 365 * 24 * time.Hour, now.Add(30 * 24 * time.Hour), false},
		{"clocks agree, retention a day from over", 0, now.Add(24 * time.Hour), true},
		{"clocks agree, retention over a day ago", 0, now.Add(-24 * time.Hour), false},
		{"clocks agree, retention within the minute's margin", 0, now.Add(30 * time.Second), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &Store{lock: true}
			// An answer dated skew from this host's clock, received now.
			s.clock.record(time.Now().Add(tc.skew).Truncate(time.Second).Add(time.Second), time.Now())
			if got := s.locks(tc.until); got != tc.want {
				t.Fatalf("locks(retain until %s) = %v with S3's clock %v from this host's; want %v",
					tc.until.UTC().Format(time.RFC3339), got, tc.skew, tc.want)
			}
		})
	}
	t.Run("no answer dated yet", func(t *testing.T) {
		s := &Store{lock: true}
		if !s.locks(now.Add(24*time.Hour)) || s.locks(now.Add(-24*time.Hour)) {
			t.Fatal("without a Date seen, the host's clock decides")
		}
	})
	reliability.Record(t, "fault", "a day within its retention sealed on an S3 bucket with Object Lock by a host whose clock runs a year ahead (or behind)", reliability.Kept,
		"whether the retention is over (the object then stored unlocked) is judged on S3's clock, from its answers' Date headers: the day is locked as S3 counts time; before, the host's clock decided and a host ahead stored the day unlocked, deletable")
}
