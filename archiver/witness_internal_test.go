package archiver

import (
	"crypto/ed25519"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/internal/reliability"
)

// TestParseWitnessVersions: a version 1 witness as the previous release wrote it (signed,
// manifest heads only) still parses, and its signature still checks; version 2 carries
// audit heads under the signature; what neither version can hold is refused.
func TestParseWitnessVersions(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sum := strings.Repeat("ab", 32)
	heads := []WitnessHead{{Org: "acme", Seq: 3, Date: "2026-11-22", Revision: 1, SHA256: sum}}
	audit := []WitnessAuditHead{{Org: "acme", Seq: 7, Date: "2026-11-23", SHA256: sum}}

	// Version 1, encoded and signed as the previous release did.
	v1 := &Witness{Version: 1, Store: "/srv/archive", CreatedAt: "2026-11-23T01:00:00Z", Heads: heads}
	body, err := encodeWitness(v1)
	if err != nil {
		t.Fatal(err)
	}
	v1.Signature = NewSignature(priv, body)
	v1b, err := encodeWitness(v1)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(v1b), "auditHeads") {
		t.Fatalf("a version 1 witness encodes audit heads:\n%s", v1b)
	}
	w, err := ParseWitness(v1b, []ed25519.PublicKey{pub})
	if err != nil || w.Version != 1 || len(w.Heads) != 1 || w.AuditHeads != nil {
		t.Fatalf("version 1 witness: %+v, %v", w, err)
	}

	v2b, err := NewWitness(heads, audit, "/srv/archive", time.Date(2026, 11, 23, 1, 0, 0, 0, time.UTC), priv)
	if err != nil {
		t.Fatal(err)
	}
	w, err = ParseWitness(v2b, []ed25519.PublicKey{pub})
	if err != nil || w.Version != 2 || len(w.AuditHeads) != 1 || w.AuditHeads[0] != audit[0] {
		t.Fatalf("version 2 witness: %+v, %v", w, err)
	}
	reliability.Record(t, "security", "a signed version 1 witness read by the release that witnesses audit chains", reliability.Kept,
		"parsed, signature checked; version 2 carries the audit heads under its signature")

	for _, tt := range []struct {
		name, from, to, want string
	}{
		{"audit head edited", `"seq": 7`, `"seq": 6`, "signature does not verify"},
		{"audit head in a version 1", `"heads": [`, `"auditHeads": [{"org":"acme","seq":1,"date":"2026-11-23","sha256":"` + sum + `"}], "heads": [`, "version 1 has no audit heads"},
		{"unknown version", `"version": 2`, `"version": 3`, "unsupported version 3"},
		{"malformed audit head", `"seq": 7`, `"seq": 0`, "malformed audit head"},
		{"an organization's audit chain twice", `"auditHeads": [`, `"auditHeads": [{"org":"acme","seq":1,"date":"2026-11-23","sha256":"` + sum + `"},`, "audit chain twice"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			src := v2b
			if strings.Contains(tt.name, "version 1") {
				src = v1b
			}
			edited := strings.Replace(string(src), tt.from, tt.to, 1)
			if edited == string(src) {
				t.Fatalf("%q not in the witness", tt.from)
			}
			if _, err := ParseWitness([]byte(edited), []ed25519.PublicKey{pub}); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ParseWitness: %v, want %q", err, tt.want)
			}
		})
	}
}
