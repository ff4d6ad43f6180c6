package exporttask_test

import (
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver/exporttask"
	"github.com/chatvault/chatvault/archiver/smtp"
	"github.com/chatvault/chatvault/internal/reliability"
	"github.com/chatvault/chatvault/internal/smtptest"
)

// TestMailFailureShowsTheAnswerNotTheRelay: a task whose mail failed says why in its
// error, which every token of the organization reads: the relay's answer to its mail,
// but neither the relay's address nor a connection's details, which are the operator's
// (the server log has them).
func TestMailFailureShowsTheAnswerNotTheRelay(t *testing.T) {
	refusing := smtptest.StartScripted(t, func(c string) smtptest.Reply {
		if strings.HasPrefix(c, "RCPT") {
			return smtptest.Reply{Text: "550 5.1.1 <counsel@acme.example>: mailbox unavailable"}
		}
		return smtptest.Relay(c)
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().(*net.TCPAddr).Port
	l.Close() // nothing listens there: the connection is refused
	silent := smtptest.StartScripted(t, func(string) smtptest.Reply { return smtptest.Reply{Silent: true} })

	for _, tc := range []struct {
		name string
		port int
		want string
	}{
		{"recipient refused", refusing.Port, `recipient counsel@acme.example: 550 "5.1.1 <counsel@acme.example>: mailbox unavailable"`},
		{"relay unreachable", closed, "could not be reached"},
		{"relay silent", silent.Port, "smtp.timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := smtp.New(smtp.Config{Host: "127.0.0.1", Port: tc.port, From: "archive@acme.example", Security: smtp.None, Timeout: 300 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			f := newFixture(t)
			e := f.engine(t, nil)
			e.Mailer, e.BaseURL = m, "https://chatvault.acme.example"
			e.MailRetries = []time.Duration{} // one try: TestTemporaryMailFailureTriedAgain tries again
			st, _ := run(t, e, exporttask.Request{From: days[0], To: days[0], Format: "jsonl", Delivery: "email", ToEmails: []string{"counsel@acme.example"}})
			if st.State != exporttask.StateFailed || !strings.Contains(st.Error, tc.want) {
				t.Fatalf("state %s, error %q; want failed naming %q", st.State, st.Error, tc.want)
			}
			if strings.Contains(st.Error, strconv.Itoa(tc.port)) || strings.Contains(st.Error, "127.0.0.1") {
				t.Errorf("error %q shows the relay's address", st.Error)
			}
		})
	}
	reliability.Record(t, "security", "export task whose mail failed: the relay's address in the task's error", reliability.Refused,
		"the error gives the relay's answer, or that it could not be reached or did not answer within smtp.timeout; the address and connection details only in the server log")
}
