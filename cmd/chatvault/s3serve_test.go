package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/klauspost/compress/gzip"

	"github.com/chatvault/chatvault/archiver/exporttask"
	"github.com/chatvault/chatvault/archiver/httpapi"
	"github.com/chatvault/chatvault/archiver/scheduler"
	"github.com/chatvault/chatvault/internal/miniotest"
)

// TestServeURLDeliveryFromS3 seals the sample day into a locked MinIO bucket, serves it,
// and asks twice for "delivery":"url": each answer is a presigned URL that returns the
// stored gzip, with the SHA-256 and size the answer gives.
func TestServeURLDeliveryFromS3(t *testing.T) {
	srv := startMinIO(t) // before cleanEnv, which clears CHATVAULT_MINIO
	cleanEnv(t)
	url, token, _ := serveSealedS3(t, srv, nil)

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
	// The bucket is versioned (Object Lock): the URL is pinned to the manifest's version.
	if v := answers[0].VersionID; v == "" || !strings.Contains(answers[0].URL, "versionId="+v) {
		t.Errorf("the URL is not pinned to the manifest's version: %+v", answers[0])
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

// TestExportTaskOnS3 runs an export task on a locked MinIO bucket: the result is stored
// without a lock, two status calls give two links that both download it, and past the
// retention the janitor removes every version of it.
func TestExportTaskOnS3(t *testing.T) {
	srv := startMinIO(t)
	cleanEnv(t)
	s3Env(t, srv)
	archive := srv.Bucket(t, true)
	t.Setenv("CHATVAULT_AUTH_TOKENSFILE", filepath.Join(t.TempDir(), "tokens.json"))
	t.Setenv("CHATVAULT_HTTP_ADDR", "127.0.0.1:0")
	t.Setenv("CHATVAULT_SCHEDULE_ENABLED", "false")
	common := []string{"--eventlog", "../../testdata/eventlog", "--store", "s3://" + archive + "/cv", "--log-format", "json", "--log-level", "error"}
	if code, _, errOut := chatvault(t, append([]string{"run", "--date", "2026-11-22"}, common...)...); code != exitQuarantined {
		t.Fatalf("run: exit %d\n%s", code, errOut)
	}
	tok := mint(t, common, acme, "investigator")
	clock := scheduler.NewFakeClock(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
	x := startTaskServer(t, common, clock, nil)
	defer x.stop()

	id := x.create(tok, `{"from":"2026-11-22","to":"2026-11-22","format":"jsonl","delivery":"url"}`)
	if s := <-x.done; s != exporttask.StateCompleted {
		t.Fatalf("task %s", s)
	}
	a, b := x.status(tok, id), x.status(tok, id)
	if a.URL == b.URL {
		t.Fatal("two status calls gave the same link")
	}
	golden, _ := os.ReadFile("../../testdata/golden/acme.jsonl")
	for _, link := range []string{a.URL, b.URL} {
		resp, body := x.do("GET", link, "", "")
		sum := sha256.Sum256(body)
		if resp.StatusCode != 200 || hex.EncodeToString(sum[:]) != a.Result.SHA256 {
			t.Fatalf("download: %d, SHA-256 %x, want %s", resp.StatusCode, sum, a.Result.SHA256)
		}
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := io.ReadAll(zr); !bytes.Equal(got, golden) || a.Result.Events != 12 {
			t.Fatalf("the result is not the sealed day (%d events)", a.Result.Events)
		}
	}
	resultKey := "cv/tasks/" + acme + "/" + id + "/result-" + a.Result.SHA256 + ".jsonl.gz"
	versions := func() int {
		out, err := srv.Client().ListObjectVersions(context.Background(), &awss3.ListObjectVersionsInput{Bucket: &archive, Prefix: &resultKey})
		if err != nil {
			t.Fatal(err)
		}
		return len(out.Versions) + len(out.DeleteMarkers)
	}
	if n := versions(); n != 1 {
		t.Fatalf("%d versions of the result, want 1", n)
	}
	clock.Set(a.CompletedAt.Add(60 * 24 * time.Hour))
	x.tick <- clock.Now()
	if n := <-x.swept; n != 1 {
		t.Fatalf("janitor deleted %d results", n)
	}
	if n := versions(); n != 0 {
		t.Fatalf("%d versions of the result remain after the janitor", n)
	}
	if st := x.status(tok, id); st.State != exporttask.StateExpired || st.URL != "" {
		t.Fatalf("after retention: %s %q", st.State, st.URL)
	}
}

// serveSealedS3 seals the sample day into a fresh Object Lock bucket of srv, mints Acme a
// token of admin:compliance:read, and serves the bucket until the test ends; before, when
// set, runs just before serve starts (to point it through a proxy). It returns serve's
// URL, the token and the bucket.
func serveSealedS3(t *testing.T, srv *miniotest.Server, before func()) (url, token, archive string) {
	t.Helper()
	s3Env(t, srv)
	archive = srv.Bucket(t, true)
	t.Setenv("CHATVAULT_AUTH_TOKENSFILE", filepath.Join(t.TempDir(), "tokens.json"))
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
	token = strings.TrimSpace(out)
	if before != nil {
		before()
	}
	addr := make(chan string, 1)
	serveHooks.listening = func(a string) { addr <- a }
	t.Cleanup(func() { serveHooks.listening = nil })
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan int)
	go func() { done <- Main(ctx, append([]string{"serve"}, common...), io.Discard, io.Discard) }()
	t.Cleanup(func() {
		stop()
		if code := <-done; code != exitOK {
			t.Errorf("serve exit %d", code)
		}
	})
	return "http://" + <-addr, token, archive
}
