package exporttask

import (
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/chatvault/chatvault/archiver"
)

// Deliveries of a task's result.
const (
	// DeliveryURL: the status answer carries a download link once the task completes.
	DeliveryURL = "url"
	// DeliveryEmail: on completion the engine also mails the link (never the data) to ToEmails.
	DeliveryEmail = "email"
)

// Request is what an organization asks for, as POST /v1/exports/tasks takes it.
type Request struct {
	// From and To bound the range of sealed days, inclusive (YYYY-MM-DD, UTC).
	From string `json:"from"`
	To   string `json:"to"`
	// ChatIDs keeps only events of these chats; empty means every chat.
	ChatIDs []string `json:"chatIds,omitempty"`
	// UserIDs keeps only events whose sender is one of these participants, or that add or
	// remove one of them from a chat (membersChanged); empty means everyone. With ChatIDs
	// too, an event must match both.
	UserIDs []string `json:"userIds,omitempty"`
	// CustodianIDs keeps each custodian's record (issue 12): every event a custodian sent,
	// every membership change naming them, and every event of a chat committed while they
	// were a member of it (see custodian.go for how membership is found); empty means no
	// custodian filter. Several custodians: the union of their records. With ChatIDs or
	// UserIDs too, an event must match those as well.
	CustodianIDs []string `json:"custodianIds,omitempty"`
	// Format is jsonl, html or rsmf (the formats the engine has).
	Format string `json:"format"`
	// Delivery is url (the default) or email.
	Delivery string `json:"delivery,omitempty"`
	// ToEmails and Subject are for email delivery.
	ToEmails []string `json:"toEmails,omitempty"`
	Subject  string   `json:"subject,omitempty"`
}

// FieldError is a request problem, naming the field (API: 400 invalid_request).
type FieldError struct {
	Field   string
	Message string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

func fieldErr(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// Limits bound a request.
type Limits struct {
	// MaxRangeDays is the longest From..To, in days (exports.maxRangeDays).
	MaxRangeDays int
	// MaxIDs is the most chat ids, the most user ids and the most custodian ids of a
	// request (exports.maxIds).
	MaxIDs int
}

// maxSubject bounds the e-mail subject; it is a header, not a letter.
const maxSubject = 200

// validate checks r against the limits and the formats known, fills in the default
// delivery, and returns the range. It does not look at the organization or the ledger.
func (r *Request) validate(l Limits, formats []string, today archiver.Day) (from, to archiver.Day, err error) {
	if r.From == "" {
		return from, to, fieldErr("from", "required (YYYY-MM-DD)")
	}
	if from, err = archiver.ParseDay(r.From); err != nil {
		return from, to, fieldErr("from", "not a calendar day YYYY-MM-DD")
	}
	if r.To == "" {
		return from, to, fieldErr("to", "required (YYYY-MM-DD)")
	}
	if to, err = archiver.ParseDay(r.To); err != nil {
		return from, to, fieldErr("to", "not a calendar day YYYY-MM-DD")
	}
	if to.Before(from) {
		return from, to, fieldErr("to", "%s is before from %s", to, from)
	}
	if !to.Before(today) {
		return from, to, fieldErr("to", "%s is not over yet: only sealed days can be exported", to)
	}
	if days := dayCount(from, to); days > l.MaxRangeDays {
		return from, to, fieldErr("to", "the range holds %d days; at most %d", days, l.MaxRangeDays)
	}
	for _, f := range []struct {
		name string
		ids  []string
	}{{"chatIds", r.ChatIDs}, {"userIds", r.UserIDs}, {"custodianIds", r.CustodianIDs}} {
		if len(f.ids) > l.MaxIDs {
			return from, to, fieldErr(f.name, "%d ids; at most %d", len(f.ids), l.MaxIDs)
		}
		for i, id := range f.ids {
			if id == "" || len(id) > 128 || !utf8.ValidString(id) || strings.ContainsAny(id, "\x00\r\n") {
				return from, to, fieldErr(f.name, "[%d] is not an id", i)
			}
		}
	}
	if r.Format == "" {
		return from, to, fieldErr("format", "required: one of %s", strings.Join(formats, ", "))
	}
	if !slices.Contains(formats, r.Format) {
		return from, to, fieldErr("format", "%q is not one of %s", clip(r.Format), strings.Join(formats, ", "))
	}
	switch r.Delivery {
	case "":
		r.Delivery = DeliveryURL
	case DeliveryURL, DeliveryEmail:
	default:
		return from, to, fieldErr("delivery", "%q is not url or email", clip(r.Delivery))
	}
	if r.Delivery == DeliveryURL && (len(r.ToEmails) > 0 || r.Subject != "") {
		return from, to, fieldErr("toEmails", "only with delivery email")
	}
	if r.Delivery == DeliveryEmail {
		if len(r.ToEmails) == 0 {
			return from, to, fieldErr("toEmails", "required with delivery email")
		}
		if len(r.ToEmails) > l.MaxIDs {
			return from, to, fieldErr("toEmails", "%d addresses; at most %d", len(r.ToEmails), l.MaxIDs)
		}
		for i, a := range r.ToEmails {
			// A bare address only: a display name or a second address smuggled into one
			// entry would reach people the request does not list.
			p, err := mail.ParseAddress(a)
			if err != nil || p.Name != "" || p.Address != a {
				return from, to, fieldErr("toEmails", "[%d] is not a plain e-mail address", i)
			}
		}
		if len(r.Subject) > maxSubject || !utf8.ValidString(r.Subject) || strings.ContainsFunc(r.Subject, isControl) {
			return from, to, fieldErr("subject", "at most %d characters of one line", maxSubject)
		}
	}
	return from, to, nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// clip keeps echoed input short in messages.
func clip(s string) string {
	if len(s) > 32 {
		return s[:32] + "…"
	}
	return s
}

// dayCount is the number of days from..to, inclusive.
func dayCount(from, to archiver.Day) int {
	return int(to.Start().Sub(from.Start()).Hours()/24) + 1
}

// ValidID reports whether id is a task id: a UUID in its canonical form. Ids reach store
// keys, so nothing else may pass.
func ValidID(id string) bool {
	u, err := uuid.Parse(id)
	return err == nil && u.String() == id
}
