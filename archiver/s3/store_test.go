package s3_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/s3"
	"github.com/chatvault/chatvault/archiver/storetest"
	"github.com/chatvault/chatvault/internal/miniotest"
)

func TestConformance(t *testing.T) {
	srv := miniotest.Start(t)
	for _, lock := range []bool{false, true} {
		name := "plain"
		if lock {
			name = "objectLock"
		}
		t.Run(name, func(t *testing.T) {
			storetest.Run(t, func(t *testing.T) archiver.Store {
				// The smallest part size S3 allows sends the suite's large object as a
				// multipart upload.
				return newStore(t, srv, lock, "archive")
			})
		})
	}
}

// TestLookups: the ledger's lookups over S3 cost what they answer, not the store's history
// (storetest.RunLookups): on S3 every request is a round trip.
func TestLookups(t *testing.T) {
	srv := miniotest.Start(t)
	storetest.RunLookups(t, func(t *testing.T) archiver.Store { return newStore(t, srv, false, "archive") })
}

func newStore(t *testing.T, srv *miniotest.Server, lock bool, prefix string) *s3.Store {
	t.Helper()
	bucket := srv.Bucket(t, lock)
	s, err := s3.NewStore(t.Context(), srv.Client(), bucket, prefix, s3.Options{PartSize: s3.MinPartSize, Concurrency: 2})
	if err != nil {
		t.Fatalf("NewStore: %v", err)
	}
	if s.ObjectLock() != lock {
		t.Fatalf("ObjectLock() = %v, want %v", s.ObjectLock(), lock)
	}
	return s
}

// TestMultipartFailureLeavesNoUpload fails multipart uploads in each way the caller can
// and checks that S3 keeps no parts of them: orphaned parts are invisible, cost money and
// never expire by themselves.
func TestMultipartFailureLeavesNoUpload(t *testing.T) {
	srv := miniotest.Start(t)
	s := newStore(t, srv, true, "p")
	data := bytes.Repeat([]byte("0123456789abcdef"), 3*s3.MinPartSize/16+7) // 3 parts and a bit
	sum := sha256.Sum256(data)
	tests := []struct {
		name string
		body io.Reader
		size int64
		sum  [sha256.Size]byte
	}{
		{"failing body", io.MultiReader(bytes.NewReader(data[:len(data)/2]), iotest.ErrReader(errors.New("disk gone"))), int64(len(data)), sum},
		{"wrong sum", bytes.NewReader(data), int64(len(data)), sha256.Sum256([]byte("x"))},
		{"short body", bytes.NewReader(data[:len(data)-1]), int64(len(data)), sum},
		{"long body", bytes.NewReader(append(bytes.Clone(data), 'x')), int64(len(data)), sum},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := "obj-" + strings.ReplaceAll(tt.name, " ", "-")
			if err := s.Create(t.Context(), key, tt.body, tt.size, tt.sum, archiver.CreateOptions{}); err == nil {
				t.Fatal("Create succeeded, want an error")
			}
			requireNoUploads(t, srv.Client(), s.Bucket())
		})
	}
	// A conflicting rerun is refused after its parts were uploaded; they go too.
	if err := s.Create(t.Context(), "obj", bytes.NewReader(data), int64(len(data)), sum, archiver.CreateOptions{}); err != nil {
		t.Fatalf("Create: %v", err)
	}
	other := bytes.Clone(data)
	other[0] ^= 1
	err := s.Create(t.Context(), "obj", bytes.NewReader(other), int64(len(other)), sha256.Sum256(other), archiver.CreateOptions{})
	if !errors.Is(err, archiver.ErrConflict) {
		t.Fatalf("Create with other bytes: %v, want ErrConflict", err)
	}
	if err := s.Create(t.Context(), "obj", bytes.NewReader(data), int64(len(data)), sum, archiver.CreateOptions{}); err != nil {
		t.Fatalf("rerun with the same bytes: %v, want nil", err)
	}
	requireNoUploads(t, srv.Client(), s.Bucket())
}

