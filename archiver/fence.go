package archiver

import (
	"context"
	"errors"
	"fmt"
)

// ErrFenced is wrapped by the error of an organization's commit that the seal's fence
// refused: the process no longer holds the seal lease (it was paused or cut off past the
// lease's TTL, and another sealer took over), so it must not commit.
var ErrFenced = errors.New("the seal lease was lost before the commit")

// ErrCommitDeadline is wrapped, with ErrFenced, by the error of a commit whose commit point
// could not land before the lease's commit deadline (S3 throttled it, or the store hung):
// past it, another sealer may hold the lease, so the write is not attempted again.
var ErrCommitDeadline = errors.New("the commit point did not land before the seal lease's commit deadline")

type fenceKey struct{}

// WithFence returns ctx with a fence: a seal under ctx calls it before each
// organization's commit point in layout 3 and commits only if it returns nil. The lease
// holder passes its lease's check (scheduler.Lease.Fence), so that a sealer that lost its
// lease stops at its next commit instead of committing every organization left on a head
// another sealer may have moved (a fork of the chain).
func WithFence(ctx context.Context, fence func(context.Context) error) context.Context {
	return context.WithValue(ctx, fenceKey{}, fence)
}

// checkFence calls ctx's fence, if any.
func checkFence(ctx context.Context) error {
	f, _ := ctx.Value(fenceKey{}).(func(context.Context) error)
	if f == nil {
		return nil
	}
	if err := f(ctx); err != nil {
		return fmt.Errorf("%w: %w", ErrFenced, err)
	}
	return nil
}
