package exporttask_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/exporttask"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestUnknownIDs: a chat, user or custodian id the organization's sealed days of the
// range do not know is refused, naming each unknown id, instead of completing as an empty
// export; ids the chat indexes or the directory know pass.
func TestUnknownIDs(t *testing.T) {
	f := newFixture(t)
	e := f.engine(t, nil)
	base := exporttask.Request{From: days[0], To: days[1], Format: "jsonl"}
	tests := []struct {
		name                   string
		chats, users, keepers  []string
		unknownChats, unknownU []string
		unknownCustodians      []string
	}{
		{"a chat of the records", []string{"chat-acme-team"}, nil, nil, nil, nil, nil},
		// chat-bot-guest has no member of Acme in the directory: known from its records.
		{"a chat known only from records", []string{"chat-bot-guest"}, nil, nil, nil, nil, nil},
		{"a chat that does not exist", []string{"chat-acme-team", "chat-that-does-not-exist"}, nil, nil, []string{"chat-that-does-not-exist"}, nil, nil},
		{"another organization's chat", []string{"chat-initech-globex"}, nil, nil, []string{"chat-initech-globex"}, nil, nil},
		{"a user of the directory with no records", nil, []string{"u-grace"}, nil, nil, nil, nil},
		{"another organization's sender in the records", nil, []string{"u-hank"}, nil, nil, nil, nil},
		{"a guest removed by a membership change", nil, []string{"o-guest"}, nil, nil, nil, nil},
		{"another organization's user", nil, []string{"u-ivy", "u-uma", "u-ada"}, nil, nil, []string{"u-ivy", "u-uma"}, nil},
		{"custodians", nil, nil, []string{"u-ada", "nobody"}, nil, nil, []string{"nobody"}},
		{"all at once", []string{"c-x"}, []string{"u-x"}, []string{"k-x"}, []string{"c-x"}, []string{"u-x"}, []string{"k-x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := base
			req.ChatIDs, req.UserIDs, req.CustodianIDs = tt.chats, tt.users, tt.keepers
			_, err := e.Create(context.Background(), acme, "test", req)
			var uk *exporttask.UnknownIDsError
			if tt.unknownChats == nil && tt.unknownU == nil && tt.unknownCustodians == nil {
				if err != nil {
					t.Fatalf("Create = %v, want a task", err)
				}
				return
			}
			if !errors.As(err, &uk) || !slices.Equal(uk.ChatIDs, tt.unknownChats) || !slices.Equal(uk.UserIDs, tt.unknownU) ||
				!slices.Equal(uk.CustodianIDs, tt.unknownCustodians) || uk.UnindexedDays != 0 {
				t.Fatalf("Create = %v (%+v), want unknown chats %q, users %q, custodians %q", err, uk, tt.unknownChats, tt.unknownU, tt.unknownCustodians)
			}
		})
	}
	reliability.Record(t, "input", "export task naming a chat or user id the organization's sealed days do not know", reliability.Refused,
		"400 unknown_ids listing each unknown id (from the days' chat indexes, not their records); no task")
}

// TestUnknownIDsWithoutChatIndexes: days sealed before chat indexes existed still serve,
// and ids are checked against the directory for them.
func TestUnknownIDsWithoutChatIndexes(t *testing.T) {
	f := newFixture(t)
	// Strip the chat index from Acme's manifests, as an older release wrote them.
	for _, d := range days {
		day, _ := archiver.ParseDay(d)
		m, err := ledger.Ledger{Store: f.store}.Latest(context.Background(), acme, day)
		if err != nil || m.ChatIndex == nil {
			t.Fatalf("%s: %v %+v", d, err, m)
		}
		old := *m.Manifest
		old.ChatIndex = nil
		b, err := json.MarshalIndent(&old, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(f.store.Dir(), filepath.FromSlash(m.Key))
		os.Chmod(path, 0o644)
		if err := os.WriteFile(path, append(b, '\n'), 0o444); err != nil {
			t.Fatal(err)
		}
	}
	e := f.engine(t, nil)
	req := exporttask.Request{From: days[0], To: days[1], Format: "jsonl", ChatIDs: []string{"chat-acme-globex", "chat-nope"}, UserIDs: []string{"u-hank", "u-ivy"}}
	_, err := e.Create(context.Background(), acme, "test", req)
	var uk *exporttask.UnknownIDsError
	if !errors.As(err, &uk) || !slices.Equal(uk.ChatIDs, []string{"chat-nope"}) || !slices.Equal(uk.UserIDs, []string{"u-ivy"}) || uk.UnindexedDays != 2 {
		t.Fatalf("Create = %v (%+v)", err, uk)
	}
	req.ChatIDs, req.UserIDs = []string{"chat-acme-globex"}, []string{"u-hank"}
	st, b := run(t, e, req)
	if st.State != exporttask.StateCompleted || st.Result.Events == 0 || !bytes.Contains(gunzip(t, bytes.NewReader(b)), []byte(`"u-hank"`)) {
		t.Fatalf("a day without a chat index: %s %s, %d events", st.State, st.Error, st.Result.Events)
	}
	reliability.Record(t, "input", "export task over days sealed before chat indexes existed", reliability.Kept,
		"the days are served; ids are checked against the directory's chats of the organization and their members")
}
