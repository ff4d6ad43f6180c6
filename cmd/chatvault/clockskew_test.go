package main

import (
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/internal/reliability"
)

// TestRunOnAHostOffS3sClock runs `run --date` on a host whose clock is 5 minutes off
// S3's (the proxy moves S3's Date headers): S3 accepts its requests (the SDK corrects
// the signatures), but the seal lease compares expiries across hosts' clocks, so the run
// must refuse to take it, naming the skew, and commit nothing; once the clocks agree the
// rerun seals the day and verify passes.
func TestRunOnAHostOffS3sClock(t *testing.T) {
	srv := startMinIO(t)
	cleanEnv(t)
	proxy := srv.NewFaultProxy(t)
	s3Env(t, srv)
	t.Setenv("CHATVAULT_S3_ENDPOINT", proxy.URL)
	const day = "2026-11-22"
	log := t.TempDir()
	if code, out, errOut := chatvault(t, "gen", "--date", day, "--events", "2000", "--orgs", "2", "--out", log); code != exitOK {
		t.Fatalf("gen exit %d:\n%s%s", code, out, errOut)
	}
	archive := srv.Bucket(t, true)
	args := []string{"--eventlog", log, "--store", "s3://" + archive + "/cv", "--log-format", "json"}

	proxy.SetDateOffset(5 * time.Minute)
	code, out, errOut := chatvault(t, append([]string{"run", "--date", day}, args...)...)
	if code != exitFailure || !strings.Contains(out+errOut, "clock is off the store's") {
		t.Fatalf("run 5 minutes off S3's clock: exit %d, want %d naming the clock skew\n%s%s", code, exitFailure, out, errOut)
	}
	if code, out, errOut := chatvault(t, append([]string{"verify"}, args...)...); code == exitOK {
		t.Fatalf("verify after the refused run passed: something was sealed\n%s%s", out, errOut)
	}

	proxy.SetDateOffset(0)
	if code, out, errOut := chatvault(t, append([]string{"run", "--date", day}, args...)...); code != exitOK {
		t.Fatalf("rerun with the clocks agreeing: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := chatvault(t, append([]string{"verify"}, args...)...); code != exitOK {
		t.Fatalf("verify: exit %d\n%s%s", code, out, errOut)
	}
	reliability.Record(t, "fault", "run --date on a host whose clock is 5 minutes off S3's (S3 itself accepts it)", reliability.CleanFailure,
		"exit 1: the seal lease is refused, naming the skew; nothing committed; the rerun with the clocks synchronized seals the day; verify passes")
}
