package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/chatvault/chatvault/internal/reliability"
)

// TestSealPastRetentionOnALockingBucket: an organization keeps 365 days, and a day older
// than that is sealed late (its archivalStart moved back to backfill history, or a catch-up
// after a long outage). Its objects' retain-until date, the day's end plus 365 days, is
// already past, and S3 refuses a lock date in the past ("the retain until date must be in
// the future"): the day failed, as did recording the failure, at every run and tick,
// forever, and the organization's chain could never be made whole. Such an object's
// retention is over before it is stored: it is stored without a lock (an expired lock
// protects nothing more), and verify accepts an unlocked object whose retention has
// ended; a day still within its retention is locked and checked as before.
func TestSealPastRetentionOnALockingBucket(t *testing.T) {
	srv := startMinIO(t)
	cleanEnv(t)
	s3Env(t, srv)
	log := t.TempDir()
	for _, d := range []string{"2019-01-05", "2026-11-20"} {
		if code, out, errOut := chatvault(t, "gen", "--date", d, "--events", "300", "--orgs", "2", "--out", log); code != exitOK {
			t.Fatalf("gen exit %d:\n%s%s", code, out, errOut)
		}
	}
	dir := filepath.Join(log, "directory.json")
	b, err := os.ReadFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	b = regexp.MustCompile(`"archivalStart":\s*"[^"]*"`).ReplaceAll(b, []byte(`"archivalStart":"2019-01-01"`))
	b = regexp.MustCompile(`"retentionDays":\s*\d+`).ReplaceAll(b, []byte(`"retentionDays":365`))
	if err := os.WriteFile(dir, b, 0o644); err != nil {
		t.Fatal(err)
	}
	archive := srv.Bucket(t, true)
	args := []string{"--eventlog", log, "--store", "s3://" + archive + "/cv", "--log-format", "text"}
	for _, d := range []string{"2019-01-05", "2026-11-20"} {
		if code, out, errOut := chatvault(t, append([]string{"run", "--date", d}, args...)...); code != exitOK || !strings.Contains(out, "committed") {
			t.Fatalf("run --date %s on a locking bucket: exit %d, want 0 with the day committed\n%s%s", d, code, out, errOut)
		}
	}
	code, out, errOut := chatvault(t, append([]string{"verify", "--from", "2019-01-05", "--to", "2019-01-05"}, args...)...)
	if code != exitOK {
		t.Fatalf("verify of the day sealed past its retention: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = chatvault(t, append([]string{"verify", "--from", "2026-11-20", "--to", "2026-11-20"}, args...)...)
	if code != exitOK {
		t.Fatalf("verify of the day within its retention: exit %d\n%s%s", code, out, errOut)
	}
	// The day within its retention is locked: its manifest's lock says so.
	var locked bool
	list, err := srv.Client().ListObjectsV2(t.Context(), &awss3.ListObjectsV2Input{Bucket: aws.String(archive), Prefix: aws.String("cv/orgs/")})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range list.Contents {
		if k := aws.ToString(o.Key); strings.HasSuffix(k, "/d/2026/11/20.r0001.json") {
			mode, until := srv.Retention(t, archive, k)
			locked = mode == "COMPLIANCE" && until.Year() == 2027
		}
	}
	if !locked {
		t.Errorf("the manifest of 2026-11-20 is not locked in COMPLIANCE until 2027")
	}
	reliability.Record(t, "fault", "a day older than its organization's retention sealed late on an S3 bucket with Object Lock (history backfilled, a long outage)", reliability.Recovered,
		"sealed with its objects unlocked (their retention is over before they are stored) and verify passes; before, S3 refused the lock date in the past and the day, and the record of its failure, failed at every run for good")
}
