package s3

import (
	"testing"
	"time"

	"github.com/chatvault/chatvault/internal/reliability"
)

// TestClockSkewDateResolution: the Date header has whole seconds, so an answer from a
// server whose clock is this host's shows a Date up to a second before the answer
// arrived. That is no skew: schedule.leaseMaxSkew may be as low as 1s (half of it
// allowed), and a lease must not be refused to a host whose clock is right.
func TestClockSkewDateResolution(t *testing.T) {
	at := time.Date(2027, 1, 1, 12, 0, 0, 900_000_000, time.UTC) // 0.9s into the second
	for _, tc := range []struct {
		name   string
		server time.Time // the answer's Date
		want   time.Duration
	}{
		{"same clock, Date truncated", at.Truncate(time.Second), 0},
		{"store 100ms ahead: a Date after the answer arrived", at.Truncate(time.Second).Add(time.Second), 100 * time.Millisecond},
		{"store ahead by a minute", at.Add(time.Minute).Truncate(time.Second), time.Minute - 900*time.Millisecond},
		{"store behind by a minute", at.Add(-time.Minute).Truncate(time.Second), -time.Minute + 100*time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c storeClock
			c.record(tc.server, at)
			if got := time.Duration(c.skew.Load()); got != tc.want || !c.seen.Load() {
				t.Fatalf("skew = %v (seen %v); want %v", got, c.seen.Load(), tc.want)
			}
		})
	}
	reliability.Record(t, "fault", "a host whose clock is right, S3's Date header in whole seconds, schedule.leaseMaxSkew 1s", reliability.Kept,
		"the skew the lease checks is the least the answer shows: none within the header's second, so the lease is not refused")
}
