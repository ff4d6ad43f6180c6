package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver/scheduler"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestServeWitnessReportsAnEmptiedStore: a store sealed and witnessed (chatvault witness
// -o, kept outside it) is emptied of its sealed days. Serve, given the witness as
// verify.witness, answers the sealed day 500 internal, not 409 export_pending as if it had
// never been sealed; without verify.witness it answers 409 (what it always did).
func TestServeWitnessReportsAnEmptiedStore(t *testing.T) {
	cleanEnv(t)
	store := t.TempDir()
	t.Setenv("CHATVAULT_AUTH_TOKENSFILE", filepath.Join(t.TempDir(), "tokens.json"))
	t.Setenv("CHATVAULT_HTTP_ADDR", "127.0.0.1:0")
	t.Setenv("CHATVAULT_SCHEDULE_ENABLED", "false")
	t.Setenv("CHATVAULT_EXPORT_TEMPDIR", t.TempDir())
	common := []string{"--eventlog", copyEventLog(t), "--store", store, "--log-format", "json", "--log-level", "error"}
	mustRun(t, sealed, append([]string{"run", "--date", "2026-11-22"}, common...)...)
	token := strings.TrimSpace(mustRun(t, []int{exitOK}, append([]string{"token", "create", "--org", acme, "--scope", "admin:compliance:read", "--name", "ediscovery"}, common...)...))
	witness := filepath.Join(t.TempDir(), "witness.json")
	mustRun(t, []int{exitOK}, append([]string{"witness", "-o", witness}, common...)...)
	if err := os.RemoveAll(filepath.Join(store, "orgs")); err != nil {
		t.Fatal(err)
	}

	export := func(witnessFile string) int {
		t.Helper()
		t.Setenv("CHATVAULT_VERIFY_WITNESS", witnessFile)
		addr := make(chan string, 1)
		serveHooks.clock = scheduler.NewFakeClock(time.Now().UTC().Truncate(time.Second))
		serveHooks.listening = func(a string) { addr <- a }
		t.Cleanup(func() { serveHooks.clock, serveHooks.listening = nil, nil })
		ctx, stop := context.WithCancel(context.Background())
		done := make(chan int, 1)
		go func() { done <- Main(ctx, append([]string{"serve"}, common...), io.Discard, io.Discard) }()
		defer func() {
			stop()
			<-done
		}()
		var url string
		select {
		case a := <-addr:
			url = "http://" + a
		case code := <-done:
			t.Fatalf("serve exited %d", code)
		}
		req, _ := http.NewRequest("POST", url+"/messageevent.export", strings.NewReader(`{"date":"2026-11-22"}`))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := export(""); got != http.StatusConflict {
		t.Fatalf("without verify.witness: %d, want 409 (not sealed yet, as the emptied store says)", got)
	}
	if got := export(witness); got != http.StatusInternalServerError {
		t.Fatalf("with verify.witness: %d, want 500: the witness shows the day's chain sealed", got)
	}
	reliability.Record(t, "security", "serve over a store emptied of its sealed days, with verify.witness", reliability.CleanFailure,
		"the sealed day is answered 500 internal, logged, not 409 export_pending: the witness outside the store shows the chain the store lost")
}
