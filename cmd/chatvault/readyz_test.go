package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/audit"
	"github.com/chatvault/chatvault/archiver/scheduler"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestReadyzWhileAuditCannotBeWritten: while the store refuses the audit's writes beyond
// the audit's bound (the state in which serve answers audited requests 500), /readyz
// answers 503 with the API's JSON error, so that a load balancer takes the replica out;
// once a write succeeds it answers 200 again, and the records that waited are stored.
func TestReadyzWhileAuditCannotBeWritten(t *testing.T) {
	cleanEnv(t)
	store := t.TempDir()
	tokensPath := filepath.Join(t.TempDir(), "tokens.json")
	t.Setenv("CHATVAULT_AUTH_TOKENSFILE", tokensPath)
	t.Setenv("CHATVAULT_HTTP_ADDR", "127.0.0.1:0")
	t.Setenv("CHATVAULT_SCHEDULE_ENABLED", "false")
	// The longest interval: the background flusher (on the real clock) stays out of the
	// test, which moves serve's fake clock instead.
	t.Setenv("CHATVAULT_AUDIT_FLUSHINTERVAL", "1m")
	t.Setenv("CHATVAULT_EXPORT_TEMPDIR", t.TempDir())
	common := []string{"--eventlog", copyEventLog(t), "--store", store, "--log-format", "json", "--log-level", "error"}
	mustRun(t, sealed, append([]string{"run", "--date", "2026-11-22"}, common...)...)
	token := strings.TrimSpace(mustRun(t, []int{exitOK}, append([]string{"token", "create", "--org", acme, "--scope", "admin:compliance:read", "--name", "ediscovery"}, common...)...))

	clock := scheduler.NewFakeClock(time.Now().UTC().Truncate(time.Second))
	addr := make(chan string, 1)
	serveHooks.clock = clock
	serveHooks.listening = func(a string) { addr <- a }
	t.Cleanup(func() { serveHooks.clock, serveHooks.listening = nil, nil })
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	done := make(chan int, 1)
	go func() { done <- Main(ctx, append([]string{"serve"}, common...), io.Discard, io.Discard) }()
	url := "http://" + <-addr

	get := func(path string) (*http.Response, []byte) {
		t.Helper()
		resp, err := http.Get(url + path)
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
	export := func() int {
		t.Helper()
		return postStatus(t, url+"/messageevent.export", token, `{"date":"2026-11-22"}`)
	}
	if resp, body := get("/readyz"); resp.StatusCode != 200 {
		t.Fatalf("readyz before: %d %s", resp.StatusCode, body)
	}

	// A file where the organization's audit folder goes: every segment write fails
	// (even for root, unlike a permission).
	blocker := filepath.Join(store, "audit", "orgs", acme)
	if err := os.MkdirAll(filepath.Dir(blocker), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(blocker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if code := export(); code != 200 {
		t.Fatalf("export while the record can still wait: %d", code)
	}
	clock.Add(2*audit.MaxFlushInterval + time.Second) // the record has waited beyond the bound
	resp, body := get("/readyz")
	var e struct{ Error, Message string }
	if resp.StatusCode != 503 || resp.Header.Get("Content-Type") != "application/json" || json.Unmarshal(body, &e) != nil ||
		e.Error != "unavailable" || !strings.Contains(e.Message, "audit") {
		t.Fatalf("readyz while the audit cannot be written: %d %s %s, want 503 with the JSON error unavailable naming the audit",
			resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	if code := export(); code != 500 {
		t.Fatalf("export while the audit cannot be written: %d, want 500", code)
	}
	if resp, body := get("/readyz"); resp.StatusCode != 503 {
		t.Fatalf("readyz after a refused request: %d %s", resp.StatusCode, body)
	}

	// The store takes writes again: the next probe after the retry pause writes what
	// waited, and the replica is ready.
	if err := os.Remove(blocker); err != nil {
		t.Fatal(err)
	}
	clock.Add(audit.MaxFlushInterval)
	if resp, body := get("/readyz"); resp.StatusCode != 200 || string(body) != "ready\n" {
		t.Fatalf("readyz after the store recovered: %d %s", resp.StatusCode, body)
	}
	if code := export(); code != 200 {
		t.Fatalf("export after the store recovered: %d", code)
	}
	stop()
	if code := <-done; code != exitOK {
		t.Fatalf("serve exit %d", code)
	}
	day := archiver.DayOf(clock.Now()).String()
	out := mustRun(t, []int{exitOK}, append([]string{"audit", "--org", acme, "--from", archiver.DayOf(time.Now().UTC()).String(), "--to", day, "--json"}, common...)...)
	statuses := map[int]int{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var r audit.Record
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("audit line %q: %v", line, err)
		}
		statuses[r.Status]++
	}
	if statuses[200] != 2 {
		t.Fatalf("audit holds %v, want both answered exports", statuses)
	}
	mustRun(t, []int{exitOK}, append([]string{"verify"}, common...)...)
	reliability.Record(t, "fault", "store refuses audit writes beyond the audit's bound (serve)", reliability.Recovered,
		"/readyz 503 unavailable while audited requests are refused, so a load balancer takes the replica out; 200 once a write succeeds, nothing lost")
}
