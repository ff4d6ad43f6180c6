package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver/httpapi"
	"github.com/chatvault/chatvault/internal/miniotest"
)

// TestServeURLDeliveryFromS3 seals the sample day into a locked MinIO bucket, serves it,
// and asks twice for "delivery":"url": each answer is a presigned URL that returns the
// stored gzip, with the SHA-256 and size the answer gives.
func TestServeURLDeliveryFromS3(t *testing.T) {
	srv := miniotest.Start(t) // before cleanEnv, which clears CHATVAULT_MINIO
	cleanEnv(t)
	s3Env(t, srv)
	archive := srv.Bucket(t, true)
	tokensPath := filepath.Join(t.TempDir(), "tokens.json")
	t.Setenv("CHATVAULT_AUTH_TOKENSFILE", tokensPath)
	t.Setenv("CHATVAULT_HTTP_ADDR", "127.0.0.1:0")
	t.Setenv("CHATVAULT_SCHEDULE_ENABLED", "false")
	common := []string{"--eventlog", "../../testdata/eventlog", "--store", "s3://" + archive + "/cv", "--log-format", "json", "--log-level", "error"}

	if code, _, errOut := chatvault(t, append([]string{"run", "--date", "2026-11-22"}, common...)...); code != exitQuarantined {
		t.Fatalf("run: exit %d\n%s", code, errOut)
	}
	code, out, errOut := chatvault(t, append([]string{"token", "create", "--org", acme, "--scope", "admin:compliance:read", "--name", "t"}, common...)...)
	if code != exitOK {
		t.Fatalf("token create: %d %s", code, errOut)
	}
	token := strings.TrimSpace(out)

	addr := make(chan string, 1)
	serveHooks.listening = func(a string) { addr <- a }
	t.Cleanup(func() { serveHooks.listening = nil })
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan int)
	go func() { done <- Main(ctx, append([]string{"serve"}, common...), io.Discard, io.Discard) }()
	defer func() {
		stop()
		if code := <-done; code != exitOK {
			t.Errorf("serve exit %d", code)
		}
	}()
	url := "http://" + <-addr

	var answers [2]httpapi.URLDelivery
	for i := range answers {
		req, _ := http.NewRequest("POST", url+"/messageevent.export", strings.NewReader(`{"date":"2026-11-22","delivery":"url"}`))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || json.Unmarshal(body, &answers[i]) != nil {
			t.Fatalf("delivery url: %d %s", resp.StatusCode, body)
		}
	}
	if !answers[0].ExpiresAt.After(time.Now()) {
		t.Errorf("expiresAt %v is not in the future", answers[0].ExpiresAt)
	}
	for _, a := range answers {
		resp, err := http.Get(a.URL)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		sum := sha256.Sum256(got)
		if resp.StatusCode != 200 || hex.EncodeToString(sum[:]) != a.SHA256 || int64(len(got)) != a.Size {
			t.Fatalf("GET presigned URL: %d, %d bytes with SHA-256 %x; want %d bytes with %s", resp.StatusCode, len(got), sum, a.Size, a.SHA256)
		}
		if !bytes.HasPrefix(got, []byte{0x1f, 0x8b}) {
			t.Error("the URL does not serve the stored gzip")
		}
	}
}
