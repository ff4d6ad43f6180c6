package smtp_test

import (
	"context"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/archiver/smtp"
	"github.com/chatvault/chatvault/internal/reliability"
	"github.com/chatvault/chatvault/internal/smtptest"
)

// TestAuthMechanisms authenticates to relays that offer PLAIN, LOGIN or neither. A relay
// offering LOGIN alone (Microsoft 365's smtp.office365.com) refused every mail: net/smtp
// sends AUTH PLAIN whatever the relay offers.
func TestAuthMechanisms(t *testing.T) {
	for _, tc := range []struct {
		name     string
		offered  []string
		password string
		want     string // "" for a delivered mail, else in the error
	}{
		{name: "LOGIN alone", offered: []string{"LOGIN"}, password: "s3cret"},
		{name: "PLAIN and LOGIN", offered: []string{"LOGIN", "PLAIN"}, password: "s3cret"},
		{name: "LOGIN, wrong password", offered: []string{"LOGIN"}, password: "wrong", want: "auth"},
		{name: "neither", offered: []string{"XOAUTH2"}, password: "s3cret", want: "XOAUTH2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := smtptest.Start(t, smtptest.Options{Username: "relay", Password: "s3cret", Mechanisms: tc.offered})
			m := mailer(t, srv, func(c *smtp.Config) { c.Username, c.Password = "relay", tc.password })
			err := m.Send(context.Background(), []string{"ada@acme.example"}, "ready", "a link\n")
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("Send: %v, want an error naming %q", err, tc.want)
				}
				if n := len(srv.Messages()); n != 0 {
					t.Fatalf("%d messages accepted", n)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			msgs := srv.Messages()
			if len(msgs) != 1 || msgs[0].User != "relay" || !msgs[0].TLS {
				t.Fatalf("messages %+v: want one, authenticated as relay over TLS", msgs)
			}
		})
	}
	reliability.Record(t, "operations", "SMTP relay offering AUTH LOGIN alone (Microsoft 365), or no mechanism chatvault speaks", reliability.Kept,
		"LOGIN is used when PLAIN is not offered, over TLS only; a relay offering neither gets an error naming what it offers, before any password is sent")
}
