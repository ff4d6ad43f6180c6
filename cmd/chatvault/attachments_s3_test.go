package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/chatvault/chatvault/internal/reliability"
)

// TestS3CaptureAttachmentsLocked captures the sample day's attachment into an Object Lock
// bucket: every attachment object (the file, its URL record, the index) is locked in
// COMPLIANCE mode until the day's end plus its organization's retention, like the day's
// export; a rerun fetches nothing and verify passes.
func TestS3CaptureAttachmentsLocked(t *testing.T) {
	srv := startMinIO(t) // before cleanEnv, which clears CHATVAULT_MINIO
	cleanEnv(t)
	s3Env(t, srv)
	var requests atomic.Int64
	files := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.Write([]byte("%PDF the contract"))
	}))
	t.Cleanup(files.Close)
	logDir := sampleLogCopy(t)
	linkTo(t, logDir, files.URL)
	events := srv.Bucket(t, false)
	srv.Upload(t, events, "prod/events", logDir)
	archive := srv.Bucket(t, true)
	t.Setenv("CHATVAULT_ATTACHMENTS_ENABLED", "true")
	t.Setenv("CHATVAULT_ATTACHMENTS_ALLOWEDHOSTS", strings.TrimPrefix(files.URL, "http://"))
	args := []string{"run", "--date", "2026-11-22", "--eventlog", "s3://" + events + "/prod/events",
		"--store", "s3://" + archive + "/chatvault", "--log-format", "json"}
	if code, out, errOut := chatvault(t, args...); code != exitQuarantined || !strings.Contains(out, "attachments "+acme+": 1 captured") {
		t.Fatalf("run: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := chatvault(t, args...); code != exitOK || requests.Load() != 2 {
		t.Fatalf("rerun: exit %d, %d requests in all (want 2: the file once per organization)\n%s%s", code, requests.Load(), out, errOut)
	}
	end := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	retain := map[string]time.Time{acme: end.AddDate(0, 0, 2557), globexID: end.AddDate(0, 0, 3650)}
	c := srv.Client()
	out, err := c.ListObjectsV2(t.Context(), &awss3.ListObjectsV2Input{Bucket: aws.String(archive), Prefix: aws.String("chatvault/attachments/")})
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, obj := range out.Contents {
		rel := strings.TrimPrefix(aws.ToString(obj.Key), "chatvault/attachments/")
		org, rest, _ := strings.Cut(rel, "/")
		kind, _, _ := strings.Cut(rest, "/")
		kinds[kind]++
		head, err := c.HeadObject(t.Context(), &awss3.HeadObjectInput{Bucket: aws.String(archive), Key: obj.Key})
		if err != nil {
			t.Fatal(err)
		}
		if got := aws.ToTime(head.ObjectLockRetainUntilDate); !got.Equal(retain[org]) || head.ObjectLockMode != types.ObjectLockModeCompliance {
			t.Errorf("%s: %s until %s, want COMPLIANCE until %s", aws.ToString(obj.Key), head.ObjectLockMode, got, retain[org])
		}
	}
	if kinds["files"] != 2 || kinds["urls"] != 2 || kinds["index"] != 2 {
		t.Fatalf("attachment objects by kind %v, want a file, a URL record and an index per organization", kinds)
	}
	if code, out, errOut := chatvault(t, "verify", "--store", "s3://"+archive+"/chatvault", "--eventlog", "s3://"+events+"/prod/events"); code != exitOK {
		t.Fatalf("verify: exit %d\n%s%s", code, out, errOut)
	}
	reliability.Record(t, "security", "captured attachments on an Object Lock bucket", reliability.Kept,
		"COMPLIANCE lock until the day's end plus the organization's retention, per organization")

	// The next day links the same file again: not fetched again, but its lock now runs to
	// the later day's end plus the retention.
	if err := os.CopyFS(filepath.Join(logDir, "2026-11-23"), os.DirFS(filepath.Join(logDir, "2026-11-22"))); err != nil {
		t.Fatal(err)
	}
	srv.Upload(t, events, "prod/events", logDir)
	args[2] = "2026-11-23"
	if code, out, errOut := chatvault(t, args...); (code != exitOK && code != exitQuarantined) || requests.Load() != 2 {
		t.Fatalf("run of the next day: exit %d, %d requests in all (want 2: nothing fetched again)\n%s%s", code, requests.Load(), out, errOut)
	}
	later := end.AddDate(0, 0, 1)
	for _, org := range []string{acme, globexID} {
		files, err := c.ListObjectsV2(t.Context(), &awss3.ListObjectsV2Input{Bucket: aws.String(archive), Prefix: aws.String("chatvault/attachments/" + org + "/files/")})
		if err != nil || len(files.Contents) != 1 {
			t.Fatalf("%s's files: %v, %v", org, files, err)
		}
		head, err := c.HeadObject(t.Context(), &awss3.HeadObjectInput{Bucket: aws.String(archive), Key: files.Contents[0].Key})
		if err != nil {
			t.Fatal(err)
		}
		want := later.AddDate(0, 0, map[string]int{acme: 2557, globexID: 3650}[org])
		if got := aws.ToTime(head.ObjectLockRetainUntilDate); !got.Equal(want) {
			t.Errorf("%s's file after a later day links it: retained until %s, want %s", org, got, want)
		}
	}
	reliability.Record(t, "security", "captured attachment linked again by a later day", reliability.Kept,
		"not fetched again; its Object Lock is extended to the later day's end plus the retention")
}
