package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatvault/chatvault/internal/testcert"

	"github.com/chatvault/chatvault/archiver/httpapi"
	"github.com/chatvault/chatvault/internal/miniotest"
	"github.com/chatvault/chatvault/internal/reliability"
)

// syncBuffer is a bytes.Buffer that serve's logger and the test may use at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// serving is a `chatvault serve` running in the test.
type serving struct {
	addr string
	logs *syncBuffer
	stop func() int // stops serve and returns its exit code
}

// startServe runs `chatvault serve` with args (the environment set by the caller) and
// returns once it listens.
func startServe(t *testing.T, args ...string) *serving {
	t.Helper()
	addr := make(chan string, 1)
	serveHooks.listening = func(a string) { addr <- a }
	serveHooks.reload = make(chan chan error)
	t.Cleanup(func() { serveHooks.listening, serveHooks.reload = nil, nil })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	s := &serving{logs: &syncBuffer{}}
	go func() { done <- Main(ctx, append([]string{"serve"}, args...), io.Discard, s.logs) }()
	select {
	case s.addr = <-addr:
	case code := <-done:
		cancel()
		t.Fatalf("serve exited with %d before listening:\n%s", code, s.logs)
	}
	var once sync.Once
	code := 0
	s.stop = func() int {
		once.Do(func() { cancel(); code = <-done })
		return code
	}
	t.Cleanup(func() { s.stop() })
	return s
}

// sealedSample seals the sample day into a fresh folder store, mints a token of acme and
// returns the common arguments and the token.
func sealedSample(t *testing.T) ([]string, string) {
	t.Helper()
	t.Setenv("CHATVAULT_AUTH_TOKENSFILE", filepath.Join(t.TempDir(), "tokens.json"))
	t.Setenv("CHATVAULT_HTTP_ADDR", "127.0.0.1:0")
	t.Setenv("CHATVAULT_SCHEDULE_ENABLED", "false")
	common := []string{"--eventlog", "../../testdata/eventlog", "--store", t.TempDir(), "--log-format", "json"}
	if code, _, errOut := chatvault(t, append([]string{"run", "--date", "2026-11-22"}, common...)...); code != exitQuarantined {
		t.Fatalf("run: exit %d\n%s", code, errOut)
	}
	code, out, errOut := chatvault(t, append([]string{"token", "create", "--org", acme, "--scope", "admin:compliance:read"}, common...)...)
	if code != exitOK {
		t.Fatalf("token create: %d %s", code, errOut)
	}
	return common, strings.TrimSpace(out)
}

// readUntilClosed reads conn until the server closes it, and fails the test if it does
// not within a minute (a safety net: the timeouts under test are far shorter).
func readUntilClosed(t *testing.T, conn net.Conn) []byte {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(time.Minute))
	b, err := io.ReadAll(conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the server kept the connection open (read %q)", b)
	}
	return b
}

