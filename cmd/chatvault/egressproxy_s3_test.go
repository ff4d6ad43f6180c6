package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatvault/chatvault/internal/testcert"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/chatvault/chatvault/internal/miniotest"
	"github.com/chatvault/chatvault/internal/reliability"
)

// proxiedHost is the S3 endpoint's host name in the egress-proxy tests: a name only the
// test's proxy knows (it maps it to MinIO's loopback address). It ends in .onion because
// Go's resolver never sends such a name to DNS (RFC 7686): a request that bypasses the
// proxy fails on this machine without a query to its nameserver, which is not on loopback.
const proxiedHost = "minio.chatvault.onion"

// egressProxy is a forward HTTP proxy on loopback, as an egress proxy in front of S3 would
// be: it serves absolute-URI requests (HTTP_PROXY) and CONNECT tunnels (HTTPS_PROXY),
// keeps the Host header so that SigV4 signatures still verify, and counts what it
// carried. It dials only the hosts it maps, never resolving a name.
type egressProxy struct {
	srv      *httptest.Server
	hosts    map[string]string // host:port as the client names it → loopback address
	requests atomic.Int64      // absolute-URI requests forwarded
	connects atomic.Int64      // CONNECT tunnels opened
	refused  atomic.Int64      // requests for a host it does not map
	rp       *httputil.ReverseProxy
	tunnels  sync.WaitGroup
}

func newEgressProxy(t *testing.T, hosts map[string]string) *egressProxy {
	t.Helper()
	p := &egressProxy{hosts: hosts}
	p.rp = &httputil.ReverseProxy{
		// Out is In with its absolute URL and its Host; only the connection is the proxy's.
		Rewrite:   func(pr *httputil.ProxyRequest) { pr.Out.Host = pr.In.Host },
		Transport: &http.Transport{Proxy: nil, DialContext: p.dial},
		ErrorLog:  log.New(io.Discard, "", 0),
	}
	p.srv = httptest.NewServer(p)
	t.Cleanup(func() {
		p.srv.CloseClientConnections()
		p.srv.Close()
		p.tunnels.Wait()
	})
	return p
}

// URL is the proxy's address, for HTTP_PROXY or HTTPS_PROXY.
func (p *egressProxy) URL() string { return p.srv.URL }

// carried is how many requests and tunnels went through the proxy.
func (p *egressProxy) carried() int64 { return p.requests.Load() + p.connects.Load() }

func (p *egressProxy) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	to, ok := p.hosts[addr]
	if !ok {
		p.refused.Add(1)
		return nil, fmt.Errorf("egress proxy: %s is not a host of the test", addr)
	}
	var d net.Dialer
	return d.DialContext(ctx, network, to)
}

func (p *egressProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodConnect {
		p.tunnel(w, r)
		return
	}
	if !r.URL.IsAbs() {
		http.Error(w, "egress proxy: not a proxy request", http.StatusBadRequest)
		return
	}
	p.requests.Add(1)
	p.rp.ServeHTTP(w, r)
}

// tunnel opens a CONNECT tunnel to a mapped host and copies bytes both ways until either
// side closes.
func (p *egressProxy) tunnel(w http.ResponseWriter, r *http.Request) {
	p.connects.Add(1)
	up, err := p.dial(r.Context(), "tcp", r.Host)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	conn, rw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		up.Close()
		return
	}
	if _, err := io.WriteString(conn, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		conn.Close()
		up.Close()
		return
	}
	p.tunnels.Add(2)
	go func() {
		defer p.tunnels.Done()
		io.Copy(up, rw) // what the client sent, including anything already buffered
		up.Close()
	}()
	go func() {
		defer p.tunnels.Done()
		io.Copy(conn, up)
		conn.Close()
	}()
}

