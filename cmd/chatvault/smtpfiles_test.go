package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/internal/reliability"
)

// TestSMTPFilesAreConfigurationErrors: smtp.passwordFile or smtp.caFile missing, or a CA
// file with no certificate, stopped serve with exit 1, which chatvault.service restarts
// every 10 seconds for ever (Restart=on-failure): a restart cannot make the file appear.
// Like the signing and link keys, they are configuration: exit 2 naming the file, which
// RestartPreventExitStatus=2 stops on.
func TestSMTPFilesAreConfigurationErrors(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, env, file string }{
		{"password file missing", "CHATVAULT_SMTP_PASSWORDFILE", filepath.Join(dir, "missing-password")},
		{"CA file missing", "CHATVAULT_SMTP_CAFILE", filepath.Join(dir, "missing-ca.pem")},
		{"CA file without a certificate", "CHATVAULT_SMTP_CAFILE", notPEM},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cleanEnv(t)
			t.Setenv("CHATVAULT_HTTP_ADDR", "127.0.0.1:0")
			t.Setenv("CHATVAULT_AUTH_TOKENSFILE", filepath.Join(t.TempDir(), "tokens.json"))
			t.Setenv("CHATVAULT_SMTP_HOST", "mail.example.com")
			t.Setenv("CHATVAULT_SMTP_FROM", "archive@example.com")
			if tc.env == "CHATVAULT_SMTP_PASSWORDFILE" {
				t.Setenv("CHATVAULT_SMTP_USERNAME", "archive")
			}
			t.Setenv("CHATVAULT_EXPORTS_BASEURL", "https://archive.example.com")
			t.Setenv(tc.env, tc.file)
			code, _, errOut := chatvault(t, "serve", "--eventlog", "../../testdata/eventlog", "--store", filepath.Join(t.TempDir(), "archive"), "--log-format", "text")
			if code != exitUsage || !strings.Contains(errOut, tc.file) {
				t.Fatalf("exit %d, want %d naming %s\n%s", code, exitUsage, tc.file, errOut)
			}
		})
	}
	reliability.Record(t, "operations", "smtp.passwordFile or smtp.caFile missing, or a CA file without a certificate", reliability.Refused,
		"serve exits 2 (configuration) naming the file, so chatvault.service's RestartPreventExitStatus=2 stops; it was exit 1, restarted every 10 seconds")
}
