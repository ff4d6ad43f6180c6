package exporttask_test

import (
	"bytes"
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

// asNewerVersion rewrites the task record at key as a newer chatvault writes it: field
// (a JSON member) added to it, or to its request object when inRequest, and signed by key
// over its encoding without the signature, the signature last, as the engine signs.
func asNewerVersion(t *testing.T, f *fixture, key ed25519.PrivateKey, id, name, field string, inRequest bool) {
	t.Helper()
	path := filepath.Join(f.store.Dir(), filepath.FromSlash(archiver.TasksPrefix+acme+"/"+id+"/"+name))
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, b); err != nil {
		t.Fatal(err)
	}
	b = compact.Bytes()
	i := bytes.LastIndex(b, []byte(`,"signature":`))
	if i < 0 {
		t.Fatalf("%s is not signed last: %s", name, b)
	}
	body := append([]byte(nil), b[:i]...)
	if inRequest {
		body = bytes.Replace(body, []byte(`"request":{`), []byte(`"request":{`+field+`,`), 1)
		body = append(body, '}')
	} else {
		body = append(append(append(body, ','), field...), '}')
	}
	sig, err := json.Marshal(archiver.SignBody(key, body))
	if err != nil {
		t.Fatal(err)
	}
	out := append(append(append(body[:len(body)-1:len(body)-1], `,"signature":`...), sig...), "}\n"...)
	os.Chmod(path, 0o600)
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestTaskOfANewerVersion: in a rolling upgrade (or after a roll-back) replicas of two
// versions share the store's export tasks. A task the newer one completed, its
// completed.json carrying a field this version does not know and signed by the trusted
// key, is completed here too and its result served: the signature is checked over the
// bytes stored. Before, the completion decoded and encoded again lost the field, failed its
// signature, and the task read failed as "not signed by a trusted key ... (a forgery)" on
// the older replica while the newer one served it. A queued task whose request has a field
// this version does not know (a filter it would not apply) is not run: it fails naming the
// newer version and the field, and no result is stored.
func TestTaskOfANewerVersion(t *testing.T) {
	ctx := context.Background()
	pub, key, _ := ed25519.GenerateKey(rand.Reader)

	t.Run("completed by a newer version", func(t *testing.T) {
		f := newKeyedFixture(t, key)
		e := f.engine(t, nil)
		e.TrustedKeys, e.SigningKey = []ed25519.PublicKey{pub}, key
		st, want := run(t, e, exporttask.Request{From: days[0], To: days[1], Format: "jsonl"})
		if st.State != exporttask.StateCompleted {
			t.Fatalf("state %s: %s", st.State, st.Error)
		}
		asNewerVersion(t, f, key, st.TaskID, "completed.json", `"futureReport":{"kept":["a","b"]}`, false)
		got, err := e.Status(ctx, acme, st.TaskID)
		if err != nil || got.State != exporttask.StateCompleted || got.Result == nil || got.Result.SHA256 != st.Result.SHA256 {
			t.Fatalf("status of a task a newer version completed: %+v, %v", got, err)
		}
		_, rc, err := e.OpenResult(ctx, acme, st.TaskID)
		if err != nil {
			t.Fatalf("OpenResult: %v", err)
		}
		var b bytes.Buffer
		b.ReadFrom(rc)
		rc.Close()
		if !bytes.Equal(b.Bytes(), want) {
			t.Fatal("the result served differs from the one the task stored")
		}

		// The newer field changed after signing: the forgery is still refused.
		path := filepath.Join(f.store.Dir(), filepath.FromSlash(archiver.TasksPrefix+acme+"/"+st.TaskID+"/completed.json"))
		c, _ := os.ReadFile(path)
		os.WriteFile(path, bytes.Replace(c, []byte(`"kept":["a","b"]`), []byte(`"kept":["a","c"]`), 1), 0o600)
		got, err = e.Status(ctx, acme, st.TaskID)
		if err != nil || got.State != exporttask.StateFailed || got.Result != nil {
			t.Fatalf("status after the newer field was changed: %+v, %v", got, err)
		}
	})

	t.Run("queued by a newer version with a filter this one does not know", func(t *testing.T) {
		f := newKeyedFixture(t, key)
		e := f.engine(t, nil)
		e.TrustedKeys, e.SigningKey = []ed25519.PublicKey{pub}, key
		id, err := e.Create(ctx, acme, "test", exporttask.Request{From: days[0], To: days[1], Format: "jsonl"})
		if err != nil {
			t.Fatal(err)
		}
		asNewerVersion(t, f, key, id, "request.json", `"reactionKinds":["thumbsUp"]`, true)
		st, err := e.Execute(ctx, acme, id)
		if err != nil {
			t.Fatal(err)
		}
		if st.State != exporttask.StateFailed || !strings.Contains(st.Error, "newer version") || !strings.Contains(st.Error, "reactionKinds") {
			t.Fatalf("state %s, error %q; want failed naming the newer version and its field", st.State, st.Error)
		}
		if n := countKeys(t, f.store, archiver.TasksPrefix+acme+"/"+id+"/result-"); n != 0 {
			t.Errorf("%d results stored for a request this version cannot apply", n)
		}
	})
	reliability.Record(t, "operations", "an export task completed by a newer chatvault (completed.json with a field this version does not know), read by a replica of this version in a rolling upgrade or after a roll-back", reliability.Kept,
		"completed and served, its signature checked over the bytes stored; before, the older replica answered it failed as not signed by a trusted key (a forgery) while the newer one served it; "+
			"a queued task whose request has a field this version does not know is not run: it fails naming the newer version and the field")
}
