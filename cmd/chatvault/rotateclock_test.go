package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver/audit"
	"github.com/chatvault/chatvault/archiver/fsstore"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestRotateOnAHostWhoseClockIsBehind: key A sealed 2026-11-22 on 2026-11-27 and signed an
// audit segment of that afternoon; keys rotate then ran on a host whose clock read
// 2026-11-24 (a VM restored from a snapshot). The statement was dated 2026-11-24, and
// verify reported the day's accounting object and the segment as signed by A after its
// rotation, for good (the statement is create-only and made once). The rotation is now
// refused, naming the object, its date and this host's clock, and nothing is written;
// with the clock right it is recorded and verify passes.
func TestRotateOnAHostWhoseClockIsBehind(t *testing.T) {
	cleanEnv(t)
	store := t.TempDir()
	logDir := copyEventLog(t)
	keyA, pubA := genKey(t, "a")
	keyB, pubB := genKey(t, "b")
	pubs := filepath.Join(t.TempDir(), "pubs.pem")
	writePubs(t, pubs, pubA, pubB)
	common := []string{"--eventlog", logDir, "--store", store, "--log-format", "json", "--log-level", "error"}
	t.Setenv("CHATVAULT_SIGNING_KEYFILE", keyA)

	setRunClock(t, "2026-11-27T03:00:00Z")
	mustRun(t, sealed, append([]string{"run", "--date", "2026-11-22"}, common...)...)
	appendAuditRecord(t, store, keyA, time.Date(2026, 11, 27, 15, 0, 0, 0, time.UTC))

	setRotateClock(t, time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC))
	code, out, errOut := chatvault(t, append([]string{"keys", "rotate", "--new-key", keyB, "--reason", "yearly"}, common...)...)
	if code != exitFailure || !strings.Contains(errOut, "2026-11-27T15:00:00Z") || !strings.Contains(errOut, "this host's clock (2026-11-24T09:00:00Z)") ||
		!strings.Contains(errOut, "audit/orgs/"+acme+"/") {
		t.Fatalf("keys rotate with the clock 3 days behind: exit %d, want 1 naming the audit segment, its date and the clock\n%s%s", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(store, "keys", "rotations")); !os.IsNotExist(err) {
		t.Fatalf("the refused rotation wrote a statement: %v", err)
	}

	// The seal's own date (its manifests and accounting object) is refused as well, with
	// no audit segment after it.
	storeB := t.TempDir()
	commonB := []string{"--eventlog", logDir, "--store", storeB, "--log-format", "json", "--log-level", "error"}
	mustRun(t, sealed, append([]string{"run", "--date", "2026-11-22"}, commonB...)...)
	code, out, errOut = chatvault(t, append([]string{"keys", "rotate", "--new-key", keyB}, commonB...)...)
	if code != exitFailure || !strings.Contains(errOut, "2026-11-27T03:00:00Z") || !strings.Contains(errOut, "(sealedAt)") {
		t.Fatalf("keys rotate with the clock behind the last seal: exit %d, want 1 naming the manifest's sealedAt\n%s%s", code, out, errOut)
	}

	// A stolen key's forgeries may be dated ahead on purpose: the rotation that retires it
	// is not to be held back by them. --despite-later-dates records it now, and verify
	// reports the objects dated after it as signed after the rotation.
	if !strings.Contains(errOut, "--despite-later-dates") {
		t.Errorf("the refusal does not name --despite-later-dates:\n%s", errOut)
	}
	code, out, errOut = chatvault(t, append([]string{"keys", "rotate", "--new-key", keyB, "--despite-later-dates"}, commonB...)...)
	if code != exitOK || !strings.Contains(out, "recorded keys/rotations/") {
		t.Fatalf("keys rotate --despite-later-dates: exit %d, want 0 and the statement recorded\n%s%s", code, out, errOut)
	}
	if code, out, errOut := chatvault(t, append([]string{"verify", "--public-key", pubs}, commonB...)...); code != exitFailure || !strings.Contains(out+errOut, "retired before the object was sealed") {
		t.Fatalf("verify after a rotation dated before a manifest the old key signed: exit %d, want 1 reporting it\n%s%s", code, out, errOut)
	}

	setRotateClock(t, time.Date(2026, 11, 27, 15, 30, 0, 0, time.UTC))
	mustRun(t, []int{exitOK}, append([]string{"keys", "rotate", "--new-key", keyB, "--reason", "yearly"}, common...)...)
	if code, out, errOut := chatvault(t, append([]string{"verify", "--public-key", pubs}, common...)...); code != exitOK {
		t.Fatalf("verify after the rotation with the clock right: exit %d, want 0\n%s%s", code, out, errOut)
	}
	reliability.Record(t, "operations", "keys rotate on a host whose clock is days behind the hosts that sealed and served with the old key (a VM restored from a snapshot)",
		reliability.Refused,
		"exit 1 naming the newest object the old key signed (a chain head's sealedAt, an audit head's last record), its date and this host's clock; no statement written; "+
			"before, the statement was dated in the past and verify reported the day's accounting object and the audit segment as signed by a retired key, for good; --despite-later-dates rotates anyway (a stolen key's forgeries dated ahead must not hold its retirement back)")
}

// setRotateClock makes keys rotate's "now" at for the test.
func setRotateClock(t *testing.T, at time.Time) {
	t.Helper()
	old := rotateClock
	rotateClock = func() time.Time { return at }
	t.Cleanup(func() { rotateClock = old })
}

// writePubs writes the public key files' contents, one after the other, to path.
func writePubs(t *testing.T, path string, files ...string) {
	t.Helper()
	var b []byte
	for _, f := range files {
		p, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		b = append(b, p...)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// appendAuditRecord stores one access record of acme at at, in a segment signed by keyFile,
// as serve's audit log does.
func appendAuditRecord(t *testing.T, store, keyFile string, at time.Time) {
	t.Helper()
	ctx := context.Background()
	key, err := readPrivateKey(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	st, err := fsstore.New(store)
	if err != nil {
		t.Fatal(err)
	}
	log := &audit.Log{Store: st, SigningKey: key, Now: func() time.Time { return at }}
	if err := log.Append(ctx, audit.Record{Time: at, TokenID: "t1", TokenName: "reader", Org: acme, Date: "2026-11-22", Status: 200, Complete: true, Client: "127.0.0.1"}); err != nil {
		t.Fatal(err)
	}
	if err := log.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}
