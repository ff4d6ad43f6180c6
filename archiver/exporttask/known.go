package exporttask

import (
	"context"
	"fmt"
	"strings"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/model"
)

// UnknownIDsError lists the ids of a request that the organization's sealed days of the
// range do not know (API: 400 unknown_ids). A filter on an id that matches nothing would
// complete as an empty export that looks like "nothing was said", when the id was
// mistyped or is not the organization's: it is refused instead, naming each id.
type UnknownIDsError struct {
	ChatIDs      []string `json:"chatIds,omitempty"`
	UserIDs      []string `json:"userIds,omitempty"`
	CustodianIDs []string `json:"custodianIds,omitempty"`
	// UnindexedDays counts the range's days sealed before chat indexes existed, for which
	// the directory was consulted instead.
	UnindexedDays int `json:"unindexedDays,omitempty"`
}

func (e *UnknownIDsError) Error() string {
	var parts []string
	for _, f := range []struct {
		name string
		ids  []string
	}{{"chatIds", e.ChatIDs}, {"userIds", e.UserIDs}, {"custodianIds", e.CustodianIDs}} {
		if len(f.ids) > 0 {
			q := make([]string, len(f.ids))
			for i, id := range f.ids {
				q[i] = fmt.Sprintf("%q", id)
			}
			parts = append(parts, f.name+" "+strings.Join(q, ", "))
		}
	}
	msg := "unknown to the organization's sealed days of the range: " + strings.Join(parts, "; ")
	if e.UnindexedDays > 0 {
		msg += fmt.Sprintf(" (%d day(s) of the range were sealed before chat indexes existed: for them, only the directory's chats of the organization and their members count as known)", e.UnindexedDays)
	}
	return msg
}

// known is what the range's chat indexes (and, for days sealed before them, the
// directory) say the organization's archive knows.
type known struct {
	chats, users map[string]bool
}

// checkKnown refuses the request's ids that the range does not know (see
// UnknownIDsError). A chat is known when one of the range's sealed days holds a record in
// it or recorded it among the organization's chats at its seal; a user (in userIds or
// custodianIds) when the directory has them as a user of the organization, or a day of
// the range holds a record they sent or a membership change naming them, or recorded them
// as a member of one of the organization's chats at its seal. It reads the chat indexes,
// never the records. A day sealed before chat indexes existed has none: for it, the
// directory answers instead (the chats with a member who is the organization's user, and
// their members).
func checkKnown(ctx context.Context, l ledger.Ledger, dir *model.Directory, org string, req *Request, days []*archiver.StoredManifest) error {
	if len(req.ChatIDs)+len(req.UserIDs)+len(req.CustodianIDs) == 0 {
		return nil
	}
	want := map[string]bool{}
	for _, id := range req.ChatIDs {
		want[id] = true
	}
	for _, id := range req.UserIDs {
		want[id] = true
	}
	for _, id := range req.CustodianIDs {
		want[id] = true
	}
	k := known{chats: map[string]bool{}, users: map[string]bool{}}
	for _, u := range dir.Users {
		if u.OrgID == org && want[u.ID] {
			k.users[u.ID] = true
		}
	}
	unindexed := 0
	for _, m := range days {
		x, err := l.ReadChatIndex(ctx, m)
		if err != nil {
			return err
		}
		if x == nil {
			unindexed++
			continue
		}
		k.add(want, x.Chats, x.Participants, x.Members)
	}
	if unindexed > 0 {
		var members []archiver.ChatMembers
		ours := map[string]bool{}
		for _, u := range dir.Users {
			if u.OrgID == org {
				ours[u.ID] = true
			}
		}
		for _, c := range dir.Chats {
			for _, id := range c.Members {
				if ours[id] {
					members = append(members, archiver.ChatMembers{ChatID: c.ID, Members: c.Members})
					break
				}
			}
		}
		k.add(want, nil, nil, members)
	}
	e := UnknownIDsError{UnindexedDays: unindexed}
	for _, id := range req.ChatIDs {
		if !k.chats[id] {
			e.ChatIDs = append(e.ChatIDs, id)
		}
	}
	for _, id := range req.UserIDs {
		if !k.users[id] {
			e.UserIDs = append(e.UserIDs, id)
		}
	}
	for _, id := range req.CustodianIDs {
		if !k.users[id] {
			e.CustodianIDs = append(e.CustodianIDs, id)
		}
	}
	if len(e.ChatIDs)+len(e.UserIDs)+len(e.CustodianIDs) > 0 {
		return &e
	}
	return nil
}

// add notes the wanted ids among chats, participants and members (only those: a day's
// index may name many).
func (k known) add(want map[string]bool, chats, participants []string, members []archiver.ChatMembers) {
	for _, id := range chats {
		if want[id] {
			k.chats[id] = true
		}
	}
	for _, id := range participants {
		if want[id] {
			k.users[id] = true
		}
	}
	for _, c := range members {
		if want[c.ChatID] {
			k.chats[c.ChatID] = true
		}
		for _, id := range c.Members {
			if want[id] {
				k.users[id] = true
			}
		}
	}
}
