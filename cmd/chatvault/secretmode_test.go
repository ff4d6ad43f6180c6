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

// TestBadKeyFileIsConfigurationError: a signing key or public key file that is missing,
// empty or not a key is a configuration error, exit 2 like every other, not exit 1: the
// systemd unit's RestartPreventExitStatus=2 (and an operator reading the exit code) tells
// a configuration to fix from a failure to retry, and an empty Secret key made serve
// restart in a loop.
func TestBadKeyFileIsConfigurationError(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.pem")
	writeFile(t, empty, nil)
	garbage := filepath.Join(dir, "garbage.pem")
	writeFile(t, garbage, []byte("-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n"))
	for _, tc := range []struct {
		name string
		args []string
		env  string
		file string
	}{
		{"run, empty signing key", []string{"run", "--date", "2026-11-22"}, "CHATVAULT_SIGNING_KEYFILE", empty},
		{"run, missing signing key", []string{"run", "--date", "2026-11-22"}, "CHATVAULT_SIGNING_KEYFILE", filepath.Join(dir, "missing.pem")},
		{"run, a PEM block that is no key", []string{"run", "--date", "2026-11-22"}, "CHATVAULT_SIGNING_KEYFILE", garbage},
		{"serve, empty signing key", []string{"serve"}, "CHATVAULT_SIGNING_KEYFILE", empty},
		{"verify, empty public key", []string{"verify"}, "CHATVAULT_SIGNING_PUBLICKEYFILE", empty},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cleanEnv(t)
			store := filepath.Join(t.TempDir(), "archive")
			if tc.args[0] == "verify" { // a store to verify, sealed without a key
				if code, _, errOut := chatvault(t, "run", "--date", "2026-11-22", "--eventlog", "../../testdata/eventlog", "--store", store, "--temp-dir", t.TempDir()); code != exitQuarantined {
					t.Fatalf("seal the sample: exit %d\n%s", code, errOut)
				}
			}
			t.Setenv(tc.env, tc.file)
			t.Setenv("CHATVAULT_HTTP_ADDR", "127.0.0.1:0")
			t.Setenv("CHATVAULT_AUTH_TOKENSFILE", filepath.Join(t.TempDir(), "tokens.json"))
			args := append(tc.args, "--eventlog", "../../testdata/eventlog", "--store", store, "--log-format", "text", "--temp-dir", t.TempDir())
			code, _, errOut := chatvault(t, args...)
			if code != exitUsage || !strings.Contains(errOut, tc.file) {
				t.Fatalf("%s: exit %d, want %d naming %s\n%s", tc.name, code, exitUsage, tc.file, errOut)
			}
		})
	}
	reliability.Record(t, "input", "signing key or public key file missing, empty or not a key", reliability.Refused,
		"exit 2 (configuration) naming the file, so systemd's RestartPreventExitStatus=2 stops instead of restarting serve in a loop; it was exit 1")
}
