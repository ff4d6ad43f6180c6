//go:build crashpoints

package main

import (
	"fmt"
	"os"
	"strings"
	"time"
)

// A chatvault built for the crash tests (-tags crashpoints, never shipped) takes run's
// clock from CHATVAULT_TEST_NOW (RFC 3339) when it is set, so that separate processes seal
// manifests with the same sealedAt and the tests can compare their bytes; or from the file
// CHATVAULT_TEST_NOW_FILE names, read at every look, so that a test can move a paused
// process's clock past its lease's TTL (a pause is time passing for the process too).
func init() {
	if f := os.Getenv("CHATVAULT_TEST_NOW_FILE"); f != "" {
		runClock = func() time.Time {
			b, err := os.ReadFile(f)
			if err != nil {
				panic(fmt.Sprintf("CHATVAULT_TEST_NOW_FILE: %v", err))
			}
			at, err := time.Parse(time.RFC3339, strings.TrimSpace(string(b)))
			if err != nil {
				panic(fmt.Sprintf("CHATVAULT_TEST_NOW_FILE: %v", err))
			}
			return at
		}
		return
	}
	v := os.Getenv("CHATVAULT_TEST_NOW")
	if v == "" {
		return
	}
	at, err := time.Parse(time.RFC3339, v)
	if err != nil {
		fmt.Fprintf(os.Stderr, "CHATVAULT_TEST_NOW=%q: %v\n", v, err)
		os.Exit(2)
	}
	runClock = func() time.Time { return at }
}
