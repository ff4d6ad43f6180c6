package panics_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/internal/panics"
)

// TestRecover: a goroutine's panic becomes its error, with the value and the stack of
// the goroutine where it panicked; a goroutine that does not panic keeps its own error.
func TestRecover(t *testing.T) {
	run := func(f func() error) error {
		done := make(chan error)
		go func() {
			var err error
			defer func() { done <- err }()
			defer panics.Recover(&err)
			err = f()
		}()
		return <-done
	}
	err := run(func() error { panic("injected") })
	var p *panics.Error
	if !errors.As(err, &p) || err.Error() != "panic: injected" || !strings.Contains(string(p.Stack), "panics_test.TestRecover") {
		t.Fatalf("error %v (%#v): want panic: injected, with the stack through TestRecover", err, p)
	}
	want := errors.New("failed")
	if err := run(func() error { return want }); err != want {
		t.Fatalf("error %v, want %v", err, want)
	}
	if err := run(func() error { return nil }); err != nil {
		t.Fatalf("error %v, want none", err)
	}
}
