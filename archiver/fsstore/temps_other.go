//go:build !unix

package fsstore

import (
	"errors"
	"os"
)

// canLock is false: no owner files, so temporary files are judged by their age alone.
const canLock = false

func lockExclusive(*os.File) error { return errors.New("file locks are not supported here") }

func tryLockShared(*os.File) (bool, error) {
	return false, errors.New("file locks are not supported here")
}
