package archiver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/archiver/verify"
	"github.com/chatvault/chatvault/internal/reliability"
	"github.com/klauspost/compress/gzip"
)

// orgQuarantineLines are bad lines added to the sample day: each names, in its raw bytes,
// a marker the tests look for in what each organization is shown.
var orgQuarantineLines = []string{
	// Globex's: its user sent it to a chat nobody knows (messageId missing).
	`{"eventType":"sent","chatId":"chat-nowhere","timestamp":1795359600000,"eventTimestamp":1795359600000,"sender":{"participantType":"email","id":"u-hank"},"contentType":"text","content":{"contentType":"text","text":"GLOBEX-ONLY","markdownText":"","attachments":[]}}`,
	// Both's: the shared chat (a poll, an unknown content type).
	`{"eventType":"sent","chatId":"chat-acme-globex","timestamp":1795359600000,"eventTimestamp":1795359600000,"messageId":"m-q2","sender":{"participantType":"email","id":"u-ada"},"contentType":"poll","content":{"contentType":"poll","text":"SHARED-CHAT"}}`,
	// Nobody's: the chat named twice (Acme's, then Globex's), no sender.
	`{"eventType":"sent","chatId":"chat-acme-team","chatId":"chat-initech-globex","messageId":"m-q3","text":"AMBIGUOUS-CHAT"}`,
	// Nobody's: Initech does not archive, and the chat is its guest chat.
	`{"eventType":"sent","chatId":"chat-initech-guest","messageId":"m-q4","sender":{"participantType":"email","id":"u-ivy"},"text":"INITECH-ONLY"}`,
	// Nobody's: not JSON at all, though it names an Acme chat.
	`chatId=chat-acme-team NOT-JSON`,
}

