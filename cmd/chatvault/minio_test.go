package main

import (
	"os"
	"sync"
	"testing"

	"github.com/chatvault/chatvault/internal/miniotest"
)

// sharedMinIO is the one MinIO server of this test binary, started by the first test that
// needs one and stopped by TestMain. A server takes a second or two to start on a busy
// two-core box and some twenty tests need one; each test works in buckets of its own
// (Server.Bucket names them uniquely), behind a fault proxy of its own where it injects
// faults, so they need not have a server apiece.
var sharedMinIO struct {
	bin  string // miniotest.EnvVar as the test binary started, before cleanEnv clears it
	once sync.Once
	srv  *miniotest.Server
	stop func()
	err  error
}

// startMinIO returns the shared server. Without miniotest.EnvVar it fails the test (or
// skips it under -short) as miniotest.Start does.
func startMinIO(t *testing.T) *miniotest.Server {
	t.Helper()
	if sharedMinIO.bin == "" {
		return miniotest.Start(t) // fails (skips under -short) naming the variable
	}
	sharedMinIO.once.Do(func() {
		sharedMinIO.srv, sharedMinIO.stop, sharedMinIO.err = miniotest.StartShared(sharedMinIO.bin)
	})
	if sharedMinIO.err != nil {
		t.Fatal(sharedMinIO.err)
	}
	return sharedMinIO.srv
}

// stopMinIO stops the shared server, if a test started it.
func stopMinIO() {
	if sharedMinIO.stop != nil {
		sharedMinIO.stop()
	}
}

func init() { sharedMinIO.bin = os.Getenv(miniotest.EnvVar) }
