package httpapi

import (
	"net/netip"
	"sync"
	"time"
)

// maxBuckets caps a limiter's map. A full bucket carries no information and is dropped
// when the map is swept, but an attacker with many addresses (an IPv6 block) could add
// buckets faster than they fill; at the cap a new key is refused until a sweep makes room,
// so memory stays bounded by the cap, not by the attacker. 100,000 buckets take about
// 10 MB; legitimate clients are a few hundred.
const maxBuckets = 100_000

// limiter is a token bucket per key (a token id, a client address), on the server's
// clock so that tests need no sleeping.
type limiter struct {
	rate  float64 // tokens per second
	burst float64
	max   int // most buckets kept (maxBuckets unless a test lowers it)

	mu      sync.Mutex
	buckets map[string]*bucket
	swept   time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newLimiter(rate float64, burst int) *limiter {
	return &limiter{rate: rate, burst: float64(burst), max: maxBuckets, buckets: map[string]*bucket{}}
}

// allow takes one token from key's bucket; when there is none it returns how long until
// there will be.
func (l *limiter) allow(key string, now time.Time) (bool, time.Duration) {
	return l.take(key, now, true)
}

// blocked reports, without taking a token, whether key's bucket is empty, and for how
// long it stays so.
func (l *limiter) blocked(key string, now time.Time) (bool, time.Duration) {
	ok, wait := l.take(key, now, false)
	return !ok, wait
}

func (l *limiter) take(key string, now time.Time, consume bool) (bool, time.Duration) {
	if l == nil || l.rate <= 0 {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	// Full buckets carry no information: drop them now and then so that memory is
	// bounded by the clients of the last minute, not by every client ever seen. At the
	// cap, sweep at once (at most once a second, so that a flood does not make every
	// request walk the whole map).
	if now.Sub(l.swept) > time.Minute || (len(l.buckets) >= l.max && now.Sub(l.swept) >= time.Second) {
		l.sweep(now)
	}
	b, ok := l.buckets[key]
	if !ok {
		if !consume {
			return true, 0 // no bucket is a full one
		}
		if len(l.buckets) >= l.max {
			// Refusing the newcomer, rather than evicting someone's partly used bucket,
			// keeps every limited client limited.
			return false, time.Second
		}
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[key] = b
	}
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = min(l.burst, b.tokens+el*l.rate)
		b.last = now
	}
	if b.tokens >= 1 {
		if consume {
			b.tokens--
		}
		return true, 0
	}
	wait := time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
	return false, max(wait, time.Second)
}

func (l *limiter) sweep(now time.Time) {
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*l.rate >= l.burst {
			delete(l.buckets, k)
		}
	}
	l.swept = now
}

// len is the number of buckets kept.
func (l *limiter) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// clientKey is the limiter key of a client address. An IPv6 host usually controls a whole
// /64, so the /64 is the client: otherwise one host could take a fresh bucket per request.
func clientKey(addr string) string {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return addr
	}
	ip = ip.Unmap()
	if ip.Is4() {
		return ip.String()
	}
	p, err := ip.Prefix(64)
	if err != nil {
		return addr
	}
	return p.String()
}
