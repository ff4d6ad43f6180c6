package s3_test

import (
	"bytes"
	"crypto/sha256"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/s3"
	"github.com/chatvault/chatvault/internal/miniotest"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestContentType stores one object of each kind chatvault writes, in one PutObject and as
// a multipart upload, and asks MinIO (HeadObject) what Content-Type it serves them with: a
// presigned download of an export must arrive as gzip or zip, not binary/octet-stream.
func TestContentType(t *testing.T) {
	srv := miniotest.Start(t)
	st := newStore(t, srv, true, "chatvault")
	small := []byte("{}\n")
	large := bytes.Repeat([]byte("0123456789abcdef"), s3.MinPartSize/16+1) // two parts
	tests := []struct{ key, want string }{
		{"orgs/acme/days/2026-11-22/events-ab.jsonl.gz", "application/gzip"},
		{"orgs/acme/chain/000000000001.json", "application/json"},
		{"audit/orgs/acme/2026-11-22/000000000001.jsonl", "application/x-ndjson"},
		{"tasks/acme/t1/result.zip", "application/zip"},
		{"tasks/acme/t1/index.html", "text/html; charset=utf-8"},
		{"leases/scheduler", "application/octet-stream"},
	}
	for _, tt := range tests {
		for _, body := range [][]byte{small, large} {
			key := tt.key
			if len(body) > s3.MinPartSize {
				key = "multipart/" + key
			}
			t.Run(key, func(t *testing.T) {
				if err := st.Create(t.Context(), key, bytes.NewReader(body), int64(len(body)), sha256.Sum256(body), archiver.CreateOptions{}); err != nil {
					t.Fatal(err)
				}
				head, err := srv.Client().HeadObject(t.Context(), &awss3.HeadObjectInput{
					Bucket: aws.String(st.Bucket()), Key: aws.String(st.ObjectKey(key)),
				})
				if err != nil {
					t.Fatal(err)
				}
				if got := aws.ToString(head.ContentType); got != tt.want {
					t.Fatalf("Content-Type %q, want %q", got, tt.want)
				}
			})
		}
	}
	reliability.Record(t, "operations", "S3 objects' Content-Type (exports, manifests, audit segments, task results)", reliability.Kept,
		"each object is stored with its media type (application/gzip, application/json, application/x-ndjson, application/zip, text/html), in one PUT or multipart; S3's default was binary/octet-stream")
}