func requireNoUploads(t *testing.T, c *awss3.Client, bucket string) {
	t.Helper()
	out, err := c.ListMultipartUploads(t.Context(), &awss3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatalf("ListMultipartUploads: %v", err)
	}
	for _, u := range out.Uploads {
		t.Errorf("incomplete multipart upload left behind: %s (%s)", aws.ToString(u.Key), aws.ToString(u.UploadId))
	}
}

// TestObjectLock checks, with the SDK, what a locked bucket holds after Create: each
// object in COMPLIANCE mode until the requested date, with the SHA-256 S3 verified, and a
// locked version that cannot be deleted.
func TestObjectLock(t *testing.T) {
	srv := miniotest.Start(t)
	s := newStore(t, srv, true, "archive")
	c := srv.Client()
	until := time.Date(2033, 11, 23, 0, 0, 0, 0, time.UTC)
	small := []byte("{\"a\":1}\n")
	large := bytes.Repeat([]byte("z"), s3.MinPartSize+1)
	for _, tt := range []struct {
		key  string
		data []byte
	}{{"small", small}, {"large", large}} {
		t.Run(tt.key, func(t *testing.T) {
			sum := sha256.Sum256(tt.data)
			if err := s.Create(t.Context(), tt.key, bytes.NewReader(tt.data), int64(len(tt.data)), sum, archiver.CreateOptions{RetainUntil: until}); err != nil {
				t.Fatalf("Create: %v", err)
			}
			head, err := c.HeadObject(t.Context(), &awss3.HeadObjectInput{
				Bucket: aws.String(s.Bucket()), Key: aws.String(s.ObjectKey(tt.key)), ChecksumMode: types.ChecksumModeEnabled,
			})
			if err != nil {
				t.Fatalf("HeadObject: %v", err)
			}
			if head.ObjectLockMode != types.ObjectLockModeCompliance {
				t.Errorf("lock mode %q, want COMPLIANCE", head.ObjectLockMode)
			}
			if got := aws.ToTime(head.ObjectLockRetainUntilDate); !got.Equal(until) {
				t.Errorf("retain until %s, want %s", got, until)
			}
			if aws.ToString(head.ChecksumSHA256) == "" {
				t.Error("no SHA-256 checksum stored")
			}
			if len(tt.data) <= s3.MinPartSize {
				// A single-request object's checksum is the SHA-256 of its bytes.
				if got, want := aws.ToString(head.ChecksumSHA256), base64.StdEncoding.EncodeToString(sum[:]); got != want {
					t.Errorf("checksum %s, want %s", got, want)
				}
			}
			if _, err := c.DeleteObject(t.Context(), &awss3.DeleteObjectInput{
				Bucket: aws.String(s.Bucket()), Key: aws.String(s.ObjectKey(tt.key)), VersionId: head.VersionId,
			}); err == nil {
				t.Error("deleting the locked version succeeded")
			}
			rc, err := s.Open(t.Context(), tt.key)
			if err != nil {
				t.Fatalf("Open after the delete attempt: %v", err)
			}
			got, _ := io.ReadAll(rc)
			rc.Close()
			if !bytes.Equal(got, tt.data) {
				t.Error("object changed after the delete attempt")
			}
		})
	}
}

func TestPresignGet(t *testing.T) {
	srv := miniotest.Start(t)
	s := newStore(t, srv, false, "p")
	data := []byte("presigned\n")
	if err := s.Create(t.Context(), "k", bytes.NewReader(data), int64(len(data)), sha256.Sum256(data), archiver.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	u, err := s.PresignGet(t.Context(), "k", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(u, "X-Amz-Expires=60") {
		t.Errorf("URL %s does not expire in 60s", u)
	}
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !bytes.Equal(got, data) {
		t.Errorf("GET presigned URL: %s %q, want 200 %q", resp.Status, got, data)
	}
}
