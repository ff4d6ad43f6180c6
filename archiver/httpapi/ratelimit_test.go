package httpapi

import (
	"fmt"
	"testing"
	"time"

	"github.com/chatvault/chatvault/internal/reliability"
)

// TestLimiterCapped: a flood of distinct addresses cannot grow the bucket map past its cap;
// at the cap newcomers are refused until a sweep finds full buckets to drop.
func TestLimiterCapped(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	l := newLimiter(1, 2)
	l.max = 100
	for i := range 100 {
		if ok, _ := l.allow(fmt.Sprintf("10.0.%d.%d", i/256, i%256), t0); !ok {
			t.Fatalf("client %d refused below the cap", i)
		}
	}
	for i := range 1000 {
		ok, wait := l.allow(fmt.Sprintf("10.1.%d.%d", i/256, i%256), t0)
		if ok || wait <= 0 {
			t.Fatalf("newcomer %d at the cap: allowed %v, wait %v; want refused with a wait", i, ok, wait)
		}
	}
	if n := l.len(); n != 100 {
		t.Fatalf("%d buckets after the flood, want the cap, 100", n)
	}
	// Known clients keep their own buckets meanwhile.
	if ok, _ := l.allow("10.0.0.1", t0); !ok {
		t.Fatal("a known client lost its bucket to the flood")
	}
	// Once the flood's buckets have refilled (two seconds at 1/s, burst 2), a sweep
	// drops them and a newcomer gets in.
	if ok, _ := l.allow("10.2.0.1", t0.Add(3*time.Second)); !ok {
		t.Fatal("newcomer refused after the buckets refilled")
	}
	if n := l.len(); n != 1 {
		t.Fatalf("%d buckets after the sweep, want 1", n)
	}
	reliability.Record(t, "security", "flood of distinct client addresses (rate-limit map growth)", reliability.Refused,
		"map capped at 100,000 buckets; newcomers get 429 until a sweep frees room")
}

func TestClientKey(t *testing.T) {
	tests := map[string]string{
		"192.0.2.7":                 "192.0.2.7",
		"::ffff:192.0.2.7":          "192.0.2.7",
		"2001:db8:1:2:aaaa::1":      "2001:db8:1:2::/64",
		"2001:db8:1:2:bbbb:cccc::9": "2001:db8:1:2::/64",
		"2001:db8:1:3::1":           "2001:db8:1:3::/64",
		"fe80::1%eth0":              "fe80::/64",
		"not-an-ip":                 "not-an-ip",
	}
	for in, want := range tests {
		if got := clientKey(in); got != want {
			t.Errorf("clientKey(%q) = %q, want %q", in, got, want)
		}
	}
}
