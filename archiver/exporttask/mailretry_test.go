package exporttask_test

import (
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver/exporttask"
	"github.com/chatvault/chatvault/archiver/smtp"
	"github.com/chatvault/chatvault/internal/reliability"
	"github.com/chatvault/chatvault/internal/smtptest"
)

// TestTemporaryMailFailureTriedAgain: a relay's 4xx is "try again later" (RFC 5321
// 4.2.1), and so is a relay that cannot be reached: the mail is tried again after
// Engine.MailRetries instead of failing the task, whose result was swept an hour later
// and whose export had to be made again. A 5xx is final at once, and so are the tries
// when the relay still refuses at the last.
func TestTemporaryMailFailureTriedAgain(t *testing.T) {
	for _, tc := range []struct {
		name    string
		refuse  int    // the first refuse sessions get code to their RCPT
		code    string // the refusal
		state   exporttask.State
		tries   int
		errWant string
		mails   map[string]float64 // chatvault_export_task_mails_total
	}{
		{"4xx twice, then accepted", 2, "451 4.3.0 try again later", exporttask.StateCompleted, 3, "",
			map[string]float64{"sent": 1, "retried": 2, "failed": 0}},
		{"4xx at every try", 99, "451 4.3.0 try again later", exporttask.StateFailed, 3, "after 3 tries: recipient counsel@acme.example: 451",
			map[string]float64{"sent": 0, "retried": 2, "failed": 1}},
		{"5xx", 99, "550 5.1.1 no such user", exporttask.StateFailed, 1, "email delivery failed: recipient counsel@acme.example: 550",
			map[string]float64{"sent": 0, "retried": 0, "failed": 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			sessions := 0
			relay := smtptest.StartScripted(t, func(c string) smtptest.Reply {
				mu.Lock()
				defer mu.Unlock()
				switch {
				case strings.HasPrefix(c, "EHLO"):
					sessions++
				case strings.HasPrefix(c, "RCPT") && sessions <= tc.refuse:
					return smtptest.Reply{Text: tc.code}
				}
				return smtptest.Relay(c)
			})
			m, err := smtp.New(smtp.Config{Host: relay.Host, Port: relay.Port, From: "archive@acme.example", Security: smtp.None, Timeout: 10 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			f := newFixture(t)
			e := f.engine(t, nil)
			e.Mailer, e.BaseURL = m, "https://chatvault.acme.example"
			var waits []time.Duration
			e.MailRetries = []time.Duration{61 * time.Second, 301 * time.Second} // apart from the claim renewals' waits
			e.After = func(d time.Duration) <-chan time.Time {
				if d == 61*time.Second || d == 301*time.Second {
					mu.Lock()
					waits = append(waits, d)
					mu.Unlock()
					d = 0 // the test does not wait the minutes out
				}
				return time.After(d)
			}
			st, _ := run(t, e, exporttask.Request{From: days[0], To: days[0], Format: "jsonl", Delivery: "email", ToEmails: []string{"counsel@acme.example"}})
			if st.State != tc.state || !strings.Contains(st.Error, tc.errWant) {
				t.Fatalf("state %s, error %q; want %s naming %q", st.State, st.Error, tc.state, tc.errWant)
			}
			if got := counterByLabel(t, e, "chatvault_export_task_mails_total"); !maps.Equal(got, tc.mails) {
				t.Errorf("chatvault_export_task_mails_total %v, want %v", got, tc.mails)
			}
			mu.Lock()
			defer mu.Unlock()
			if sessions != tc.tries || len(waits) != tc.tries-1 {
				t.Errorf("%d sessions after waits %v, want %d", sessions, waits, tc.tries)
			}
			if want := min(1, tc.tries-tc.refuse); tc.state == exporttask.StateCompleted && len(relay.Messages()) != want {
				t.Errorf("%d messages, want %d", len(relay.Messages()), want)
			}
		})
	}
	reliability.Record(t, "fault", "email: relay answers 4xx (try again later) or cannot be reached, then accepts", reliability.Recovered,
		"the mail is tried again after 1 and 5 minutes and the task completes; a 5xx, or a refusal at the third try, fails the task naming the answer")
}
