package archiver

import (
	"bytes"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/internal/reliability"
)

// TestManifestOfANewerVersionSaysSo: a release reading a store a newer one sealed on (the
// operator rolled back, or the older replica of a rolling upgrade) refuses the manifests
// it cannot check, and must say why rather than report a good store as corrupt: a
// release of 2026-12-01 verifying a store sealed on by a later one printed only
// `decode manifest: json: unknown field "chatIndex"` as a problem. The refusal now says a
// newer chatvault wrote the manifest: for a field this build does not know, and for a
// version past the newest it reads. Both are still refused.
func TestManifestOfANewerVersionSaysSo(t *testing.T) {
	b, err := encodeManifest(v3Manifest())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := DecodeManifest(b); err != nil {
		t.Fatalf("this build's manifest: %v", err)
	}
	for _, tc := range []struct {
		name, want string
		b          []byte
	}{
		{"a field this build does not know", `unknown field "retentionClass"`,
			bytes.Replace(b, []byte(`"version": 3,`), []byte(`"version": 3, "retentionClass": "gold",`), 1)},
		{"a version past the newest it reads", "unsupported version 4",
			bytes.Replace(b, []byte(`"version": 3,`), []byte(`"version": 4,`), 1)},
		{"a version past the newest, with its new field", `unknown field "retentionClass"`,
			bytes.Replace(b, []byte(`"version": 3,`), []byte(`"version": 4, "retentionClass": "gold",`), 1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if bytes.Equal(tc.b, b) {
				t.Fatal("the manifest was not changed")
			}
			_, err := DecodeManifest(tc.b)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "written by a newer chatvault") {
				t.Fatalf("DecodeManifest: %v; want a refusal naming %q and a newer chatvault", err, tc.want)
			}
		})
	}
	// A manifest of this build's versions that is malformed says nothing of versions.
	if _, err := DecodeManifest(bytes.Replace(b, []byte(`"version": 3,`), []byte(`"version": "3",`), 1)); err == nil || strings.Contains(err.Error(), "newer") {
		t.Fatalf("a malformed manifest: %v", err)
	}
	reliability.Record(t, "operations", "a manifest written by a newer chatvault (a field or a version this build does not know), read after a roll-back or by the older replica of a rolling upgrade", reliability.Refused,
		"refused as before, the error saying a newer chatvault wrote it (or it was altered) and to read the store with that version; before, only `json: unknown field` or `unsupported version`")
}