// proxyEnv is the environment of a chatvault process behind an egress proxy: the test's
// (with s3Env's variables), the endpoint named by proxiedHost, the proxy variables given
// and no others, and Go's own resolver (the cgo one might ask DNS for the .onion name).
func proxyEnv(t *testing.T, endpoint string, vars ...string) []string {
	t.Helper()
	for _, k := range []string{"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "REQUEST_METHOD"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	return append([]string{"CHATVAULT_S3_ENDPOINT=" + endpoint, "GODEBUG=netdns=go"}, vars...)
}

// objectCount is how many objects bucket holds under prefix.
func objectCount(t *testing.T, srv *miniotest.Server, bucket, prefix string) int {
	t.Helper()
	n := 0
	p := awss3.NewListObjectsV2Paginator(srv.Client(), &awss3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		n += len(page.Contents)
	}
	return n
}

// TestS3ThroughHTTPProxy runs chatvault as a process (Go reads the proxy variables once per
// process) against MinIO named by a host only an egress proxy knows, with HTTP_PROXY set:
// run seals the day into the bucket, verify passes and serve exports the day, all through
// the proxy. README: "Behind an egress proxy, the S3 client takes HTTPS_PROXY (HTTP_PROXY
// for an http:// endpoint)".
func TestS3ThroughHTTPProxy(t *testing.T) {
	srv := startMinIO(t) // before cleanEnv, which clears CHATVAULT_MINIO
	cleanEnv(t)
	s3Env(t, srv)
	port := strings.TrimPrefix(srv.Endpoint, "http://127.0.0.1:")
	proxy := newEgressProxy(t, map[string]string{proxiedHost + ":" + port: strings.TrimPrefix(srv.Endpoint, "http://")})
	env := proxyEnv(t, "http://"+proxiedHost+":"+port, "HTTP_PROXY="+proxy.URL())
	archive := srv.Bucket(t, true)
	tokens := t.TempDir() + "/tokens.json"
	t.Setenv("CHATVAULT_AUTH_TOKENSFILE", tokens)
	common := []string{"--eventlog", "../../testdata/eventlog", "--store", "s3://" + archive + "/cv", "--log-format", "json", "--log-level", "error"}

	if code, out, errOut := binary(t, env, append([]string{"run", "--date", "2026-11-22"}, common...)...); code != exitQuarantined {
		t.Fatalf("run through the proxy: exit %d, want %d\n%s%s", code, exitQuarantined, out, errOut)
	}
	afterRun := proxy.carried()
	if n := objectCount(t, srv, archive, "cv/"); afterRun == 0 || n == 0 {
		t.Fatalf("run: the proxy carried %d requests, the bucket holds %d objects", afterRun, n)
	}
	if code, out, errOut := binary(t, env, append([]string{"verify"}, common...)...); code != exitOK || !strings.Contains(out, "0 problems") {
		t.Fatalf("verify through the proxy: exit %d\n%s%s", code, out, errOut)
	}
	afterVerify := proxy.carried()
	if afterVerify == afterRun {
		t.Fatal("verify sent nothing through the proxy")
	}
	code, out, errOut := binary(t, env, append([]string{"token", "create", "--org", acme, "--scope", "admin:compliance:read", "--name", "t"}, common...)...)
	if code != exitOK {
		t.Fatalf("token create: exit %d %s", code, errOut)
	}
	token := strings.TrimSpace(out)

	base := serveProcess(t, env, common)
	req, _ := http.NewRequest("POST", base+"/messageevent.export", strings.NewReader(`{"date":"2026-11-22"}`))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := (&http.Client{Transport: &http.Transport{Proxy: nil}}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	golden, _ := os.ReadFile("../../testdata/golden/acme.jsonl")
	if resp.StatusCode != 200 || string(body) != string(golden) {
		t.Fatalf("serve export through the proxy: %d, %d bytes; want the golden export\n%.300s", resp.StatusCode, len(body), body)
	}
	if proxy.carried() == afterVerify {
		t.Fatal("serve sent nothing through the proxy")
	}
	if n := proxy.refused.Load(); n != 0 {
		t.Fatalf("the proxy was asked for %d unknown hosts", n)
	}
	t.Logf("the proxy carried %d requests (run %d, verify %d)", proxy.carried(), afterRun, afterVerify-afterRun)
	reliability.Record(t, "operations", "S3 endpoint reachable only through an egress proxy (HTTP_PROXY, MinIO behind a forward proxy)", reliability.Kept,
		"run seals the day, verify passes and serve exports the golden day, every S3 request through the proxy")
}

// serveProcess starts `chatvault serve` as a process with env added and returns its base
// URL; it is killed when the test ends.
func serveProcess(t *testing.T, env []string, common []string) string {
	t.Helper()
	cmd := exec.Command(crashpointBinary(t), append([]string{"serve"}, common...)...)
	cmd.Env = append(append(os.Environ(), env...), "CHATVAULT_HTTP_ADDR=127.0.0.1:0",
		"CHATVAULT_SCHEDULE_ENABLED=false", "CHATVAULT_EXPORT_TEMPDIR="+t.TempDir())
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if u, ok := strings.CutPrefix(sc.Text(), "listening on "); ok {
			go io.Copy(io.Discard, stdout)
			return u
		}
	}
	cmd.Wait()
	t.Fatalf("serve did not listen: %s", stderr.String())
	return ""
}

// TestS3NoProxyBypassesProxy sets NO_PROXY to the endpoint's host beside HTTP_PROXY: the
// proxy sees nothing, and since only the proxy knows the name, run fails with an error
// that names the host it could not resolve, exit 1, within seconds.
func TestS3NoProxyBypassesProxy(t *testing.T) {
	srv := startMinIO(t)
	cleanEnv(t)
	s3Env(t, srv)
	port := strings.TrimPrefix(srv.Endpoint, "http://127.0.0.1:")
	proxy := newEgressProxy(t, map[string]string{proxiedHost + ":" + port: strings.TrimPrefix(srv.Endpoint, "http://")})
	env := proxyEnv(t, "http://"+proxiedHost+":"+port, "HTTP_PROXY="+proxy.URL(), "NO_PROXY=.chatvault.onion")
	archive := srv.Bucket(t, true)
	common := []string{"--eventlog", "../../testdata/eventlog", "--store", "s3://" + archive + "/cv", "--log-format", "json", "--log-level", "error"}

	start := time.Now()
	code, out, errOut := binary(t, env, append([]string{"run", "--date", "2026-11-22"}, common...)...)
	took := time.Since(start)
	if code != exitFailure {
		t.Fatalf("run with NO_PROXY: exit %d, want %d\n%s%s", code, exitFailure, out, errOut)
	}
	if n := proxy.carried(); n != 0 {
		t.Fatalf("NO_PROXY covers %s, yet the proxy carried %d requests", proxiedHost, n)
	}
	// Go's resolver refuses a .onion name ("no suitable address found"); a name sent to
	// DNS and not found says "no such host". Either way the host is named.
	if !strings.Contains(errOut, proxiedHost) || !strings.Contains(errOut, "no suitable address") && !strings.Contains(errOut, "no such host") {
		t.Fatalf("the error does not say that %s could not be resolved:\n%s%s", proxiedHost, out, errOut)
	}
	if n := objectCount(t, srv, archive, "cv/"); n != 0 {
		t.Fatalf("%d objects stored", n)
	}
	t.Logf("run failed after %s:\n%s", took, errOut)
	reliability.Record(t, "operations", "NO_PROXY covers the S3 endpoint's host beside HTTP_PROXY (the name resolves only through the proxy)", reliability.CleanFailure,
		"nothing goes to the proxy; run exits 1 naming the host it could not resolve, nothing stored")
}

// TestS3ProxyDown points HTTP_PROXY at a closed port: run fails, exit 1, with an error
// that names the proxy, in bounded time (not a hang, not minutes of retries per request).
func TestS3ProxyDown(t *testing.T) {
	srv := startMinIO(t)
	cleanEnv(t)
	s3Env(t, srv)
	// The real backoff, not s3Env's 1ms: what an operator would wait for.
	t.Setenv("CHATVAULT_S3_MAXBACKOFF", "")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := l.Addr().String()
	l.Close()
	port := strings.TrimPrefix(srv.Endpoint, "http://127.0.0.1:")
	env := proxyEnv(t, "http://"+proxiedHost+":"+port, "HTTP_PROXY=http://"+down)
	archive := srv.Bucket(t, true)
	common := []string{"--eventlog", "../../testdata/eventlog", "--store", "s3://" + archive + "/cv", "--log-format", "json", "--log-level", "error"}

	start := time.Now()
	code, out, errOut := binary(t, env, append([]string{"run", "--date", "2026-11-22"}, common...)...)
	took := time.Since(start)
	if code != exitFailure {
		t.Fatalf("run with the proxy down: exit %d, want %d\n%s%s", code, exitFailure, out, errOut)
	}
	if !strings.Contains(errOut, "proxyconnect") || !strings.Contains(errOut, down) {
		t.Fatalf("the error does not name the proxy %s:\n%s%s", down, out, errOut)
	}
	// 10 attempts of the first request, backing off up to 25.5s in all (README, Running
	// against MinIO and AWS); a minute means a loop or a hang.
	if took > time.Minute {
		t.Fatalf("run took %s to fail", took)
	}
	if n := objectCount(t, srv, archive, "cv/"); n != 0 {
		t.Fatalf("%d objects stored", n)
	}
	t.Logf("run failed after %s:\n%s", took, errOut)
	reliability.Record(t, "fault", "HTTP_PROXY names an egress proxy that is down (connection refused)", reliability.CleanFailure,
		"run exits 1 after the SDK's retries of its first request (under a minute, real backoff), the error naming the proxy's address (proxyconnect … connection refused); nothing stored")
}

// TestS3LoopbackEndpointNotProxied sets HTTP_PROXY with MinIO's own loopback endpoint:
// Go never proxies a loopback host, so the proxy sees nothing and run seals the day.
func TestS3LoopbackEndpointNotProxied(t *testing.T) {
	srv := startMinIO(t)
	cleanEnv(t)
	s3Env(t, srv)
	proxy := newEgressProxy(t, map[string]string{})
	env := proxyEnv(t, srv.Endpoint, "HTTP_PROXY="+proxy.URL(), "HTTPS_PROXY="+proxy.URL())
	archive := srv.Bucket(t, true)
	common := []string{"--eventlog", "../../testdata/eventlog", "--store", "s3://" + archive + "/cv", "--log-format", "json", "--log-level", "error"}
	if code, out, errOut := binary(t, env, append([]string{"run", "--date", "2026-11-22"}, common...)...); code != exitQuarantined {
		t.Fatalf("run: exit %d, want %d\n%s%s", code, exitQuarantined, out, errOut)
	}
	if n := proxy.carried(); n != 0 {
		t.Fatalf("the loopback endpoint %s went through the proxy (%d requests)", srv.Endpoint, n)
	}
	if n := objectCount(t, srv, archive, "cv/"); n == 0 {
		t.Fatal("nothing stored")
	}
	reliability.Record(t, "operations", "HTTP_PROXY and HTTPS_PROXY set, S3 endpoint on loopback", reliability.Kept,
		"the loopback endpoint is reached directly (the proxy sees nothing) and run seals the day")
}

// TestS3ThroughHTTPSProxy puts MinIO behind a TLS front with a certificate for proxiedHost
// from a CA of the test, trusted through AWS_CA_BUNDLE, and sets HTTPS_PROXY: run seals the
// day and verify passes through CONNECT tunnels of the proxy. With HTTP_PROXY alone, an
// https:// endpoint is not proxied (Go's rule), so the name does not resolve.
func TestS3ThroughHTTPSProxy(t *testing.T) {
	srv := startMinIO(t)
	cleanEnv(t)
	s3Env(t, srv)
	caFile, cert := selfSignedCert(t, proxiedHost)
	minio := strings.TrimPrefix(srv.Endpoint, "http://")
	front := httptest.NewUnstartedServer(&httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme, pr.Out.URL.Host = "http", minio
			pr.Out.Host = pr.In.Host // signed by SigV4
		},
		Transport: &http.Transport{Proxy: nil},
		ErrorLog:  log.New(io.Discard, "", 0),
	})
	front.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	front.StartTLS()
	t.Cleanup(front.Close)
	port := strings.TrimPrefix(front.URL, "https://127.0.0.1:")
	endpoint := "https://" + proxiedHost + ":" + port
	proxy := newEgressProxy(t, map[string]string{proxiedHost + ":" + port: strings.TrimPrefix(front.URL, "https://")})
	archive := srv.Bucket(t, true)
	common := []string{"--eventlog", "../../testdata/eventlog", "--store", "s3://" + archive + "/cv", "--log-format", "json", "--log-level", "error"}

	env := proxyEnv(t, endpoint, "HTTP_PROXY="+proxy.URL(), "AWS_CA_BUNDLE="+caFile)
	code, out, errOut := binary(t, env, append([]string{"run", "--date", "2026-11-22"}, common...)...)
	if code != exitFailure || proxy.carried() != 0 || !strings.Contains(errOut, proxiedHost) {
		t.Fatalf("https endpoint with HTTP_PROXY only: exit %d (want %d), %d requests through the proxy (want 0)\n%s%s",
			code, exitFailure, proxy.carried(), out, errOut)
	}

	env = proxyEnv(t, endpoint, "HTTPS_PROXY="+proxy.URL(), "AWS_CA_BUNDLE="+caFile)
	if code, out, errOut := binary(t, env, append([]string{"run", "--date", "2026-11-22"}, common...)...); code != exitQuarantined {
		t.Fatalf("run through HTTPS_PROXY: exit %d, want %d\n%s%s", code, exitQuarantined, out, errOut)
	}
	if n := objectCount(t, srv, archive, "cv/"); proxy.connects.Load() == 0 || n == 0 {
		t.Fatalf("run: the proxy opened %d tunnels, the bucket holds %d objects", proxy.connects.Load(), n)
	}
	afterRun := proxy.connects.Load()
	if code, out, errOut := binary(t, env, append([]string{"verify"}, common...)...); code != exitOK || !strings.Contains(out, "0 problems") {
		t.Fatalf("verify through HTTPS_PROXY: exit %d\n%s%s", code, out, errOut)
	}
	if proxy.connects.Load() == afterRun || proxy.requests.Load() != 0 || proxy.refused.Load() != 0 {
		t.Fatalf("verify: %d tunnels after run's %d, %d plain requests, %d refused", proxy.connects.Load(), afterRun, proxy.requests.Load(), proxy.refused.Load())
	}
	reliability.Record(t, "operations", "https:// S3 endpoint reachable only through an egress proxy (HTTPS_PROXY, CONNECT; CA from AWS_CA_BUNDLE)", reliability.Kept,
		"run seals the day and verify passes through the proxy's tunnels; with HTTP_PROXY alone the endpoint is not proxied")
}

