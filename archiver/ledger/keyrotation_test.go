package ledger

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
)

// rotStore is an in-memory Store with Create and List, for rotation statements.
type rotStore map[string][]byte

func (m rotStore) Create(_ context.Context, key string, body io.Reader, _ int64, _ [sha256.Size]byte, _ archiver.CreateOptions) error {
	b, err := io.ReadAll(body)
	if err != nil {
		return err
	}
	if old, ok := m[key]; ok && !bytes.Equal(old, b) {
		return archiver.ErrConflict
	}
	m[key] = b
	return nil
}

func (m rotStore) Open(_ context.Context, key string) (io.ReadCloser, error) {
	b, ok := m[key]
	if !ok {
		return nil, archiver.ErrNotFound
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

func (m rotStore) List(_ context.Context, prefix string, fn func(string) error) error {
	var keys []string
	for k := range m {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		if err := fn(k); err != nil {
			return err
		}
	}
	return nil
}

func newKey(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func id(k ed25519.PrivateKey) string { return archiver.KeyID(k.Public().(ed25519.PublicKey)) }

// TestRotationStatements: a recorded rotation allows its key change (and a chain of them),
// a statement edited after signing or filed under another name allows nothing and is a
// problem, and recording a rotation twice never replaces the first statement.
func TestRotationStatements(t *testing.T) {
	ctx := context.Background()
	a, b, c := newKey(t), newKey(t), newKey(t)
	now := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		tamper  func(st rotStore, key string)
		allowed bool
		problem string
	}{
		{"as recorded", func(rotStore, string) {}, true, ""},
		{"reason edited", func(st rotStore, key string) {
			st[key] = bytes.Replace(st[key], []byte(`"yearly"`), []byte(`"other"`), 1)
		}, false, "does not verify"},
		{"new key swapped", func(st rotStore, key string) {
			// The forger puts a key of their own in place of the new one, everywhere.
			r, err := checkRotation(key, st[key])
			if err != nil {
				t.Fatal(err)
			}
			b := bytes.ReplaceAll(st[key], []byte(r.To.KeyID), []byte(id(c)))
			b = bytes.ReplaceAll(b, []byte(r.To.PublicKey), []byte(base64.StdEncoding.EncodeToString(c.Public().(ed25519.PublicKey))))
			delete(st, key)
			st[rotationKey(id(a), id(c))] = b
		}, false, "does not verify"},
		{"filed under another name", func(st rotStore, key string) {
			st[rotationKey(id(a), id(c))] = st[key]
			delete(st, key)
		}, false, "does not name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := rotStore{}
			l := Ledger{Store: st}
			key, err := l.RecordRotation(ctx, a, b, "yearly", now, archiver.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			tt.tamper(st, key)
			rep := &testFindings{}
			allowed, err := l.Rotations(ctx, rep)
			if err != nil {
				t.Fatal(err)
			}
			if got := Rotated(allowed, id(a), id(b)); got != tt.allowed {
				t.Errorf("rotation a→b allowed = %t, want %t", got, tt.allowed)
			}
			if Rotated(allowed, id(a), id(c)) {
				t.Error("rotation a→c allowed")
			}
			problems := strings.Join(rep.Problems, "\n")
			if (tt.problem == "") != (len(rep.Problems) == 0) || !strings.Contains(problems, tt.problem) {
				t.Errorf("problems %q, want one with %q", rep.Problems, tt.problem)
			}
		})
	}

	st := rotStore{}
	l := Ledger{Store: st}
	if _, err := l.RecordRotation(ctx, a, b, "", now, archiver.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.RecordRotation(ctx, b, c, "", now, archiver.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	first := string(st[rotationKey(id(a), id(b))])
	if _, err := l.RecordRotation(ctx, a, b, "again", now.Add(time.Hour), archiver.CreateOptions{}); err == nil {
		t.Error("recording a→b twice succeeded")
	}
	if string(st[rotationKey(id(a), id(b))]) != first {
		t.Error("the second statement replaced the first")
	}
	allowed, err := l.Rotations(ctx, &testFindings{})
	if err != nil {
		t.Fatal(err)
	}
	if !Rotated(allowed, id(a), id(c)) || Rotated(allowed, id(c), id(a)) {
		t.Errorf("a→b→c: a→c allowed %t (want true), c→a allowed %t (want false)", Rotated(allowed, id(a), id(c)), Rotated(allowed, id(c), id(a)))
	}
	if _, err := l.RecordRotation(ctx, a, a, "", now, archiver.CreateOptions{}); err == nil {
		t.Error("a rotation from a key to itself succeeded")
	}
}

// testFindings collects what a check reports.
type testFindings struct{ Problems, Warnings []string }

func (f *testFindings) Problemf(format string, args ...any) {
	f.Problems = append(f.Problems, fmt.Sprintf(format, args...))
}
func (f *testFindings) Warn(msg string) { f.Warnings = append(f.Warnings, msg) }
func (f *testFindings) Read(int, int64) {}

// TestRecordRotationTwiceSaysSo: `keys rotate` run again (a careless rerun, a retried
// script) failed with the store's "object exists with different content" and two
// SHA-256s, which reads as tampering. The first statement stays, the rerun still fails
// (ErrConflict), and its message says the rotation is already recorded, where and when.
func TestRecordRotationTwiceSaysSo(t *testing.T) {
	ctx := context.Background()
	a, b := newKey(t), newKey(t)
	now := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	st := rotStore{}
	l := Ledger{Store: st}
	key, err := l.RecordRotation(ctx, a, b, "yearly", now, archiver.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	first := string(st[key])
	_, err = l.RecordRotation(ctx, a, b, "yearly", now.Add(time.Minute), archiver.CreateOptions{})
	if !errors.Is(err, archiver.ErrConflict) {
		t.Fatalf("rerun: %v, want ErrConflict", err)
	}
	for _, want := range []string{"already recorded", key, "2026-11-23T00:00:00Z", "point signing.keyFile at the new key"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("rerun's error %q does not say %q", err, want)
		}
	}
	if string(st[key]) != first {
		t.Error("the rerun replaced the statement")
	}
}
