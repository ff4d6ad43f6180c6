package archiver_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/archiver/verify"
	"github.com/chatvault/chatvault/internal/reliability"
)

// copyLog copies the sample event log into a folder of the test's own, so that a test can
// change the partition between runs.
func copyLog(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(sampleLog)); err != nil {
		t.Fatal(err)
	}
	return dir
}

// editPartition rewrites the sample partition's plain file, keeping the lines for which
// keep returns true and appending add.
func editPartition(t *testing.T, logDir string, keep func(line string) bool, add ...string) {
	t.Helper()
	path := filepath.Join(logDir, sampleDay.String(), "part-0001.jsonl")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.SplitAfter(string(b), "\n") {
		if l != "" && keep(l) {
			out = append(out, l)
		}
	}
	for _, l := range add {
		out = append(out, l+"\n")
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(strings.Join(out, "")), 0o644); err != nil {
		t.Fatal(err)
	}
}

// dropFirst removes the first line of Acme's own chat: one record of Acme's export.
func dropFirst(line string) bool { return !strings.Contains(line, `"messageId":"m-001"`) }

// sealDay seals with opt, returning the result whatever the organizations' outcomes.
func (f *fixture) sealDay(t *testing.T, only string, opt archiver.Options) *archiver.DayResult {
	t.Helper()
	if opt.Now == nil {
		opt.Now = fixedClock
	}
	if opt.TempDir == "" {
		opt.TempDir = t.TempDir()
	}
	s := &archiver.Sealer{Source: f.src, Store: f.store, Chain: ledger.Ledger{Store: f.store}, Options: opt}
	res, err := s.Seal(context.Background(), sampleDay, f.directory, only)
	if err != nil {
		t.Fatalf("seal: %v", err)
	}
	return res
}

func byName(res *archiver.DayResult) map[string]archiver.OrgResult {
	out := map[string]archiver.OrgResult{}
	for _, o := range res.Orgs {
		out[o.Name] = o
	}
	return out
}

