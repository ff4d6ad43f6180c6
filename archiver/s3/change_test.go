package s3_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/eventlog"
	"github.com/chatvault/chatvault/archiver/s3"
	"github.com/chatvault/chatvault/internal/miniotest"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestEventLogDetectsChanges changes the partition while Scan reads its first object, as
// eventlog's TestScanDetectsChanges does for a folder: every change fails the scan with
// ErrPartitionChanged, and reading the partition untouched succeeds.
func TestEventLogDetectsChanges(t *testing.T) {
	srv := miniotest.Start(t)
	c := srv.Client()
	put := func(t *testing.T, bucket, key, body string) {
		t.Helper()
		if _, err := c.PutObject(context.Background(), &awss3.PutObjectInput{
			Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader(body),
		}); err != nil {
			t.Fatal(err)
		}
	}
	const day = "2026-11-22"
	tests := []struct {
		name   string
		change func(t *testing.T, bucket string)
		want   string
		row    string // the reliability case
	}{
		{"untouched", func(*testing.T, string) {}, "", ""},
		{"object being read replaced", func(t *testing.T, bucket string) {
			put(t, bucket, "log/"+day+"/part-0001.jsonl", "{\"a\":9}\n")
		}, "now", "S3 event file replaced while it is read"},
		{"object not read yet replaced", func(t *testing.T, bucket string) {
			put(t, bucket, "log/"+day+"/part-0002.jsonl", "{\"b\":9}\n")
		}, "part-0002.jsonl: partition changed while it was read: it was removed or replaced", "S3 event file replaced before it is read"},
		{"object not read yet removed", func(t *testing.T, bucket string) {
			if _, err := c.DeleteObject(context.Background(), &awss3.DeleteObjectInput{
				Bucket: aws.String(bucket), Key: aws.String("log/" + day + "/part-0002.jsonl"),
			}); err != nil {
				t.Fatal(err)
			}
		}, "it was removed or replaced", "S3 event file removed mid-run"},
		{"object added", func(t *testing.T, bucket string) {
			put(t, bucket, "log/"+day+"/part-0003.jsonl", "{\"c\":1}\n")
		}, "part-0003.jsonl", "S3 event file added mid-run"},
		{"ignored object replaced", func(t *testing.T, bucket string) {
			put(t, bucket, "log/"+day+"/_SUCCESS", "again")
		}, "_SUCCESS: partition changed while it was read: it was removed or replaced", "S3 ignored object (export.ignoreFiles) replaced mid-run"},
		{"ignored object added", func(t *testing.T, bucket string) {
			put(t, bucket, "log/"+day+"/notes.txt", "late")
		}, "notes.txt", "S3 ignored object (export.ignoreFiles) added mid-run"},
		{"object that is not read added", func(t *testing.T, bucket string) {
			put(t, bucket, "log/"+day+"/part-0003.JSONL", "{}\n")
		}, "part-0003.JSONL", "S3 object that is not read added mid-run"},
		{"subfolder added", func(t *testing.T, bucket string) {
			put(t, bucket, "log/"+day+"/sub/part-0003.jsonl", "{}\n")
		}, "sub/", "S3 subfolder added mid-run"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bucket := srv.Bucket(t, false)
			put(t, bucket, "log/"+day+"/part-0001.jsonl", "{\"a\":1}\n{\"a\":2}\n")
			put(t, bucket, "log/"+day+"/part-0002.jsonl", "{\"b\":1}\n")
			put(t, bucket, "log/"+day+"/_SUCCESS", "")
			el := s3.NewEventLog(c, bucket, "log")
			el.Ignore = []string{"_SUCCESS", "*.txt"}
			d, _ := archiver.ParseDay(day)
			var lines bytes.Buffer
			changed := false
			_, err := el.Scan(t.Context(), d, func(l archiver.Line) error {
				if !changed {
					changed = true
					tt.change(t, bucket)
				}
				lines.Write(l.Bytes)
				return nil
			})
			if tt.want == "" {
				if err != nil || lines.String() != `{"a":1}{"a":2}{"b":1}` {
					t.Fatalf("Scan = %v, lines %s; want every line", err, lines.String())
				}
				return
			}
			if !errors.Is(err, eventlog.ErrPartitionChanged) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Scan = %v, want ErrPartitionChanged with %q", err, tt.want)
			}
			reliability.Record(t, "fault", tt.row, reliability.CleanFailure,
				"the scan fails with ErrPartitionChanged naming the object; nothing is sealed from it")
		})
	}
}
