package ledger

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestRotationStatementOfANewerVersion: a release of 2026-12-02 verifying a store whose
// key rotation a later one recorded (statement version 2, with chain heads) reported the
// problem "key rotation statement: decode: json: unknown field "heads"", which reads as a
// damaged statement. A statement of a version past the newest this build reads, whatever
// its fields, is refused naming its version and a newer chatvault.
func TestRotationStatementOfANewerVersion(t *testing.T) {
	ctx := context.Background()
	a, b := newKey(t), newKey(t)
	st := rotStore{}
	key, err := Ledger{Store: st}.RecordRotation(ctx, a, b, "yearly", time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC), archiver.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	newer := bytes.Replace(st[key], []byte(`"version": 2,`), []byte(`"version": 3, "witnessedBy": "hsm-1",`), 1)
	if bytes.Equal(newer, st[key]) {
		t.Fatalf("the statement was not changed: %s", st[key])
	}
	_, err = checkRotation(key, newer)
	if err == nil || !strings.Contains(err.Error(), "unsupported version 3") || !strings.Contains(err.Error(), "newer chatvault") {
		t.Fatalf("a newer version's statement: %v; want its version and a newer chatvault named", err)
	}
	reliability.Record(t, "operations", "a key rotation statement of a newer chatvault (a version and fields this build does not know), read after a roll-back", reliability.Refused,
		"refused naming its version and a newer chatvault; before, \"decode: json: unknown field\", read as a damaged statement")
}