// orgQuarantineFixture is the sample day with orgQuarantineLines as a third file.
func orgQuarantineFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"directory.json", "2026-11-22/_CLOSED", "2026-11-22/part-0001.jsonl", "2026-11-22/part-0002.jsonl.gz"} {
		b, err := os.ReadFile(filepath.Join(sampleLog, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	extra := strings.Join(orgQuarantineLines, "\n") + "\n"
	if err := os.WriteFile(filepath.Join(dir, "2026-11-22", "part-0003.jsonl"), []byte(extra), 0o644); err != nil {
		t.Fatal(err)
	}
	return newFixture(t, dir)
}

// quarantineOf returns org's quarantine lines of day as the ledger serves them.
func quarantineOf(t *testing.T, store archiver.Store, org string, day archiver.Day) (*archiver.StoredManifest, []string) {
	t.Helper()
	m, rc, err := ledger.Ledger{Store: store}.OpenQuarantine(context.Background(), org, day)
	if err != nil {
		t.Fatal(err)
	}
	if rc == nil {
		return m, nil
	}
	defer rc.Close()
	return m, strings.Split(strings.TrimSuffix(string(gunzip(t, rc)), "\n"), "\n")
}

// TestOrgQuarantine seals a day with bad lines attributable to Acme, to Globex, to both,
// and to nobody: each organization's manifest counts its own and its quarantine object
// holds exactly them; the day's quarantine object still holds every line; the day's
// accounting balances.
func TestOrgQuarantine(t *testing.T) {
	f := orgQuarantineFixture(t)
	res := f.seal(t, sampleDay, archiver.Options{})
	if !res.Input.Balanced() || res.Input.Quarantined != 9+int64(len(orgQuarantineLines)) {
		t.Fatalf("input %+v: want balanced with %d quarantined", res.Input, 9+len(orgQuarantineLines))
	}
	rc, err := f.store.Open(context.Background(), res.Quarantine.Key)
	if err != nil {
		t.Fatal(err)
	}
	day := string(gunzip(t, rc))
	rc.Close()
	for _, marker := range []string{"GLOBEX-ONLY", "SHARED-CHAT", "AMBIGUOUS-CHAT", "INITECH-ONLY", "NOT-JSON"} {
		if strings.Count(day, marker) != 1 {
			t.Errorf("the day's quarantine holds %q %d times, want once", marker, strings.Count(day, marker))
		}
	}
	want := map[string]struct {
		n           int
		has, hasNot []string
	}{
		acme:   {7 + 1, []string{"SHARED-CHAT", `"line":10`}, []string{"GLOBEX-ONLY", "AMBIGUOUS-CHAT", "INITECH-ONLY", "NOT-JSON"}},
		globex: {2, []string{"GLOBEX-ONLY", "SHARED-CHAT"}, []string{"AMBIGUOUS-CHAT", "INITECH-ONLY", "NOT-JSON", "chat-acme-team"}},
	}
	for org, w := range want {
		m, lines := quarantineOf(t, f.store, org, sampleDay)
		if m.Quarantined == nil || m.Quarantined.Records != int64(w.n) || len(lines) != w.n {
			t.Errorf("%s: manifest quarantined %+v, %d lines served; want %d", org, m.Quarantined, len(lines), w.n)
			continue
		}
		all := strings.Join(lines, "\n")
		for _, s := range w.has {
			if !strings.Contains(all, s) {
				t.Errorf("%s: its quarantine lacks %q", org, s)
			}
		}
		for _, s := range w.hasNot {
			if strings.Contains(all, s) {
				t.Errorf("%s: its quarantine holds %q, which is not its own", org, s)
			}
		}
		for _, l := range lines {
			var rec map[string]any
			if err := json.Unmarshal([]byte(l), &rec); err != nil || rec["reason"] == nil || rec["file"] == nil {
				t.Errorf("%s: not a quarantine record: %s", org, l)
			}
			if !strings.Contains(day, l) {
				t.Errorf("%s: a line the day's quarantine does not hold: %s", org, l)
			}
		}
		// The organization's own counts are unchanged: quarantined lines are no records.
		if m.Counts.Exported != m.Data.Records {
			t.Errorf("%s: counts %+v", org, m.Counts)
		}
	}
	if rep, err := verify.Run(context.Background(), ledger.Ledger{Store: f.store}, verify.Options{}); err != nil || !rep.OK() {
		t.Fatalf("verify: %v %v", err, rep.Problems)
	}
	// A rerun finds the same lines: nothing new.
	for _, o := range f.seal(t, sampleDay, archiver.Options{}).Orgs {
		if o.Outcome != archiver.OutcomeUnchanged {
			t.Errorf("%s: rerun %s, want unchanged", o.Name, o.Outcome)
		}
	}
	reliability.Record(t, "security", "quarantined lines of a day with several organizations", reliability.Quarantined,
		"each organization's manifest counts and its quarantine object holds only the lines its chat or sender routes to it; the day's quarantine keeps all, for operators")
	reliability.Record(t, "input", "bad line whose chat or sender still reads (unknown content type, missing field)", reliability.Quarantined,
		"also kept in the quarantine of each organization it routes to, counted in its manifest (quarantined) and served to it")
}

// TestOrgQuarantineRevision: a rerun whose partition gained an attributable bad line has
// the same records, but what the organization is shown changed, so it commits a revision;
// the other organization's day stays unchanged.
func TestOrgQuarantineRevision(t *testing.T) {
	f := newFixture(t, sampleLog)
	for _, o := range f.seal(t, sampleDay, archiver.Options{}).Orgs {
		if o.Revision != 1 {
			t.Fatalf("%s: revision %d", o.Name, o.Revision)
		}
	}
	f2 := orgQuarantineFixture(t)
	f2.store, f2.storeDir = f.store, f.storeDir
	got := map[string]archiver.OrgResult{}
	for _, o := range f2.seal(t, sampleDay, archiver.Options{}).Orgs {
		got[o.Org] = o
	}
	if o := got[acme]; o.Outcome != archiver.OutcomeCommitted || o.Revision != 2 || o.Quarantined.Records != 8 {
		t.Errorf("acme: %s rev %d quarantined %+v, want committed rev 2 with 8", o.Outcome, o.Revision, o.Quarantined)
	}
	if o := got[globex]; o.Outcome != archiver.OutcomeCommitted || o.Revision != 2 || o.Quarantined.Records != 2 {
		t.Errorf("globex: %s rev %d quarantined %+v, want committed rev 2 with 2", o.Outcome, o.Revision, o.Quarantined)
	}
	if rep, err := verify.Run(context.Background(), ledger.Ledger{Store: f.store}, verify.Options{}); err != nil || !rep.OK() {
		t.Fatalf("verify: %v %v", err, rep.Problems)
	}
}

// TestVerifyOrgQuarantine tampers with an organization's quarantine object: verify names
// it whether a line is dropped (re-gzipped), a byte flipped or the object deleted.
func TestVerifyOrgQuarantine(t *testing.T) {
	f := orgQuarantineFixture(t)
	f.seal(t, sampleDay, archiver.Options{})
	m, lines := quarantineOf(t, f.store, globex, sampleDay)
	path := filepath.Join(f.storeDir, filepath.FromSlash(m.Quarantined.Key))
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lg := ledger.Ledger{Store: f.store}
	for _, tt := range []struct {
		name   string
		tamper func()
	}{
		{"a line dropped", func() {
			var b bytes.Buffer
			zw := gzip.NewWriter(&b)
			zw.Write([]byte(lines[0] + "\n"))
			zw.Close()
			writeFile(t, path, b.Bytes())
		}},
		{"a byte flipped", func() {
			b := bytes.Clone(orig)
			b[len(b)/2] ^= 0x04
			writeFile(t, path, b)
		}},
		{"deleted", func() {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.tamper()
			defer writeFile(t, path, orig)
			rep, err := verify.Run(context.Background(), lg, verify.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK() || !strings.Contains(strings.Join(rep.Problems, "\n"), m.Quarantined.Key) {
				t.Fatalf("verify with the organization's quarantine %s: problems %v", tt.name, rep.Problems)
			}
			reliability.Record(t, "security", "organization's quarantine object "+tt.name, reliability.CleanFailure,
				"verify re-hashes it against the manifest (stored bytes, JSONL, line count) and names it")
		})
	}
	if rep, err := verify.Run(context.Background(), lg, verify.Options{}); err != nil || !rep.OK() {
		t.Fatalf("restored: %v %v", err, rep.Problems)
	}
}
