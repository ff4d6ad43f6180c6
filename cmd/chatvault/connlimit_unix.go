//go:build unix

package main

import (
	"math"
	"syscall"
)

// openFileLimit is the process's soft RLIMIT_NOFILE (which Go raises to the hard limit at
// start); not ok when it cannot be read or is unlimited.
func openFileLimit() (uint64, bool) {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0, false
	}
	cur := uint64(r.Cur)
	return cur, cur < math.MaxInt32
}
