package exporttask_test

import (
	"strings"
	"testing"

	"github.com/chatvault/chatvault/archiver/exporttask"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestSameMailboxMailedOnce: a domain is case-insensitive, so grace@ACME.example in
// toEmails is the mailbox the directory gives u-grace (grace@acme.example): one recipient,
// not two copies of the link to one person. A local part's case is the mailbox's own
// (RFC 5321 2.4) and is kept apart.
func TestSameMailboxMailedOnce(t *testing.T) {
	f := newFixture(t)
	m := &fakeMailer{}
	e := f.engine(t, nil)
	e.Mailer, e.BaseURL = m, "https://chatvault.acme.example"
	st, _ := run(t, e, exporttask.Request{From: days[0], To: days[0], Format: "jsonl", Delivery: "email",
		ToEmails: []string{"grace@ACME.example", "counsel@lawfirm.example", "counsel@LawFirm.Example", "Counsel@lawfirm.example"}, ToUsers: []string{"u-grace"}})
	if st.State != exporttask.StateCompleted || len(m.sent) != 1 {
		t.Fatalf("state %s %q, %d mails", st.State, st.Error, len(m.sent))
	}
	const want = "grace@ACME.example,counsel@lawfirm.example,Counsel@lawfirm.example"
	if to, _, _ := strings.Cut(m.sent[0], "\n"); to != want {
		t.Errorf("mailed to %q, want %q", to, want)
	}
	if strings.Join(st.EmailedTo, ",") != want {
		t.Errorf("emailedTo %v", st.EmailedTo)
	}
	reliability.Record(t, "input", "export task mailbox listed twice with its domain in other case (toEmails and toUsers)", reliability.Kept,
		"one recipient, as first listed; it got the link twice")
}
