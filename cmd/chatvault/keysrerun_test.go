package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestKeysGenerateRerunSaysHowToGetThePublicKey: the README's
// `chatvault keys generate -o signing.key > signing.pub`, run a second time, is refused
// (the key is never replaced), but the shell has already emptied signing.pub. The refusal
// said only "open signing.key: file exists"; it now names the file, says it is kept, and
// gives the command that prints its public key again.
func TestKeysGenerateRerunSaysHowToGetThePublicKey(t *testing.T) {
	cleanEnv(t)
	key := filepath.Join(t.TempDir(), "signing.key")
	if code, _, errOut := chatvault(t, "keys", "generate", "-o", key); code != exitOK {
		t.Fatalf("keys generate: exit %d\n%s", code, errOut)
	}
	before, err := os.ReadFile(key)
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := chatvault(t, "keys", "generate", "-o", key, "--log-format", "text")
	if code != exitFailure || out != "" {
		t.Fatalf("rerun: exit %d, stdout %q; want 1 and nothing", code, out)
	}
	for _, want := range []string{key + " exists", "never replaced", "chatvault keys public --key " + key} {
		if !strings.Contains(errOut, want) {
			t.Errorf("rerun's error %q does not say %q", errOut, want)
		}
	}
	if after, _ := os.ReadFile(key); string(after) != string(before) {
		t.Error("the rerun changed the key")
	}
}
