package exporttask

import (
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/model"
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
	// From and To bound the range of sealed days, inclusive (YYYY-MM-DD, UTC). From
	// defaults to the organization's archival start (or Since's day), To to its last
	// sealed day (or Until's day); Create stores the range it resolved.
	From string `json:"from"`
	To   string `json:"to"`
	// Since and Until bound the events by when they happened (eventTimestamp), as RFC 3339
	// instants: Since inclusive, Until exclusive. Either may be set alone.
	Since string `json:"since,omitempty"`
	Until string `json:"until,omitempty"`
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
	// MessageIDs keeps only the events of these messages: each one's sent event, every
	// edit and its deletion, whichever day of the range they fell on.
	MessageIDs []string `json:"messageIds,omitempty"`
	// Terms keeps only records where at least one term matches (see terms.go); with the
	// other filters, a record must match them too. The result carries a term report.
	Terms []string `json:"terms,omitempty"`
	// Format is jsonl, json, html or rsmf (the formats the engine has).
	Format string `json:"format"`
	// AttachmentIndex (json and jsonl) names in the status's source days the revision of
	// each day's attachment index read; json also adds to each day of the document what
	// that index says of its selected records' links: captured (SHA-256, size, content
	// type) or failed and why.
	AttachmentIndex bool `json:"attachmentIndex,omitempty"`
	// Delivery is url (the default) or email.
	Delivery string `json:"delivery,omitempty"`
	// ToEmails and Subject are for email delivery.
	ToEmails []string `json:"toEmails,omitempty"`
	// ToUsers, also for email delivery, are user ids of the organization: the link goes to
	// the e-mail address the directory gives each when the task is created (recorded with
	// the task), besides ToEmails.
	ToUsers []string `json:"toUsers,omitempty"`
	Subject string   `json:"subject,omitempty"`
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
	// MaxScanEvents is the most records a task may read: the sum of the sealed records
	// of the days of its range (exports.maxScanEvents). It bounds work, not days.
	MaxScanEvents int64
	// MaxIDs is the most chat ids, user ids, custodian ids, message ids and terms of a request
	// (exports.maxIds).
	MaxIDs int
}

// maxTerm bounds a search term: a word or a phrase, not a document.
const maxTerm = 200

// maxSubject bounds the e-mail subject; it is a header, not a letter.
const maxSubject = 200

// bounds is a request's range as validate read it: From and To are zero when the request
// leaves them to their defaults (resolve fills them in); Since and Until are zero when
// not given.
type bounds struct {
	From, To     archiver.Day
	Since, Until time.Time
	// fromGiven: From is the request's own, not since's day (which resolve raises to the
	// archival start rather than refusing).
	fromGiven bool
}

