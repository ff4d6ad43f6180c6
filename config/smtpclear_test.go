package config

import (
	"errors"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/internal/reliability"
)

// TestSMTPPasswordInTheClearRefused: smtp.username with smtp.security none to a relay that
// is not this host would send the password in the clear. net/smtp refuses that at each
// mail, so serve started and every e-mail task ran its whole export, then failed with
// "unencrypted connection". It is refused at start instead; a relay on this host keeps
// working.
func TestSMTPPasswordInTheClearRefused(t *testing.T) {
	for _, tc := range []struct {
		host string
		ok   bool
	}{
		{"mail.example", false},
		{"10.0.0.25", false},
		{"localhost", true},
		{"127.0.0.1", true},
		{"::1", true},
	} {
		c := withLocations("./events", "./archive")
		c.SMTP.Host, c.SMTP.From, c.SMTP.Username, c.SMTP.PasswordFile, c.SMTP.Security = tc.host, "a@acme.example", "relay", "/etc/chatvault/smtp.password", "none"
		err := c.Validate()
		if tc.ok {
			if err != nil {
				t.Errorf("%s: Validate() = %v", tc.host, err)
			}
			continue
		}
		var ce *Error
		if !errors.As(err, &ce) || ce.Key != "smtp.security" || !strings.Contains(err.Error(), "in the clear") {
			t.Errorf("%s: Validate() = %v, want an error on smtp.security saying the password would go in the clear", tc.host, err)
		}
		c.SMTP.Security = "starttls"
		if err := c.Validate(); err != nil {
			t.Errorf("%s with starttls: %v", tc.host, err)
		}
	}
	reliability.Record(t, "security", "smtp.username with smtp.security none to a relay on another host", reliability.Refused,
		"serve exits 2 at start naming smtp.security; it started, and every e-mail task ran its export and then failed (net/smtp will not send PLAIN in the clear)")
}
