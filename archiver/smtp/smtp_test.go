package smtp_test

import (
	"context"
	"errors"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver/smtp"
	"github.com/chatvault/chatvault/internal/reliability"
	"github.com/chatvault/chatvault/internal/smtptest"
)

var fixed = time.Date(2026, 11, 23, 9, 30, 0, 0, time.UTC)

func mailer(t *testing.T, srv *smtptest.Server, mod func(*smtp.Config)) *smtp.Mailer {
	t.Helper()
	cfg := smtp.Config{Host: srv.Host, Port: srv.Port, From: "chatvault <archive@acme.example>",
		RootCAs: srv.Roots, Timeout: 10 * time.Second, Now: func() time.Time { return fixed }}
	if mod != nil {
		mod(&cfg)
	}
	m, err := smtp.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestSendOverStartTLS sends through a real SMTP server that requires STARTTLS before
// authentication, and reads the message back as the recipient's client would.
func TestSendOverStartTLS(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{Username: "relay", Password: "s3cret"})
	m := mailer(t, srv, func(c *smtp.Config) { c.Username, c.Password = "relay", "s3cret" })
	body := "Your export is ready:\nhttps://archive.example/v1/exports/tasks/x/download?sig=abc=def\nIt expires in 24 hours. Grüße\n"
	subject := "Export ready: Ärger & co"
	if err := m.Send(context.Background(), []string{"Ada Lovelace <ada@acme.example>", "bob@acme.example"}, subject, body); err != nil {
		t.Fatal(err)
	}
	msgs := srv.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages arrived, want 1", len(msgs))
	}
	got := msgs[0]
	if !got.TLS || got.User != "relay" {
		t.Errorf("TLS %v, user %q: want an encrypted, authenticated session", got.TLS, got.User)
	}
	if got.From != "archive@acme.example" || strings.Join(got.To, ",") != "ada@acme.example,bob@acme.example" {
		t.Errorf("envelope from %q to %v", got.From, got.To)
	}
	msg, err := mail.ReadMessage(strings.NewReader(string(got.Data)))
	if err != nil {
		t.Fatal(err)
	}
	dec := new(mime.WordDecoder)
	if s, err := dec.DecodeHeader(msg.Header.Get("Subject")); err != nil || s != subject {
		t.Errorf("subject %q (%v), want %q", s, err, subject)
	}
	if d, err := msg.Header.Date(); err != nil || !d.Equal(fixed) {
		t.Errorf("date %v (%v)", d, err)
	}
	if to, err := msg.Header.AddressList("To"); err != nil || len(to) != 2 || to[0].Name != "Ada Lovelace" {
		t.Errorf("To %v (%v)", to, err)
	}
	if msg.Header.Get("Message-ID") == "" || !strings.HasSuffix(msg.Header.Get("Message-ID"), "@acme.example>") {
		t.Errorf("Message-ID %q", msg.Header.Get("Message-ID"))
	}
	text, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.ReplaceAll(body, "\n", "\r\n"); string(text) != want {
		t.Errorf("body %q, want %q", text, want)
	}
}

func TestImplicitTLSAndPlain(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  smtptest.Options
		sec  smtp.Security
		tls  bool
	}{
		{"implicit TLS", smtptest.Options{Implicit: true}, smtp.ImplicitTLS, true},
		{"none", smtptest.Options{NoTLS: true}, smtp.None, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := smtptest.Start(t, tc.opt)
			m := mailer(t, srv, func(c *smtp.Config) { c.Security = tc.sec })
			if err := m.Send(context.Background(), []string{"ada@acme.example"}, "s", "b"); err != nil {
				t.Fatal(err)
			}
			if msgs := srv.Messages(); len(msgs) != 1 || msgs[0].TLS != tc.tls {
				t.Fatalf("messages %+v, want one with TLS=%v", msgs, tc.tls)
			}
		})
	}
}

// TestRefusals: each failure is an error that says why, and no mail leaves.
func TestRefusals(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name    string
		opt     smtptest.Options
		mod     func(*smtp.Config)
		to      []string
		subject string
		ctx     context.Context
		want    string
	}{
		{name: "relay without STARTTLS", opt: smtptest.Options{NoTLS: true}, want: "does not offer STARTTLS"},
		{name: "untrusted certificate", mod: func(c *smtp.Config) { c.RootCAs = nil }, want: "certificate"},
		{name: "wrong password", opt: smtptest.Options{Username: "relay", Password: "right"},
			mod: func(c *smtp.Config) { c.Username, c.Password = "relay", "wrong" }, want: "auth"},
		{name: "subject with a line break", subject: "ready\r\nBcc: eve@evil.example", want: "line break"},
		{name: "recipient smuggling a header", to: []string{"ada@acme.example\r\nBcc: eve@evil.example"}, want: "recipient"},
		{name: "no recipient", to: []string{}, want: "no recipient"},
		{name: "canceled", ctx: canceled, want: "context canceled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := smtptest.Start(t, tc.opt)
			m := mailer(t, srv, tc.mod)
			ctx := tc.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			to := tc.to
			if to == nil {
				to = []string{"ada@acme.example"}
			}
			subject := tc.subject
			if subject == "" {
				subject = "ready"
			}
			err := m.Send(ctx, to, subject, "body")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Send = %v, want an error containing %q", err, tc.want)
			}
			if tc.name == "canceled" && !errors.Is(err, context.Canceled) {
				t.Errorf("%v does not wrap context.Canceled", err)
			}
			if n := len(srv.Messages()); n != 0 {
				t.Fatalf("%d messages left despite the error", n)
			}
			if strings.Contains(err.Error(), "right") || strings.Contains(err.Error(), "wrong") {
				t.Errorf("error %q shows a password", err)
			}
			if tc.ctx == nil {
				reliability.Record(t, "security", "email: "+tc.name, reliability.Refused, "error names "+strconv.Quote(tc.want)+"; no mail leaves")
			}
		})
	}
}

func TestNewValidates(t *testing.T) {
	for _, tc := range []struct {
		cfg  smtp.Config
		want string
	}{
		{smtp.Config{Port: 25, From: "a@b.example"}, "no host"},
		{smtp.Config{Host: "h", Port: 0, From: "a@b.example"}, "port"},
		{smtp.Config{Host: "h", Port: 25, From: "not an address"}, "from"},
		{smtp.Config{Host: "h", Port: 25, From: "a@b.example", Security: "ssl"}, "security"},
	} {
		if _, err := smtp.New(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v) = %v, want %q", tc.cfg, err, tc.want)
		}
	}
}