func verifyStore(t *testing.T, f *fixture) *verify.Report {
	t.Helper()
	rep, err := verify.Run(context.Background(), ledger.Ledger{Store: f.store}, verify.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// TestRerunThatDropsRecordsFails reruns a sealed day on a partition that lost one of
// Acme's records: Acme's day fails, naming the count, revision 1 stays the one served,
// and Globex, whose records are the same, is unchanged.
func TestRerunThatDropsRecordsFails(t *testing.T) {
	logDir := copyLog(t)
	f := newFixture(t, logDir)
	f.seal(t, sampleDay, archiver.Options{})
	before, m1 := f.export(t, acme, sampleDay)

	editPartition(t, logDir, dropFirst)
	res := f.sealDay(t, "", archiver.Options{})
	got := byName(res)
	a := got["Acme"]
	if a.Err == nil || a.Outcome != archiver.OutcomeFailed {
		t.Fatalf("Acme: outcome %s err %v; want a failure", a.Outcome, a.Err)
	}
	var se *archiver.ShrinkError
	if !errors.Is(a.Err, archiver.ErrRevisionShrinks) || !errors.As(a.Err, &se) || se.Dropped != 1 || se.Revision != 1 {
		t.Fatalf("Acme's error %v; want a ShrinkError dropping 1 record of revision 1", a.Err)
	}
	records := bytes.Count(before, []byte("\n"))
	for _, want := range []string{acme, fmt.Sprintf("drop 1 of the %d records of revision 1", records), "--supersede --reason"} {
		if !strings.Contains(a.Err.Error(), want) {
			t.Errorf("error %q lacks %q", a.Err, want)
		}
	}
	if g := got["Globex"]; g.Err != nil || g.Outcome != archiver.OutcomeUnchanged {
		t.Errorf("Globex: outcome %s err %v; want unchanged", g.Outcome, g.Err)
	}
	after, m := f.export(t, acme, sampleDay)
	if m.Revision != 1 || !bytes.Equal(after, before) || m.Key != m1.Key {
		t.Fatalf("served revision %d; want revision 1, unchanged", m.Revision)
	}
	if rep := verifyStore(t, f); !rep.OK() {
		t.Errorf("verify after the refusal: %v", rep.Problems)
	}
	failed, msg, err := ledger.Ledger{Store: f.store}.Failed(context.Background(), acme, sampleDay)
	if err != nil || !failed || !strings.Contains(msg, "would drop 1") {
		t.Errorf("the refused attempt is not recorded: %v %q %v", failed, msg, err)
	}
	reliability.Record(t, "input", "rerun of a sealed day whose partition lost a record", reliability.CleanFailure,
		"the organization's day fails: \"the new records would drop 1 of the N records of revision 1\"; revision 1 stays served; other organizations proceed")
}

// TestRerunThatAddsRecordsCommits: a record added to the partition makes revision 2 on
// its own, without --supersede.
func TestRerunThatAddsRecordsCommits(t *testing.T) {
	logDir := copyLog(t)
	f := newFixture(t, logDir)
	f.seal(t, sampleDay, archiver.Options{})
	editPartition(t, logDir, func(string) bool { return true },
		`{"eventType":"sent","chatId":"chat-acme-team","timestamp":1795338000500,"eventTimestamp":1795338000500,"messageId":"m-late","sender":{"participantType":"email","id":"u-ada","displayName":"Ada Lovelace","email":"ada@acme.example"},"contentType":"text","content":{"contentType":"text","text":"late","markdownText":"late","attachments":[]}}`)
	res := f.seal(t, sampleDay, archiver.Options{})
	a := byName(res)["Acme"]
	if a.Outcome != archiver.OutcomeCommitted || a.Revision != 2 {
		t.Fatalf("Acme: %s rev %d; want committed revision 2", a.Outcome, a.Revision)
	}
	_, m := f.export(t, acme, sampleDay)
	if m.Supersedes != nil {
		t.Errorf("a revision that only adds records records a supersession: %+v", m.Supersedes)
	}
	if rep := verifyStore(t, f); !rep.OK() {
		t.Errorf("verify: %v", rep.Problems)
	}
	reliability.Record(t, "input", "rerun of a sealed day whose partition gained a record", reliability.Kept,
		"revision 2 commits on its own: it holds every record of revision 1")
}

// TestSupersedeCommitsWithReason: the operator's explicit supersession commits the
// shrinking revision and records why, what it replaces and how many records it drops;
// verify accepts it.
func TestSupersedeCommitsWithReason(t *testing.T) {
	logDir := copyLog(t)
	f := newFixture(t, logDir)
	f.seal(t, sampleDay, archiver.Options{})
	editPartition(t, logDir, dropFirst)

	// A supersession names one organization; another's shrink is still refused.
	res := f.sealDay(t, acme, archiver.Options{Supersede: &archiver.Supersede{Org: globex, Reason: "wrong org"}})
	if a := byName(res)["Acme"]; !errors.Is(a.Err, archiver.ErrRevisionShrinks) {
		t.Fatalf("supersession of Globex let Acme's shrink through: %s %v", a.Outcome, a.Err)
	}

	const reason = "ticket LEGAL-42: m-001 removed from the event log by court order"
	res = f.sealDay(t, acme, archiver.Options{Supersede: &archiver.Supersede{Org: acme, Reason: reason}})
	a := byName(res)["Acme"]
	if a.Err != nil || a.Outcome != archiver.OutcomeCommitted || a.Revision != 2 {
		t.Fatalf("Acme: %s rev %d err %v; want committed revision 2", a.Outcome, a.Revision, a.Err)
	}
	_, m := f.export(t, acme, sampleDay)
	want := archiver.Supersession{Revision: 1, Dropped: 1, Reason: reason}
	if m.Revision != 2 || m.Supersedes == nil || *m.Supersedes != want {
		t.Fatalf("manifest revision %d supersedes %+v; want %+v", m.Revision, m.Supersedes, want)
	}
	if !bytes.Contains(m.Bytes, []byte(`"supersedes": {`)) {
		t.Errorf("stored manifest lacks the supersedes field:\n%s", m.Bytes)
	}
	if rep := verifyStore(t, f); !rep.OK() {
		t.Errorf("verify: %v", rep.Problems)
	}
	// The supersession is recorded for the metrics, once.
	var n int
	err := ledger.Ledger{Store: f.store}.Supersessions(context.Background(), func(s archiver.SupersessionRecord) error {
		n++
		if s.Org != acme || s.Date != sampleDay.String() || s.Revision != 2 || s.Supersedes != want {
			t.Errorf("supersession record %+v", s)
		}
		return nil
	})
	if err != nil || n != 1 {
		t.Errorf("%d supersession records (%v), want 1", n, err)
	}
	reliability.Record(t, "input", "operator supersedes a revision that drops records (run --supersede --reason)", reliability.Kept,
		"revision 2 commits with supersedes {revision, dropped, reason} in its manifest; verify passes; recorded once under revisions/superseded/, from which serve derives the chatvault_revisions_superseded gauges")
}

// TestVerifyFindsForgedShrink forges the store: a superseding revision whose manifest
// loses its supersession record (or misstates what it dropped) is a problem for verify.
func TestVerifyFindsForgedShrink(t *testing.T) {
	tests := []struct {
		name  string
		forge func(m map[string]any)
		want  string
	}{
		{"supersession removed", func(m map[string]any) { delete(m, "supersedes") },
			"drops 1 record(s) of revision 1 without a recorded supersession"},
		{"dropped count understated", func(m map[string]any) { m["supersedes"].(map[string]any)["dropped"] = 0 },
			"drops 1 record(s) of revision 1, its supersession says 0"},
		{"reason blanked", func(m map[string]any) { m["supersedes"].(map[string]any)["reason"] = " " },
			"supersession without a reason"},
		{"removed, and the manifest passed off as version 1", func(m map[string]any) { delete(m, "supersedes"); m["version"] = 1 },
			"drops 1 record(s) of revision 1 without a recorded supersession"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logDir := copyLog(t)
			f := newFixture(t, logDir)
			f.seal(t, sampleDay, archiver.Options{Layout: archiver.Layout2})
			editPartition(t, logDir, dropFirst)
			f.sealDay(t, acme, archiver.Options{Layout: archiver.Layout2, Supersede: &archiver.Supersede{Org: acme, Reason: "test"}})
			if rep := verifyStore(t, f); !rep.OK() {
				t.Fatalf("verify before the forgery: %v", rep.Problems)
			}
			// The forger rewrites revision 2's manifest in the chain and in the day index.
			chain := filepath.Join(f.storeDir, "orgs", acme, "manifests", "000000000002.json")
			b, err := os.ReadFile(chain)
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			tt.forge(m)
			forged, err := json.MarshalIndent(m, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range []string{chain, filepath.Join(f.storeDir, "orgs", acme, "days", sampleDay.String(), "r0002.json")} {
				if err := os.Chmod(p, 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, append(forged, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			rep := verifyStore(t, f)
			if !strings.Contains(strings.Join(rep.Problems, "\n"), tt.want) {
				t.Fatalf("verify problems %q lack %q", rep.Problems, tt.want)
			}
			reliability.Record(t, "security", "forged store: shrinking revision with its supersession "+tt.name, reliability.CleanFailure,
				"verify reports a problem: "+tt.want)
		})
	}
}

// TestVerifyWarnsOnLegacyShrink: two version 1 manifests, written before revisions were
// checked, where the second drops a record, are history that the store cannot undo (the
// record is still in revision 1): a warning, not a problem.
func TestVerifyWarnsOnLegacyShrink(t *testing.T) {
	logDir := copyLog(t)
	f := newFixture(t, logDir)
	f.seal(t, sampleDay, archiver.Options{Layout: archiver.Layout2})
	editPartition(t, logDir, dropFirst)
	f.sealDay(t, acme, archiver.Options{Layout: archiver.Layout2, Supersede: &archiver.Supersede{Org: acme, Reason: "test"}})
	// Rewrite both manifests as the earlier release wrote them: version 1, no supersedes,
	// the chain's previous hash following.
	var previous string
	for _, rev := range []int{1, 2} {
		chain := filepath.Join(f.storeDir, "orgs", acme, "manifests", fmt.Sprintf("%012d.json", rev))
		b, err := os.ReadFile(chain)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		m["version"] = 1
		delete(m, "supersedes")
		if previous != "" {
			m["previous"] = previous
		}
		legacy, err := json.MarshalIndent(m, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		legacy = append(legacy, '\n')
		sum := sha256.Sum256(legacy)
		previous = hex.EncodeToString(sum[:])
		for _, p := range []string{chain, filepath.Join(f.storeDir, "orgs", acme, "days", sampleDay.String(), fmt.Sprintf("r%04d.json", rev))} {
			if err := os.Chmod(p, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, legacy, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	// A store sealed before version 2 has no accounting objects, and Globex's manifest was
	// version 1 too.
	if err := os.RemoveAll(filepath.Join(f.storeDir, "accounting")); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{
		filepath.Join(f.storeDir, "orgs", globex, "manifests", fmt.Sprintf("%012d.json", 1)),
		filepath.Join(f.storeDir, "orgs", globex, "days", sampleDay.String(), fmt.Sprintf("r%04d.json", 1)),
	} {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, bytes.Replace(b, []byte(`"version": 2,`), []byte(`"version": 1,`), 1), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rep := verifyStore(t, f)
	if !rep.OK() {
		t.Fatalf("verify problems: %v", rep.Problems)
	}
	if w := strings.Join(rep.Warnings, "\n"); !strings.Contains(w, "drops 1 record(s) of revision 1 (sealed before revisions were checked") {
		t.Fatalf("warnings %q lack the legacy shrink", rep.Warnings)
	}
}
