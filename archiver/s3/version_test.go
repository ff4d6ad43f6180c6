package s3_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/internal/miniotest"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestVersionIDs: on a versioned bucket, CreateVersion reports the version it made, in one
// request and as a multipart upload, and an idempotent rerun reports the existing one;
// after someone puts a second version under the key, OpenVersion and a pinned presigned
// URL still read the first, and CurrentVersion names the second. A bucket without
// versioning reports no version, and OpenVersion("") reads the current object.
func TestVersionIDs(t *testing.T) {
	srv := miniotest.Start(t)
	ctx := context.Background()
	for _, tt := range []struct {
		name      string
		versioned bool
		size      int
	}{
		{"one request", true, 1000},
		{"multipart", true, 2*5<<20 + 3},
		{"no versioning", false, 1000},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t, srv, tt.versioned, "v")
			data := bytes.Repeat([]byte("x"), tt.size)
			sum := sha256.Sum256(data)
			v, err := s.CreateVersion(ctx, "obj", bytes.NewReader(data), int64(len(data)), sum, archiver.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			c := srv.Client()
			head, err := c.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String(s.Bucket()), Key: aws.String(s.ObjectKey("obj"))})
			if err != nil {
				t.Fatal(err)
			}
			if !tt.versioned {
				if v != "" {
					t.Fatalf("CreateVersion on a bucket without versioning = %q, want none", v)
				}
				rc, err := s.OpenVersion(ctx, "obj", v)
				if err != nil {
					t.Fatal(err)
				}
				rc.Close()
				return
			}
			if v == "" || v != aws.ToString(head.VersionId) {
				t.Fatalf("CreateVersion = %q, the object's version is %q", v, aws.ToString(head.VersionId))
			}
			again, err := s.CreateVersion(ctx, "obj", bytes.NewReader(data), int64(len(data)), sum, archiver.CreateOptions{})
			if err != nil || again != v {
				t.Fatalf("idempotent CreateVersion = %q, %v; want %q", again, err, v)
			}
			other := bytes.Repeat([]byte("y"), tt.size)
			if _, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(s.Bucket()), Key: aws.String(s.ObjectKey("obj")),
				Body: bytes.NewReader(other), Metadata: head.Metadata}); err != nil {
				t.Fatal(err)
			}
			cur, err := s.CurrentVersion(ctx, "obj")
			if err != nil || cur == v || cur == "" {
				t.Fatalf("CurrentVersion = %q, %v; want the second version, not %q", cur, err, v)
			}
			rc, err := s.OpenVersion(ctx, "obj", v)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(rc)
			rc.Close()
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("OpenVersion read %d bytes (%v), not the first version", len(got), err)
			}
			u, err := s.PresignGetVersion(ctx, "obj", v, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.Get(u)
			if err != nil {
				t.Fatal(err)
			}
			got, err = io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 || !bytes.Equal(got, data) {
				t.Fatalf("pinned URL: %d, %d bytes (%v), not the first version", resp.StatusCode, len(got), err)
			}
			if _, err := s.OpenVersion(ctx, "obj", "00000000-0000-0000-0000-000000000000"); err == nil {
				t.Fatal("OpenVersion of a version that does not exist succeeded")
			}
		})
	}
}

// TestPresignWithoutVersionServesTheSealedObject: a manifest sealed before version ids
// were recorded names no version, and the API then presigned the key's current version:
// whoever put a second version under the key (write access, no delete) had its bytes
// handed to the client by a URL the server issued, unchecked. Objects are created once,
// so the first version of a key is the one sealed: a URL without a version names it.
func TestPresignWithoutVersionServesTheSealedObject(t *testing.T) {
	srv := miniotest.Start(t)
	ctx := context.Background()
	for _, versioned := range []bool{true, false} {
		t.Run(map[bool]string{true: "versioned", false: "no versioning"}[versioned], func(t *testing.T) {
			s := newStore(t, srv, versioned, "p")
			data := []byte("the sealed bytes\n")
			if err := s.Create(ctx, "obj", bytes.NewReader(data), int64(len(data)), sha256.Sum256(data), archiver.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			want := data
			if versioned {
				for _, other := range []string{"a second version\n", "a third version\n"} {
					if _, err := srv.Client().PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(s.Bucket()), Key: aws.String(s.ObjectKey("obj")),
						Body: bytes.NewReader([]byte(other))}); err != nil {
						t.Fatal(err)
					}
				}
			}
			u, err := s.PresignGetVersion(ctx, "obj", "", time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.Get(u)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 || !bytes.Equal(got, want) {
				t.Fatalf("URL without a version: %d, %q (%v); want the sealed %q", resp.StatusCode, got, err, want)
			}
		})
	}
	reliability.Record(t, "security", "presigned URL of an export whose manifest names no version, after a second version was put (S3)", reliability.Kept,
		"the URL is pinned to the key's first version, the one created once by the seal; never to a later version")
}
