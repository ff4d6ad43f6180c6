package miniotest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// EnvVar names the variable holding the MinIO server binary's path.
const EnvVar = "CHATVAULT_MINIO"

// Credentials of every test server. They are throwaway values for a loopback server.
const (
	AccessKey = "chatvault-test"
	SecretKey = "chatvault-test-secret"
	Region    = "us-east-1"
)

// startTimeout bounds how long a server may take to report itself live. A cold start on a
// busy two-core CI box takes a few seconds; a minute means something is broken.
const startTimeout = time.Minute

// Server is a running MinIO.
type Server struct {
	// Endpoint is the server's base URL, http://127.0.0.1:<port>.
	Endpoint string

	buckets atomic.Int64
}

// Start starts a MinIO server on a random loopback port with a data folder in t.TempDir,
// and stops it when t's test ends. It fails t when the server cannot be started, and skips
// it under -short.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := os.Getenv(EnvVar)
	if bin == "" {
		if testing.Short() {
			t.Skipf("miniotest: %s is not set; skipped under -short", EnvVar)
		}
		t.Fatalf("miniotest: %s is not set: run the tests with `make test`, or set it to a MinIO server binary (scripts/minio.sh builds one and prints its path)", EnvVar)
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("miniotest: %s: %v", EnvVar, err)
	}
	// A port taken between the probe and MinIO's bind makes MinIO exit; try a few ports.
	var err error
	for range 3 {
		var s *Server
		if s, err = start(t, bin); err == nil {
			return s
		}
	}
	t.Fatalf("miniotest: start MinIO: %v", err)
	return nil
}

func start(t testing.TB, bin string) (*Server, error) {
	s, stop, err := launch(bin, t.TempDir())
	if err != nil {
		return nil, err
	}
	t.Cleanup(stop)
	return s, nil
}

// StartShared starts a server that is not bound to one test, for a package whose tests
// share one (each in buckets of its own, from Bucket) instead of starting one apiece: its
// TestMain calls stop once the tests have run. bin is the server binary (the value of
// EnvVar). The data folder is a new temporary folder, removed by stop.
func StartShared(bin string) (s *Server, stop func(), err error) {
	if _, err := os.Stat(bin); err != nil {
		return nil, nil, fmt.Errorf("miniotest: %s: %w", EnvVar, err)
	}
	// As Start: a port taken between the probe and MinIO's bind makes MinIO exit.
	for range 3 {
		var data string
		if data, err = os.MkdirTemp("", "miniotest-"); err != nil {
			return nil, nil, err
		}
		var kill func()
		if s, kill, err = launch(bin, data); err == nil {
			return s, func() { kill(); os.RemoveAll(data) }, nil
		}
		os.RemoveAll(data)
	}
	return nil, nil, fmt.Errorf("miniotest: start MinIO: %w", err)
}

// launch starts MinIO on data and waits until it is live; stop kills it.
func launch(bin, data string) (s *Server, stop func(), err error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, nil, err
	}
	consoleAddr, err := freeAddr()
	if err != nil {
		return nil, nil, err
	}
	out := new(lockedBuffer)
	cmd := exec.Command(bin, "server", "--quiet", "--address", addr, "--console-address", consoleAddr, data)
	cmd.Env = append(os.Environ(),
		"MINIO_ROOT_USER="+AccessKey,
		"MINIO_ROOT_PASSWORD="+SecretKey,
		"MINIO_BROWSER=off",
		"MINIO_UPDATE=off",
		"MINIO_CI_CD=1", // no colours or prompts on a non-terminal
	)
	cmd.Stdout = out
	cmd.Stderr = out
	if err := cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("run %s: %w", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop = func() {
		_ = cmd.Process.Kill()
		<-exited
	}
	s = &Server{Endpoint: "http://" + addr}
	if err := s.waitLive(exited); err != nil {
		stop()
		return nil, nil, fmt.Errorf("%w; server output:\n%s", err, out.String())
	}
	return s, stop, nil
}

// waitLive polls the liveness endpoint until it answers 200, then the S3 API until it
// answers a request (MinIO is live a moment before it has initialised its storage, and
// answers 503 meanwhile); it gives up when the process exits or startTimeout passes.
func (s *Server) waitLive(exited <-chan error) error {
	deadline := time.After(startTimeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	client := &http.Client{Timeout: time.Second}
	api := s3.New(s3.Options{
		Region: Region, BaseEndpoint: aws.String(s.Endpoint), UsePathStyle: true,
		Credentials:      credentials.NewStaticCredentialsProvider(AccessKey, SecretKey, ""),
		RetryMaxAttempts: 1,
	})
	live := false
	for {
		if !live {
			resp, err := client.Get(s.Endpoint + "/minio/health/live")
			if err == nil {
				resp.Body.Close()
				live = resp.StatusCode == http.StatusOK
			}
		}
		if live {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_, err := api.ListBuckets(ctx, &s3.ListBucketsInput{})
			cancel()
			if err == nil {
				return nil
			}
		}
		select {
		case err := <-exited:
			return fmt.Errorf("MinIO exited before it was live: %v", err)
		case <-deadline:
			return fmt.Errorf("MinIO not live after %s", startTimeout)
		case <-tick.C:
		}
	}
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// Client returns an SDK client for the server, path-style, with static credentials.
func (s *Server) Client() *s3.Client {
	return s.ClientFor(s.Endpoint)
}

// ClientFor returns a client like Client's that sends its requests to endpoint instead, for
// a proxy in front of the server.
func (s *Server) ClientFor(endpoint string) *s3.Client {
	return s3.New(s3.Options{
		Region:       Region,
		BaseEndpoint: aws.String(endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(AccessKey, SecretKey, ""),
		// As s3.NewClient: checksums only where the caller sets them or S3 requires one.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
}

// Bucket creates a new bucket, with Object Lock enabled when lock is true, and returns its
// name. Names are unique within the server.
func (s *Server) Bucket(t testing.TB, lock bool) string {
	t.Helper()
	var suffix [4]byte
	_, _ = rand.Read(suffix[:])
	name := fmt.Sprintf("test-%d-%s", s.buckets.Add(1), hex.EncodeToString(suffix[:]))
	_, err := s.Client().CreateBucket(context.Background(), &s3.CreateBucketInput{
		Bucket:                     aws.String(name),
		ObjectLockEnabledForBucket: aws.Bool(lock),
	})
	if err != nil {
		t.Fatalf("miniotest: create bucket %s: %v", name, err)
	}
	return name
}

// Upload puts every file below dir into bucket under prefix, as a producer of the event
// log would.
func (s *Server) Upload(t testing.TB, bucket, prefix, dir string) {
	t.Helper()
	c := s.Client()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = c.PutObject(context.Background(), &s3.PutObjectInput{
			Bucket: aws.String(bucket), Key: aws.String(path.Join(prefix, filepath.ToSlash(rel))), Body: f,
		})
		return err
	})
	if err != nil {
		t.Fatalf("miniotest: upload %s: %v", dir, err)
	}
}

// lockedBuffer collects the server's output; exec writes to it from its own goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.TrimSpace(l.b.String())
}
