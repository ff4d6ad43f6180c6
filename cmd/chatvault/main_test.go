package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/internal/reliability"
)

const acme = "0a1c2e3f-0000-4000-8000-00000000aaaa"

// chatvault runs Main with args and returns the exit code and outputs.
func chatvault(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := Main(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// cleanEnv keeps the developer's CHATVAULT_* variables out of the tests, except the one
// that tells the reliability tests where to record their rows.
func cleanEnv(t *testing.T) {
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "CHATVAULT_") && k != reliability.EnvOut {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
}

func TestRunExportVerifyStatus(t *testing.T) {
	cleanEnv(t)
	store := t.TempDir()
	common := []string{"--eventlog", "../../testdata/eventlog", "--store", store, "--log-format", "json"}

	code, out, errOut := chatvault(t, append([]string{"run", "--date", "2026-11-22"}, common...)...)
	if code != exitQuarantined {
		t.Fatalf("run exit %d, want %d (the sample has bad records)\n%s%s", code, exitQuarantined, out, errOut)
	}
	for _, want := range []string{"29 events read, 13 exported, 5 excluded, 2 duplicates, 9 quarantined", "Acme", "Globex", "committed"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}

	code, out, errOut = chatvault(t, append([]string{"export", "--org", acme, "--date", "2026-11-22"}, common...)...)
	if code != exitOK {
		t.Fatalf("export exit %d: %s", code, errOut)
	}
	want, err := os.ReadFile("../../testdata/golden/acme.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	if out != string(want) {
		t.Errorf("export differs from testdata/golden/acme.jsonl")
	}
	file := filepath.Join(t.TempDir(), "acme.jsonl")
	if code, _, errOut := chatvault(t, append([]string{"export", "--org", acme, "--date", "2026-11-22", "-o", file}, common...)...); code != exitOK {
		t.Fatalf("export -o exit %d: %s", code, errOut)
	}
	if got, _ := os.ReadFile(file); !bytes.Equal(got, want) {
		t.Errorf("export -o wrote other bytes")
	}
	// -o never replaces a file.
	if code, _, _ := chatvault(t, append([]string{"export", "--org", acme, "--date", "2026-11-22", "-o", file}, common...)...); code != exitFailure {
		t.Errorf("export -o onto an existing file: exit %d, want %d", code, exitFailure)
	}

	code, out, errOut = chatvault(t, append([]string{"verify"}, common...)...)
	if code != exitOK || !strings.Contains(out, "2 manifests") || !strings.Contains(out, "0 problems") {
		t.Fatalf("verify exit %d:\n%s%s", code, out, errOut)
	}

	code, out, _ = chatvault(t, append([]string{"status", "--org", acme, "--from", "2026-11-21", "--to", "2026-11-22"}, common...)...)
	if code != exitOK || !strings.Contains(out, "2026-11-21  pending") || !strings.Contains(out, "2026-11-22  sealed") {
		t.Errorf("status exit %d:\n%s", code, out)
	}

	// A rerun changes nothing and still reports the quarantine, but exits 0: it
	// quarantined nothing new (a retried Job must not fail again for the same records).
	code, out, _ = chatvault(t, append([]string{"run", "--date", "2026-11-22"}, common...)...)
	if code != exitOK || strings.Count(out, "unchanged") != 2 || !strings.Contains(out, "9 quarantined") {
		t.Errorf("rerun exit %d:\n%s", code, out)
	}
}

func TestSignedRunVerifies(t *testing.T) {
	cleanEnv(t)
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "signing.pem")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CHATVAULT_SIGNING_KEYFILE", keyFile)
	common := []string{"--eventlog", "../../testdata/eventlog", "--store", t.TempDir(), "--log-format", "json"}
	if code, _, errOut := chatvault(t, append([]string{"run", "--date", "2026-11-22"}, common...)...); code != exitQuarantined {
		t.Fatalf("run exit %d: %s", code, errOut)
	}
	if code, out, errOut := chatvault(t, append([]string{"verify"}, common...)...); code != exitOK {
		t.Fatalf("verify exit %d:\n%s%s", code, out, errOut)
	}
}

func TestUsageErrors(t *testing.T) {
	cleanEnv(t)
	store := t.TempDir()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no command", nil, ""},
		{"unknown command", []string{"seal"}, "unknown command"},
		{"catch-up for one organization", []string{"run", "--org", acme}, "--org and --supersede need --date"},
		{"impossible date", []string{"run", "--date", "2026-02-30"}, "--date"},
		{"date and range", []string{"run", "--date", "2026-11-22", "--from", "2026-11-21", "--to", "2026-11-22"}, "not both"},
		{"reversed range", []string{"run", "--from", "2026-11-22", "--to", "2026-11-21"}, "before"},
		{"half a range", []string{"run", "--from", "2026-11-22"}, "go together"},
		{"export without org", []string{"export", "--date", "2026-11-22"}, "required"},
		{"unknown flag", []string{"verify", "--bogus"}, "unknown flag"},
		{"bad size", []string{"run", "--date", "2026-11-22", "--sort-memory", "12XB"}, "export.sortMemory"},
		{"stray argument", []string{"verify", "extra"}, "unexpected argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := tt.args
			if len(args) > 0 && args[0] != "seal" {
				args = append(args, "--eventlog", "../../testdata/eventlog", "--store", store)
			}
			code, _, errOut := chatvault(t, args...)
			if code != exitUsage {
				t.Errorf("exit %d, want %d (%s)", code, exitUsage, errOut)
			}
			if !strings.Contains(errOut, tt.want) {
				t.Errorf("stderr %q lacks %q", errOut, tt.want)
			}
		})
	}
}

func TestMissingPartitionFails(t *testing.T) {
	cleanEnv(t)
	code, _, errOut := chatvault(t, "run", "--date", "2026-11-21", "--eventlog", "../../testdata/eventlog", "--store", t.TempDir())
	if code != exitFailure || !strings.Contains(errOut, "partition does not exist") {
		t.Errorf("exit %d, stderr %q; want exit 1 naming the missing partition", code, errOut)
	}
}
