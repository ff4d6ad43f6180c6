package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver/exporttask"
	"github.com/chatvault/chatvault/archiver/scheduler"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestSignedExportTaskAfterRotation: export-task signs completed.json with
// signing.keyFile; after keys rotate, serve (on the new key) still hands out that task's
// result, since it trusts the keys a rotation leads from; a task whose result and
// completed.json a writer without the key replaced reads failed and its download (through
// a link handed out before the forgery) is refused with nothing sent.
func TestSignedExportTaskAfterRotation(t *testing.T) {
	cleanEnv(t)
	eventlog := copyEventLog(t)
	store := t.TempDir()
	keys := t.TempDir()
	oldKey, newKey := filepath.Join(keys, "old.pem"), filepath.Join(keys, "new.pem")
	t.Setenv("CHATVAULT_AUTH_TOKENSFILE", filepath.Join(t.TempDir(), "tokens.json"))
	t.Setenv("CHATVAULT_HTTP_ADDR", "127.0.0.1:0")
	t.Setenv("CHATVAULT_SCHEDULE_ENABLED", "false")
	t.Setenv("CHATVAULT_HTTP_TOKENRATE", "0")
	t.Setenv("CHATVAULT_HTTP_CLIENTRATE", "0")
	common := []string{"--eventlog", eventlog, "--store", store, "--log-format", "json", "--log-level", "error"}
	for _, k := range []string{oldKey, newKey} {
		if code, _, errOut := chatvault(t, append([]string{"keys", "generate", "-o", k}, common...)...); code != exitOK {
			t.Fatalf("keys generate: %s", errOut)
		}
	}
	t.Setenv("CHATVAULT_SIGNING_KEYFILE", oldKey)
	if code, _, errOut := chatvault(t, append([]string{"run", "--date", "2026-11-22"}, common...)...); code != exitOK && code != exitQuarantined {
		t.Fatalf("run: %d %s", code, errOut)
	}
	task := func() exporttask.Status {
		code, out, errOut := chatvault(t, append([]string{"export-task", "--org", acme, "--from", "2026-11-22", "--to", "2026-11-22"}, common...)...)
		var st exporttask.Status
		if code != exitOK || json.Unmarshal([]byte(out), &st) != nil || st.State != exporttask.StateCompleted {
			t.Fatalf("export-task: %d %s %s", code, out, errOut)
		}
		return st
	}
	genuine, forged := task(), task()
	if code, _, errOut := chatvault(t, append([]string{"keys", "rotate", "--new-key", newKey, "--reason", "scheduled"}, common...)...); code != exitOK {
		t.Fatalf("keys rotate: %d %s", code, errOut)
	}
	t.Setenv("CHATVAULT_SIGNING_KEYFILE", newKey)
	tok := mint(t, common, acme, "investigator")

	x := startTaskServer(t, common, scheduler.NewFakeClock(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)), nil)
	defer x.stop()
	st := x.status(tok, genuine.TaskID)
	resp, body := x.do("GET", st.URL, "", "")
	if sum := sha256.Sum256(body); st.State != exporttask.StateCompleted || resp.StatusCode != 200 || hex.EncodeToString(sum[:]) != genuine.Result.SHA256 {
		t.Fatalf("task signed by the old key, after the rotation: %s, download %d (%d bytes)", st.State, resp.StatusCode, len(body))
	}

	link := x.status(tok, forged.TaskID).URL
	fake := []byte("forged records nobody sealed\n")
	sum := sha256.Sum256(fake)
	dir := filepath.Join(store, "tasks", acme, forged.TaskID)
	resultName := "result-" + hex.EncodeToString(sum[:]) + ".jsonl.gz"
	writeFile(t, filepath.Join(dir, resultName), fake)
	b, err := os.ReadFile(filepath.Join(dir, "completed.json"))
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	delete(c, "signature")
	c["resultKey"] = "tasks/" + acme + "/" + forged.TaskID + "/" + resultName
	res := c["result"].(map[string]any)
	res["size"], res["sha256"] = len(fake), hex.EncodeToString(sum[:])
	b, _ = json.Marshal(c)
	os.Chmod(filepath.Join(dir, "completed.json"), 0o600)
	if err := os.WriteFile(filepath.Join(dir, "completed.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	resp, body = x.do("GET", link, "", "")
	if resp.StatusCode != 500 || strings.Contains(string(body), "forged records") || !strings.Contains(string(body), `"internal"`) {
		t.Fatalf("download of the forged task: %d %s", resp.StatusCode, body)
	}
	if st := x.status(tok, forged.TaskID); st.State != exporttask.StateFailed || st.URL != "" || !strings.Contains(st.Error, "not signed by a trusted key") {
		t.Fatalf("status of the forged task: %+v", st)
	}
	reliability.Record(t, "security", "export task signed before a keys rotate, downloaded from serve on the new key", reliability.Kept,
		"the rotated-away key is trusted through the rotation statement: the result downloads; a forged completion beside it is refused (500 internal, nothing sent)")
}