// TestServeSlowAndOversizedClients runs the real serve with short timeouts from the
// configuration and checks that it cuts off clients that trickle headers or bodies or sit
// idle, and refuses oversized headers and bodies.
func TestServeSlowAndOversizedClients(t *testing.T) {
	cleanEnv(t)
	common, token := sealedSample(t)
	t.Setenv("CHATVAULT_HTTP_READHEADERTIMEOUT", "300ms")
	t.Setenv("CHATVAULT_HTTP_READTIMEOUT", "1s")
	t.Setenv("CHATVAULT_HTTP_IDLETIMEOUT", "300ms")
	s := startServe(t, common...)

	t.Run("half a header then silence", func(t *testing.T) {
		conn, err := net.Dial("tcp", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := io.WriteString(conn, "POST /messageevent.export HTTP/1.1\r\nHost: chatvault\r\nAuthorization: Bea"); err != nil {
			t.Fatal(err)
		}
		if b := readUntilClosed(t, conn); len(b) != 0 && !bytes.HasPrefix(b, []byte("HTTP/1.1 408")) {
			t.Fatalf("got %q, want the connection closed", b)
		}
		reliability.Record(t, "security", "slow-loris client (half a header, then silence)", reliability.Refused,
			"connection closed after http.readHeaderTimeout")
	})

	t.Run("half a body then silence", func(t *testing.T) {
		conn, err := net.Dial("tcp", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		req := "POST /messageevent.export HTTP/1.1\r\nHost: chatvault\r\nAuthorization: Bearer " + token +
			"\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"date\":"
		if _, err := io.WriteString(conn, req); err != nil {
			t.Fatal(err)
		}
		b := readUntilClosed(t, conn)
		resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(b)), nil)
		if err != nil {
			t.Fatalf("no response before the close: %q (%v)", b, err)
		}
		body, _ := io.ReadAll(resp.Body)
		wantError(t, resp, body, 400, "invalid_request")
		reliability.Record(t, "security", "slow client (half a body, then silence)", reliability.Refused,
			"400 invalid_request after http.readTimeout, connection closed")
	})

	t.Run("idle keep-alive connection", func(t *testing.T) {
		conn, err := net.Dial("tcp", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: chatvault\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != 200 || resp.Close {
			t.Fatalf("healthz: %v %v", resp, err)
		}
		io.ReadAll(resp.Body)
		conn.SetReadDeadline(time.Now().Add(time.Minute))
		rest, err := io.ReadAll(br)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatal("the server kept an idle connection open")
		}
		if len(rest) != 0 {
			t.Fatalf("unexpected bytes on the idle connection: %q", rest)
		}
		reliability.Record(t, "security", "idle keep-alive connection held open", reliability.Refused,
			"closed after http.idleTimeout")
	})

	t.Run("oversized header", func(t *testing.T) {
		// On its own connection, read while it is written: the server answers 431 as soon
		// as the headers pass its limit and resets the connection half a second later
		// (net/http's rstAvoidanceDelay). A client that reads only once it has written
		// everything, as http.Client does, lost the answer to that reset on a loaded machine.
		conn, err := net.Dial("tcp", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		go func() {
			fmt.Fprintf(conn, "POST /messageevent.export HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nX-Padding: %s\r\nContent-Length: 21\r\n\r\n{\"date\":\"2026-11-22\"}",
				s.addr, token, strings.Repeat("a", 64<<10))
		}()
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Fatalf("status %d, want 431: %s", resp.StatusCode, body)
		}
		reliability.Record(t, "security", "64 KiB request header", reliability.Refused, "431 (headers over 16 KiB)")
	})

	t.Run("oversized body", func(t *testing.T) {
		big := `{"date":"2026-11-22","pad":"` + strings.Repeat("a", 8<<20) + `"}`
		req, _ := http.NewRequest("POST", "http://"+s.addr+"/messageevent.export", strings.NewReader(big))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		wantError(t, resp, body, 400, "invalid_request")
		if !strings.Contains(string(body), "exceeds") {
			t.Errorf("the message does not say the body is too large: %s", body)
		}
		reliability.Record(t, "security", "8 MiB request body", reliability.Refused, "400 invalid_request (bodies over 4 KiB)")
	})

	// Nothing above hurt the server.
	resp, err := http.Get("http://" + s.addr + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz after the attacks: %v %v", resp, err)
	}
	resp.Body.Close()
	if code := s.stop(); code != exitOK {
		t.Fatalf("serve exit %d:\n%s", code, s.logs)
	}
}

// selfSigned writes a self-signed certificate for 127.0.0.1 and its key as PEM into dir
// (as tls.crt and tls.key) and returns the certificate.
func selfSigned(t *testing.T, dir, name string) *x509.Certificate {
	t.Helper()
	c := testcert.New(t, name, []net.IP{net.IPv4(127, 0, 0, 1)}, nil, time.Hour)
	// Written beside and renamed, as a secret volume or cert-manager swaps files.
	for file, b := range map[string][]byte{"tls.crt": c.PEM(), "tls.key": c.KeyPEM(t)} {
		tmp := filepath.Join(dir, "."+file)
		if err := os.WriteFile(tmp, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, file)); err != nil {
			t.Fatal(err)
		}
	}
	return c.Leaf
}

func httpsClient(roots ...*x509.Certificate) *http.Client {
	pool := x509.NewCertPool()
	for _, c := range roots {
		pool.AddCert(c)
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, DisableKeepAlives: true}}
}

