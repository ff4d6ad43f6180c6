package exporttask_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/archiver/exporttask"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestOverlongAddressRefusedAtCreation: an address SMTP cannot carry (over 254 octets)
// is a 400 naming toEmails before anything is queued; it was accepted, the export ran to
// its end, and then the relay refused the address and the task failed.
func TestOverlongAddressRefusedAtCreation(t *testing.T) {
	f := newFixture(t)
	m := &fakeMailer{}
	e := f.engine(t, nil)
	e.Mailer, e.BaseURL = m, "https://chatvault.acme.example"
	long := strings.Repeat("a", 64) + "@" + strings.Repeat("b", 190) + ".example" // 263 octets
	_, err := e.Create(context.Background(), acme, "test", exporttask.Request{From: days[0], To: days[0], Format: "jsonl",
		Delivery: "email", ToEmails: []string{"counsel@acme.example", long}})
	var fe *exporttask.FieldError
	if !errors.As(err, &fe) || fe.Field != "toEmails" {
		t.Fatalf("Create = %v, want a field error on toEmails", err)
	}
	if len(m.sent) != 0 {
		t.Fatalf("%d mails", len(m.sent))
	}
	// 254 octets is still an address.
	edge := strings.Repeat("a", 64) + "@" + strings.Repeat("b", 181) + ".example"
	if _, err := e.Create(context.Background(), acme, "test", exporttask.Request{From: days[0], To: days[0], Format: "jsonl",
		Delivery: "email", ToEmails: []string{edge}}); err != nil {
		t.Fatalf("a 254-octet address: %v", err)
	}
	reliability.Record(t, "input", "export task toEmails address over SMTP's 254 octets", reliability.Refused,
		"400 invalid_request naming toEmails before anything is queued; the export ran and then failed at the relay")
}
