package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/archiver"

	"github.com/chatvault/chatvault/internal/reliability"
)

// TestReadOnlyCommandsOnMistypedStore runs every command that only reads the archive on a
// folder that does not exist: each must fail naming the path and leave nothing behind,
// never create an empty archive and report "0 problems" or "pending" on it.
func TestReadOnlyCommandsOnMistypedStore(t *testing.T) {
	cleanEnv(t)
	parent := t.TempDir()
	store := filepath.Join(parent, "archvie", "prod") // a typo of an existing archive's path
	common := []string{"--eventlog", "../../testdata/eventlog", "--store", store, "--log-format", "json"}
	tests := []struct {
		name string
		args []string
	}{
		{"verify", []string{"verify"}},
		{"status", []string{"status", "--org", acme, "--date", "2026-11-22"}},
		{"export", []string{"export", "--org", acme, "--date", "2026-11-22"}},
		{"audit", []string{"audit", "--date", "2026-11-22"}},
		{"witness", []string{"witness", "-o", filepath.Join(parent, "w.json")}},
		{"hold --list", []string{"hold", "--list"}},
		{"hold --list --history", []string{"hold", "--list", "--history"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := chatvault(t, append(tt.args, common...)...)
			if code != exitFailure {
				t.Errorf("exit %d, want %d\n%s%s", code, exitFailure, out, errOut)
			}
			if !strings.Contains(errOut, store) {
				t.Errorf("the error does not name the store %s:\n%s", store, errOut)
			}
			if _, err := os.Stat(filepath.Join(parent, "archvie")); !os.IsNotExist(err) {
				t.Errorf("%s created the mistyped folder (stat: %v)", tt.name, err)
			}
		})
	}
	reliability.Record(t, "fault", "verify, status, export, audit, witness, hold --list on a mistyped store folder", reliability.CleanFailure,
		"exit 1 naming the folder; nothing created")
}

// TestVerifyEmptyStore: an existing folder without a single manifest is not a verified
// archive; it is the wrong folder, or nothing was sealed.
func TestVerifyEmptyStore(t *testing.T) {
	cleanEnv(t)
	store := t.TempDir()
	code, out, errOut := chatvault(t, "verify", "--eventlog", "../../testdata/eventlog", "--store", store, "--log-format", "json")
	if code != exitFailure || !strings.Contains(errOut, store) || !strings.Contains(errOut, "no manifest") {
		t.Fatalf("verify of an empty folder: exit %d, want %d naming it\n%s%s", code, exitFailure, out, errOut)
	}
	entries, err := os.ReadDir(store)
	if err != nil || len(entries) != 0 {
		t.Errorf("verify wrote into the empty store: %v %v", entries, err)
	}
	reliability.Record(t, "fault", "verify on an empty store folder", reliability.CleanFailure, "exit 1: the store holds no manifest")
}

// TestVerifyEmptyS3Prefix seals a day under one prefix of a bucket and verifies another
// prefix of the same bucket, as a typo in the store URL would: verify must fail.
func TestVerifyEmptyS3Prefix(t *testing.T) {
	srv := startMinIO(t) // before cleanEnv, which clears CHATVAULT_MINIO
	cleanEnv(t)
	s3Env(t, srv)
	bucket := srv.Bucket(t, false)
	right := []string{"--eventlog", "../../testdata/eventlog", "--store", "s3://" + bucket + "/chatvault", "--log-format", "json"}
	if code, out, errOut := chatvault(t, append([]string{"run", "--date", "2026-11-22"}, right...)...); code != exitQuarantined {
		t.Fatalf("run: exit %d\n%s%s", code, out, errOut)
	}
	wrongURL := "s3://" + bucket + "/chatvualt"
	wrong := []string{"--eventlog", "../../testdata/eventlog", "--store", wrongURL, "--log-format", "json"}
	code, out, errOut := chatvault(t, append([]string{"verify"}, wrong...)...)
	if code != exitFailure || !strings.Contains(errOut, wrongURL) {
		t.Fatalf("verify of an empty prefix: exit %d, want %d naming %s\n%s%s", code, exitFailure, wrongURL, out, errOut)
	}
	if code, out, errOut := chatvault(t, append([]string{"verify"}, right...)...); code != exitOK {
		t.Fatalf("verify of the sealed prefix: exit %d\n%s%s", code, out, errOut)
	}
	// The witness of an S3 store, and of the empty prefix (which has nothing to witness).
	w := filepath.Join(t.TempDir(), "witness.json")
	mustRun(t, []int{exitOK}, append([]string{"witness", "-o", w}, right...)...)
	mustRun(t, []int{exitOK}, append([]string{"verify", "--witness", w}, right...)...)
	verifyFails(t, "but the store holds no chain", append([]string{"--witness", w}, wrong...)...)
	if code, _, errOut := chatvault(t, append([]string{"witness"}, wrong...)...); code != exitFailure || !strings.Contains(errOut, wrongURL) {
		t.Fatalf("witness of an empty prefix: exit %d\n%s", code, errOut)
	}
	reliability.Record(t, "fault", "verify on a mistyped S3 prefix (no manifest under it)", reliability.CleanFailure,
		"exit 1: the store holds no manifest")
}

