package scheduler

import (
	"sync"
	"time"
)

// Clock is the scheduler's time.
type Clock interface {
	Now() time.Time
	// After returns a channel that receives once the clock reaches now+d.
	After(d time.Duration) <-chan time.Time
}

// RealClock is the wall clock.
type RealClock struct{}

// Now is time.Now.
func (RealClock) Now() time.Time { return time.Now() }

// After is time.After.
func (RealClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// FakeClock is a clock that moves only when told to, for tests.
type FakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []waiter
	waiting chan struct{} // signalled whenever After registers a waiter
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

// NewFakeClock returns a clock at t.
func NewFakeClock(t time.Time) *FakeClock {
	return &FakeClock{now: t, waiting: make(chan struct{}, 1)}
}

// Now returns the fake time.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// After fires when Set or Add moves the clock to now+d.
func (c *FakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, waiter{c.now.Add(d), ch})
	select {
	case c.waiting <- struct{}{}:
	default:
	}
	return ch
}

// Next returns when the earliest waiter is due, and false when nothing waits: a test moves
// the clock there to run a loop from one wake-up to the next.
func (c *FakeClock) Next() (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var next time.Time
	for _, w := range c.waiters {
		if next.IsZero() || w.at.Before(next) {
			next = w.at
		}
	}
	return next, !next.IsZero()
}

// Waiting returns a channel signalled when a goroutine starts waiting on the clock.
func (c *FakeClock) Waiting() <-chan struct{} { return c.waiting }

// Set moves the clock to t, firing every waiter that is due.
func (c *FakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if !w.at.After(t) {
			w.ch <- t
		} else {
			kept = append(kept, w)
		}
	}
	c.waiters = kept
}

// Add moves the clock by d.
func (c *FakeClock) Add(d time.Duration) { c.Set(c.Now().Add(d)) }
