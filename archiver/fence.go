package archiver

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrFenced is wrapped by the error of an organization's commit that the seal's fence
// refused: the process no longer holds the seal lease (it was paused or cut off past the
// lease's TTL, and another sealer took over), so it must not commit.
var ErrFenced = errors.New("the seal lease was lost before the commit")

// ErrCommitDeadline is wrapped, with ErrFenced, by the error of a commit whose commit point
// could not land before the lease's commit deadline (S3 throttled it, or the store hung):
// past it, another sealer may hold the lease, so the write is not attempted again.
var ErrCommitDeadline = errors.New("the commit point did not land before the seal lease's commit deadline")

// CommitDeadline is until when a commit that a fence let through may land: past it, the
// lease may have expired and another sealer taken it over. At is on the lease's clock,
// which Now reads (the wall clock, a test's fake one). The zero value bounds nothing.
type CommitDeadline struct {
	At  time.Time
	Now func() time.Time
}

// Fence is a lease's check before a commit point: nil and the commit's deadline while
// the process holds the lease, an error otherwise.
type Fence func(context.Context) (CommitDeadline, error)

type fenceKey struct{}

type commitDeadlineKey struct{}

// WithFence returns ctx with a fence: a seal under ctx calls it before each
// organization's commit point in layout 3, commits only if it returns nil, and writes the
// commit point under the deadline it returns. The lease holder passes its lease's check
// (scheduler.Lease.CommitFence), so that a sealer that lost its lease stops at its next
// commit instead of committing every organization left on a head another sealer may
// have moved (a fork of the chain), and so that a commit the store holds up (S3
// throttling it, retried for up to s3.maxAttempts: about 111s by default) cannot land
// once the lease may have passed to another sealer.
func WithFence(ctx context.Context, fence Fence) context.Context {
	return context.WithValue(ctx, fenceKey{}, fence)
}

// fenceCommit calls ctx's fence, if any, and returns the context to write the commit
// point under: ctx bounded by the fence's commit deadline, both as a deadline (which ends
// a backoff or an attempt in flight) and as the deadline CheckCommitDeadline reads on the
// lease's own clock before each attempt. Without a fence it returns ctx.
func fenceCommit(ctx context.Context) (context.Context, context.CancelFunc, error) {
	f, _ := ctx.Value(fenceKey{}).(Fence)
	if f == nil {
		return ctx, func() {}, nil
	}
	d, err := f(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrFenced, err)
	}
	if d.At.IsZero() || d.Now == nil {
		return ctx, func() {}, nil
	}
	ctx = context.WithValue(ctx, commitDeadlineKey{}, d)
	// The lease's clock counts the time left; the context's timer runs on this process's
	// monotonic clock, which a wall-clock step does not move: CheckCommitDeadline catches
	// that case at the next attempt.
	ctx, cancel := context.WithDeadlineCause(ctx, time.Now().Add(d.At.Sub(d.Now())), ErrCommitDeadline)
	return ctx, cancel, nil
}

// CheckCommitDeadline returns an error matching ErrCommitDeadline when ctx carries a
// commit deadline (a commit point's write, fenceCommit) that has passed on the lease's
// clock. A store calls it before each attempt of a request, retries included, so that no
// attempt starts past the deadline (the S3 client does: archiver/s3's retryer).
func CheckCommitDeadline(ctx context.Context) error {
	d, ok := ctx.Value(commitDeadlineKey{}).(CommitDeadline)
	if !ok {
		return nil
	}
	if now := d.Now(); !now.Before(d.At) {
		return pastDeadlineError{at: d.At, now: now}
	}
	return nil
}

// pastDeadlineError is CheckCommitDeadline's refusal of an attempt.
type pastDeadlineError struct{ at, now time.Time }

func (e pastDeadlineError) Error() string {
	return fmt.Sprintf("not sent: the seal lease's commit deadline %s has passed (now %s on the lease's clock)",
		e.at.UTC().Format(time.RFC3339), e.now.UTC().Format(time.RFC3339))
}

func (e pastDeadlineError) Is(target error) bool { return target == ErrCommitDeadline }

// commitCut returns err, the failed write of manifest seq's commit point under cctx
// (fenceCommit), as an error matching ErrFenced and ErrCommitDeadline when the commit
// deadline cut it: the organization's day then gets no failure record (the lease, and the
// day, may be another sealer's by now) and its rerun commits it.
func commitCut(cctx context.Context, seq int64, err error) error {
	if errors.Is(err, ErrCommitDeadline) || errors.Is(context.Cause(cctx), ErrCommitDeadline) {
		return &commitCutError{seq: seq, err: err}
	}
	return err
}

// commitCutError is a commit point's write that the commit deadline cut.
type commitCutError struct {
	seq int64
	err error
}

func (e *commitCutError) Error() string {
	return fmt.Sprintf("commit manifest %d: %v, so the seal stopped retrying it (another sealer may hold the lease by now): %v", e.seq, ErrCommitDeadline, e.err)
}

func (e *commitCutError) Is(target error) bool {
	return target == ErrFenced || target == ErrCommitDeadline
}

func (e *commitCutError) Unwrap() error { return e.err }
