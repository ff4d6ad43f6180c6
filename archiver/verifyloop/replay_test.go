package verifyloop

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestReplayedRecordDoesNotMovePosition: whoever can write to the store (without the
// signing key) copies an old, validly signed slice record under a newer key. The newest
// slice record is found by key, and the key is not signed: before, the copy was taken as
// the last slice and the pass went back to its position, so that a replay after each
// slice kept the slices away from the days the attacker changed (a create, which Object
// Lock does not prevent). A record must be stored under the key its signed finish time
// and kind name; a copy is skipped (logged) and the position stays where the last
// genuine slice left it.
func TestReplayedRecordDoesNotMovePosition(t *testing.T) {
	ctx := context.Background()
	store, v := fourDayStore(t)
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	c := &clock{now: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}
	l := &Loop{Store: store, Verifier: v, Interval: time.Hour, Cycle: 4 * time.Hour, Now: c.Now, Key: key,
		TrustedKeys: []ed25519.PublicKey{key.Public().(ed25519.PublicKey)}}
	d := start(t, l)
	first := d.next()
	if first.Cursor == nil || first.Cursor.Day != "2026-02-01" {
		t.Fatalf("first slice: %+v", first)
	}
	old, err := archiver.ReadAll(ctx, store, first.Key)
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := d.slice(c.add(time.Hour)); r.Cursor == nil || r.Cursor.Day != "2026-02-02" {
		t.Fatalf("second slice: %+v", r)
	}
	// The first record, copied under a later time of the same day.
	replay := Prefix + "2026-03-01/013000.000000000-slice-00000000.json"
	if err := store.Create(ctx, replay, bytes.NewReader(old), int64(len(old)), sha256.Sum256(old), archiver.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	clear(v.calls)
	r, _ := d.slice(c.add(time.Hour))
	if r.Cursor == nil || r.Cursor.Day != "2026-02-03" || v.calls[OrgDay{"org", day(t, "2026-02-03")}] != 1 {
		t.Fatalf("slice after a replayed record: %+v, verified %v: want 2026-02-03, after the last genuine slice", r, v.calls)
	}
	if !strings.Contains(d.logs.String(), "verification record skipped") {
		t.Fatalf("the replayed record was not logged:\n%s", d.logs.String())
	}
	// chatvault verifications (History) refuses it too, naming it.
	if _, err := History(ctx, store, archiver.Day{}, l.TrustedKeys); err == nil || !strings.Contains(err.Error(), replay) {
		t.Fatalf("History: %v, want an error naming %s", err, replay)
	}
	reliability.Record(t, "security", "an old signed verification record copied under a newer key (replay) to move the slices back", reliability.Refused,
		"a record must be stored under the key its signed finish time and kind name: the copy is skipped (logged), the position stays where the last genuine slice left it, and chatvault verifications fails naming it")
}
