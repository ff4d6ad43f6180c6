package s3

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestReadObjectCapped: the event log's directory snapshot on S3 (ReadObject) was read
// whole with no cap: an object of any size (written by whoever can write to the event
// log's bucket, or damaged) was read into memory until the process died. It is read
// within archiver.DirectoryCap: an answer whose Content-Length is over it is refused
// before its body is read, naming the key; one within it reads as before.
func TestReadObjectCapped(t *testing.T) {
	var served atomic.Int64
	small := []byte(`{"organizations":[]}`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"e1"`)
		if r.URL.Path == "/b/small.json" {
			w.Header().Set("Content-Length", strconv.Itoa(len(small)))
			w.Write(small)
			return
		}
		// Declared past the cap; the body is cut short after 16 MiB, so that a reader
		// that reads on gets an error after allocating it rather than hanging.
		w.Header().Set("Content-Length", strconv.FormatInt(archiver.DirectoryCap+1, 10))
		w.WriteHeader(http.StatusOK)
		chunk := bytes.Repeat([]byte(" "), 1<<20)
		for range 16 {
			n, err := w.Write(chunk)
			served.Add(int64(n))
			if err != nil {
				return
			}
		}
		panic(http.ErrAbortHandler)
	}))
	t.Cleanup(srv.Close)
	client := awss3.New(awss3.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("k", "s", ""), RetryMaxAttempts: 1})
	b, err := ReadObject(t.Context(), client, "b", "directory.json")
	var tooLarge *archiver.ObjectTooLargeError
	if !errors.As(err, &tooLarge) || tooLarge.Key != "directory.json" || tooLarge.Cap != archiver.DirectoryCap {
		t.Fatalf("ReadObject of an object declared at %d bytes: %d bytes, %v; want an ObjectTooLargeError naming directory.json", archiver.DirectoryCap+1, len(b), err)
	}
	if b, err := ReadObject(t.Context(), client, "b", "small.json"); err != nil || !bytes.Equal(b, small) {
		t.Fatalf("ReadObject of a small object: %q, %v", b, err)
	}
	reliability.Record(t, "security", "event log directory snapshot on S3 larger than its cap (1 GiB)", reliability.Refused,
		"refused before its body is read (its Content-Length), the error naming the key and the cap; a body that says no size is read at most to the cap")
}
