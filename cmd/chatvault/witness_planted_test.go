package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/internal/reliability"
)

// copyFile copies the store's object at from to to, as someone with write access to the
// folder (no key) could.
func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestWitnessPlantedHeadOneOrg: one old object copied (no key needed) to where one
// organization's head is looked for, an audit segment to a later day's folder or a
// manifest to a later day key, is refused as that organization's head. Before, the refusal
// failed the whole witness: one object planted in one organization's folder stopped the
// witnessing of every organization. The witness is written with every other
// organization's heads, names the planted key, and exits 4.
func TestWitnessPlantedHeadOneOrg(t *testing.T) {
	for _, tc := range []struct {
		name  string
		plant func(t *testing.T, store string) string // returns the planted key
		// audit/manifest: whether globex's audit/manifest head is missing from the witness.
		noAudit, noManifest bool
	}{
		{"audit segment copied to a later day's folder", func(t *testing.T, store string) string {
			key := "audit/orgs/" + globex + "/2099-12-31/000000000001.jsonl"
			copyFile(t, auditSegmentPath(store, globex, 1), filepath.Join(store, filepath.FromSlash(key)))
			return key
		}, true, false},
		{"manifest copied to a later day key", func(t *testing.T, store string) string {
			first, err := filepath.Glob(filepath.Join(store, "orgs", globex, "d", "2026", "11", "20.r0001.json"))
			if err != nil || len(first) != 1 {
				t.Fatalf("globex's first manifest: %v, %v", first, err)
			}
			key := "orgs/" + globex + "/d/2099/12/31.r0001.json"
			copyFile(t, first[0], filepath.Join(store, filepath.FromSlash(key)))
			return key
		}, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cleanEnv(t)
			store, common := sealDays(t)
			writeAuditSegments(t, store, acme, 3)
			writeAuditSegments(t, store, globex, 2)
			planted := tc.plant(t, store)
			w := filepath.Join(t.TempDir(), "witness.json")
			code, out, errOut := chatvault(t, append([]string{"witness", "-o", w}, common...)...)
			if code != exitFailure || !strings.Contains(errOut, planted) {
				t.Fatalf("witness with %s planted: exit %d, want %d naming it\n%s%s", planted, code, exitFailure, out, errOut)
			}
			var got archiver.Witness
			if err := json.Unmarshal([]byte(mustRead(t, w)), &got); err != nil {
				t.Fatal(err)
			}
			heads := map[string]int64{}
			for _, h := range got.Heads {
				heads[h.Org] = h.Seq
			}
			audits := map[string]int64{}
			for _, h := range got.AuditHeads {
				audits[h.Org] = h.Seq
			}
			wantHeads := map[string]int64{acme: 3, globex: 3}
			wantAudits := map[string]int64{acme: 3, globex: 2}
			if tc.noManifest {
				delete(wantHeads, globex)
			}
			if tc.noAudit {
				delete(wantAudits, globex)
			}
			if !sameHeads(heads, wantHeads) || !sameHeads(audits, wantAudits) {
				t.Fatalf("witness heads %v, audit heads %v; want %v and %v", heads, audits, wantHeads, wantAudits)
			}
			// The planted object removed, the witness holds: verify --witness checks the
			// heads it holds against the chains.
			if err := os.Remove(filepath.Join(store, filepath.FromSlash(planted))); err != nil {
				t.Fatal(err)
			}
			mustRun(t, []int{exitOK}, append([]string{"verify", "--witness", w}, common...)...)
			if t.Failed() {
				return
			}
			reliability.Record(t, "security", "one organization's "+tc.name+" (no key): chatvault witness", reliability.Refused,
				"witness exit 1 naming the planted key, the file written: that organization's head is left out, every other organization's manifest and audit heads are witnessed (before, one planted object stopped the witness of every organization)")
		})
	}
}

func sameHeads(got, want map[string]int64) bool {
	if len(got) != len(want) {
		return false
	}
	for org, seq := range want {
		if s, ok := got[org]; !ok || s != seq {
			return false
		}
	}
	return true
}
