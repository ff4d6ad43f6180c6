//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package tokenfile

import (
	"fmt"
	"os"
	"strings"
)

// lock cannot serialize writers where flock is missing; it only creates the lock file so
// the layout is the same. Revoke's check after writing still catches a lost revocation.
func lock(name string) (unlock func(), err error) {
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("tokenfile: lock: %w", err)
	}
	// Created by root, it is the tokens file's owner's, whose own commands take it next.
	if err := keepOwner(f, strings.TrimSuffix(name, LockSuffix)); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}
