package s3

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/chatvault/chatvault/internal/reliability"
)

// TestResumeChecksTheRange cuts a download halfway, then answers the resuming ranged GET
// the way a server or caching proxy that ignores Range may (200 and the whole object), or
// with a range that starts elsewhere. Before, the reader appended that body to the half it
// had: the caller read the object's first half twice (1,500,000 bytes of a 1,000,000-byte
// object) without an error, which for an event file is duplicated or torn records fed to the
// seal. Now a resumed answer must be a 206 whose Content-Range starts at the byte the read
// stopped at and ends at the object's end; anything else fails the read.
func TestResumeChecksTheRange(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789"), 100000)
	size := len(data)
	for _, tc := range []struct {
		name string
		// resume answers the ranged GET, which asks for bytes from off on.
		resume func(w http.ResponseWriter, off int)
	}{
		{"the whole object, 200 (Range ignored)", func(w http.ResponseWriter, _ int) {
			w.Header().Set("Content-Length", strconv.Itoa(size))
			w.WriteHeader(http.StatusOK)
			w.Write(data)
		}},
		{"206 from another byte", func(w http.ResponseWriter, off int) {
			from := off - 1000
			w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", from, size-1, size))
			w.Header().Set("Content-Length", strconv.Itoa(size-from))
			w.WriteHeader(http.StatusPartialContent)
			w.Write(data[from:])
		}},
		{"206 that ends before the object does", func(w http.ResponseWriter, off int) {
			w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", off, size-2, size))
			w.Header().Set("Content-Length", strconv.Itoa(size-1-off))
			w.WriteHeader(http.StatusPartialContent)
			w.Write(data[off : size-1])
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client := cutDownloadClient(t, data, tc.resume)
			body, err := getObject(t.Context(), client, "b", "k", nil)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(body)
			body.Close()
			if !bytes.HasPrefix(data, got) {
				t.Fatalf("read %d bytes that are not the object's first %d (err %v)", len(got), len(got), err)
			}
			if err == nil {
				t.Fatalf("read %d of %d bytes without an error", len(got), size)
			}
			reliability.Record(t, "fault", "S3 store: a download cut mid-body, its resuming ranged GET answered with "+tc.name, reliability.CleanFailure,
				"the read fails (a resumed answer must be a 206 from the byte the read stopped at to the object's end); no bytes spliced from elsewhere are returned")
		})
	}
}

// TestResumeAtTheRightRange: a download cut mid-body and resumed with a proper 206 (from
// the byte the read stopped at to the object's end) reads the whole object, for a read
// of the current object (Open) and of one version (OpenVersion, which reads every object
// a manifest names by its versionId on a versioned bucket). TestResumeChecksTheRange
// refuses the wrong answers; this is the answer S3 gives.
func TestResumeAtTheRightRange(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789"), 100000)
	size := len(data)
	client := cutDownloadClient(t, data, func(w http.ResponseWriter, off int) {
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", off, size-1, size))
		w.Header().Set("Content-Length", strconv.Itoa(size-off))
		w.WriteHeader(http.StatusPartialContent)
		w.Write(data[off:])
	})
	s := &Store{client: client, bucket: "b"}
	for _, tc := range []struct {
		name string
		open func() (io.ReadCloser, error)
	}{
		{"Open", func() (io.ReadCloser, error) { return getObject(t.Context(), client, "b", "k", nil) }},
		{"OpenVersion", func() (io.ReadCloser, error) { return s.OpenVersion(t.Context(), "k", "v1") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body, err := tc.open()
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(body)
			body.Close()
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("read %d of %d bytes (equal: %v), err %v", len(got), size, bytes.Equal(got, data), err)
			}
		})
	}
	reliability.Record(t, "fault", "S3 store: a download of a named version cut mid-body, resumed with S3's 206", reliability.Recovered,
		"the read resumes from the byte it stopped at and returns the whole object")
}

// cutDownloadClient returns an S3 client of a server that answers a GET of any object
// with the first half of data and then cuts the connection, and a ranged GET (bytes from
// off on, as the reader resumes) with resume.
func cutDownloadClient(t *testing.T, data []byte, resume func(w http.ResponseWriter, off int)) *awss3.Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"e1"`)
		if rg := r.Header.Get("Range"); rg != "" {
			off, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(rg, "bytes="), "-"))
			if err != nil {
				t.Errorf("unexpected Range %q", rg)
			}
			resume(w, off)
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.WriteHeader(http.StatusOK)
		w.Write(data[:len(data)/2])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	}))
	t.Cleanup(srv.Close)
	return awss3.New(awss3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.URL),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider("k", "s", ""),
	})
}
