// Package panics turns a panic on a goroutine that chatvault starts into an error of that
// goroutine's work. Uncaught, such a panic ends the process with the Go runtime's status
// 2, chatvault's code of bad usage or configuration, on which the Kubernetes Jobs fail at
// once instead of retrying; and it skips the deferred cleanup (the seal lease's release,
// the store batch's Abort, the temporary folders). As an error, it fails the work the
// goroutine was doing, as any error does: exit 1, everything cleaned up on the way out.
package panics

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
)

// Error is a panic recovered on a goroutine: a bug in chatvault.
type Error struct {
	Value any    // what the goroutine panicked with
	Stack []byte // the goroutine's stack where it panicked
}

func (e *Error) Error() string { return fmt.Sprintf("panic: %v", e.Value) }

// Recover, deferred as the goroutine's first or outermost deferred call
// (`defer panics.Recover(&err)`), stops the goroutine's panic and makes it *err (joined
// with the error *err held, if any). It must be the deferred function itself: recover
// stops a panic only when the deferred function calls it.
func Recover(err *error) {
	if v := recover(); v != nil {
		*err = errors.Join(&Error{Value: v, Stack: debug.Stack()}, *err)
	}
}

// Log, deferred by a goroutine whose work has no error to fail it with (a lease's
// renewal, a progress display), stops the goroutine's panic and logs it as msg, with its
// stack. Like Recover, it must be the deferred function itself.
func Log(log *slog.Logger, msg string) {
	if v := recover(); v != nil {
		log.Error(msg, "err", fmt.Sprintf("panic: %v", v), "stack", string(debug.Stack()))
	}
}
