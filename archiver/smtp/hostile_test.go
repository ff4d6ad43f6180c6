package smtp_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/mail"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver/smtp"
	"github.com/chatvault/chatvault/internal/reliability"
	"github.com/chatvault/chatvault/internal/smtptest"
)

func plainMailer(t *testing.T, host string, port int) *smtp.Mailer {
	t.Helper()
	m, err := smtp.New(smtp.Config{Host: host, Port: port, From: "chatvault <archive@acme.example>",
		Security: smtp.None, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestRelayDropsAfterAccepting: once the relay has answered 250 to the message's final
// ".", the mail is its to deliver; a connection lost at QUIT must not report a failure
// (the task would fail and its result be swept while the recipients hold a link to it).
// A connection lost before that answer is a failure: nothing says the relay took it.
func TestRelayDropsAfterAccepting(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer func(string) smtptest.Reply
		ok     bool
	}{
		{"hang-up at QUIT", func(c string) smtptest.Reply {
			if c == "QUIT" {
				return smtptest.Reply{Silent: true, HangUp: true}
			}
			return smtptest.Relay(c)
		}, true},
		{"QUIT refused", func(c string) smtptest.Reply {
			if c == "QUIT" {
				return smtptest.Reply{Text: "421 shutting down", HangUp: true}
			}
			return smtptest.Relay(c)
		}, true},
		{"hang-up before accepting", func(c string) smtptest.Reply {
			if c == "." {
				return smtptest.Reply{Silent: true, HangUp: true}
			}
			return smtptest.Relay(c)
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := smtptest.StartScripted(t, tc.answer)
			err := plainMailer(t, srv.Host, srv.Port).Send(context.Background(), []string{"ada@acme.example"}, "ready", "body")
			if n := len(srv.Messages()); n != 1 {
				t.Fatalf("%d messages reached the relay, want 1", n)
			}
			if tc.ok && err != nil {
				t.Fatalf("Send = %v after the relay accepted the message", err)
			}
			if !tc.ok && err == nil {
				t.Fatal("Send = nil though the relay never accepted the message")
			}
		})
	}
	reliability.Record(t, "fault", "email: relay drops the connection or refuses QUIT after accepting the message", reliability.Recovered,
		"the mail counts as sent (the task completes); a drop before the relay's 250 to the data is still a failure")
}

// TestManyRecipientsFoldedHeaders: every recipient is in To; with 50 of them (25 toEmails
// and 25 toUsers, the default exports.maxIds) on one line, the header was over 2,000
// octets and a real relay refused the message ("too long a line"), failing the task.
// RFC 5322 allows 998 octets a line: headers are folded.
func TestManyRecipientsFoldedHeaders(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{})
	m := mailer(t, srv, nil)
	var to []string
	for i := range 50 {
		to = append(to, fmt.Sprintf("firstname.lastname%02d@subsidiary.acme.example", i))
	}
	subject := strings.Repeat("Überprüfung der Exportaufgabe ", 6) // 186 bytes, Q-encoded
	if err := m.Send(context.Background(), to, subject, "body"); err != nil {
		t.Fatal(err)
	}
	msgs := srv.Messages()
	if len(msgs) != 1 || len(msgs[0].To) != 50 {
		t.Fatalf("messages %d, want 1 to 50", len(msgs))
	}
	head, _, _ := bytes.Cut(msgs[0].Data, []byte("\r\n\r\n"))
	for i, line := range strings.Split(string(head), "\r\n") {
		if len(line) > 998 {
			t.Errorf("header line %d is %d octets", i, len(line))
		}
		if !strings.HasPrefix(line, " ") && !strings.Contains(line, ": ") {
			t.Errorf("header line %d is a field name alone: %q", i, line)
		}
	}
	msg, err := mail.ReadMessage(bytes.NewReader(msgs[0].Data))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := msg.Header.AddressList("To"); err != nil || len(got) != 50 || got[49].Address != to[49] {
		t.Errorf("To: %d addresses (%v)", len(got), err)
	}
	if got, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject")); err != nil || got != subject {
		t.Errorf("subject %q (%v), want %q", got, err, subject)
	}
	reliability.Record(t, "input", "email: 50 recipients (toEmails and toUsers at exports.maxIds)", reliability.Kept,
		"one mail to all 50, its To header folded under RFC 5322's 998 octets a line; the relay refused the 2,000-octet line and the task failed")
}

