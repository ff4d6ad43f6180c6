package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/chatvault/chatvault/internal/reliability"
)

// TestS3RotationKeptAsLongAsTheManifests: an organization keeps its archive longer than
// keys rotate's --retain-days (4000 days here, 10 years by default). The statement that
// explains the chain's change of key must be locked at least as long as the manifests
// signed by the old key, or once its lock ends it can be deleted while they remain, and
// verify then reports their chain as forged.
func TestS3RotationKeptAsLongAsTheManifests(t *testing.T) {
	srv := startMinIO(t)
	cleanEnv(t)
	s3Env(t, srv)
	const day = "2026-11-22"
	const retention = 5000
	log := t.TempDir()
	if code, out, errOut := chatvault(t, "gen", "--date", day, "--events", "300", "--orgs", "2", "--out", log); code != exitOK {
		t.Fatalf("gen exit %d:\n%s%s", code, out, errOut)
	}
	dirFile := filepath.Join(log, "directory.json")
	b, err := os.ReadFile(dirFile)
	if err != nil {
		t.Fatal(err)
	}
	var dir map[string]any
	if err := json.Unmarshal(b, &dir); err != nil {
		t.Fatal(err)
	}
	for _, o := range dir["organizations"].([]any) {
		o.(map[string]any)["retentionDays"] = retention
	}
	if b, err = json.Marshal(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dirFile, b, 0o644); err != nil {
		t.Fatal(err)
	}
	events := srv.Bucket(t, false)
	srv.Upload(t, events, "events", log)
	archive := srv.Bucket(t, true)
	keys := t.TempDir()
	oldKey, newKey := filepath.Join(keys, "old.key"), filepath.Join(keys, "new.key")
	for _, k := range []string{oldKey, newKey} {
		if code, _, errOut := chatvault(t, "keys", "generate", "-o", k); code != exitOK {
			t.Fatalf("keys generate: %s", errOut)
		}
	}
	common := []string{"--eventlog", "s3://" + events + "/events", "--store", "s3://" + archive + "/cv"}
	t.Setenv("CHATVAULT_SIGNING_KEYFILE", oldKey)
	if code, out, errOut := chatvault(t, append([]string{"run", "--date", day}, common...)...); code != exitOK && code != exitQuarantined {
		t.Fatalf("run: %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := chatvault(t, append([]string{"keys", "rotate", "--new-key", newKey, "--retain-days", "4000"}, common...)...); code != exitOK {
		t.Fatalf("keys rotate: %d\n%s%s", code, out, errOut)
	}
	c := srv.Client()
	list, err := c.ListObjectsV2(t.Context(), &awss3.ListObjectsV2Input{Bucket: aws.String(archive), Prefix: aws.String("cv/keys/rotations/")})
	if err != nil || len(list.Contents) != 1 {
		t.Fatalf("rotation statements: %v %v", list, err)
	}
	head, err := c.HeadObject(t.Context(), &awss3.HeadObjectInput{Bucket: aws.String(archive), Key: list.Contents[0].Key})
	if err != nil {
		t.Fatal(err)
	}
	want := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC).AddDate(0, 0, retention)
	if got := aws.ToTime(head.ObjectLockRetainUntilDate); got.Before(want) {
		t.Fatalf("rotation statement locked until %s, before the manifests it explains (%s)", got, want)
	}
	reliability.Record(t, "security", "S3: keys rotate on an archive kept longer than --retain-days", reliability.Kept,
		"the statement is locked at least as long as the longest-kept manifest, so it cannot be deleted while manifests signed by the old key remain")
}
