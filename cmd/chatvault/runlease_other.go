//go:build !unix

package main

// processGone cannot tell here: the lease of a killed run runs out by its TTL.
func processGone(int) bool { return false }

// processRuns cannot tell here: a run's lease is waited for until it is renewed or runs out.
func processRuns(int) bool { return false }
