package exporttask_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/exporttask"
	"github.com/chatvault/chatvault/internal/reliability"
)

// forgeTask replaces a completed task's result and completed.json as whoever can write to
// the folder store but holds no signing key would: a new result object of their own, and
// a completed.json (made by edit from the genuine one) naming it and its SHA-256.
func forgeTask(t *testing.T, f *fixture, id string, edit func(c map[string]any)) []byte {
	t.Helper()
	ctx := context.Background()
	forged := []byte("forged records nobody sealed\n")
	sum := sha256.Sum256(forged)
	prefix := archiver.TasksPrefix + acme + "/" + id + "/"
	key := prefix + "result-" + hex.EncodeToString(sum[:]) + ".jsonl.gz"
	if err := f.store.Create(ctx, key, bytes.NewReader(forged), int64(len(forged)), sum, archiver.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(f.store.Dir(), filepath.FromSlash(prefix+"completed.json"))
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	c["resultKey"] = key
	res := c["result"].(map[string]any)
	res["size"], res["sha256"] = len(forged), hex.EncodeToString(sum[:])
	edit(c)
	b, _ = json.MarshalIndent(c, "", "  ")
	os.Chmod(path, 0o600)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return forged
}

// TestForgedCompletionNeverServed: completed.json names the result and the SHA-256 a
// download is checked against, so a forger who replaces both passes that check. With a
// signing key the engine signs completed.json; with trusted keys a completion that is
// unsigned, signed by another key, or altered after signing reads failed and its result
// is never opened. A task signed by a key rotated away from (still trusted) is served.
func TestForgedCompletionNeverServed(t *testing.T) {
	oldPub, oldKey, _ := ed25519.GenerateKey(rand.Reader)
	newPub, newKey, _ := ed25519.GenerateKey(rand.Reader)
	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
	req := exporttask.Request{From: days[0], To: days[1], Format: "jsonl"}
	signWith := func(key ed25519.PrivateKey) func(c map[string]any) {
		return func(c map[string]any) {
			delete(c, "signature")
			body, _ := json.Marshal(c) // map keys sorted: not the engine's encoding, signed anyway
			s := archiver.SignBody(key, body)
			c["signature"] = s
		}
	}
	for _, tc := range []struct {
		name   string
		signer ed25519.PrivateKey // the engine that runs the task (nil: unsigned, as before this change)
		forge  func(c map[string]any)
	}{
		{"unsigned forgery", oldKey, func(c map[string]any) { delete(c, "signature") }},
		{"forgery signed by an untrusted key", oldKey, signWith(otherKey)},
		{"genuine signature kept over a forged record", oldKey, func(map[string]any) {}},
		{"task completed before completions were signed", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newKeyedFixture(t, oldKey)
			e := f.engine(t, nil)
			e.TrustedKeys, e.SigningKey = []ed25519.PublicKey{oldPub}, tc.signer
			if tc.signer == nil {
				e.TrustedKeys = nil
			}
			st, _ := run(t, e, req)
			if st.State != exporttask.StateCompleted {
				t.Fatalf("state %s: %s", st.State, st.Error)
			}
			if tc.forge != nil {
				forgeTask(t, f, st.TaskID, tc.forge)
			}
			// serve after the rotation trusts the new key and the old one.
			r := f.engine(t, nil)
			r.TrustedKeys, r.SigningKey = []ed25519.PublicKey{newPub, oldPub}, newKey
			got, err := r.Status(context.Background(), acme, st.TaskID)
			if err != nil {
				t.Fatal(err)
			}
			if got.State != exporttask.StateFailed || got.Result != nil || !strings.Contains(got.Error, "not signed by a trusted key") {
				t.Errorf("status: %s, result %+v, error %q; want failed without the result", got.State, got.Result, got.Error)
			}
			_, rc, err := r.OpenResult(context.Background(), acme, st.TaskID)
			if rc != nil {
				rc.Close()
				t.Fatal("the result of an untrusted completion was opened")
			}
			if !errors.Is(err, exporttask.ErrUntrustedCompletion) || !errors.Is(err, archiver.ErrBadSignature) {
				t.Errorf("OpenResult: %v, want ErrUntrustedCompletion wrapping ErrBadSignature", err)
			}
			list, _, err := r.ListPage(context.Background(), acme, "", 0)
			if err != nil || len(list) != 1 || list[0].State != exporttask.StateFailed {
				t.Errorf("List: %v, %v", list, err)
			}
		})
	}

	t.Run("genuine, signed by the key rotated away from", func(t *testing.T) {
		f := newKeyedFixture(t, oldKey)
		e := f.engine(t, nil)
		e.TrustedKeys, e.SigningKey = []ed25519.PublicKey{oldPub}, oldKey
		st, want := run(t, e, req)
		if st.State != exporttask.StateCompleted {
			t.Fatalf("state %s: %s", st.State, st.Error)
		}
		r := f.engine(t, nil)
		r.TrustedKeys, r.SigningKey = []ed25519.PublicKey{newPub, oldPub}, newKey
		got, err := r.Status(context.Background(), acme, st.TaskID)
		if err != nil || got.State != exporttask.StateCompleted || got.Result.SHA256 != st.Result.SHA256 {
			t.Fatalf("status after rotation: %+v, %v", got, err)
		}
		_, rc, err := r.OpenResult(context.Background(), acme, st.TaskID)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		var b bytes.Buffer
		b.ReadFrom(rc)
		if !bytes.Equal(b.Bytes(), want) {
			t.Fatal("the result read after rotation differs")
		}
	})

	t.Run("no keys configured: as before", func(t *testing.T) {
		f := newFixture(t)
		e := f.engine(t, nil)
		st, _ := run(t, e, req)
		forged := forgeTask(t, f, st.TaskID, func(c map[string]any) {})
		_, rc, err := e.OpenResult(context.Background(), acme, st.TaskID)
		if err != nil {
			t.Fatalf("OpenResult without keys: %v", err)
		}
		var b bytes.Buffer
		b.ReadFrom(rc)
		rc.Close()
		if !bytes.Equal(b.Bytes(), forged) {
			t.Fatal("without keys the engine should behave as before (the README says: sign the archive)")
		}
	})
	reliability.Record(t, "security", "export task's result and completed.json replaced in the store by a writer without the signing key",
		reliability.CleanFailure, "with signing keys completed.json is signed; an unsigned, untrusted or altered one reads failed and its result is never opened; "+
			"a task signed by a rotated-away key still downloads")
}

// TestTrustedKeysWithoutSigningKey: an engine that checks completions but cannot sign its
// own fails the task at once, saying why, instead of completing one it then refuses.
func TestTrustedKeysWithoutSigningKey(t *testing.T) {
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	f := newKeyedFixture(t, key)
	e := f.engine(t, nil)
	e.TrustedKeys = []ed25519.PublicKey{pub}
	st, _ := run(t, e, exporttask.Request{From: days[0], To: days[1], Format: "jsonl"})
	if st.State != exporttask.StateFailed || !strings.Contains(st.Error, "signing.keyFile") {
		t.Fatalf("state %s, error %q", st.State, st.Error)
	}
	if n := countKeys(t, f.store, archiver.TasksPrefix+acme+"/"+st.TaskID+"/result-"); n != 0 {
		t.Errorf("a result was stored")
	}
	reliability.Record(t, "input", "export task on a server with trusted keys but no signing.keyFile", reliability.CleanFailure,
		"the task fails at once naming signing.keyFile; no result is stored that would then be refused")
}
