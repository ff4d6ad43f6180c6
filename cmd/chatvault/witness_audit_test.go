package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/audit"
	"github.com/chatvault/chatvault/archiver/fsstore"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/internal/reliability"
)

// auditDay is the day of the audit segments the witness tests write.
const auditDay = "2026-11-23"

// writeAuditSegments extends org's audit chain in the folder store by n segments, one
// record each, as serve's audit log would.
func writeAuditSegments(t *testing.T, store, org string, n int) {
	t.Helper()
	s, err := fsstore.New(store)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	log := &audit.Log{Store: s}
	for i := range n {
		r := audit.Record{Time: time.Date(2026, 11, 23, 10, i, 0, 0, time.UTC), TokenName: fmt.Sprintf("t%d", i), Org: org, Status: 200}
		if err := log.Append(ctx, r); err != nil {
			t.Fatal(err)
		}
		if err := log.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

func auditSegmentPath(store, org string, seq int) string {
	return filepath.Join(store, "audit", "orgs", org, auditDay, fmt.Sprintf("%012d.jsonl", seq))
}

func removeAll(t *testing.T, p string) {
	t.Helper()
	if _, err := os.Stat(p); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(p); err != nil {
		t.Fatal(err)
	}
}

// TestVerifyWitnessAuditChains: the witness records each organization's audit chain head
// too, so that deleting the newest audit segments of an organization (which leaves a
// consistent, shorter chain), rewriting its head segment, or deleting every segment of an
// organization fails verify --witness, though the store alone cannot show it.
func TestVerifyWitnessAuditChains(t *testing.T) {
	cleanEnv(t)
	store, common := sealDays(t)
	writeAuditSegments(t, store, acme, 3)
	writeAuditSegments(t, store, globex, 2)
	w := filepath.Join(t.TempDir(), "witness.json")
	mustRun(t, []int{exitOK}, append([]string{"witness", "-o", w}, common...)...)
	var got archiver.Witness
	if err := json.Unmarshal([]byte(mustRead(t, w)), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{acme: 3, globex: 2}
	if got.Version != archiver.WitnessVersion || len(got.AuditHeads) != len(want) {
		t.Fatalf("witness %+v: want version %d with the audit heads %v", got, archiver.WitnessVersion, want)
	}
	for _, h := range got.AuditHeads {
		if h.Seq != want[h.Org] || h.Date != auditDay || len(h.SHA256) != 64 {
			t.Errorf("audit head %+v, want seq %d of %s", h, want[h.Org], auditDay)
		}
	}
	mustRun(t, []int{exitOK}, append([]string{"verify", "--witness", w}, common...)...)

	// The head segment replaced by another, well formed, under the same seq.
	removeAll(t, auditSegmentPath(store, acme, 3))
	writeAuditSegments(t, store, acme, 1)
	mustRun(t, []int{exitOK}, append([]string{"verify"}, common...)...)
	verifyFails(t, "audit chain of organization "+acme+": segment 3 ("+auditDay+") hashes to", append([]string{"--witness", w}, common...)...)
	reliability.Record(t, "security", "an organization's newest audit segment rewritten (witness kept outside)", reliability.CleanFailure,
		"verify --witness exit 1: the audit head hashes differ from the witness")

	// The newest segment deleted: the chain ends at 2, and holds together.
	removeAll(t, auditSegmentPath(store, acme, 3))
	mustRun(t, []int{exitOK}, append([]string{"verify"}, common...)...)
	verifyFails(t, "audit chain of organization "+acme+" had segment 3 ("+auditDay+") but the store's chain ends at 2",
		append([]string{"--witness", w}, common...)...)
	reliability.Record(t, "security", "an organization's newest audit segment deleted (witness kept outside)", reliability.CleanFailure,
		"verify --witness exit 1: audit chain shorter than the witnessed head")

	// Every segment of an organization deleted.
	removeAll(t, filepath.Join(store, "audit", "orgs", globex))
	mustRun(t, []int{exitOK}, append([]string{"verify", "--org", globex}, common...)...)
	code, out, errOut := chatvault(t, append([]string{"verify", "--witness", w}, common...)...)
	if code != exitFailure || !strings.Contains(errOut, "audit chain of organization "+globex+" had segment 2 ("+auditDay+") but the store holds no audit segment") ||
		!strings.Contains(errOut, "audit chain of organization "+acme) {
		t.Fatalf("verify --witness: exit %d, want 1 naming both organizations' audit chains\n%s%s", code, out, errOut)
	}
	// --org looks at that organization's witnessed heads only.
	verifyFails(t, "audit chain of organization "+globex, append([]string{"--org", globex, "--witness", w}, common...)...)
	reliability.Record(t, "security", "every audit segment of an organization deleted (witness kept outside)", reliability.CleanFailure,
		"verify --witness exit 1: the witnessed organization has no audit segment")
}

// TestVerifyOldWitness: a witness written before audit heads were witnessed (version 1,
// manifest heads only) is still read: it checks the manifest chains, and says nothing of
// the audit chains.
func TestVerifyOldWitness(t *testing.T) {
	cleanEnv(t)
	pinLayout2(t)
	store, common := sealDays(t)
	writeAuditSegments(t, store, acme, 2)
	heads, err := ledger.Ledger{Store: openFolder(t, store)}.Heads(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	old := struct {
		Version   int                    `json:"version"`
		Store     string                 `json:"store"`
		CreatedAt string                 `json:"createdAt"`
		Heads     []archiver.WitnessHead `json:"heads"`
	}{1, store, "2026-11-23T01:00:00Z", heads}
	b, err := json.MarshalIndent(old, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	w := filepath.Join(t.TempDir(), "witness-v1.json")
	if err := os.WriteFile(w, b, 0o644); err != nil {
		t.Fatal(err)
	}
	mustRun(t, []int{exitOK}, append([]string{"verify", "--witness", w}, common...)...)
	// The audit chain is not witnessed by it: a deleted segment is not its business.
	removeAll(t, auditSegmentPath(store, acme, 2))
	mustRun(t, []int{exitOK}, append([]string{"verify", "--witness", w}, common...)...)
	// Its manifest heads still count.
	deleteNewest(t, store, acme)
	deleteNewest(t, store, globex)
	deleteAccounting(t, store, "2026-11-22")
	verifyFails(t, "had manifest 3 (2026-11-22) but the store's chain ends at 2", append([]string{"--witness", w}, common...)...)
	reliability.Record(t, "security", "a version 1 witness (manifest heads only) after the audit heads were added", reliability.Kept,
		"still read: its manifest heads are checked, the audit chains are not witnessed by it")
}

func openFolder(t *testing.T, dir string) archiver.Store {
	t.Helper()
	s, err := fsstore.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
