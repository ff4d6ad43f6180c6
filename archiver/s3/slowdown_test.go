package s3_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/s3"
	"github.com/chatvault/chatvault/internal/miniotest"
	"github.com/chatvault/chatvault/internal/reliability"
)

// slowDownClientConfig is the client of NewClient (the one chatvault runs with) pointed at
// proxy, with a tiny maximum backoff so that riding out a burst takes no wall-clock time:
// the tests count attempts at the proxy, they do not time them.
func slowDownClientConfig(t *testing.T, proxy *miniotest.FaultProxy) s3.ClientConfig {
	t.Setenv("AWS_ACCESS_KEY_ID", miniotest.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", miniotest.SecretKey)
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	return s3.ClientConfig{Endpoint: proxy.URL, Region: miniotest.Region, PathStyle: true, MaxBackoff: 1}
}

// TestSlowDownBurst answers a burst of consecutive 503 SlowDown (S3's throttling answer,
// which asks the client to back off) to each create and each read. The SDK's standard
// retryer gave up after 3 attempts, about 79 ms in all for 500s, so a throttling burst of
// a fraction of a second failed an organization's day; its retry token bucket also ran
// dry after about 25 such bursts and then failed requests without trying again. The
// client now makes s3.DefaultMaxAttempts attempts with a backoff up to 20s, and no
// bucket: a burst shorter than that is ridden out, a longer one fails naming SlowDown.
func TestSlowDownBurst(t *testing.T) {
	srv := miniotest.Start(t)
	proxy := srv.NewFaultProxy(t)
	bucket := srv.Bucket(t, true)
	cfg := slowDownClientConfig(t, proxy)
	var warned countingHandler
	cfg.Logger = slog.New(&warned)
	var counted atomic.Int64
	cfg.OnThrottle = func() { counted.Add(1) }
	c, err := s3.NewClient(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	s, err := s3.NewStore(t.Context(), c, bucket, "p", s3.Options{PartSize: s3.MinPartSize, Concurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
	// burst answers the first n requests of method to each object key SlowDown.
	burst := func(method string, n int) {
		seen := map[string]int{}
		proxy.SetFaults(func(r *http.Request) miniotest.Fault {
			if r.Method != method || r.URL.Query().Has("list-type") || r.URL.Query().Has("uploads") {
				return miniotest.Pass
			}
			if seen[r.URL.Path]++; seen[r.URL.Path] <= n {
				return miniotest.Unavailable
			}
			return miniotest.Pass
		})
	}
	const n = s3.DefaultMaxAttempts - 1 // the longest burst a request rides out
	data := bytes.Repeat([]byte("throttled\n"), 1000)
	sum := sha256.Sum256(data)

	t.Run("create", func(t *testing.T) {
		// Thirty objects, each through its own burst: 30 x (n-1) failed retries, more than
		// the SDK's token bucket (500 tokens, 5 a retry) allowed.
		before := proxy.Count(miniotest.Unavailable)
		burst(http.MethodPut, n)
		defer proxy.SetFaults(nil)
		for i := range 30 {
			key := fmt.Sprintf("burst/%02d", i)
			if err := s.Create(t.Context(), key, bytes.NewReader(data), int64(len(data)), sum, archiver.CreateOptions{}); err != nil {
				t.Fatalf("Create(%s) through %d SlowDowns (%d 503s answered in all): %v", key, n, proxy.Count(miniotest.Unavailable)-before, err)
			}
		}
		if got := proxy.Count(miniotest.Unavailable) - before; got != 30*n {
			t.Fatalf("%d SlowDowns answered, want %d", got, 30*n)
		}
		// Every throttled retry is logged and counted (serve's metric), so that an
		// operator sees why a night was slow.
		if got, metric := warned.n.Load(), counted.Load(); got != 30*n || metric != 30*n {
			t.Fatalf("%d throttled retries logged and %d counted, want %d", got, metric, 30*n)
		}
	})
	t.Run("read", func(t *testing.T) {
		before := proxy.Count(miniotest.Unavailable)
		burst(http.MethodGet, n)
		defer proxy.SetFaults(nil)
		for i := range 30 {
			key := fmt.Sprintf("burst/%02d", i)
			rc, err := s.Open(t.Context(), key)
			if err != nil {
				t.Fatalf("Open(%s) through %d SlowDowns: %v", key, n, err)
			}
			got, err := io.ReadAll(rc)
			rc.Close()
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("read %s through SlowDowns: %d bytes, %v", key, len(got), err)
			}
		}
		if got := proxy.Count(miniotest.Unavailable) - before; got != 30*n {
			t.Fatalf("%d SlowDowns answered, want %d", got, 30*n)
		}
	})
	t.Run("past the bound", func(t *testing.T) {
		before := proxy.Count(miniotest.Unavailable)
		burst(http.MethodPut, s3.DefaultMaxAttempts)
		defer proxy.SetFaults(nil)
		err := s.Create(t.Context(), "burst/long", bytes.NewReader(data), int64(len(data)), sum, archiver.CreateOptions{})
		if err == nil || !strings.Contains(err.Error(), "SlowDown") {
			t.Fatalf("Create through %d SlowDowns = %v, want an error naming SlowDown", s3.DefaultMaxAttempts, err)
		}
		if got := proxy.Count(miniotest.Unavailable) - before; got != s3.DefaultMaxAttempts {
			t.Fatalf("%d attempts before failing, want %d", got, s3.DefaultMaxAttempts)
		}
		if rc, err := s.Open(t.Context(), "burst/long"); err == nil {
			rc.Close()
			t.Fatal("the object exists after a failed create")
		}
	})
	if !t.Failed() {
		reliability.Record(t, "fault", "S3 store: bursts of 503 SlowDown (throttling) on creates and reads, 30 objects in a row",
			reliability.Recovered, "each request backs off and retries up to s3.maxAttempts (10) attempts, backoff up to 20s, no client-side retry quota; the SDK's default gave up after 3 attempts (~79ms for 500s) and its token bucket failed requests untried after ~25 bursts")
		reliability.Record(t, "fault", "S3 store: 503 SlowDown lasting past s3.maxAttempts attempts",
			reliability.CleanFailure, "the create fails naming SlowDown after exactly s3.maxAttempts attempts; nothing is stored")
	}
}

// countingHandler counts the warnings logged.
type countingHandler struct{ n atomic.Int64 }

func (h *countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countingHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Level == slog.LevelWarn && strings.Contains(r.Message, "throttled") {
		h.n.Add(1)
	}
	return nil
}
func (h *countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countingHandler) WithGroup(string) slog.Handler      { return h }

// TestWithMaxAttempts reads an object that S3 keeps answering with an error, under
// s3.WithMaxAttempts (what serve puts its API requests under: s3.apiMaxAttempts) or not:
// the proxy counts each read's attempts. A read S3 throttled to its last attempt matches
// archiver.ErrStoreBusy (the API's 503 unavailable), a read that failed otherwise does not.
func TestWithMaxAttempts(t *testing.T) {
	srv := miniotest.Start(t)
	proxy := srv.NewFaultProxy(t)
	bucket := srv.Bucket(t, false)
	c, err := s3.NewClient(t.Context(), slowDownClientConfig(t, proxy))
	if err != nil {
		t.Fatal(err)
	}
	s, err := s3.NewStore(t.Context(), c, bucket, "p", s3.Options{PartSize: s3.MinPartSize, Concurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		bound    int // 0: none
		fault    miniotest.Fault
		attempts int
		busy     bool
	}{
		{"throttled, unbounded", 0, miniotest.Unavailable, s3.DefaultMaxAttempts, true},
		{"throttled, 3 attempts", 3, miniotest.Unavailable, 3, true},
		{"throttled, 1 attempt", 1, miniotest.Unavailable, 1, true},
		{"throttled, bound above the client's", 50, miniotest.Unavailable, s3.DefaultMaxAttempts, true},
		{"500s, 3 attempts", 3, miniotest.Internal, 3, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var n atomic.Int64
			proxy.SetFaults(func(r *http.Request) miniotest.Fault {
				if r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, "/p/k.json") {
					return miniotest.Pass
				}
				n.Add(1)
				return tc.fault
			})
			defer proxy.SetFaults(nil)
			ctx := t.Context()
			if tc.bound > 0 {
				ctx = s3.WithMaxAttempts(ctx, tc.bound)
			}
			rc, err := s.Open(ctx, "k.json")
			if err == nil {
				rc.Close()
				t.Fatal("read of an object S3 refuses: no error")
			}
			if got := int(n.Load()); got != tc.attempts || errors.Is(err, archiver.ErrStoreBusy) != tc.busy {
				t.Fatalf("%d attempts, busy %v (%v); want %d attempts, busy %v", got, errors.Is(err, archiver.ErrStoreBusy), err, tc.attempts, tc.busy)
			}
		})
	}
}