// TestServeTLS: with http.tls.certFile and keyFile, serve speaks HTTPS only, with TLS 1.2
// or later; a renewed certificate is picked up on reload without a restart; a pair that
// does not load keeps the previous one.
func TestServeTLS(t *testing.T) {
	cleanEnv(t)
	common, token := sealedSample(t)
	dir := t.TempDir()
	first := selfSigned(t, dir, "first")
	t.Setenv("CHATVAULT_HTTP_TLS_CERTFILE", filepath.Join(dir, "tls.crt"))
	t.Setenv("CHATVAULT_HTTP_TLS_KEYFILE", filepath.Join(dir, "tls.key"))
	s := startServe(t, common...)
	base := "https://" + s.addr

	req, _ := http.NewRequest("POST", base+"/messageevent.export", strings.NewReader(`{"date":"2026-11-22"}`))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := httpsClient(first).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	golden, _ := os.ReadFile("../../testdata/golden/acme.jsonl")
	if resp.StatusCode != 200 || !bytes.Equal(body, golden) {
		t.Fatalf("export over TLS: %d, %d bytes", resp.StatusCode, len(body))
	}
	if resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 || resp.TLS.PeerCertificates[0].Subject.CommonName != "first" {
		t.Fatalf("connection state %+v", resp.TLS)
	}

	// TLS 1.1 and older are refused at the handshake.
	_, err = tls.Dial("tcp", s.addr, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11})
	if err == nil || !strings.Contains(err.Error(), "protocol version") {
		t.Fatalf("TLS 1.1 handshake: %v, want a protocol version alert", err)
	}
	reliability.Record(t, "security", "TLS 1.1 client", reliability.Refused, "handshake fails: protocol version (TLS 1.2 minimum)")

	// Plain HTTP on the TLS port gets a 400, never the API.
	resp, err = http.Get("http://" + s.addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || strings.Contains(string(body), "ok") {
		t.Fatalf("plain HTTP: %d %q, want 400", resp.StatusCode, body)
	}
	reliability.Record(t, "security", "plain HTTP request to the TLS port", reliability.Refused, "400 from the TLS listener")

	// A renewed certificate is served after a reload (SIGHUP or the file poll).
	second := selfSigned(t, dir, "second")
	reload := func() error {
		reply := make(chan error)
		serveHooks.reload <- reply
		return <-reply
	}
	if err := reload(); err != nil {
		t.Fatal(err)
	}
	resp, err = httpsClient(second).Get(base + "/healthz")
	if err != nil {
		t.Fatalf("after renewal: %v", err)
	}
	resp.Body.Close()
	if cn := resp.TLS.PeerCertificates[0].Subject.CommonName; cn != "second" {
		t.Fatalf("after renewal the server presents %q", cn)
	}
	if _, err := httpsClient(first).Get(base + "/healthz"); err == nil {
		t.Fatal("the old certificate is still served")
	}

	// A broken pair is refused and the current certificate stays.
	if err := os.WriteFile(filepath.Join(dir, "tls.key"), []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := reload(); err == nil || !strings.Contains(err.Error(), "http.tls") {
		t.Fatalf("reload of a broken key: %v, want an error naming http.tls", err)
	}
	resp, err = httpsClient(second).Get(base + "/healthz")
	if err != nil {
		t.Fatalf("after a broken renewal: %v", err)
	}
	resp.Body.Close()
	if code := s.stop(); code != exitOK {
		t.Fatalf("serve exit %d:\n%s", code, s.logs)
	}

	// At start, a pair that does not load is a configuration error (exit 2).
	code, _, errOut := chatvault(t, append([]string{"serve"}, common...)...)
	if code != exitUsage || !strings.Contains(errOut, "http.tls") {
		t.Fatalf("serve with a broken key: exit %d, %s", code, errOut)
	}
}

// TestServeLogsNoSecrets runs a whole session on S3 (MinIO) at debug level: a signed
// seal, then serve with valid, near-miss, unknown and URL-delivery requests. No token
// secret, signing key, S3 secret key nor presigned URL signature may reach the logs.
func TestServeLogsNoSecrets(t *testing.T) {
	srv := startMinIO(t) // before cleanEnv, which clears CHATVAULT_MINIO
	cleanEnv(t)
	s3Env(t, srv)
	archive := srv.Bucket(t, true)
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	keyFile := filepath.Join(t.TempDir(), "signing.pem")
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CHATVAULT_SIGNING_KEYFILE", keyFile)
	t.Setenv("CHATVAULT_AUTH_TOKENSFILE", filepath.Join(t.TempDir(), "tokens.json"))
	t.Setenv("CHATVAULT_HTTP_ADDR", "127.0.0.1:0")
	t.Setenv("CHATVAULT_SCHEDULE_ENABLED", "false")
	common := []string{"--eventlog", "../../testdata/eventlog", "--store", "s3://" + archive + "/cv", "--log-format", "json", "--log-level", "debug"}

	var logs bytes.Buffer
	code, _, errOut := chatvault(t, append([]string{"run", "--date", "2026-11-22"}, common...)...)
	if code != exitQuarantined {
		t.Fatalf("run: exit %d\n%s", code, errOut)
	}
	logs.WriteString(errOut)
	var tokens []string
	for _, org := range []string{acme, globexID} {
		code, out, errOut := chatvault(t, append([]string{"token", "create", "--org", org, "--scope", "admin:compliance:read"}, common...)...)
		if code != exitOK {
			t.Fatalf("token create: %d %s", code, errOut)
		}
		logs.WriteString(errOut)
		tokens = append(tokens, strings.TrimSpace(out))
	}

	s := startServe(t, common...)
	var signatures []string
	post := func(token, body string) (*http.Response, []byte) {
		req, _ := http.NewRequest("POST", "http://"+s.addr+"/messageevent.export", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	for _, tok := range tokens {
		if resp, b := post(tok, `{"date":"2026-11-22"}`); resp.StatusCode != 200 {
			t.Fatalf("export: %d %s", resp.StatusCode, b)
		}
		resp, b := post(tok, `{"date":"2026-11-22","delivery":"url"}`)
		var d httpapi.URLDelivery
		if resp.StatusCode != 200 || json.Unmarshal(b, &d) != nil {
			t.Fatalf("url delivery: %d %s", resp.StatusCode, b)
		}
		u, err := url.Parse(d.URL)
		if err != nil || u.Query().Get("X-Amz-Signature") == "" {
			t.Fatalf("presigned URL %q has no signature", d.URL)
		}
		signatures = append(signatures, u.Query().Get("X-Amz-Signature"))
		post(tok[:len(tok)-2]+"xx", `{"date":"2026-11-22"}`)
		post(tok, `{"date":"../../etc/passwd"}`)
		post(tok, `{"date":"2026-11-21"}`)
	}
	post("cvt_"+strings.Repeat("A", 43), `{"date":"2026-11-22"}`)
	if code := s.stop(); code != exitOK {
		t.Fatalf("serve exit %d", code)
	}
	logs.WriteString(s.logs.String())
	out := logs.String()
	if !strings.Contains(out, `"level":"DEBUG"`) || !strings.Contains(out, "serving") {
		t.Fatalf("the session logged too little for the check to mean anything:\n%s", out)
	}

	seed := priv.Seed()
	secrets := map[string]string{
		"S3 secret key":         miniotest.SecretKey,
		"signing key (PEM)":     strings.Split(string(keyPEM), "\n")[1],
		"signing key (base64)":  base64.StdEncoding.EncodeToString(seed),
		"signing key (hex)":     hex.EncodeToString(seed),
		"signing key (raw b64)": base64.RawURLEncoding.EncodeToString(seed),
	}
	for i, tok := range tokens {
		secrets["token "+string(rune('A'+i))] = tok
		secrets["token "+string(rune('A'+i))+" random part"] = strings.TrimPrefix(tok, "cvt_")[:20]
	}
	for i, sig := range signatures {
		secrets["presigned URL signature "+string(rune('A'+i))] = sig
	}
	for what, secret := range secrets {
		if strings.Contains(out, secret) {
			t.Errorf("the logs hold the %s", what)
		}
	}
	if !t.Failed() {
		reliability.Record(t, "security", "secrets in the logs of a whole session (debug level)", reliability.Refused,
			"no token secret, signing key, S3 secret key or presigned URL signature in run, token and serve logs")
	}
}
