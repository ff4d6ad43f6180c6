package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver/attach"
	"github.com/chatvault/chatvault/archiver/scheduler"
)

// TestServeServesAttachments: serve wires the attachment endpoints: once its capture loop
// has captured the sample day, the organization's token fetches the day's index and the
// captured file through the API, checked against the store's signing keys.
func TestServeServesAttachments(t *testing.T) {
	cleanEnv(t)
	body := []byte("%PDF the contract")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/pdf")
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	eventlog := copyEventLog(t)
	linkTo(t, eventlog, srv.URL)
	storeDir := t.TempDir()
	tokensPath := filepath.Join(t.TempDir(), "tokens.json")
	t.Setenv("CHATVAULT_AUTH_TOKENSFILE", tokensPath)
	t.Setenv("CHATVAULT_HTTP_ADDR", "127.0.0.1:0")
	t.Setenv("CHATVAULT_EXPORT_TEMPDIR", t.TempDir())
	t.Setenv("CHATVAULT_VERIFY_INTERVAL", "0")
	t.Setenv("CHATVAULT_ATTACHMENTS_ENABLED", "true")
	t.Setenv("CHATVAULT_ATTACHMENTS_ALLOWEDHOSTS", strings.TrimPrefix(srv.URL, "http://"))
	common := []string{"--eventlog", eventlog, "--store", storeDir, "--log-format", "json", "--log-level", "error"}
	code, out, errOut := chatvault(t, append([]string{"token", "create", "--org", acme, "--scope", "admin:compliance:read", "--name", "ediscovery"}, common...)...)
	if code != exitOK {
		t.Fatalf("token create: %s", errOut)
	}
	token := strings.TrimSpace(out)

	captured := make(chan attach.DayResult, 16)
	addr := make(chan string, 1)
	serveHooks.clock = scheduler.NewFakeClock(time.Date(2026, 11, 23, 1, 0, 0, 0, time.UTC))
	serveHooks.listening = func(a string) { addr <- a }
	attachHooks.captured = func(r attach.DayResult, err error) {
		if err != nil {
			t.Errorf("capture of %s %s: %v", r.Org, r.Day, err)
		}
		captured <- r
	}
	t.Cleanup(func() { serveHooks.clock, serveHooks.listening, attachHooks.captured = nil, nil, nil })
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan int)
	go func() {
		done <- Main(ctx, append([]string{"serve"}, common...), io.Discard, io.Discard)
	}()
	defer func() {
		stop()
		if code := <-done; code != exitOK {
			t.Errorf("serve exit %d", code)
		}
	}()
	var base string
	select {
	case a := <-addr:
		base = "http://" + a
	case <-time.After(time.Minute):
		t.Fatal("serve did not listen")
	}
	for waiting := true; waiting; {
		select {
		case r := <-captured:
			waiting = !(r.Org == acme && r.Day.String() == "2026-11-22" && r.Captured == 1)
		case <-time.After(time.Minute):
			t.Fatal("no capture of acme's day")
		}
	}
	get := func(path string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest("GET", base+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, b
	}
	sum := sha256.Sum256(body)
	name := hex.EncodeToString(sum[:])
	resp, b := get("/v1/exports/2026-11-22/attachments")
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"sha256": "`+name+`"`) {
		t.Fatalf("index: %d %s", resp.StatusCode, b)
	}
	resp, b = get("/v1/exports/attachments/" + name)
	if resp.StatusCode != 200 || string(b) != string(body) || resp.Header.Get("Content-Type") != "application/pdf" {
		t.Fatalf("file: %d %q %v", resp.StatusCode, b, resp.Header)
	}
}
