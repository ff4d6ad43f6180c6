package exporttask_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/archiver/exporttask"
	"github.com/chatvault/chatvault/internal/reliability"
	"github.com/chatvault/chatvault/model"
)

// TestToUsers: a task may name the organization's users to mail the link to; their
// addresses come from the directory. A user id that is not the organization's (unknown,
// or another organization's, which must not be told apart), or a user without an e-mail,
// is refused with a 400 naming it.
func TestToUsers(t *testing.T) {
	f := newFixture(t)
	f.dir.Users = append(f.dir.Users, model.User{ID: "u-noemail", OrgID: acme, DisplayName: "No Mail"})
	m := &fakeMailer{}
	e := f.engine(t, nil)
	e.Mailer, e.BaseURL = m, "https://chatvault.acme.example"

	refused := []struct {
		name string
		req  exporttask.Request
		want []string // in the message
		not  []string
	}{
		{"unknown and another organization's user", exporttask.Request{Delivery: "email", ToUsers: []string{"u-ada", "u-nobody", "u-hank"}},
			[]string{"u-nobody", "u-hank", "not a user of this organization"}, []string{"u-ada", "hank@globex.example", "Globex"}},
		{"a user without an e-mail", exporttask.Request{Delivery: "email", ToUsers: []string{"u-noemail"}},
			[]string{"u-noemail", "no e-mail address"}, nil},
		{"with url delivery", exporttask.Request{ToUsers: []string{"u-ada"}}, []string{"only with delivery email"}, nil},
		{"an empty id", exporttask.Request{Delivery: "email", ToUsers: []string{""}}, []string{"[0]"}, nil},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			req := tt.req
			req.From, req.To, req.Format = days[0], days[1], "jsonl"
			_, err := e.Create(context.Background(), acme, "test", req)
			var fe *exporttask.FieldError
			if !errors.As(err, &fe) || fe.Field != "toUsers" {
				t.Fatalf("Create = %v, want a field error naming toUsers", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(fe.Message, w) {
					t.Errorf("message %q lacks %q", fe.Message, w)
				}
			}
			for _, n := range tt.not {
				if strings.Contains(fe.Message, n) {
					t.Errorf("message %q holds %q", fe.Message, n)
				}
			}
		})
	}
	// No oracle: an id of another organization's user gets the answer an id of no user
	// gets, word for word once the id itself is set aside.
	answer := func(id string) string {
		_, err := e.Create(context.Background(), acme, "test", exporttask.Request{From: days[0], To: days[1], Format: "jsonl",
			Delivery: "email", ToUsers: []string{id}})
		return strings.ReplaceAll(err.Error(), id, "<id>")
	}
	if a, b := answer("u-hank"), answer("u-nobody"); a != b {
		t.Errorf("another organization's user: %q; no user: %q", a, b)
	}
	if len(m.sent) != 0 {
		t.Fatalf("mails sent for refused tasks: %q", m.sent)
	}

	// Users and addresses together; a user whose address is also listed gets one mail.
	st, _ := run(t, e, exporttask.Request{From: days[0], To: days[1], Format: "jsonl", Delivery: "email",
		ToEmails: []string{"counsel@lawfirm.example", "grace@acme.example"}, ToUsers: []string{"u-ada", "u-grace"}})
	if st.State != exporttask.StateCompleted || len(m.sent) != 1 {
		t.Fatalf("state %s %q, %d mails", st.State, st.Error, len(m.sent))
	}
	const want = "counsel@lawfirm.example,grace@acme.example,ada@acme.example"
	if to, _, _ := strings.Cut(m.sent[0], "\n"); to != want {
		t.Errorf("mailed to %q, want %q", to, want)
	}
	if strings.Join(st.EmailedTo, ",") != want {
		t.Errorf("emailedTo %v", st.EmailedTo)
	}
	if strings.Join(st.Request.ToUsers, ",") != "u-ada,u-grace" {
		t.Errorf("status request toUsers %v", st.Request.ToUsers)
	}
	reliability.Record(t, "input", "export task toUsers: unknown, another organization's, or without e-mail", reliability.Refused,
		"400 invalid_request naming toUsers and each id; another organization's user gets word for word the answer no user gets")
}
