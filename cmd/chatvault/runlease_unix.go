//go:build unix

package main

import (
	"errors"
	"syscall"
)

// processGone reports whether no process has the id pid (signal 0 checks without
// sending anything; EPERM means one exists, of another user).
func processGone(pid int) bool {
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

// processRuns reports whether a process has the id pid.
func processRuns(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
