package archiver

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
)

// TestManifestVersion1StillRead decodes a version 1 manifest, which carried the day's
// input counts and quarantine object, and re-encodes it to the same bytes: its chain
// hash and signature still verify after the day-level fields moved out of version 2.
func TestManifestVersion1StillRead(t *testing.T) {
	b, err := os.ReadFile("testdata/manifest-v1.json")
	if err != nil {
		t.Fatal(err)
	}
	m, err := DecodeManifest(b)
	if err != nil {
		t.Fatal(err)
	}
	if m.Version != 1 || m.Input == nil || m.Input.Read != 29 || m.Quarantine == nil {
		t.Fatalf("version 1 manifest decoded as %+v", m)
	}
	again, err := encodeManifest(m)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, b) {
		t.Errorf("version 1 manifest re-encodes differently:\n%s", again)
	}
}

// TestAccountingStreamedSameBytes checks that the accounting object written one manifest
// at a time (accounting_stream.go) is, byte for byte and so hash for hash, what encoding
// it whole gives: signed or not, sharded or not, with no manifest, one or several.
func TestAccountingStreamedSameBytes(t *testing.T) {
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
	ms := []AccountedManifest{
		{Org: "org-a", Seq: 3, Revision: 1, Outcome: OutcomeCommitted, SHA256: strings.Repeat("a", 64)},
		{Org: "org-\"b\"", Seq: 1, Revision: 2, Outcome: OutcomeUnchanged, SHA256: strings.Repeat("b", 64)},
		{Org: "org-c", Seq: 9, Revision: 1, Outcome: OutcomeCommitted, SHA256: strings.Repeat("c", 64)},
	}
	for _, tc := range []struct {
		name      string
		manifests []AccountedManifest
		shard     *Shard
		sign      bool
	}{
		{"none", nil, nil, false},
		{"one", ms[:1], nil, false},
		{"several", ms, nil, false},
		{"several signed", ms, nil, true},
		{"shard without manifests", nil, &Shard{Index: 1, Count: 4}, false},
		{"shard signed", ms[1:], &Shard{Index: 0, Count: 2}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := &Accounting{
				Version: AccountingVersion, Date: "2026-11-22",
				Input:           InputCounts{Read: 10, Exported: 7, Excluded: map[string]int64{"bot": 1, "deleted": 1}, Duplicates: 1},
				Quarantine:      &ObjectRef{Key: "quarantine/2026-11-22/x.jsonl.gz", Size: 5, SHA256: strings.Repeat("d", 64), Records: 1},
				DirectorySHA256: strings.Repeat("e", 64), Generator: "chatvault \"manifests\": null", SealedAt: "2026-11-23T00:00:00Z",
				RetainUntil: "2033-11-23T00:00:00Z", Shard: tc.shard,
			}
			if tc.shard != nil {
				a.Version = AccountingShardVersion
			}
			w := &writer{s: &Sealer{}, work: t.TempDir()}
			want := *a
			want.Manifests = append([]AccountedManifest{}, tc.manifests...)
			if tc.sign {
				w.s.SigningKey = key
				if err := signAccounting(&want, key); err != nil {
					t.Fatal(err)
				}
			}
			wantBytes, err := encodeAccounting(&want)
			if err != nil {
				t.Fatal(err)
			}
			f, size, sum, err := w.spillAccounting(a, slices.Values(tc.manifests))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			got, err := io.ReadAll(f)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, wantBytes) {
				t.Fatalf("streamed accounting object differs:\n%s\nwant:\n%s", got, wantBytes)
			}
			if size != int64(len(wantBytes)) || sum != sha256.Sum256(wantBytes) {
				t.Fatalf("size %d and hash %x, want %d and %x", size, sum, len(wantBytes), sha256.Sum256(wantBytes))
			}
		})
	}
}