const globex = "0b1c2e3f-0000-4000-8000-00000000bbbb"

// multiDayLog copies the sample event log's day to each of days (the same events, flagged
// as clock skew outside 2026-11-22, which is fine here) and starts Acme's and Globex's
// archival on the first of them, so that each day must be sealed for both.
func multiDayLog(t *testing.T, days ...string) string {
	t.Helper()
	log := t.TempDir()
	for _, d := range days {
		if err := os.CopyFS(filepath.Join(log, d), os.DirFS("../../testdata/eventlog/2026-11-22")); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile("../../testdata/eventlog/directory.json")
	if err != nil {
		t.Fatal(err)
	}
	var dir map[string]any
	if err := json.Unmarshal(b, &dir); err != nil {
		t.Fatal(err)
	}
	for _, o := range dir["organizations"].([]any) {
		o := o.(map[string]any)
		if o["id"] == acme || o["id"] == globex {
			o["archivalStart"] = days[0]
		}
	}
	if b, err = json.Marshal(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(log, "directory.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return log
}

// mustRun runs chatvault and fails the test unless it exits with one of codes.
func mustRun(t *testing.T, codes []int, args ...string) string {
	t.Helper()
	code, out, errOut := chatvault(t, args...)
	for _, c := range codes {
		if code == c {
			return out
		}
	}
	t.Fatalf("chatvault %s: exit %d, want %v\n%s%s", strings.Join(args, " "), code, codes, out, errOut)
	return ""
}

var sealed = []int{exitOK, exitQuarantined}

// genKey makes a private key file with keys generate and returns it and its public key file.
func genKey(t *testing.T, name string) (priv, pub string) {
	t.Helper()
	dir := t.TempDir()
	priv, pub = filepath.Join(dir, name+".key"), filepath.Join(dir, name+".pub")
	out := mustRun(t, []int{exitOK}, "keys", "generate", "-o", priv)
	if err := os.WriteFile(pub, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	return priv, pub
}

// replaceManifest rewrites an organization's manifest seq in place, chain entry and day
// index alike, as someone with write access to the folder (and no signing key) could:
// edit changes the decoded manifest before it is encoded again.
func replaceManifest(t *testing.T, store, org string, seq int64, edit func(m *archiver.Manifest)) {
	t.Helper()
	chain := filepath.Join(store, "orgs", org, "manifests", fmt.Sprintf("%012d.json", seq))
	b, err := os.ReadFile(chain)
	if err != nil {
		t.Fatal(err)
	}
	var m archiver.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	index := filepath.Join(store, "orgs", org, "days", m.Date, fmt.Sprintf("r%04d.json", m.Revision))
	edit(&m)
	out, err := json.MarshalIndent(&m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	out = append(out, '\n')
	for _, p := range []string{chain, index} {
		os.Remove(p)
		if err := os.WriteFile(p, out, 0o444); err != nil {
			t.Fatal(err)
		}
	}
}

// resign signs m with key, as archiver does: over the manifest encoded without signature.
func resign(t *testing.T, key ed25519.PrivateKey) func(m *archiver.Manifest) {
	return func(m *archiver.Manifest) {
		m.Signature = nil
		body, err := json.MarshalIndent(m, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		body = append(body, '\n')
		pub := key.Public().(ed25519.PublicKey)
		m.Signature = &archiver.Signature{Algorithm: "ed25519", PublicKey: base64.StdEncoding.EncodeToString(pub),
			Value: base64.StdEncoding.EncodeToString(ed25519.Sign(key, body)), KeyID: archiver.KeyID(pub)}
	}
}

// verifyFails runs verify with args and wants exit 1 with want among the problems.
func verifyFails(t *testing.T, want string, args ...string) {
	t.Helper()
	code, out, errOut := chatvault(t, append([]string{"verify"}, args...)...)
	if code != exitFailure || !strings.Contains(errOut, want) {
		t.Fatalf("verify %v: exit %d, want %d with %q\n%s%s", args, code, exitFailure, want, out, errOut)
	}
}

// TestVerifyWithPublicKeyOnly seals signed days, then verifies with the public key alone:
// the private key file named by signing.keyFile is gone by then, so verify passing shows it
// never read it. Another public key fails.
func TestVerifyWithPublicKeyOnly(t *testing.T) {
	cleanEnv(t)
	priv, pub := genKey(t, "signing")
	if fi, err := os.Stat(priv); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("keys generate: private key file %v %v, want mode 0600", fi, err)
	}
	if out := mustRun(t, []int{exitOK}, "keys", "public", "--key", priv); out != mustRead(t, pub) {
		t.Fatalf("keys public prints\n%s\nkeys generate printed\n%s", out, mustRead(t, pub))
	}
	log := multiDayLog(t, "2026-11-21", "2026-11-22")
	store := t.TempDir()
	common := []string{"--eventlog", log, "--store", store, "--log-format", "json"}
	t.Setenv("CHATVAULT_SIGNING_KEYFILE", priv)
	mustRun(t, sealed, append([]string{"run", "--from", "2026-11-21", "--to", "2026-11-22"}, common...)...)

	// The private key leaves the machine; the config still names it.
	if err := os.Rename(priv, priv+".offline"); err != nil {
		t.Fatal(err)
	}
	out := mustRun(t, []int{exitOK}, append([]string{"verify", "--public-key", pub}, common...)...)
	if !strings.Contains(out, "4 manifests") || !strings.Contains(out, "0 problems") {
		t.Fatalf("verify --public-key: %s", out)
	}
	t.Setenv("CHATVAULT_SIGNING_PUBLICKEYFILE", pub)
	mustRun(t, []int{exitOK}, append([]string{"verify"}, common...)...)
	t.Setenv("CHATVAULT_SIGNING_PUBLICKEYFILE", "")

	_, otherPub := genKey(t, "other")
	verifyFails(t, "untrusted key", append([]string{"--public-key", otherPub}, common...)...)
	// A private key is no public key: verify refuses it rather than use it, as bad usage.
	if code, _, errOut := chatvault(t, append([]string{"verify", "--public-key", priv + ".offline"}, common...)...); code != exitUsage || !strings.Contains(errOut, "public keys only") {
		t.Fatalf("verify --public-key PRIVATE: exit %d\n%s", code, errOut)
	}
	reliability.Record(t, "security", "manifests checked against a public key that did not sign them", reliability.CleanFailure,
		"verify exit 1: untrusted key; with the signer's public key alone (private key file gone) 0 problems")
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestVerifyKeyChanges: someone who can write to the store but holds no signing key
// replaces the newest manifest, re-signed with a key of their own or unsigned. verify
// reports both, even without a trusted public key; a rotation recorded with keys rotate is
// accepted, a forged rotation statement is not.
func TestVerifyKeyChanges(t *testing.T) {
	cleanEnv(t)
	pinLayout2(t)
	keyA, pubA := genKey(t, "a")
	log := multiDayLog(t, "2026-11-21", "2026-11-22")
	seal := func(store, key string, day string) {
		t.Setenv("CHATVAULT_SIGNING_KEYFILE", key)
		mustRun(t, sealed, "run", "--date", day, "--eventlog", log, "--store", store, "--log-format", "json")
		t.Setenv("CHATVAULT_SIGNING_KEYFILE", "")
	}
	common := func(store string) []string {
		return []string{"--eventlog", log, "--store", store, "--log-format", "json"}
	}
	_, forger, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("re-signed by another key", func(t *testing.T) {
		store := t.TempDir()
		seal(store, keyA, "2026-11-21")
		seal(store, keyA, "2026-11-22")
		mustRun(t, []int{exitOK}, append([]string{"verify"}, common(store)...)...)
		replaceManifest(t, store, acme, 2, func(m *archiver.Manifest) {
			m.Counts.Exported-- // whatever the forger wants to change, then sign again
			m.Data.Records--
			resign(t, forger)(m)
		})
		verifyFails(t, "without a recorded rotation", common(store)...)
		verifyFails(t, "untrusted key", append([]string{"--public-key", pubA}, common(store)...)...)
		reliability.Record(t, "security", "newest manifest re-signed by another key", reliability.CleanFailure,
			"verify exit 1: key changes without a recorded rotation (untrusted key with --public-key)")
	})

	t.Run("unsigned after signed", func(t *testing.T) {
		store := t.TempDir()
		seal(store, keyA, "2026-11-21")
		seal(store, keyA, "2026-11-22")
		replaceManifest(t, store, acme, 2, func(m *archiver.Manifest) { m.Signature = nil })
		verifyFails(t, "from signed (key "+archiver.KeyID(mustPub(t, pubA))+") to unsigned", common(store)...)
		reliability.Record(t, "security", "newest manifest replaced by an unsigned one", reliability.CleanFailure,
			"verify exit 1: the chain goes from signed to unsigned")
	})

	t.Run("recorded rotation", func(t *testing.T) {
		keyB, pubB := genKey(t, "b")
		store := t.TempDir()
		seal(store, keyA, "2026-11-21")
		seal(store, keyB, "2026-11-22")
		verifyFails(t, "without a recorded rotation", common(store)...)
		mustRun(t, []int{exitOK}, append([]string{"keys", "rotate", "--key", keyA, "--new-key", keyB, "--reason", "yearly"}, common(store)...)...)
		mustRun(t, []int{exitOK}, append([]string{"verify"}, common(store)...)...)
		both := filepath.Join(t.TempDir(), "trusted.pub")
		if err := os.WriteFile(both, []byte(mustRead(t, pubA)+mustRead(t, pubB)), 0o644); err != nil {
			t.Fatal(err)
		}
		mustRun(t, []int{exitOK}, append([]string{"verify", "--public-key", both}, common(store)...)...)
		// The old key alone no longer covers the chain.
		verifyFails(t, "untrusted key", append([]string{"--public-key", pubA}, common(store)...)...)
	})

	t.Run("forged rotation statement", func(t *testing.T) {
		store := t.TempDir()
		seal(store, keyA, "2026-11-21")
		seal(store, keyA, "2026-11-22")
		replaceManifest(t, store, acme, 2, resign(t, forger))
		// The forger holds the new key but not the old: a statement signed by the new key
		// twice, or naming the old key's signature it cannot make, is refused.
		a := mustPub(t, pubA)
		fp := forger.Public().(ed25519.PublicKey)
		r := archiver.KeyRotation{Version: 1,
			From:      archiver.RotatingKey{KeyID: archiver.KeyID(a), PublicKey: base64.StdEncoding.EncodeToString(a)},
			To:        archiver.RotatingKey{KeyID: archiver.KeyID(fp), PublicKey: base64.StdEncoding.EncodeToString(fp)},
			RotatedAt: "2026-11-23T00:00:00Z"}
		body, _ := json.MarshalIndent(&r, "", "  ")
		body = append(body, '\n')
		sig := base64.StdEncoding.EncodeToString(ed25519.Sign(forger, body))
		r.Signatures = []archiver.Signature{
			{Algorithm: "ed25519", PublicKey: r.From.PublicKey, Value: sig, KeyID: r.From.KeyID},
			{Algorithm: "ed25519", PublicKey: r.To.PublicKey, Value: sig, KeyID: r.To.KeyID},
		}
		b, _ := json.MarshalIndent(&r, "", "  ")
		dir := filepath.Join(store, "keys", "rotations")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, r.From.KeyID+"-"+r.To.KeyID+".json"), append(b, '\n'), 0o444); err != nil {
			t.Fatal(err)
		}
		code, out, errOut := chatvault(t, append([]string{"verify"}, common(store)...)...)
		if code != exitFailure || !strings.Contains(errOut, "does not verify") || !strings.Contains(errOut, "without a recorded rotation") {
			t.Fatalf("verify: exit %d\n%s%s", code, out, errOut)
		}
		reliability.Record(t, "security", "forged key rotation statement (not signed by the old key)", reliability.CleanFailure,
			"verify exit 1: the statement does not verify, the key change stays unrecorded")
	})
}

func mustPub(t *testing.T, path string) ed25519.PublicKey {
	t.Helper()
	keys, err := readPublicKeys(path)
	if err != nil || len(keys) != 1 {
		t.Fatalf("read %s: %v %v", path, keys, err)
	}
	return keys[0]
}

// sealDays seals days 2026-11-20 to 2026-11-22 for Acme and Globex into a new folder store.
func sealDays(t *testing.T) (store string, common []string) {
	t.Helper()
	log := multiDayLog(t, "2026-11-20", "2026-11-21", "2026-11-22")
	store = t.TempDir()
	common = []string{"--eventlog", log, "--store", store, "--log-format", "json"}
	mustRun(t, sealed, append([]string{"run", "--from", "2026-11-20", "--to", "2026-11-22"}, common...)...)
	mustRun(t, []int{exitOK}, append([]string{"verify"}, common...)...)
	return store, common
}

// deleteNewest removes an organization's head manifest (seq 3, day 2026-11-22) and its
// day's folder, as an administrator of the folder could.
func deleteNewest(t *testing.T, store, org string) {
	t.Helper()
	for _, p := range []string{
		filepath.Join(store, "orgs", org, "manifests", fmt.Sprintf("%012d.json", 3)),
		filepath.Join(store, "orgs", org, "days", "2026-11-22"),
	} {
		if _, err := os.Stat(p); err != nil {
			t.Fatal(err)
		}
		if err := os.RemoveAll(p); err != nil {
			t.Fatal(err)
		}
	}
}

// deleteAccounting removes day's accounting objects, as an attacker with write access to
// the store would to hide what they name.
func deleteAccounting(t *testing.T, store, day string) {
	t.Helper()
	p := filepath.Join(store, "accounting", day)
	if _, err := os.Stat(p); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(p); err != nil {
		t.Fatal(err)
	}
}

// TestVerifyDeletedNewestDay deletes one organization's newest manifest and day while the
// other organization keeps that day: verify must miss it.
func TestVerifyDeletedNewestDay(t *testing.T) {
	cleanEnv(t)
	pinLayout2(t)
	store, common := sealDays(t)
	deleteNewest(t, store, acme)
	verifyFails(t, "newest sealed day is 2026-11-21 but the store is sealed through 2026-11-22", common...)
	reliability.Record(t, "security", "an organization's newest manifest and day deleted", reliability.CleanFailure,
		"verify exit 1: newest sealed day is older than the store's")
}

// TestVerifyOneOrgDeletedNewestDay deletes one organization's newest manifest and day, and
// the day's accounting objects that named it, then verifies that organization alone (an
// auditor answering for one customer): --org must not make the store's newest day the
// organization's own, or the deletion passes. Each case is one way to learn the store's
// newest day without walking the other organizations' chains.
func TestVerifyOneOrgDeletedNewestDay(t *testing.T) {
	tests := []struct {
		name string
		// keepAccounting leaves the day's accounting objects, whose names carry the day.
		keepAccounting bool
	}{
		{"accounting objects deleted too", false},
		{"accounting objects kept", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cleanEnv(t)
			pinLayout2(t)
			store, common := sealDays(t)
			deleteNewest(t, store, acme)
			if !tt.keepAccounting {
				deleteAccounting(t, store, "2026-11-22")
			}
			verifyFails(t, "newest sealed day is 2026-11-21 but the store is sealed through 2026-11-22",
				append([]string{"--org", acme}, common...)...)
			if tt.keepAccounting {
				// The other organization, whole and accounted for, still verifies alone:
				// the bound is no false alarm.
				mustRun(t, []int{exitOK}, append([]string{"verify", "--org", globex}, common...)...)
			}
		})
	}
	reliability.Record(t, "security", "an organization's newest day and the day's accounting deleted, verified with --org", reliability.CleanFailure,
		"verify --org exit 1: the store's newest day is read from the other archiving organizations' heads")
}

// TestVerifyDeletedOrg deletes every object of one archiving organization.
func TestVerifyDeletedOrg(t *testing.T) {
	cleanEnv(t)
	store, common := sealDays(t)
	if err := os.RemoveAll(filepath.Join(store, "orgs", globex)); err != nil {
		t.Fatal(err)
	}
	verifyFails(t, "organization "+globex+" (Globex), archiving (archivalStart 2026-11-20), has no manifest", common...)
	reliability.Record(t, "security", "a whole organization deleted from the store", reliability.CleanFailure,
		"verify exit 1: archiving organization has no manifest")
}

// TestVerifyWitness deletes the newest day of every organization at once, which leaves no
// trace in the store: a witness taken before detects it, a witness taken earlier (when the
// chains were shorter) still passes, and a rewritten head is caught by its hash.
func TestVerifyWitness(t *testing.T) {
	cleanEnv(t)
	pinLayout2(t)
	priv, pub := genKey(t, "signing")
	t.Setenv("CHATVAULT_SIGNING_KEYFILE", priv)
	log := multiDayLog(t, "2026-11-20", "2026-11-21", "2026-11-22")
	store := t.TempDir()
	common := []string{"--eventlog", log, "--store", store, "--log-format", "json"}
	mustRun(t, sealed, append([]string{"run", "--from", "2026-11-20", "--to", "2026-11-21"}, common...)...)
	dir := t.TempDir()
	older, newer := filepath.Join(dir, "witness-2026-11-21.json"), filepath.Join(dir, "witness-2026-11-22.json")
	mustRun(t, []int{exitOK}, append([]string{"witness", "-o", older}, common...)...)
	mustRun(t, sealed, append([]string{"run", "--date", "2026-11-22"}, common...)...)
	mustRun(t, []int{exitOK}, append([]string{"witness", "-o", newer}, common...)...)
	// -o never replaces a witness.
	if code, _, _ := chatvault(t, append([]string{"witness", "-o", newer}, common...)...); code != exitFailure {
		t.Fatalf("witness -o onto an existing file: exit %d", code)
	}
	var w archiver.Witness
	if err := json.Unmarshal([]byte(mustRead(t, newer)), &w); err != nil || len(w.Heads) != 2 || w.Signature == nil {
		t.Fatalf("witness: %+v %v, want 2 signed heads", w, err)
	}
	for _, h := range w.Heads {
		if h.Seq != 3 || h.Date != "2026-11-22" {
			t.Errorf("witness head %+v, want seq 3 of 2026-11-22", h)
		}
	}
	t.Setenv("CHATVAULT_SIGNING_KEYFILE", "")
	mustRun(t, []int{exitOK}, append([]string{"verify", "--public-key", pub, "--witness", newer}, common...)...)

	deleteNewest(t, store, acme)
	deleteNewest(t, store, globex)
	// The day's accounting object still names the deleted manifests.
	verifyFails(t, "manifests/000000000003.json: fsstore: open", append([]string{"--public-key", pub}, common...)...)
	reliability.Record(t, "security", "the newest day of every organization deleted, its accounting object left", reliability.CleanFailure,
		"verify exit 1: the accounting object names manifests the chains no longer hold")
	// An attacker who deletes that too leaves the store alone unable to tell: every
	// organization ends on 2026-11-21.
	deleteAccounting(t, store, "2026-11-22")
	mustRun(t, []int{exitOK}, append([]string{"verify", "--public-key", pub}, common...)...)
	verifyFails(t, "had manifest 3 (2026-11-22) but the store's chain ends at 2", append([]string{"--public-key", pub, "--witness", newer}, common...)...)
	mustRun(t, []int{exitOK}, append([]string{"verify", "--public-key", pub, "--witness", older}, common...)...)
	reliability.Record(t, "security", "the newest day of every organization deleted (witness kept outside)", reliability.CleanFailure,
		"verify --witness exit 1: chain shorter than the witnessed head")

	// A witness edited to match the truncated store no longer verifies.
	edited := filepath.Join(dir, "edited.json")
	if err := os.WriteFile(edited, []byte(strings.ReplaceAll(mustRead(t, newer), `"seq": 3`, `"seq": 2`)), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := chatvault(t, append([]string{"verify", "--public-key", pub, "--witness", edited}, common...)...); code != exitFailure || !strings.Contains(errOut, "signature does not verify") {
		t.Fatalf("verify --witness EDITED: exit %d\n%s", code, errOut)
	}
}

// TestVerifyWitnessRewrittenHead: a head manifest replaced by one with other content
// under the same seq (an unsigned store, so no signature gives it away) differs from the
// witness.
func TestVerifyWitnessRewrittenHead(t *testing.T) {
	cleanEnv(t)
	pinLayout2(t)
	store, common := sealDays(t)
	w := filepath.Join(t.TempDir(), "witness.json")
	mustRun(t, []int{exitOK}, append([]string{"witness", "-o", w}, common...)...)
	replaceManifest(t, store, acme, 3, func(m *archiver.Manifest) { m.SealedAt = "2026-11-23T00:00:00Z" })
	// The day's accounting object names the manifest by its hash; without it, the
	// rewritten manifest is named by no accounting object.
	verifyFails(t, "the accounting says", common...)
	deleteAccounting(t, store, "2026-11-22")
	verifyFails(t, "are named by no accounting object", common...)
	reliability.Record(t, "security", "head manifest rewritten in an unsigned store, its accounting object deleted", reliability.CleanFailure,
		"verify exit 1: a version 2 manifest named by no accounting object")
	verifyFails(t, "the chain was rewritten", append([]string{"--witness", w}, common...)...)
	reliability.Record(t, "security", "head manifest rewritten in an unsigned store (witness kept outside)", reliability.CleanFailure,
		"verify --witness exit 1: head hashes differ from the witness")
}

func TestKeysUsage(t *testing.T) {
	cleanEnv(t)
	priv, _ := genKey(t, "k")
	other, _ := genKey(t, "other")
	missing := filepath.Join(t.TempDir(), "typo")
	before := mustRead(t, priv)
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no subcommand", []string{"keys"}, exitUsage, "want one of"},
		{"unknown subcommand", []string{"keys", "make"}, exitUsage, "unknown subcommand"},
		{"generate without -o", []string{"keys", "generate"}, exitUsage, "-o FILE is required"},
		{"generate onto a key", []string{"keys", "generate", "-o", priv}, exitFailure, "exists"},
		{"public without a key", []string{"keys", "public"}, exitUsage, "--key FILE"},
		{"public of a missing file", []string{"keys", "public", "--key", priv + ".missing"}, exitFailure, "no such file"},
		{"rotate without --new-key", []string{"keys", "rotate", "--key", priv}, exitUsage, "--new-key"},
		{"rotate to the same key", []string{"keys", "rotate", "--key", priv, "--new-key", priv, "--store", t.TempDir()}, exitFailure, "the new key is the old key"},
		{"rotate into a mistyped store", []string{"keys", "rotate", "--key", priv, "--new-key", other, "--store", missing}, exitFailure, "no such folder"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := chatvault(t, tt.args...)
			if code != tt.code || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, want %d with %q:\n%s", code, tt.code, tt.want, errOut)
			}
		})
	}
	if mustRead(t, priv) != before {
		t.Error("keys generate replaced an existing key")
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Errorf("keys rotate created the mistyped store (stat: %v)", err)
	}
}
