//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package tokenfile

import (
	"fmt"
	"os"
	"strings"
	"syscall"
)

// lock takes an exclusive flock on name, creating it (mode 0600), and waits for it. The
// kernel releases it when the process dies, so a killed `token create` never wedges the
// next one.
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
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("tokenfile: lock %s: %w", name, err)
	}
	return func() { f.Close() }, nil // closing the only descriptor releases the lock
}
