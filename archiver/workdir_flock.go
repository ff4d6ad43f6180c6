//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package archiver

import (
	"errors"
	"os"
	"syscall"
)

// lockFile opens name, creating it when create is set, and locks it with flock, which the
// kernel releases when the process dies. Without wait, a lock held elsewhere is errLocked.
func lockFile(name string, create, wait bool) (unlock func(), err error) {
	flags := os.O_RDONLY
	if create {
		flags |= os.O_CREATE
	}
	f, err := os.OpenFile(name, flags, 0o644)
	if err != nil {
		return nil, err
	}
	how := syscall.LOCK_EX
	if !wait {
		how |= syscall.LOCK_NB
	}
	if err := syscall.Flock(int(f.Fd()), how); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, errLocked
		}
		return nil, err
	}
	return func() { f.Close() }, nil // closing the only descriptor releases the lock
}
