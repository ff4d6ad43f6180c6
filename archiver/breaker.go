package archiver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
)

// breakerTrips is how many organizations in a row must fail for the store's sake before a
// seal stops trying the rest of the day. On S3 each such failure has already cost its
// request's full retries (s3.DefaultMaxAttempts, up to about two minutes), and a day has
// thousands of organizations: without the breaker, a store that went down mid-seal kept a
// run of 2,000 organizations going for well over ten minutes (measured; it was then
// interrupted), each organization waiting out its retries, then those of its failure
// record. Eight is as many organizations as a two-core host stores at once (storeSlots
// per worker): a store that is up, whose requests fail now and then, does not trip it.
const breakerTrips = 8

// storeBreaker stops a seal from walking every organization of a day through a store that
// is down. It counts the organizations in a row whose store requests failed because the
// store did not answer (StoreDown); a success resets the count, and any other failure (a
// refused revision, a local disk) leaves it alone. Once tripped, the organizations not yet
// stored fail at once with an error that says they were not attempted and why; nothing of
// theirs is written, no failure record either (the store is down), and the next run seals
// them as any failed organization is.
type storeBreaker struct {
	mu  sync.Mutex
	run int
	err error // the failure that tripped it; nil while it lets requests through
}

// observe counts the outcome of one organization's store requests.
func (b *storeBreaker) observe(ctx context.Context, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case err == nil:
		b.run = 0
	case ctx.Err() == nil && StoreDown(err):
		b.run++
		if b.run >= breakerTrips && b.err == nil {
			b.err = err
		}
	}
}

// check returns the error an organization fails with when the breaker has tripped, nil
// while its requests should be tried.
func (b *storeBreaker) check() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err == nil {
		return nil
	}
	return &NotAttemptedError{Trips: breakerTrips, Err: b.err}
}

// tripped reports whether the breaker has stopped the seal's store requests.
func (b *storeBreaker) tripped() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err != nil
}

// NotAttemptedError is an organization's failure when the seal stopped trying the store
// before reaching it: Trips organizations in a row had found the store down, the last
// with Err.
type NotAttemptedError struct {
	Trips int
	Err   error
}

func (e *NotAttemptedError) Error() string {
	return fmt.Sprintf("not attempted: %d organizations in a row could not reach the store (the last: %v); run again once it is back", e.Trips, e.Err)
}

func (e *NotAttemptedError) Unwrap() error { return e.Err }

// StoreDown reports whether err says the store did not answer: ErrStoreUnreachable or
// ErrStoreBusy from the store's adapter once its retries ran out, or a network error
// from an adapter that does not classify its errors. The next request would most likely
// wait out its retries only to fail too.
func StoreDown(err error) bool {
	if errors.Is(err, ErrStoreUnreachable) || errors.Is(err, ErrStoreBusy) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne)
}
