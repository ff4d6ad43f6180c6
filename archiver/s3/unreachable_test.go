package s3_test

import (
	"crypto/sha256"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/s3"
	"github.com/chatvault/chatvault/internal/miniotest"
)

// TestUnreachableErrors: once a request's attempts ran out, its error says whether S3
// failed to answer it (archiver.ErrStoreUnreachable: a refused connection, 500s), throttled
// it (archiver.ErrStoreBusy) or refused it for its own sake (neither): a seal counts the
// first two to stop trying a store that is down (archiver's breaker), and must not count
// the last.
func TestUnreachableErrors(t *testing.T) {
	srv := miniotest.Start(t)
	proxy := srv.NewFaultProxy(t)
	bucket := srv.Bucket(t, false)
	cfg := slowDownClientConfig(t, proxy)
	cfg.MaxAttempts = 2
	store := func(t *testing.T, endpoint string) *s3.Store {
		c := cfg
		c.Endpoint = endpoint
		client, err := s3.NewClient(t.Context(), c)
		if err != nil {
			t.Fatal(err)
		}
		s, err := s3.NewStore(t.Context(), client, bucket, "p", s3.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	through := store(t, proxy.URL)
	// An address nothing listens on: taken, then given back.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close()
	refused, err := s3.NewClient(t.Context(), func() s3.ClientConfig { c := cfg; c.Endpoint = closed; return c }())
	if err != nil {
		t.Fatal(err)
	}
	create := func(s archiver.Store) error {
		b := []byte("x")
		return s.Create(t.Context(), "k", strings.NewReader("x"), 1, sha256.Sum256(b), archiver.CreateOptions{})
	}
	for _, tc := range []struct {
		name              string
		fault             miniotest.Fault
		do                func() error
		unreachable, busy bool
	}{
		{"connection refused", miniotest.Pass, func() error {
			_, err := s3.NewStore(t.Context(), refused, bucket, "p", s3.Options{})
			return err
		}, true, false},
		{"500 at every attempt", miniotest.Internal, func() error { return create(through) }, true, false},
		{"503 SlowDown at every attempt", miniotest.Unavailable, func() error { return create(through) }, false, true},
		{"a key that does not exist", miniotest.Pass, func() error {
			_, err := through.Open(t.Context(), "missing")
			return err
		}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			proxy.SetFaults(func(*http.Request) miniotest.Fault { return tc.fault })
			err := tc.do()
			if err == nil {
				t.Fatal("no error")
			}
			if got := errors.Is(err, archiver.ErrStoreUnreachable); got != tc.unreachable {
				t.Errorf("errors.Is(%v, ErrStoreUnreachable) = %v, want %v", err, got, tc.unreachable)
			}
			if got := errors.Is(err, archiver.ErrStoreBusy); got != tc.busy {
				t.Errorf("errors.Is(%v, ErrStoreBusy) = %v, want %v", err, got, tc.busy)
			}
		})
	}
}
