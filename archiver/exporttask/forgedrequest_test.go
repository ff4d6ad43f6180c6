package exporttask_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/exporttask"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestForgedRequestOfACompletedTask: the status shows a completed task's request (its
// range, its filters) beside its signed result, and a reviewer reads the result as the
// answer to that request. The completion was signed, the request was not: whoever can
// write to the store (the threat signed completions are for) could rewrite request.json
// after the run, say drop a chatIds or terms filter, and a filtered result would read as
// a complete one with its signature intact. The completion now names the SHA-256 of the
// request it answered (requestSha256, under its signature); a request that differs makes
// the task read failed, its result never opened.
func TestForgedRequestOfACompletedTask(t *testing.T) {
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	f := newKeyedFixture(t, key)
	e := f.engine(t, nil)
	e.TrustedKeys, e.SigningKey = []ed25519.PublicKey{pub}, key
	st, _ := run(t, e, exporttask.Request{From: days[0], To: days[1], Format: "jsonl", Terms: []string{"hello"}})
	if st.State != exporttask.StateCompleted {
		t.Fatalf("state %s: %s", st.State, st.Error)
	}
	path := filepath.Join(f.store.Dir(), filepath.FromSlash(archiver.TasksPrefix+acme+"/"+st.TaskID+"/request.json"))
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rec map[string]any
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatal(err)
	}
	delete(rec["request"].(map[string]any), "terms") // the result now reads as every record
	b, _ = json.MarshalIndent(rec, "", "  ")
	os.Chmod(path, 0o600)
	if err := os.WriteFile(path, append(b, '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := e.Status(context.Background(), acme, st.TaskID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != exporttask.StateFailed || got.Result != nil || !strings.Contains(got.Error, "request") {
		t.Fatalf("status after the request was rewritten: %s, result %+v, error %q; want failed without the result, naming the request",
			got.State, got.Result, got.Error)
	}
	_, rc, err := e.OpenResult(context.Background(), acme, st.TaskID)
	if rc != nil {
		rc.Close()
		t.Fatal("the result of a task whose request was rewritten was opened")
	}
	if err == nil {
		t.Fatal("OpenResult: no error")
	}
	reliability.Record(t, "security", "completed export task's request.json rewritten in the store (a filter dropped) by a writer without the signing key", reliability.CleanFailure,
		"the signed completion names the request's SHA-256: the task reads failed, no result or link, where the status showed the forged request beside the genuine, filtered result")
}
