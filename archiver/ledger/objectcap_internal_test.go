package ledger

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/internal/reliability"
)

// endlessStore serves every key as 64 MiB of spaces (endless as far as a test is
// concerned; finite so that a regression fails instead of hanging), counting them.
type endlessStore struct {
	archiver.Store
	served int64
}

func (s *endlessStore) Open(context.Context, string) (io.ReadCloser, error) {
	return io.NopCloser(readerFunc(func(p []byte) (int, error) {
		if s.served >= 64<<20 {
			return 0, io.EOF
		}
		for i := range p {
			p[i] = ' '
		}
		s.served += int64(len(p))
		return len(p), nil
	})), nil
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// TestDeclaredSizeOverCap: a manifest (written without the signing key, on a store that
// has none) names its chat index or members object with a size of 1 TiB; the read is
// bounded by that size, so it used to read on (and allocate) as long as the store served
// bytes. The size is now checked against the kind's cap before a byte is read.
func TestDeclaredSizeOverCap(t *testing.T) {
	const tib = 1 << 40
	var sum [32]byte
	tests := []struct {
		name, key, kind string
		read            func(l Ledger, key string) error
	}{
		{"chat index", archiver.DayPrefix3("acme", archiver.Day{}) + "chatindex-" + strings.Repeat("0", 64) + ".json", "chat index", func(l Ledger, key string) error {
			_, err := l.readNamedObject(context.Background(), key, "", tib, "", "chat index", "the manifest")
			return err
		}},
		{"members object", archiver.MembersKey("acme", 2026, sum), "members object", func(l Ledger, key string) error {
			_, err := l.readNamedObject(context.Background(), key, "", tib, "", "members object", "the manifest")
			return err
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := &endlessStore{}
			err := tc.read(Ledger{Store: st}, tc.key)
			var tooLarge *archiver.ObjectTooLargeError
			if !errors.As(err, &tooLarge) || tooLarge.Kind != tc.kind || !strings.Contains(err.Error(), tc.key) {
				t.Fatalf("err %v, want an ObjectTooLargeError naming %s (%s); read %d bytes", err, tc.key, tc.kind, st.served)
			}
			if st.served != 0 {
				t.Fatalf("read %d bytes of an object declared at 1 TiB, want none", st.served)
			}
		})
	}
	reliability.Record(t, "security", "a manifest names its chat index or members object with a size of 1 TiB", reliability.Refused,
		"refused before a byte is read: the declared size is over its kind's cap; the error names the key, the kind and the cap")
}
