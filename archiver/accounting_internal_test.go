package archiver

import (
	"bytes"
	"os"
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
	m, err := decodeManifest(b)
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
