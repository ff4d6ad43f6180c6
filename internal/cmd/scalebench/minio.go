package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
)

const (
	minioUser   = "scalebench"
	minioSecret = "scalebench-secret"
	bucket      = "scalebench"
)

// minio is a loopback MinIO server with a counting proxy in front of it; chatvault talks
// to the proxy, so each command's S3 requests can be counted by kind.
type minio struct {
	cmd   *exec.Cmd
	srv   *http.Server
	proxy *countingProxy
	url   string // the proxy's endpoint
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startMinIO starts the server binary on a loopback port with its data under dir, waits
// until it answers, creates the bucket (with Object Lock, as production buckets have) and
// starts the counting proxy.
func startMinIO(ctx context.Context, binary, dir string) (*minio, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	data := filepath.Join(dir, "minio")
	if err := os.MkdirAll(data, 0o700); err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "minio.log"))
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cmd := exec.Command(binary, "server", "--quiet", "--address", addr, data)
	cmd.Env = append(os.Environ(), "MINIO_ROOT_USER="+minioUser, "MINIO_ROOT_PASSWORD="+minioSecret, "MINIO_BROWSER=off")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	m := &minio{cmd: cmd}
	endpoint := "http://" + addr
	client := awss3.New(awss3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(minioUser, minioSecret, ""),
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		_, err = client.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String(bucket), ObjectLockEnabledForBucket: aws.Bool(true)})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			m.stop()
			return nil, fmt.Errorf("minio did not start within 60 s (see %s): %v", logf.Name(), err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	target, _ := url.Parse(endpoint)
	rp := httputil.NewSingleHostReverseProxy(target)
	// A client that gives up (serve stopping its verification at SIGTERM) is not news.
	rp.ErrorLog = log.New(io.Discard, "", 0)
	m.proxy = &countingProxy{next: rp, n: map[string]int{}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		m.stop()
		return nil, err
	}
	m.srv = &http.Server{Handler: m.proxy, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = m.srv.Serve(l) }()
	m.url = "http://" + l.Addr().String()
	return m, nil
}

func (m *minio) stop() {
	if m.srv != nil {
		_ = m.srv.Close()
	}
	if m.cmd.Process != nil {
		_ = m.cmd.Process.Kill()
		_ = m.cmd.Wait()
	}
}

// env is what a chatvault child needs to reach the bucket through the proxy.
func (m *minio) env() []string {
	return []string{
		"AWS_ACCESS_KEY_ID=" + minioUser, "AWS_SECRET_ACCESS_KEY=" + minioSecret,
		"AWS_EC2_METADATA_DISABLED=true", "AWS_REGION=us-east-1",
		"CHATVAULT_S3_ENDPOINT=" + m.url, "CHATVAULT_S3_PATHSTYLE=true",
	}
}

// countingProxy forwards to MinIO and counts requests by kind.
type countingProxy struct {
	next http.Handler
	mu   sync.Mutex
	n    map[string]int
	keys []string // each request's path and listing prefix, for countMatching
}

func (p *countingProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	k := requestKind(r.Method, r.URL)
	p.mu.Lock()
	p.n[k]++
	p.keys = append(p.keys, r.URL.Path+" "+r.URL.Query().Get("prefix"))
	p.mu.Unlock()
	p.next.ServeHTTP(w, r)
}

// requestKind names an S3 request: LIST for a bucket listing (path-style, so the path is
// the bucket alone), otherwise the HTTP method.
func requestKind(method string, u *url.URL) string {
	if method != http.MethodGet || strings.Count(strings.Trim(u.Path, "/"), "/") > 0 {
		return method
	}
	q := u.Query()
	if len(q) == 0 || q.Has("list-type") || q.Has("prefix") || q.Has("delimiter") || q.Has("continuation-token") {
		return "LIST"
	}
	return method
}

func (p *countingProxy) reset() {
	p.mu.Lock()
	p.n = map[string]int{}
	p.keys = nil
	p.mu.Unlock()
}

// countMatching counts the requests since the last reset whose key or listing prefix
// contains sub.
func (p *countingProxy) countMatching(sub string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, k := range p.keys {
		if strings.Contains(k, sub) {
			n++
		}
	}
	return n
}

func (p *countingProxy) counts() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]int, len(p.n))
	for k, v := range p.n {
		out[k] = v
	}
	return out
}
