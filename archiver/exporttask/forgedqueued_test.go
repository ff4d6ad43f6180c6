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

// rewriteRequest edits a task's request.json in the folder store as whoever can write to
// the folder but holds no key would.
func rewriteRequest(t *testing.T, f *fixture, id string, edit func(rec map[string]any)) {
	t.Helper()
	path := filepath.Join(f.store.Dir(), filepath.FromSlash(archiver.TasksPrefix+acme+"/"+id+"/request.json"))
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rec map[string]any
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatal(err)
	}
	edit(rec)
	b, _ = json.MarshalIndent(rec, "", "  ")
	os.Chmod(path, 0o600)
	if err := os.WriteFile(path, append(b, '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestForgedRequestOfAQueuedTask: a queued task's request.json is what its run reads: the
// days, the filters, the addresses the download link (a credential) is mailed to, the
// token the link is bound to and the organization whose days are read. The engine took
// all of it from the object unchecked, so whoever can write to the store (the threat
// signed manifests and completions are for) could have the link to an organization's
// export mailed to an address of theirs, or have a task of one organization export
// another's days. Now a task whose request names another organization or task than its
// key is never run, and with signing keys request.json is signed at creation: a request
// whose signature does not check, or that has none, fails the task before anything is read
// or mailed.
func TestForgedRequestOfAQueuedTask(t *testing.T) {
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	for _, tc := range []struct {
		name   string
		signed bool
		edit   func(rec map[string]any)
	}{
		{"link mailed to another address, signature kept", true, func(rec map[string]any) {
			rec["request"].(map[string]any)["toEmails"] = []string{"thief@evil.example"}
		}},
		{"link mailed to another address, signature removed", true, func(rec map[string]any) {
			rec["request"].(map[string]any)["toEmails"] = []string{"thief@evil.example"}
			delete(rec, "signature")
		}},
		{"another organization's days", false, func(rec map[string]any) { rec["org"] = globex }},
		{"another task's request", false, func(rec map[string]any) { rec["taskId"] = "00000000-0000-4000-8000-000000000001" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newKeyedFixture(t, key)
			m := &fakeMailer{}
			e := f.engine(t, nil)
			e.Mailer, e.BaseURL = m, "https://chatvault.acme.example"
			if tc.signed {
				e.TrustedKeys, e.SigningKey = []ed25519.PublicKey{pub}, key
			}
			id, err := e.Create(context.Background(), acme, "test", exporttask.Request{From: days[0], To: days[1], Format: "jsonl",
				Delivery: "email", ToEmails: []string{"counsel@acme.example"}})
			if err != nil {
				t.Fatal(err)
			}
			rewriteRequest(t, f, id, tc.edit)
			st, _ := e.Execute(context.Background(), acme, id)
			if st == nil {
				if st, err = e.Status(context.Background(), acme, id); err != nil {
					t.Fatal(err)
				}
			}
			if st.State == exporttask.StateCompleted || st.Result != nil || len(m.sent) > 0 {
				t.Fatalf("the forged request ran: state %s, result %+v, mails %q", st.State, st.Result, m.sent)
			}
			if st.State != exporttask.StateFailed || !strings.Contains(st.Error, "request") {
				t.Fatalf("state %s, error %q; want failed naming the request", st.State, st.Error)
			}
			// The failure is stored: the scans do not queue the task again every minute.
			if _, err := os.Stat(filepath.Join(f.store.Dir(), filepath.FromSlash(archiver.TasksPrefix+acme+"/"+id+"/failed.json"))); err != nil {
				t.Errorf("no failed.json: %v", err)
			}
		})
	}
	// A request signed at creation runs as before.
	f := newKeyedFixture(t, key)
	m := &fakeMailer{}
	e := f.engine(t, nil)
	e.Mailer, e.BaseURL = m, "https://chatvault.acme.example"
	e.TrustedKeys, e.SigningKey = []ed25519.PublicKey{pub}, key
	st, _ := run(t, e, exporttask.Request{From: days[0], To: days[1], Format: "jsonl", Delivery: "email", ToEmails: []string{"counsel@acme.example"}})
	if st.State != exporttask.StateCompleted || len(m.sent) != 1 || !strings.HasPrefix(m.sent[0], "counsel@acme.example\n") {
		t.Fatalf("a genuine signed request: state %s %q, mails %q", st.State, st.Error, m.sent)
	}
	reliability.Record(t, "security", "queued export task's request.json rewritten in the store: addresses the link is mailed to, the organization, the task id", reliability.Refused,
		"a request naming another organization or task than its key is never run; with signing keys request.json is signed at creation, and one whose signature is missing or does not check fails the task before any day is read or mail sent")
}
