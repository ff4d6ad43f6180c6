package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/internal/reliability"
)

// TestVerifyOneOrgOtherHeadUnreadable: verify --org learns the store's newest day from
// the other archiving organizations' heads (TestVerifyOneOrgDeletedNewestDay). Whoever
// deleted one organization's newest day and the day's accounting objects could also put
// an unreadable object (here a copy of an old manifest) where another organization's head
// is looked for. Before, a head that did not read was skipped, the store's newest day
// came out as the organization's own, and verify --org passed; now it fails naming the
// other organization's head.
func TestVerifyOneOrgOtherHeadUnreadable(t *testing.T) {
	cleanEnv(t)
	pinLayout2(t)
	store, common := sealDays(t)
	deleteNewest(t, store, acme)
	deleteAccounting(t, store, "2026-11-22")
	dir := filepath.Join(store, "orgs", globex, "manifests")
	b, err := os.ReadFile(filepath.Join(dir, "000000000001.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "000000000004.json"), b, 0o400); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := chatvault(t, append([]string{"verify", "--org", acme}, common...)...)
	if code != exitFailure || !strings.Contains(errOut, globex) {
		t.Fatalf("verify --org: exit %d, want 1 naming %s's head\n%s%s", code, globex, out, errOut)
	}
	reliability.Record(t, "security", "verify --org after one organization's newest day and accounting were deleted and another's head made unreadable", reliability.CleanFailure,
		"exit 1 naming the other organization's head: a head that does not read no longer drops out of the store's newest day")
}