// selfSignedCert makes a certificate for host that is its own CA, writes it to a PEM file
// for AWS_CA_BUNDLE, and returns the file and the key pair.
func selfSignedCert(t *testing.T, host string) (string, tls.Certificate) {
	t.Helper()
	c := testcert.New(t, host, nil, []string{host}, 24*time.Hour)
	file := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(file, c.PEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	return file, c.TLS()
}

// TestS3InstanceRoleBehindProxy takes S3's credentials from the instance role (a stand-in
// EC2 metadata service on loopback, AWS_EC2_METADATA_SERVICE_ENDPOINT) with HTTP_PROXY and
// HTTPS_PROXY set: the credential chain reads the role from the metadata service, and run
// seals the day through the proxy, which is asked for nothing but S3.
// TestMetadataNeverProxied (archiver/s3) shows that the real metadata addresses, which a
// test here must not dial, are never handed to the proxy.
func TestS3InstanceRoleBehindProxy(t *testing.T) {
	srv := startMinIO(t)
	cleanEnv(t)
	s3Env(t, srv)
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_EC2_METADATA_DISABLED"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	var imdsRequests atomic.Int64
	imds := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		imdsRequests.Add(1)
		switch {
		case r.Method == http.MethodPut && r.URL.Path == "/latest/api/token":
			w.Header().Set("X-Aws-Ec2-Metadata-Token-Ttl-Seconds", "21600")
			io.WriteString(w, "imds-token")
		case r.Header.Get("X-Aws-Ec2-Metadata-Token") != "imds-token":
			http.Error(w, "no token", http.StatusUnauthorized)
		case r.URL.Path == "/latest/meta-data/iam/security-credentials/":
			io.WriteString(w, "chatvault-role")
		case r.URL.Path == "/latest/meta-data/iam/security-credentials/chatvault-role":
			fmt.Fprintf(w, `{"Code":"Success","Type":"AWS-HMAC","AccessKeyId":%q,"SecretAccessKey":%q,"Token":"","Expiration":%q}`,
				miniotest.AccessKey, miniotest.SecretKey, time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(imds.Close)
	port := strings.TrimPrefix(srv.Endpoint, "http://127.0.0.1:")
	proxy := newEgressProxy(t, map[string]string{proxiedHost + ":" + port: strings.TrimPrefix(srv.Endpoint, "http://")})
	env := proxyEnv(t, "http://"+proxiedHost+":"+port, "HTTP_PROXY="+proxy.URL(), "HTTPS_PROXY="+proxy.URL(),
		"AWS_EC2_METADATA_SERVICE_ENDPOINT="+imds.URL)
	archive := srv.Bucket(t, true)
	common := []string{"--eventlog", "../../testdata/eventlog", "--store", "s3://" + archive + "/cv", "--log-format", "json", "--log-level", "error"}
	if code, out, errOut := binary(t, env, append([]string{"run", "--date", "2026-11-22"}, common...)...); code != exitQuarantined {
		t.Fatalf("run with the instance role's credentials: exit %d, want %d\n%s%s", code, exitQuarantined, out, errOut)
	}
	if imdsRequests.Load() == 0 || proxy.carried() == 0 || proxy.refused.Load() != 0 || objectCount(t, srv, archive, "cv/") == 0 {
		t.Fatalf("metadata service asked %d times, proxy carried %d requests and was asked for %d unknown hosts; %d objects stored",
			imdsRequests.Load(), proxy.carried(), proxy.refused.Load(), objectCount(t, srv, archive, "cv/"))
	}
}
