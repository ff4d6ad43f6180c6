package main

import (
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/config"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestSecretFilesNotWorldReadable: a signing key or link key that every user of the host
// can read lets every user of the host forge manifests or download links, so chatvault
// refuses to use one (exit 2, naming the file and the fix), as ssh does a private key.
// Owner-only and group-readable files (Kubernetes gives 0440 with fsGroup) are used.
func TestSecretFilesNotWorldReadable(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mode   os.FileMode
		refuse bool
	}{
		{"owner only", 0o600, false},
		{"group readable", 0o640, false},
		{"read-only for the owner and group", 0o440, false},
		{"world readable", 0o644, true},
		{"world writable", 0o602, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cleanEnv(t)
			priv, _ := genKey(t, "signing")
			if err := os.Chmod(priv, tc.mode); err != nil {
				t.Fatal(err)
			}
			store := filepath.Join(t.TempDir(), "archive")
			common := []string{"--eventlog", "../../testdata/eventlog", "--store", store, "--log-level", "error", "--temp-dir", t.TempDir()}
			t.Setenv("CHATVAULT_SIGNING_KEYFILE", priv)
			code, _, errOut := chatvault(t, append([]string{"run", "--date", "2026-11-22"}, common...)...)
			if tc.refuse {
				if code != exitUsage || !strings.Contains(errOut, priv) || !strings.Contains(errOut, "chmod 600") {
					t.Fatalf("run with a %v signing key: exit %d, want %d naming the file and chmod 600\n%s", tc.mode, code, exitUsage, errOut)
				}
				if _, err := os.Stat(store); err == nil {
					if keys, _ := filepath.Glob(filepath.Join(store, "orgs", "*")); len(keys) > 0 {
						t.Fatalf("run with a %v signing key committed %v", tc.mode, keys)
					}
				}
			} else if code != exitQuarantined {
				t.Fatalf("run with a %v signing key: exit %d\n%s", tc.mode, code, errOut)
			}

			link := filepath.Join(t.TempDir(), "links.key")
			key := make([]byte, 32)
			rand.Read(key)
			writeFile(t, link, key)
			if err := os.Chmod(link, tc.mode); err != nil {
				t.Fatal(err)
			}
			cfg := config.Default()
			cfg.Exports.LinkKeyFile = link
			_, err := (&env{cfg: cfg}).linkKey()
			if tc.refuse != (err != nil) {
				t.Fatalf("link key %v: %v, want refused %t", tc.mode, err, tc.refuse)
			}
		})
	}
	reliability.Record(t, "security", "signing key or link key readable by every user of the host", reliability.Refused,
		"exit 2 naming the file: chmod 600 it (0640 with a group); 0600, 0640, 0440 are used")
}
