//go:build crashpoints

package main

import (
	"fmt"
	"os"
	"time"
)

// A chatvault built for the crash tests (-tags crashpoints, never shipped) takes run's
// clock from CHATVAULT_TEST_NOW (RFC 3339) when it is set, so that separate processes seal
// manifests with the same sealedAt and the tests can compare their bytes.
func init() {
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
