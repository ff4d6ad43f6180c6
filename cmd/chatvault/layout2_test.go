package main

import "testing"

// pinLayout2 runs the test's chatvault commands (in process and the binaries it starts,
// which inherit the environment) with store.layout 2. Layout 3 is the default: the tests
// that call it were written for the old layout's keys, object counts and run (no seal
// lease) and keep testing that layout, which an operator may still choose
// (`store.layout: 2`, the downgrade path). Call it after cleanEnv, which clears it.
func pinLayout2(t *testing.T) {
	t.Helper()
	t.Setenv("CHATVAULT_STORE_LAYOUT", "2")
}
