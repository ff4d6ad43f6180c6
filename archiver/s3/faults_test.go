package s3_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/s3"
	"github.com/chatvault/chatvault/internal/miniotest"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestTransientFaults puts a proxy that fails every other request (503, a slow answer, or
// a connection cut mid-body, in turn) between the store and MinIO: every create and read
// still succeeds with the exact bytes, thanks to the SDK's retries and Open's resume.
func TestTransientFaults(t *testing.T) {
	srv := miniotest.Start(t)
	proxy := srv.NewFaultProxy(t)
	bucket := srv.Bucket(t, true)
	s, err := s3.NewStore(t.Context(), srv.ClientFor(proxy.URL), bucket, "p", s3.Options{PartSize: s3.MinPartSize, Concurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	proxy.SetFaults(func(*http.Request) miniotest.Fault {
		n++
		if n%2 == 1 {
			return miniotest.Pass
		}
		return []miniotest.Fault{miniotest.Unavailable, miniotest.Slow, miniotest.Cut}[(n/2)%3]
	})
	objects := map[string][]byte{
		"small":     bytes.Repeat([]byte("small object\n"), 1000),
		"multipart": bytes.Repeat([]byte("0123456789"), 2*s3.MinPartSize/10+12345),
	}
	for key, data := range objects {
		if err := s.Create(t.Context(), key, bytes.NewReader(data), int64(len(data)), sha256.Sum256(data), archiver.CreateOptions{}); err != nil {
			t.Fatalf("Create(%s) through faults: %v", key, err)
		}
		rc, err := s.Open(t.Context(), key)
		if err != nil {
			t.Fatalf("Open(%s) through faults: %v", key, err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("read %s through faults: %d bytes, %v; want %d bytes", key, len(got), err, len(data))
		}
	}
	for _, f := range []miniotest.Fault{miniotest.Unavailable, miniotest.Slow, miniotest.Cut} {
		if proxy.Count(f) == 0 {
			t.Errorf("no request got fault %s; the test proved less than it claims", f)
		}
	}
	requireNoUploads(t, srv.Client(), bucket)

	// Every download is cut halfway; only Open's resume with a ranged GET gets the rest.
	proxy.SetFaults(func(r *http.Request) miniotest.Fault {
		if r.Method == http.MethodGet && r.Header.Get("Range") == "" && !r.URL.Query().Has("list-type") {
			return miniotest.Cut
		}
		return miniotest.Pass
	})
	cuts := proxy.Count(miniotest.Cut)
	rc, err := s.Open(t.Context(), "multipart")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, objects["multipart"]) {
		t.Fatalf("read of a cut download: %d bytes, %v; want %d bytes", len(got), err, len(objects["multipart"]))
	}
	if proxy.Count(miniotest.Cut) == cuts {
		t.Error("the download was not cut")
	}
}

// TestPersistentFaultAbortsUpload fails every part upload: Create fails with S3's error,
// and the multipart upload it started is aborted.
func TestPersistentFaultAbortsUpload(t *testing.T) {
	srv := miniotest.Start(t)
	proxy := srv.NewFaultProxy(t)
	bucket := srv.Bucket(t, true)
	s, err := s3.NewStore(t.Context(), srv.ClientFor(proxy.URL), bucket, "p", s3.Options{PartSize: s3.MinPartSize, Concurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
	proxy.SetFaults(func(r *http.Request) miniotest.Fault {
		if r.Method == http.MethodPut && r.URL.Query().Has("partNumber") {
			return miniotest.Unavailable
		}
		return miniotest.Pass
	})
	data := bytes.Repeat([]byte("x"), 2*s3.MinPartSize+1)
	err = s.Create(t.Context(), "obj", bytes.NewReader(data), int64(len(data)), sha256.Sum256(data), archiver.CreateOptions{})
	if err == nil || !strings.Contains(err.Error(), "upload part") || !strings.Contains(err.Error(), "503") {
		t.Fatalf("Create = %v, want the part upload's 503", err)
	}
	requireNoUploads(t, srv.Client(), bucket)
	rc, err := s.Open(t.Context(), "obj")
	if err == nil {
		rc.Close()
		t.Fatal("the object exists after a failed create")
	}
}

// TestListThroughCutAnswers cuts the first answer to every listing mid-body: the SDK does
// not retry an answer it could not decode, so List asks for the page again.
func TestListThroughCutAnswers(t *testing.T) {
	srv := miniotest.Start(t)
	proxy := srv.NewFaultProxy(t)
	bucket := srv.Bucket(t, true)
	s, err := s3.NewStore(t.Context(), srv.ClientFor(proxy.URL), bucket, "p", s3.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"a/1", "a/2", "a/3"}
	for _, key := range want {
		if err := s.Create(t.Context(), key, strings.NewReader(key), int64(len(key)), sha256.Sum256([]byte(key)), archiver.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	cut := false
	proxy.SetFaults(func(r *http.Request) miniotest.Fault {
		if r.Method == http.MethodGet && r.URL.Query().Has("list-type") && !cut {
			cut = true
			return miniotest.Cut
		}
		return miniotest.Pass
	})
	var got []string
	if err := s.List(t.Context(), "a/", func(key string) error { got = append(got, key); return nil }); err != nil {
		t.Fatalf("List through a cut answer: %v", err)
	}
	if !cut || proxy.Count(miniotest.Cut) == 0 || strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("listed %q (cut: %v), want %q", got, cut, want)
	}
	reliability.Record(t, "fault", "S3 store: a listing's answer cut mid-body", reliability.Recovered,
		"List asks for the page again (the SDK does not retry an answer it could not decode)")
}

// TestLostAnswers lets MinIO carry out a create, then drops the connection before its
// answer: the retry's conditional write finds the object there, and Create must tell
// that it holds the same bytes (its own write) and succeed, not fail the seal. For a
// multipart upload the 412 is followed by the upload's abort, which AWS S3 answers 404
// NoSuchUpload once the lost Complete has created the object: that failed the create before.
func TestLostAnswers(t *testing.T) {
	srv := miniotest.Start(t)
	proxy := srv.NewFaultProxy(t)
	bucket := srv.Bucket(t, true)
	s, err := s3.NewStore(t.Context(), srv.ClientFor(proxy.URL), bucket, "p", s3.Options{PartSize: s3.MinPartSize, Concurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		size int
		// lose reports whether r is the request whose answer is lost.
		lose func(r *http.Request) bool
		// goneUpload answers every abort after the lost answer 404 NoSuchUpload.
		goneUpload bool
	}{
		{"PutObject", 10000, func(r *http.Request) bool {
			return r.Method == http.MethodPut && !r.URL.Query().Has("uploadId")
		}, false},
		{"CompleteMultipartUpload", 2*s3.MinPartSize + 1, func(r *http.Request) bool {
			return r.Method == http.MethodPost && r.URL.Query().Has("uploadId")
		}, false},
		// AWS S3 answers the abort of the upload the lost answer completed with 404
		// NoSuchUpload (MinIO accepts it): before, that failed the create, and the seal.
		{"CompleteMultipartUpload, its abort answered NoSuchUpload", 2*s3.MinPartSize + 1, func(r *http.Request) bool {
			return r.Method == http.MethodPost && r.URL.Query().Has("uploadId")
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := "lost/" + strings.ReplaceAll(strings.ReplaceAll(tc.name, ",", ""), " ", "-")
			data := bytes.Repeat([]byte("a"), tc.size)
			lost := false
			proxy.SetFaults(func(r *http.Request) miniotest.Fault {
				if !lost && tc.lose(r) {
					lost = true
					return miniotest.Lost
				}
				if lost && tc.goneUpload && r.Method == http.MethodDelete && r.URL.Query().Has("uploadId") {
					return miniotest.NoSuchUpload
				}
				return miniotest.Pass
			})
			err := s.Create(t.Context(), key, bytes.NewReader(data), int64(len(data)), sha256.Sum256(data), archiver.CreateOptions{})
			proxy.SetFaults(nil)
			if !lost {
				t.Fatal("no answer was lost; the test proved less than it claims")
			}
			if err != nil {
				t.Fatalf("Create with its answer lost: %v", err)
			}
			rc, err := s.Open(t.Context(), key)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(rc)
			rc.Close()
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("read back %d bytes, %v; want %d bytes", len(got), err, len(data))
			}
			requireNoUploads(t, srv.Client(), bucket)
			// Other bytes under the key are still a conflict, answer lost or not.
			other := bytes.Repeat([]byte("b"), tc.size)
			lost = false
			proxy.SetFaults(func(r *http.Request) miniotest.Fault {
				if !lost && tc.lose(r) {
					lost = true
					return miniotest.Lost
				}
				return miniotest.Pass
			})
			err = s.Create(t.Context(), key, bytes.NewReader(other), int64(len(other)), sha256.Sum256(other), archiver.CreateOptions{})
			proxy.SetFaults(nil)
			if !errors.Is(err, archiver.ErrConflict) {
				t.Fatalf("Create of other bytes under a stored key = %v, want ErrConflict", err)
			}
			requireNoUploads(t, srv.Client(), bucket)
			reliability.Record(t, "fault", "S3 store: a create carried out but its answer lost ("+tc.name+")", reliability.Recovered,
				"the retry finds the object: the same SHA-256 is taken as the create's own write; other bytes are a conflict")
		})
	}
}

// TestClockSkewFromAnswers shows the store's clock skew from its answers' Date headers:
// the S3 SDK corrects its signatures for a skewed host, so this is what lets the lease
// (scheduler.StoreClock) refuse a host whose clock is off.
func TestClockSkewFromAnswers(t *testing.T) {
	srv := miniotest.Start(t)
	proxy := srv.NewFaultProxy(t)
	bucket := srv.Bucket(t, true)
	s, err := s3.NewStore(t.Context(), srv.ClientFor(proxy.URL), bucket, "p", s3.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// The store's first answer, the bucket's lock configuration, shows S3's clock: the
	// first create on a locking bucket judges a retention's end on it (retain.go).
	if skew, ok := s.ClockSkew(); !ok || skew.Abs() > 3*time.Second {
		t.Fatalf("after opening: ClockSkew = %v, %v; want S3's clock seen, about this host's", skew, ok)
	}
	for _, off := range []time.Duration{0, 5 * time.Minute, -5 * time.Minute} {
		proxy.SetDateOffset(off)
		key := "skew/" + off.String()
		if err := s.Create(t.Context(), key, strings.NewReader(key), int64(len(key)), sha256.Sum256([]byte(key)), archiver.CreateOptions{}); err != nil {
			t.Fatalf("Create with S3's clock %v off: %v", off, err)
		}
		for _, op := range []string{"create", "list"} {
			if op == "list" {
				if err := s.List(t.Context(), "skew/", func(string) error { return nil }); err != nil {
					t.Fatal(err)
				}
			}
			// The Date header has whole seconds, and the answer took some time.
			if skew, ok := s.ClockSkew(); !ok || (skew-off).Abs() > 3*time.Second {
				t.Errorf("after a %s with S3's clock %v off: ClockSkew = %v, %v", op, off, skew, ok)
			}
		}
	}
}
