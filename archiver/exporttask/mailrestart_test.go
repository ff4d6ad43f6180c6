package exporttask_test

import (
	"context"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver/exporttask"
	"github.com/chatvault/chatvault/archiver/smtp"
	"github.com/chatvault/chatvault/internal/reliability"
	"github.com/chatvault/chatvault/internal/smtptest"
)

// stopAfterSend sends through the real mailer, then stops the process: the shutdown that
// comes between the relay's 250 and completed.json.
type stopAfterSend struct {
	m    *smtp.Mailer
	stop context.CancelFunc
}

func (s stopAfterSend) Send(ctx context.Context, to []string, subject, body string) error {
	err := s.m.Send(ctx, to, subject, body)
	s.stop()
	return err
}

// TestShutdownAfterTheMailIsSent: serve stopped once the relay has the mail, before the
// task's outcome is recorded. The task completed, so a restart neither runs it again nor
// mails the link a second time; before, the run was handed back, and the restart redid
// the export and mailed everyone again.
func TestShutdownAfterTheMailIsSent(t *testing.T) {
	relay := smtptest.Start(t, smtptest.Options{})
	m, err := smtp.New(smtp.Config{Host: relay.Host, Port: relay.Port, From: "archive@acme.example", RootCAs: relay.Roots, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t)
	first := f.engine(t, nil)
	ctx, stop := context.WithCancel(context.Background())
	first.Mailer, first.BaseURL = stopAfterSend{m, stop}, "https://chatvault.acme.example"
	id, err := first.Create(ctx, acme, "test", exporttask.Request{From: days[0], To: days[1], Format: "jsonl",
		Delivery: "email", ToEmails: []string{"counsel@acme.example"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(relay.Messages()); n != 1 {
		t.Fatalf("%d mails after the first run, want 1", n)
	}

	second := f.engine(t, nil)
	second.Mailer, second.BaseURL = m, "https://chatvault.acme.example"
	st, err := second.Execute(context.Background(), acme, id)
	if err != nil {
		t.Fatal(err)
	}
	if st.State != exporttask.StateCompleted || len(st.EmailedTo) != 1 {
		t.Fatalf("after restart: %s %q, emailedTo %v", st.State, st.Error, st.EmailedTo)
	}
	if n := len(relay.Messages()); n != 1 {
		t.Errorf("%d mails after the restart, want 1: the link was mailed again", n)
	}
	if st.Attempts != 1 {
		t.Errorf("%d attempts, want 1: the export ran again", st.Attempts)
	}
	reliability.Record(t, "crash", "serve stops after the relay accepted an export task's mail, before its outcome is recorded", reliability.Recovered,
		"the task is recorded completed at the stop; the restart neither reruns it nor mails the link again")
}
