package main

import (
	"crypto/x509"
	"os"
	"strings"

	"github.com/chatvault/chatvault/archiver/smtp"
)

// mailer builds the SMTP mailer of smtp.*, or returns nil when no relay is configured
// (email delivery is then refused per task, not at startup).
func (e *env) mailer() (*smtp.Mailer, error) {
	c := e.cfg.SMTP
	if c.Host == "" {
		return nil, nil
	}
	cfg := smtp.Config{Host: c.Host, Port: c.Port, From: c.From, Username: c.Username,
		Security: smtp.Security(c.Security), Timeout: c.Timeout}
	if c.PasswordFile != "" {
		b, err := os.ReadFile(c.PasswordFile)
		if err != nil {
			return nil, usagef("smtp.passwordFile: %v", err) // configuration: exit 2, no restart loop
		}
		// Editors and `echo` leave a final newline that is not part of the password.
		cfg.Password = strings.TrimRight(string(b), "\r\n")
	}
	if c.CAFile != "" {
		b, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, usagef("smtp.caFile: %v", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(b) {
			return nil, usagef("smtp.caFile %s: no PEM certificate", c.CAFile)
		}
	}
	return smtp.New(cfg)
}
