package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/chatvault/chatvault/internal/reliability"
)

// TestS3YearBoundary is TestYearBoundary's first part on a locked bucket: 2026-12-31 and
// 2027-01-01 sealed on 2027-01-02, then revision 2 of 2026-12-31 sealed on 2027-01-05 (a
// late revision, its day in the year before). Each members object is named by its day's
// year and locked until the end of that year plus Acme's retention (not the seal's year),
// every day's manifest names the object of its own year, and status, export and verify
// over the two years read it all back.
func TestS3YearBoundary(t *testing.T) {
	srv := startMinIO(t) // before cleanEnv, which clears CHATVAULT_MINIO
	cleanEnv(t)
	s3Env(t, srv)
	logDir := samplePartition(t)
	if err := os.RemoveAll(filepath.Join(logDir, "2026-11-22")); err != nil {
		t.Fatal(err)
	}
	archive := srv.Bucket(t, true)
	common := []string{"--eventlog", logDir, "--store", "s3://" + archive + "/cv", "--log-format", "json"}
	run := func(args ...string) (int, string, string) {
		t.Helper()
		return chatvault(t, append(args, common...)...)
	}
	timePartition(t, logDir, "2026-12-31", ms(t, "2026-12-31T00:00:00Z"), ms(t, "2027-01-01T00:00:00Z"))
	timePartition(t, logDir, "2027-01-01", ms(t, "2027-01-01T00:00:00Z"))
	setRunClock(t, "2027-01-02T00:00:00Z")
	for _, d := range []string{"2026-12-31", "2027-01-01"} {
		if code, out, errOut := run("run", "--date", d); code != exitOK {
			t.Fatalf("run --date %s: exit %d\n%s%s", d, code, out, errOut)
		}
	}
	timePartition(t, logDir, "2026-12-31", ms(t, "2026-12-31T00:00:00Z"), ms(t, "2027-01-01T00:00:00Z"), ms(t, "2026-12-31T12:00:00Z"))
	setRunClock(t, "2027-01-05T10:00:00Z")
	if code, out, errOut := run("run", "--date", "2026-12-31"); code != exitOK || !strings.Contains(out, "committed  2 ") {
		t.Fatalf("late rerun of 2026-12-31: exit %d, want revision 2 committed\n%s%s", code, out, errOut)
	}

	const retentionDays = 2557 // Acme's, testdata/eventlog/directory.json
	c := srv.Client()
	prefix := "cv/orgs/" + acme + "/members/"
	out, err := c.ListObjectsV2(t.Context(), &awss3.ListObjectsV2Input{Bucket: aws.String(archive), Prefix: aws.String(prefix)})
	if err != nil {
		t.Fatal(err)
	}
	years := map[string]bool{}
	for _, obj := range out.Contents {
		key := aws.ToString(obj.Key)
		year, _, _ := strings.Cut(strings.TrimPrefix(key, prefix), "/")
		y, err := time.Parse("2006", year)
		if err != nil {
			t.Fatalf("members object %s: no year", key)
		}
		years[year] = true
		head, err := c.HeadObject(t.Context(), &awss3.HeadObjectInput{Bucket: aws.String(archive), Key: obj.Key})
		if err != nil {
			t.Fatal(err)
		}
		want := y.AddDate(1, 0, retentionDays)
		if got := aws.ToTime(head.ObjectLockRetainUntilDate); !got.Equal(want) {
			t.Errorf("%s: retained until %s, want %s (the end of its year plus %d days)", key, got, want, retentionDays)
		}
	}
	// The day's own objects (both revisions' manifests, their exports) are kept from the
	// day's end, not from the late seal's time.
	dayPrefix := "cv/orgs/" + acme + "/d/2026/12/31."
	days, err := c.ListObjectsV2(t.Context(), &awss3.ListObjectsV2Input{Bucket: aws.String(archive), Prefix: aws.String(dayPrefix)})
	if err != nil {
		t.Fatal(err)
	}
	if len(days.Contents) < 4 {
		t.Errorf("%s holds %d objects, want two manifests and two exports", dayPrefix, len(days.Contents))
	}
	for _, obj := range days.Contents {
		head, err := c.HeadObject(t.Context(), &awss3.HeadObjectInput{Bucket: aws.String(archive), Key: obj.Key})
		if err != nil {
			t.Fatal(err)
		}
		want := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, retentionDays)
		if got := aws.ToTime(head.ObjectLockRetainUntilDate); !got.Equal(want) {
			t.Errorf("%s: retained until %s, want %s (the day's end plus %d days)", aws.ToString(obj.Key), got, want, retentionDays)
		}
	}
	if !years["2026"] || !years["2027"] || len(years) != 2 {
		t.Errorf("Acme's members objects are of the years %v, want 2026 (for 2026-12-31, also its late revision) and 2027", years)
	}
	code, status, errOut := run("status", "--org", acme, "--from", "2026-12-31", "--to", "2027-01-01")
	flat := strings.Join(strings.Fields(status), " ")
	if code != exitOK || !strings.Contains(flat, "2026-12-31 sealed 2 3 ") || !strings.Contains(flat, "2027-01-01 sealed 1 1 ") {
		t.Errorf("status over the two years: exit %d\n%s%s", code, status, errOut)
	}
	if code, out, errOut := run("export", "--org", acme, "--date", "2026-12-31"); code != exitOK || strings.Count(out, "\n") != 3 {
		t.Errorf("export 2026-12-31: exit %d, want revision 2's 3 lines\n%s%s", code, out, errOut)
	}
	for _, args := range [][]string{{"verify"}, {"verify", "--from", "2026-12-31", "--to", "2027-01-01"}, {"verify", "--date", "2026-12-31"}} {
		if code, out, errOut := run(args...); code != exitOK || !strings.Contains(out, "0 problems") {
			t.Errorf("%v: exit %d\n%s%s", args, code, out, errOut)
		}
	}
	reliability.Record(t, "input", "S3: a late revision of 2026-12-31 sealed in 2027, after 2027-01-01", reliability.Kept,
		"its manifest and export are locked from the day's end, its members object is the one of 2026, locked to the end of 2026 plus the retention; 2027-01-01 names one of 2027; status, export (revision 2) and verify over both years pass")
}
