package main

import (
	"context"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/config"
	"github.com/chatvault/chatvault/internal/smtptest"
)

// TestMailerFromConfig builds the mailer the way serve does, from smtp.* with the password
// and the relay's CA in files, and sends through a real SMTP server over STARTTLS.
func TestMailerFromConfig(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{Username: "relay", Password: "pw-from-file"})
	dir := t.TempDir()
	pass := filepath.Join(dir, "smtp.password")
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(pass, []byte("pw-from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var pemCerts []byte
	for _, c := range srv.Certificates() {
		pemCerts = append(pemCerts, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c})...)
	}
	if err := os.WriteFile(ca, pemCerts, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.SMTP = config.SMTP{Host: srv.Host, Port: srv.Port, From: "archive@acme.example", Username: "relay",
		PasswordFile: pass, Security: "starttls", CAFile: ca, Timeout: cfg.SMTP.Timeout}
	e := &env{cfg: cfg}
	m, err := e.mailer()
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Send(context.Background(), []string{"ada@acme.example"}, "ready", "https://x.example/d"); err != nil {
		t.Fatal(err)
	}
	if msgs := srv.Messages(); len(msgs) != 1 || !msgs[0].TLS || msgs[0].User != "relay" {
		t.Fatalf("messages %+v", msgs)
	}

	cfg.SMTP.Host = ""
	if m, err := e.mailer(); m != nil || err != nil {
		t.Errorf("no relay: mailer %v, %v; want none", m, err)
	}
	cfg.SMTP.Host, cfg.SMTP.CAFile = srv.Host, pass
	if _, err := e.mailer(); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Errorf("a CA file without a certificate: %v", err)
	}
}
