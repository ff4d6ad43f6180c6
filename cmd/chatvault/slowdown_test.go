package main

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/chatvault/chatvault/internal/miniotest"
	"github.com/chatvault/chatvault/internal/reliability"
)

// manifestKey matches a layout 3 manifest's key (docs/design/layout.md).
var manifestKey = regexp.MustCompile(`/d/\d{4}/\d{2}/\d{2}\.r\d+\.json$`)

// TestS3SlowDownBurst seals and verifies a day while S3 throttles: every request (event
// log reads, directory, store creates, listings and reads) is first answered 503 SlowDown
// a burst of times in a row. With the SDK's 3 attempts (s3.maxAttempts 3) the run fails on
// the first burst longer than 2; with the default 10 a burst of 9 is ridden out and the day
// seals and verifies; a burst of 10 fails the run cleanly, naming SlowDown. The proxy
// counts the attempts; s3Env caps the backoff at 1ms, so nothing waits.
func TestS3SlowDownBurst(t *testing.T) {
	srv := startMinIO(t)
	cleanEnv(t)
	proxy := srv.NewFaultProxy(t)
	s3Env(t, srv)
	t.Setenv("CHATVAULT_S3_ENDPOINT", proxy.URL)
	const day = "2026-11-22"
	log := t.TempDir()
	if code, out, errOut := chatvault(t, "gen", "--date", day, "--events", "3000", "--orgs", "2", "--files", "2", "--out", log); code != exitOK {
		t.Fatalf("gen exit %d:\n%s%s", code, out, errOut)
	}
	events := srv.Bucket(t, false)
	srv.Upload(t, events, "log", log)
	// burst answers the first n attempts of every distinct request SlowDown (of only the
	// writes to bucket when it is set), and returns a function that reports how many
	// requests were distinct.
	burst := func(n int, bucket string) func() int {
		seen := map[string]int{}
		proxy.SetFaults(func(r *http.Request) miniotest.Fault {
			if bucket != "" && (r.Method == http.MethodGet || r.Method == http.MethodHead || !strings.HasPrefix(r.URL.Path, "/"+bucket+"/")) {
				return miniotest.Pass
			}
			id := r.Method + " " + r.URL.RequestURI()
			if seen[id]++; seen[id] <= n {
				return miniotest.Unavailable
			}
			return miniotest.Pass
		})
		return func() int { return len(seen) }
	}
	manifests := func(bucket string) int {
		objs, err := srv.Client().ListObjectsV2(t.Context(), &awss3.ListObjectsV2Input{Bucket: aws.String(bucket)})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, o := range objs.Contents {
			if key := aws.ToString(o.Key); strings.Contains(key, "/manifests/") || manifestKey.MatchString(key) {
				n++
			}
		}
		return n
	}
	for _, tc := range []struct {
		name        string
		maxAttempts int
		burst       int
		sealed      bool
	}{
		// The failing cases throttle only the store's writes: the run reads its input,
		// then fails at its first write, and must commit nothing.
		{"SDK's 3 attempts, burst of 3", 3, 3, false},
		{"default 10 attempts, burst of 9", 0, 9, true},
		{"default 10 attempts, burst of 10", 0, 10, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.maxAttempts > 0 {
				t.Setenv("CHATVAULT_S3_MAXATTEMPTS", strconv.Itoa(tc.maxAttempts))
			}
			archive := srv.Bucket(t, true)
			args := []string{"--eventlog", "s3://" + events + "/log", "--directory", "s3://" + events + "/log/directory.json",
				"--store", "s3://" + archive + "/cv", "--log-format", "json"}
			before := proxy.Count(miniotest.Unavailable)
			only := archive
			if tc.sealed {
				only = ""
			}
			distinct := burst(tc.burst, only)
			code, out, errOut := chatvault(t, append([]string{"run", "--date", day}, args...)...)
			slowDowns := proxy.Count(miniotest.Unavailable) - before
			t.Logf("run: exit %d, %d distinct requests, %d answered SlowDown", code, distinct(), slowDowns)
			if !tc.sealed {
				proxy.SetFaults(nil)
				if code != exitFailure || !strings.Contains(out+errOut, "SlowDown") {
					t.Fatalf("run through bursts of %d SlowDowns: exit %d, want %d naming SlowDown\n%s%s", tc.burst, code, exitFailure, out, errOut)
				}
				if n := manifests(archive); n != 0 {
					t.Fatalf("the failed run committed %d manifests", n)
				}
				return
			}
			if code != exitOK {
				t.Fatalf("run through bursts of %d SlowDowns: exit %d\n%s%s", tc.burst, code, out, errOut)
			}
			if slowDowns != tc.burst*distinct() {
				t.Fatalf("%d SlowDowns answered to %d distinct requests, want %d each", slowDowns, distinct(), tc.burst)
			}
			before = proxy.Count(miniotest.Unavailable)
			burst(tc.burst, "")
			code, out, errOut = chatvault(t, append([]string{"verify"}, args...)...)
			proxy.SetFaults(nil)
			if code != exitOK {
				t.Fatalf("verify through bursts of %d SlowDowns: exit %d\n%s%s", tc.burst, code, out, errOut)
			}
			if proxy.Count(miniotest.Unavailable) == before {
				t.Fatal("verify met no SlowDown; the test proved less than it claims")
			}
			if manifests(archive) == 0 {
				t.Fatal("no manifest committed")
			}
		})
	}
	if !t.Failed() {
		reliability.Record(t, "fault", "S3 throttling: every request of run and verify answered 503 SlowDown 9 times in a row", reliability.Recovered,
			"the day seals and verifies (s3.maxAttempts 10, backoff up to s3.maxBackoff); with the SDK's former 3 attempts the run failed")
		reliability.Record(t, "fault", "S3 throttling: every request of run answered 503 SlowDown 10 times in a row (past s3.maxAttempts)", reliability.CleanFailure,
			"exit 1 naming SlowDown; no manifest committed; the next run seals the day")
	}
}
