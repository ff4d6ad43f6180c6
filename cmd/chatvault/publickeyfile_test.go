package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/internal/reliability"
)

// TestPublicKeyFileDamaged: the trusted public key file lists the old key and the new one
// after a rotation; the new one was cut short when it was pasted (or a block of it is
// otherwise damaged). Before, the PEM reader stopped at the damaged block and verify
// trusted the keys before it in silence: every manifest the new key signed was then
// reported as forged ("untrusted key"), an alarm about the archive that is about the file.
// A file with a PEM block that does not read is refused (exit 2) naming it; trailing
// spaces and CRLF line ends still read, as a key with text around it does.
func TestPublicKeyFileDamaged(t *testing.T) {
	cleanEnv(t)
	_, pubA := genKey(t, "old")
	_, pubB := genKey(t, "new")
	a, b := mustRead(t, pubA), mustRead(t, pubB)
	dir := t.TempDir()
	for _, tt := range []struct {
		name, body string
		ok         bool
	}{
		{"two keys", a + b, true},
		{"CRLF line ends and trailing spaces", strings.ReplaceAll(a+b, "\n", "  \r\n"), true},
		{"a comment before and after", "# the verifiers' keys\n" + a + "kept since 2026\n" + b, true},
		{"the second key cut short", a + b[:len(b)-30], false},
		{"the first key's end line lost", strings.Replace(a, "-----END PUBLIC KEY-----", "", 1) + b, false},
	} {
		f := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "_")+".pub")
		if err := os.WriteFile(f, []byte(tt.body), 0o644); err != nil {
			t.Fatal(err)
		}
		keys, err := readPublicKeys(f)
		switch {
		case tt.ok && (err != nil || len(keys) != 2):
			t.Errorf("%s: %d keys, %v; want both", tt.name, len(keys), err)
		case !tt.ok && err == nil:
			t.Errorf("%s: %d keys read, no error; want the file refused", tt.name, len(keys))
		}
	}
	if t.Failed() {
		return
	}
	reliability.Record(t, "input", "a trusted public key file with a key cut short or a damaged PEM block", reliability.Refused,
		"exit 2 naming the file: a block that does not read is never skipped in silence (before, verify trusted the keys before it and reported what the lost key signed as forged)")
}
