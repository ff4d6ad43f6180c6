package archiver

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/chatvault/chatvault/model"
)

// TestRouteChatSets routes a message of each chat, whose members are in none, one, three
// (the most a routing slot holds) or five organizations, and a sender of another
// organization: each goes to its chat's organizations and the sender's, sorted, once.
func TestRouteChatSets(t *testing.T) {
	dir := &model.Directory{}
	for i := range 6 {
		org := fmt.Sprintf("0%d000000-0000-4000-8000-000000000000", i)
		dir.Organizations = append(dir.Organizations, model.Organization{ID: org, Archival: true})
		dir.Users = append(dir.Users, model.User{ID: fmt.Sprintf("0%d000000-0000-4000-8000-000000000001", i), OrgID: org})
	}
	user := func(i int) string { return dir.Users[i].ID }
	tests := []struct {
		chat    string
		members []string
		sender  int
		want    []int32
	}{
		{"chat-none", []string{"bot-or-guest"}, 5, []int32{5}},
		{"chat-one", []string{user(2)}, 2, []int32{2}},
		{"chat-three", []string{user(4), user(0), user(2), user(0)}, 5, []int32{0, 2, 4, 5}},
		{"chat-three-sender-in", []string{user(4), user(0), user(2)}, 2, []int32{0, 2, 4}},
		{"chat-five", []string{user(4), user(3), user(2), user(1), user(0)}, 5, []int32{0, 1, 2, 3, 4, 5}},
		{"11111111-0000-4000-8000-000000000005", []string{user(1), user(3), user(5), user(0), user(2)}, 4, []int32{0, 1, 2, 3, 4, 5}},
		{"11111111-0000-4000-8000-000000000002", []string{user(1), user(3)}, 3, []int32{1, 3}},
	}
	for _, tt := range tests {
		dir.Chats = append(dir.Chats, model.Chat{ID: tt.chat, Members: tt.members})
	}
	rt, err := newRouter(dir, DayOf(time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		e := model.Event{ChatID: tt.chat, Sender: model.Participant{Type: model.ParticipantEmail, ID: user(tt.sender)}}
		if got := rt.route(nil, &e); !slices.Equal(got, tt.want) {
			t.Errorf("%s from organization %d: routed to %v, want %v", tt.chat, tt.sender, got, tt.want)
		}
	}
}
