package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/archiver/scheduler"
	"github.com/chatvault/chatvault/archiver/verifyloop"
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

	// serve answers the day's export and a task over it, and verifies a slice at start
	// (no slice recorded yet: the records went with the days).
	type answers struct {
		day, task int
		slice     *verifyloop.Record
	}
	serve := func(witnessFile string) answers {
		t.Helper()
		if err := os.RemoveAll(filepath.Join(store, "verifications")); err != nil {
			t.Fatal(err)
		}
		t.Setenv("CHATVAULT_VERIFY_WITNESS", witnessFile)
		addr := make(chan string, 1)
		sliced := make(chan *verifyloop.Record, 4)
		serveHooks.clock = scheduler.NewFakeClock(time.Now().UTC().Truncate(time.Second))
		serveHooks.listening = func(a string) { addr <- a }
		verifyHooks.verified = func(r *verifyloop.Record) {
			if r.Kind == verifyloop.KindSlice {
				sliced <- r
			}
		}
		t.Cleanup(func() { serveHooks.clock, serveHooks.listening, verifyHooks.verified = nil, nil, nil })
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
		post := func(path, body string) int { return postStatus(t, url+path, token, body) }
		var a answers
		a.day = post("/messageevent.export", `{"date":"2026-11-22"}`)
		a.task = post("/v1/exports/tasks", `{"from":"2026-11-22","to":"2026-11-22","format":"jsonl"}`)
		select {
		case a.slice = <-sliced:
		case <-time.After(time.Minute):
			t.Fatal("no verification slice within a minute of serve's start")
		}
		return a
	}
	without := serve("")
	if without.day != http.StatusConflict || without.task != http.StatusConflict || !without.slice.OK() {
		t.Fatalf("without verify.witness: export %d, task %d, slice %+v; want 409, 409 and a passing slice (not sealed yet, as the emptied store says)",
			without.day, without.task, without.slice)
	}
	with := serve(witness)
	if with.day != http.StatusInternalServerError || with.task != http.StatusInternalServerError {
		t.Fatalf("with verify.witness: export %d, task %d, want 500: the witness shows the day's chain sealed", with.day, with.task)
	}
	if with.slice.Result() != "problems" || !slices.ContainsFunc(with.slice.ProblemDetails, func(p string) bool {
		return strings.Contains(p, ledger.ErrBehindWitness.Error()) && strings.Contains(p, acme)
	}) {
		t.Fatalf("with verify.witness: slice %+v, want a problem naming the witness and %s", with.slice, acme)
	}
	// chatvault export-task runs the same engine: with verify.witness, exit 1 naming it.
	t.Setenv("CHATVAULT_VERIFY_WITNESS", witness)
	task := append([]string{"export-task", "--org", acme, "--from", "2026-11-22", "--to", "2026-11-22", "-o", filepath.Join(t.TempDir(), "task.jsonl.gz")}, common...)
	if code, _, errOut := chatvault(t, task...); code != exitFailure || !strings.Contains(errOut, ledger.ErrBehindWitness.Error()) {
		t.Fatalf("export-task with verify.witness: exit %d, %s; want 1 naming the witness", code, errOut)
	}
	reliability.Record(t, "security", "serve over a store emptied of its sealed days, with verify.witness", reliability.CleanFailure,
		"the sealed day is answered 500 internal, logged, not 409 export_pending: the witness outside the store shows the chain the store lost")
	reliability.Record(t, "security", "serve over a store emptied of its sealed days and of the verification records, with verify.witness: an export task and the continuous verification", reliability.CleanFailure,
		"POST /v1/exports/tasks answers 500 internal, logged, not 409 export_pending (chatvault export-task exits 1 naming the witness), and the slice at start reports the witnessed chain heads the store lost as problems (chatvault_verify_problems); before, both read the deletion as nothing sealed")
}

// postStatus POSTs body to url with the bearer token and returns the status, the body
// read and dropped.
func postStatus(t *testing.T, url, token, body string) int {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}