// TestLongRecipientRefused: an address longer than SMTP's 254 octets is refused before
// any connection, not sent to a relay that answers with a syntax error.
func TestLongRecipientRefused(t *testing.T) {
	srv := smtptest.StartScripted(t, smtptest.Relay)
	long := strings.Repeat("a", 250) + "@acme.example"
	err := plainMailer(t, srv.Host, srv.Port).Send(context.Background(), []string{"ada@acme.example", long}, "ready", "body")
	if err == nil || !strings.Contains(err.Error(), "254") {
		t.Fatalf("Send = %v, want a refusal naming the 254-octet limit", err)
	}
	if c := srv.Commands(); len(c) != 0 {
		t.Errorf("the relay was spoken to: %q", c)
	}
}

// TestRelayNeverAnswers: a relay that accepts the connection and then says nothing does
// not hold the task's worker: smtp.timeout ends the send with an error that says so.
func TestRelayNeverAnswers(t *testing.T) {
	srv := smtptest.StartScripted(t, func(string) smtptest.Reply { return smtptest.Reply{Silent: true} })
	m, err := smtp.New(smtp.Config{Host: srv.Host, Port: srv.Port, From: "archive@acme.example", Security: smtp.None, Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	err = m.Send(context.Background(), []string{"ada@acme.example"}, "ready", "body")
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Send = %v, want the timeout", err)
	}
	reliability.Record(t, "fault", "email: relay that accepts the connection and never answers", reliability.CleanFailure,
		"the send ends at smtp.timeout with an error naming the deadline; the task fails, its worker is free")
}

// TestRelayRefusesOneRecipient: one recipient refused among accepted ones, temporarily or
// for good, sends nothing to anyone: the error names the address and the relay's answer.
func TestRelayRefusesOneRecipient(t *testing.T) {
	for _, code := range []string{"450 4.2.1 mailbox busy", "550 5.1.1 no such user"} {
		srv := smtptest.StartScripted(t, func(c string) smtptest.Reply {
			if strings.Contains(c, "bob@") {
				return smtptest.Reply{Text: code}
			}
			return smtptest.Relay(c)
		})
		err := plainMailer(t, srv.Host, srv.Port).Send(context.Background(), []string{"ada@acme.example", "bob@acme.example", "eve@acme.example"}, "ready", "body")
		if err == nil || !strings.Contains(err.Error(), "bob@acme.example") || !strings.Contains(err.Error(), code[:3]) {
			t.Fatalf("Send = %v, want an error naming bob and %s", err, code[:3])
		}
		if n := len(srv.Messages()); n != 0 {
			t.Fatalf("%d messages sent despite the refusal", n)
		}
	}
	reliability.Record(t, "fault", "email: relay refuses one recipient among several (4xx or 5xx)", reliability.CleanFailure,
		"no one is mailed; the error names the address and the relay's answer")
}

// TestNoCredentialsInClear: whatever the relay does around STARTTLS, neither the
// password nor an address is sent before the connection is encrypted and verified.
func TestNoCredentialsInClear(t *testing.T) {
	ehlo := "250-scripted\r\n250-AUTH PLAIN LOGIN\r\n250-8BITMIME\r\n250 STARTTLS"
	for _, tc := range []struct {
		name     string
		starttls smtptest.Reply
		want     string
	}{
		{"STARTTLS offered, then refused", smtptest.Reply{Text: "454 4.7.0 TLS not available"}, "starttls"},
		{"STARTTLS accepted, then the handshake dropped", smtptest.Reply{Text: "220 go ahead", HangUp: true}, "starttls"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := smtptest.StartScripted(t, func(c string) smtptest.Reply {
				switch {
				case strings.HasPrefix(c, "EHLO"):
					return smtptest.Reply{Text: ehlo}
				case c == "STARTTLS":
					return tc.starttls
				}
				return smtptest.Relay(c)
			})
			m, err := smtp.New(smtp.Config{Host: srv.Host, Port: srv.Port, From: "archive@acme.example",
				Username: "relay", Password: "s3cret", Timeout: 10 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			err = m.Send(context.Background(), []string{"ada@acme.example"}, "ready", "body")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Send = %v, want an error naming %s", err, tc.want)
			}
			for _, c := range srv.Commands() {
				if !strings.HasPrefix(c, "EHLO") && c != "STARTTLS" {
					t.Errorf("sent in the clear: %q", c)
				}
			}
		})
	}
	t.Run("certificate for another name", func(t *testing.T) {
		srv := smtptest.Start(t, smtptest.Options{Username: "relay", Password: "s3cret", CertName: "relay.other.example"})
		m := mailer(t, srv, func(c *smtp.Config) { c.Username, c.Password = "relay", "s3cret" })
		err := m.Send(context.Background(), []string{"ada@acme.example"}, "ready", "body")
		if err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Fatalf("Send = %v, want a certificate error", err)
		}
		if n := len(srv.Messages()); n != 0 {
			t.Fatalf("%d messages", n)
		}
	})
	t.Run("security none to a remote relay", func(t *testing.T) {
		// 127.0.0.2 stands for a relay on another host: net/smtp only lets PLAIN go in
		// the clear to 127.0.0.1, ::1 and localhost.
		srv := smtptest.StartScriptedOn(t, "127.0.0.2", func(c string) smtptest.Reply {
			if strings.HasPrefix(c, "EHLO") {
				return smtptest.Reply{Text: "250-scripted\r\n250 AUTH PLAIN"}
			}
			return smtptest.Relay(c)
		})
		m, err := smtp.New(smtp.Config{Host: srv.Host, Port: srv.Port, From: "archive@acme.example",
			Username: "relay", Password: "s3cret", Security: smtp.None, Timeout: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		err = m.Send(context.Background(), []string{"ada@acme.example"}, "ready", "body")
		if err == nil || !strings.Contains(err.Error(), "auth") {
			t.Fatalf("Send = %v, want an auth error", err)
		}
		for _, c := range srv.Commands() {
			if strings.HasPrefix(c, "AUTH") {
				t.Errorf("credentials sent in the clear: %q", c)
			}
		}
	})
	reliability.Record(t, "security", "email: relay offers STARTTLS then refuses it or drops the handshake, or shows a certificate for another name; PLAIN in the clear to a remote relay",
		reliability.Refused, "the send fails naming starttls, the certificate or auth; no AUTH, MAIL or RCPT leaves in the clear")
}

// TestInternationalAddressNeedsSMTPUTF8: an address with non-ASCII characters may only be
// sent to a relay that offers SMTPUTF8 (RFC 6531); to another it is an error naming the
// address, not a RCPT the relay may pass on mangled (the bounce would reach the sender
// while the task says the link was mailed).
func TestInternationalAddressNeedsSMTPUTF8(t *testing.T) {
	for _, utf8 := range []bool{false, true} {
		srv := smtptest.StartScripted(t, func(c string) smtptest.Reply {
			if strings.HasPrefix(c, "EHLO") {
				if utf8 {
					return smtptest.Reply{Text: "250-scripted\r\n250-8BITMIME\r\n250 SMTPUTF8"}
				}
				return smtptest.Reply{Text: "250-scripted\r\n250 8BITMIME"}
			}
			return smtptest.Relay(c)
		})
		err := plainMailer(t, srv.Host, srv.Port).Send(context.Background(), []string{"ada@acme.example", "jörg@müller.example"}, "ready", "body")
		cmds := strings.Join(srv.Commands(), "\n")
		if utf8 {
			if err != nil || !strings.Contains(cmds, "RCPT TO:<jörg@müller.example>") || !strings.Contains(cmds, " SMTPUTF8") {
				t.Errorf("with SMTPUTF8: Send = %v, commands:\n%s", err, cmds)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), "SMTPUTF8") || !strings.Contains(err.Error(), "jörg@müller.example") {
			t.Errorf("without SMTPUTF8: Send = %v, want an error naming SMTPUTF8 and the address", err)
		}
		if strings.Contains(cmds, "RCPT") || len(srv.Messages()) != 0 {
			t.Errorf("without SMTPUTF8, sent:\n%s", cmds)
		}
	}
	reliability.Record(t, "input", "email: non-ASCII address to a relay without SMTPUTF8", reliability.CleanFailure,
		"the send fails naming SMTPUTF8 and the address before any RCPT; it went out raw (RFC 6531 forbids it) and the task said it was mailed")
}

// TestRecipientsBeyondTheRelaysLimit: a relay need take only 100 recipients a message
// (RFC 5321 4.5.3.1.8) and answers 452 to the next. exports.maxIds allows 1,000 toEmails
// and 1,000 toUsers: they go in messages of 100, each recipient once.
func TestRecipientsBeyondTheRelaysLimit(t *testing.T) {
	n := 0
	srv := smtptest.StartScripted(t, func(c string) smtptest.Reply {
		switch {
		case strings.HasPrefix(c, "MAIL"):
			n = 0
		case strings.HasPrefix(c, "RCPT"):
			if n++; n > 100 {
				return smtptest.Reply{Text: "452 4.5.3 too many recipients"}
			}
		}
		return smtptest.Relay(c)
	})
	var to []string
	for i := range 250 {
		to = append(to, fmt.Sprintf("r%03d@acme.example", i))
	}
	if err := plainMailer(t, srv.Host, srv.Port).Send(context.Background(), to, "ready", "body"); err != nil {
		t.Fatal(err)
	}
	var rcpts []string
	for _, c := range srv.Commands() {
		if a, ok := strings.CutPrefix(c, "RCPT TO:<"); ok {
			rcpts = append(rcpts, strings.TrimSuffix(a, ">"))
		}
	}
	if len(srv.Messages()) != 3 || strings.Join(rcpts, ",") != strings.Join(to, ",") {
		t.Fatalf("%d messages to %d recipients, want 3 to the 250 once each", len(srv.Messages()), len(rcpts))
	}
	reliability.Record(t, "input", "email: 250 recipients to a relay that takes 100 a message (452 to the 101st)", reliability.Kept,
		"three messages of at most 100 recipients, each address once; the 452 failed the task")
}

// TestTemporary: which failures the engine may try again (Error.Temporary): the relay's
// 4xx, a relay out of reach or silent; not a 5xx, nor what this side refuses, nor a
// failure after some recipients were mailed.
func TestTemporary(t *testing.T) {
	refuseRcpt := func(code string, after int) func(string) smtptest.Reply {
		n := 0
		return func(c string) smtptest.Reply {
			if strings.HasPrefix(c, "RCPT") {
				if n++; n > after {
					return smtptest.Reply{Text: code}
				}
			}
			return smtptest.Relay(c)
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().(*net.TCPAddr).Port
	l.Close()
	hundred := make([]string, 101)
	for i := range hundred {
		hundred[i] = fmt.Sprintf("r%03d@acme.example", i)
	}
	for _, tc := range []struct {
		name string
		port func(t *testing.T) (int, smtp.Security)
		to   []string
		want bool
	}{
		{"450", func(t *testing.T) (int, smtp.Security) {
			return smtptest.StartScripted(t, refuseRcpt("450 4.2.1 busy", 0)).Port, smtp.None
		}, nil, true},
		{"550", func(t *testing.T) (int, smtp.Security) {
			return smtptest.StartScripted(t, refuseRcpt("550 5.1.1 no such user", 0)).Port, smtp.None
		}, nil, false},
		{"450 after 100 were mailed", func(t *testing.T) (int, smtp.Security) {
			return smtptest.StartScripted(t, refuseRcpt("450 4.2.1 busy", 100)).Port, smtp.None
		}, hundred, false},
		{"connection refused", func(*testing.T) (int, smtp.Security) { return closed, smtp.None }, nil, true},
		{"silent", func(t *testing.T) (int, smtp.Security) {
			return smtptest.StartScripted(t, func(string) smtptest.Reply { return smtptest.Reply{Silent: true} }).Port, smtp.None
		}, nil, true},
		{"no STARTTLS", func(t *testing.T) (int, smtp.Security) {
			return smtptest.StartScripted(t, smtptest.Relay).Port, smtp.StartTLS
		}, nil, false},
		{"certificate for another name", func(t *testing.T) (int, smtp.Security) {
			return smtptest.Start(t, smtptest.Options{CertName: "relay.other.example"}).Port, smtp.StartTLS
		}, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			port, sec := tc.port(t)
			m, err := smtp.New(smtp.Config{Host: "127.0.0.1", Port: port, From: "archive@acme.example", Security: sec, Timeout: 300 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			to := tc.to
			if to == nil {
				to = []string{"ada@acme.example"}
			}
			err = m.Send(context.Background(), to, "ready", "body")
			var se *smtp.Error
			if !errors.As(err, &se) {
				t.Fatalf("Send = %v, want an *smtp.Error", err)
			}
			if se.Temporary() != tc.want {
				t.Errorf("Temporary() = %v for %v", !tc.want, err)
			}
			if p := se.Public(); strings.Contains(p, strconv.Itoa(port)) || strings.Contains(p, "127.0.0.1") {
				t.Errorf("Public() = %q shows the relay's address", p)
			}
			if tc.name == "450 after 100 were mailed" && se.Public() != `mailed to 100 of 101 recipients, then: recipient r100@acme.example: 450 "4.2.1 busy"` {
				t.Errorf("Public() = %q", se.Public())
			}
		})
	}
}

// TestGreetsWithAnAddressLiteral: EHLO names the client by its fully qualified name or,
// lacking one, an address literal (RFC 5321 4.1.1.1, 4.1.3). "localhost" is neither, and
// relays that check (Postfix's reject_non_fqdn_helo_hostname) refused every mail.
func TestGreetsWithAnAddressLiteral(t *testing.T) {
	srv := smtptest.StartScripted(t, func(c string) smtptest.Reply {
		if verb, arg, _ := strings.Cut(c, " "); verb == "EHLO" || verb == "HELO" {
			if !strings.HasPrefix(arg, "[") && !strings.Contains(arg, ".") {
				return smtptest.Reply{Text: "504 5.5.2 <" + arg + ">: Helo command rejected: need fully-qualified hostname"}
			}
		}
		return smtptest.Relay(c)
	})
	if err := plainMailer(t, srv.Host, srv.Port).Send(context.Background(), []string{"ada@acme.example"}, "ready", "body"); err != nil {
		t.Fatal(err)
	}
	if c := srv.Commands(); len(c) == 0 || c[0] != "EHLO [127.0.0.1]" {
		t.Errorf("greeting %q, want EHLO [127.0.0.1]", c)
	}
	reliability.Record(t, "input", "email: relay that refuses a HELO name that is not fully qualified", reliability.Kept,
		"EHLO gives the connection's address literal ([127.0.0.1]); EHLO localhost was refused and every mail failed")
}

// TestSubjectWithoutSpaces: a subject of 200 octets and no space is one long token: it
// stays on the Subject line (under 998 octets), not on a line of its own after a bare
// "Subject:".
func TestSubjectWithoutSpaces(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{})
	subject := strings.Repeat("x", 200)
	if err := mailer(t, srv, nil).Send(context.Background(), []string{"ada@acme.example"}, subject, "body"); err != nil {
		t.Fatal(err)
	}
	if d := srv.Messages()[0].Data; !bytes.Contains(d, []byte("\r\nSubject: "+subject+"\r\n")) {
		t.Errorf("message:\n%s", d)
	}
}
