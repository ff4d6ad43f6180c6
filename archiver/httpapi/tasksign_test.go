package httpapi_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/exporttask"
	"github.com/chatvault/chatvault/archiver/httpapi"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestForgedTaskCompletionNotDownloaded: a download checks the result's bytes against the
// SHA-256 completed.json names, so whoever can write to the store and replaces both the
// result and completed.json passes that check. With trusted keys, serve refuses a
// completion that no trusted key signed: 500 internal, nothing of the result sent,
// counted as an integrity failure; a genuine signed task downloads as before.
func TestForgedTaskCompletionNotDownloaded(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	forged := []byte("forged records nobody sealed\n")
	for _, tc := range []struct {
		name   string
		forge  bool
		status int
	}{
		{"genuine", false, 200},
		{"result and completed.json forged", true, 500},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var served *exporttask.Engine
			f := newFixture(t, func(s *httpapi.Server) {
				served = &exporttask.Engine{Store: s.Exports.(ledger.Ledger).Store, Directory: s.Directory, Now: s.Now,
					Links: exporttask.Links{Key: []byte("test-key")}, TempDir: t.TempDir(),
					TrustedKeys: []ed25519.PublicKey{pub}, SigningKey: priv}
				s.Tasks = served
			})
			// The task is run by an engine that signs (the sample day's manifest is unsigned,
			// so this one does not require signed manifests).
			runner := &exporttask.Engine{Store: f.store, Directory: served.Directory, Now: f.clock.Now,
				Links: served.Links, TempDir: t.TempDir(), SigningKey: priv}
			ctx := context.Background()
			id, err := runner.Create(ctx, acme, "test", exporttask.Request{From: sample, To: sample, Format: "jsonl"})
			if err != nil {
				t.Fatal(err)
			}
			if st, err := runner.Execute(ctx, acme, id); err != nil || st.State != exporttask.StateCompleted {
				t.Fatalf("execute: %v %+v", err, st)
			}
			resp, b := f.get(t, "/v1/exports/tasks/"+id, f.tokens["acme"])
			var st exporttask.Status
			if resp.StatusCode != 200 || json.Unmarshal(b, &st) != nil || st.URL == "" {
				t.Fatalf("status: %d %s", resp.StatusCode, b)
			}
			if tc.forge {
				prefix := archiver.TasksPrefix + acme + "/" + id + "/"
				sum := sha256.Sum256(forged)
				key := prefix + "result-" + hex.EncodeToString(sum[:]) + ".jsonl.gz"
				if err := f.store.Create(ctx, key, bytes.NewReader(forged), int64(len(forged)), sum, archiver.CreateOptions{}); err != nil {
					t.Fatal(err)
				}
				rc, err := f.store.Open(ctx, prefix+"completed.json")
				if err != nil {
					t.Fatal(err)
				}
				var c map[string]any
				json.NewDecoder(rc).Decode(&c)
				rc.Close()
				delete(c, "signature")
				c["resultKey"] = key
				res := c["result"].(map[string]any)
				res["size"], res["sha256"] = len(forged), hex.EncodeToString(sum[:])
				cb, _ := json.MarshalIndent(c, "", "  ")
				writeRaw(t, f.store, prefix+"completed.json", cb)
			}
			resp, body := f.get(t, st.URL, "") // the link handed out before the forgery
			if resp.StatusCode != tc.status {
				t.Fatalf("download: %d %.300s, want %d", resp.StatusCode, body, tc.status)
			}
			var failures float64
			fams, _ := f.reg.Gather()
			for _, fam := range fams {
				if fam.GetName() == "chatvault_http_integrity_failures_total" {
					failures = counterValue(fam.Metric[0])
				}
			}
			if !tc.forge {
				if sha(body) != st.Result.SHA256 || failures != 0 {
					t.Fatalf("genuine download: SHA-256 %s, want %s; integrity failures %v", sha(body), st.Result.SHA256, failures)
				}
				return
			}
			checkError(t, resp, body, 500, "internal")
			if bytes.Contains(body, forged) || !strings.Contains(string(body), "completion record") {
				t.Errorf("forged download body: %s", body)
			}
			if failures != 1 {
				t.Errorf("chatvault_http_integrity_failures_total = %v, want 1", failures)
			}
			// The status no longer offers the result or a link.
			resp, b = f.get(t, "/v1/exports/tasks/"+id, f.tokens["acme"])
			var after exporttask.Status
			if resp.StatusCode != 200 || json.Unmarshal(b, &after) != nil || after.State != exporttask.StateFailed || after.URL != "" || after.Result != nil {
				t.Errorf("status after the forgery: %d %s", resp.StatusCode, b)
			}
		})
	}
	reliability.Record(t, "security", "export task result and completed.json forged in the store, downloaded through a valid link", reliability.CleanFailure,
		"with signing keys: 500 internal, nothing of the result sent, counted as an integrity failure; the status reads failed without a link")
}