// validate checks r against the limits and the formats known, fills in the default
// delivery, and returns the bounds it reads. It does not look at the organization or the
// ledger (Create resolves the defaults and checks the work against the limit).
func (r *Request) validate(l Limits, formats []string, today archiver.Day) (b bounds, err error) {
	if r.From != "" {
		b.fromGiven = true
		if b.From, err = archiver.ParseDay(r.From); err != nil {
			return b, fieldErr("from", "not a calendar day YYYY-MM-DD")
		}
	}
	if r.To != "" {
		if b.To, err = archiver.ParseDay(r.To); err != nil {
			return b, fieldErr("to", "not a calendar day YYYY-MM-DD")
		}
	}
	if r.Since != "" {
		if b.Since, err = parseInstant(r.Since); err != nil {
			return b, fieldErr("since", "not an RFC 3339 instant (2026-11-22T09:30:00Z)")
		}
	}
	if r.Until != "" {
		if b.Until, err = parseInstant(r.Until); err != nil {
			return b, fieldErr("until", "not an RFC 3339 instant (2026-11-22T17:00:00Z)")
		}
	}
	if !b.Since.IsZero() && !b.Until.IsZero() && !b.Until.After(b.Since) {
		return b, fieldErr("until", "%s is not after since %s", r.Until, r.Since)
	}
	// An instant narrows the days: the days before since's, and after the one until
	// ends in, hold no event the task could keep.
	// Days start in 1970 (archiver.ParseDay): a since before holds nothing earlier.
	sinceDay := archiver.DayOf(b.Since)
	if epoch := archiver.DayOf(time.Unix(0, 0)); sinceDay.Before(epoch) {
		sinceDay = epoch
	}
	if !b.Since.IsZero() && (b.From.IsZero() || b.From.Before(sinceDay)) {
		b.From = sinceDay
	}
	if !b.Until.IsZero() {
		// An until in a day not over yet leaves to to its default, the last sealed day:
		// "everything until next week" asks for all there is.
		last := archiver.DayOf(b.Until.Add(-time.Nanosecond))
		if b.To.IsZero() && last.Before(today) || !b.To.IsZero() && last.Before(b.To) {
			b.To = last
		}
	}
	if !b.From.IsZero() && !b.To.IsZero() && b.To.Before(b.From) {
		return b, fieldErr("to", "the range ends (%s) before it starts (%s)", b.To, b.From)
	}
	if !b.To.IsZero() && !b.To.Before(today) {
		return b, fieldErr("to", "%s is not over yet: only sealed days can be exported", b.To)
	}
	for _, f := range []struct {
		name string
		ids  []string
	}{{"chatIds", r.ChatIDs}, {"userIds", r.UserIDs}, {"custodianIds", r.CustodianIDs}, {"messageIds", r.MessageIDs}, {"toUsers", r.ToUsers}} {
		if len(f.ids) > l.MaxIDs {
			return b, fieldErr(f.name, "%d ids; at most %d", len(f.ids), l.MaxIDs)
		}
		for i, id := range f.ids {
			if id == "" || len(id) > 128 || !utf8.ValidString(id) || strings.ContainsAny(id, "\x00\r\n") {
				return b, fieldErr(f.name, "[%d] is not an id", i)
			}
		}
	}
	if len(r.Terms) > l.MaxIDs {
		return b, fieldErr("terms", "%d terms; at most %d", len(r.Terms), l.MaxIDs)
	}
	for i, t := range r.Terms {
		if len(t) > maxTerm || !utf8.ValidString(t) || strings.ContainsFunc(t, isControl) {
			return b, fieldErr("terms", "[%d] is not a term of one line of at most %d bytes", i, maxTerm)
		}
		if len(termWords(t)) == 0 {
			return b, fieldErr("terms", "[%d] holds no word (letters or digits)", i)
		}
	}
	if r.Format == "" {
		return b, fieldErr("format", "required: one of %s", strings.Join(formats, ", "))
	}
	if !slices.Contains(formats, r.Format) {
		return b, fieldErr("format", "%q is not one of %s", clip(r.Format), strings.Join(formats, ", "))
	}
	if r.AttachmentIndex && r.Format != "json" && r.Format != "jsonl" {
		return b, fieldErr("attachmentIndex", "is for formats json and jsonl (html and rsmf carry the captured files themselves)")
	}
	switch r.Delivery {
	case "":
		r.Delivery = DeliveryURL
	case DeliveryURL, DeliveryEmail:
	default:
		return b, fieldErr("delivery", "%q is not url or email", clip(r.Delivery))
	}
	if r.Delivery == DeliveryURL && (len(r.ToEmails) > 0 || r.Subject != "") {
		return b, fieldErr("toEmails", "only with delivery email")
	}
	if r.Delivery == DeliveryURL && len(r.ToUsers) > 0 {
		return b, fieldErr("toUsers", "only with delivery email")
	}
	if r.Delivery == DeliveryEmail {
		if len(r.ToEmails) == 0 && len(r.ToUsers) == 0 {
			return b, fieldErr("toEmails", "required with delivery email (or toUsers)")
		}
		if len(r.ToEmails) > l.MaxIDs {
			return b, fieldErr("toEmails", "%d addresses; at most %d", len(r.ToEmails), l.MaxIDs)
		}
		for i, a := range r.ToEmails {
			if !plainAddress(a) {
				return b, fieldErr("toEmails", "[%d] is not a plain e-mail address", i)
			}
		}
		if len(r.Subject) > maxSubject || !utf8.ValidString(r.Subject) || strings.ContainsFunc(r.Subject, isControl) {
			return b, fieldErr("subject", "at most %d characters of one line", maxSubject)
		}
	}
	return b, nil
}

// parseInstant reads an RFC 3339 instant. time.Parse refuses two things RFC 3339 allows:
// a lower-case t or z (section 5.6), read as T and Z; and the leap second (23:59:60Z),
// read as the instant the next second starts, since epoch times, which events carry,
// have no leap seconds.
func parseInstant(s string) (time.Time, error) {
	if len(s) > 10 && s[10] == 't' {
		s = s[:10] + "T" + s[11:]
	}
	if strings.HasSuffix(s, "z") {
		s = s[:len(s)-1] + "Z"
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil && len(s) > 19 && s[10] == 'T' && s[16] == ':' && s[17:19] == "60" {
		if t, err2 := time.Parse(time.RFC3339Nano, s[:17]+"59"+s[19:]); err2 == nil {
			return t.Add(time.Second), nil
		}
	}
	return t, err
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// userEmails returns the e-mail addresses the directory gives the organization's users
// ids, in order. A user id that is not the organization's, or whose user has no
// (usable) address, is a *FieldError on toUsers naming every such id. An id of another
// organization's user reads like one that does not exist: no organization learns
// another's users.
func userEmails(dir *model.Directory, org string, ids []string) ([]string, error) {
	byID := make(map[string]*model.User, len(ids))
	for _, id := range ids {
		byID[id] = nil
	}
	for i := range dir.Users {
		if u := &dir.Users[i]; u.OrgID == org {
			if _, ok := byID[u.ID]; ok {
				byID[u.ID] = u
			}
		}
	}
	var emails, unknown, noEmail []string
	for _, id := range ids {
		u := byID[id]
		switch {
		case u == nil:
			unknown = append(unknown, id)
		case !plainAddress(u.Email):
			noEmail = append(noEmail, id)
		default:
			emails = append(emails, u.Email)
		}
	}
	var problems []string
	if len(unknown) > 0 {
		problems = append(problems, "not a user of this organization: "+strings.Join(unknown, ", "))
	}
	if len(noEmail) > 0 {
		problems = append(problems, "no e-mail address in the directory: "+strings.Join(noEmail, ", "))
	}
	if len(problems) > 0 {
		return nil, fieldErr("toUsers", "%s", strings.Join(problems, "; "))
	}
	return emails, nil
}

// plainAddress reports whether a is one bare e-mail address: a display name or a second
// address smuggled into one entry would reach people the request does not list. One
// longer than SMTP carries (254 octets, RFC 5321) is not: the relay would refuse it only
// after the whole export had run.
func plainAddress(a string) bool {
	p, err := mail.ParseAddress(a)
	return err == nil && p.Name == "" && p.Address == a && len(a) <= 254
}

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
