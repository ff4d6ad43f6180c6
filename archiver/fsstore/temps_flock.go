//go:build unix

package fsstore

import (
	"errors"
	"os"
	"syscall"
)

// canLock is whether owner files can be locked here (flock).
const canLock = true

// lockExclusive locks f for its writer, waiting while a sweep looks at it.
func lockExclusive(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}

// tryLockShared locks f shared without waiting: false when its writer holds it.
func tryLockShared(f *os.File) (bool, error) {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return false, nil
	}
	return err == nil, err
}
