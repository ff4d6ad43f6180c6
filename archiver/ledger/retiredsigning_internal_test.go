package ledger

import (
	"context"
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
)

// TestCheckSigningKey: a process refuses to start signing with a key the store's
// rotation statements retired, naming the key and the statement, unless a later
// statement rotated back to it; the key it was rotated to, another key and a store
// without statements sign.
func TestCheckSigningKey(t *testing.T) {
	ctx := context.Background()
	a, b, c := newKey(t), newKey(t), newKey(t)
	now := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	rotate := func(l Ledger, from, to ed25519.PrivateKey, at time.Time) {
		t.Helper()
		if _, err := l.RecordRotation(ctx, from, to, "test", at, archiver.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range []struct {
		name    string
		rotate  func(l Ledger)
		key     ed25519.PrivateKey
		retired string // the statement the error names; "" when the key signs
	}{
		{"no statement", func(Ledger) {}, a, ""},
		{"rotated away", func(l Ledger) { rotate(l, a, b, now) }, a, rotationKey(id(a), id(b))},
		{"the key rotated to", func(l Ledger) { rotate(l, a, b, now) }, b, ""},
		{"another key", func(l Ledger) { rotate(l, a, b, now) }, c, ""},
		{"rotated away twice", func(l Ledger) { rotate(l, a, b, now); rotate(l, b, c, now.Add(time.Hour)) }, b, rotationKey(id(b), id(c))},
		{"rotated back to", func(l Ledger) { rotate(l, a, b, now); rotate(l, b, a, now.Add(time.Hour)) }, a, ""},
		{"no key", func(l Ledger) { rotate(l, a, b, now) }, nil, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l := Ledger{Store: rotStore{}}
			tt.rotate(l)
			err := l.CheckSigningKey(ctx, tt.key)
			switch {
			case tt.retired == "" && err != nil:
				t.Fatalf("CheckSigningKey = %v, want nil", err)
			case tt.retired != "" && (!errors.Is(err, ErrRetiredKey) || !strings.Contains(err.Error(), tt.retired) ||
				!strings.Contains(err.Error(), id(tt.key))):
				t.Fatalf("CheckSigningKey = %v, want %v naming key %s and %s", err, ErrRetiredKey, id(tt.key), tt.retired)
			}
		})
	}
}
