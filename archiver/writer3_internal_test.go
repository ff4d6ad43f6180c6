package archiver

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/internal/reliability"
	"github.com/chatvault/chatvault/model"
)

// TestChatIndexInlineOrOverflow: a layout-3 seal puts the chat index in the manifest, with
// its members in a members object of the year, the same object for every day whose
// members do not change; an index whose inline part is over 64 KiB is stored whole in an
// object of the day and named by key. ReadChatIndex reads either back.
func TestChatIndexInlineOrOverflow(t *testing.T) {
	ctx := t.Context()
	s := &createOnlyStore{}
	day := mustParseDay(t, "2027-01-05")
	w := &writer{s: &Sealer{Store: s}, day: day, start: time.UnixMilli(1798000000000)}
	org := model.Organization{ID: layoutOrg, RetentionDays: 30}
	members := []ChatMembers{{ChatID: "c1", Members: []string{"u1", "u2"}}}
	commitOf := func(chats int) *orgCommit {
		x := &ChatIndex{Version: ChatIndexVersion, Org: layoutOrg, Date: day.String(), Participants: []string{"u1"},
			MembershipChanges: []MembershipChange{}, Members: members}
		for i := range chats {
			x.Chats = append(x.Chats, fmt.Sprintf("chat-%06d-%s", i, strings.Repeat("x", 40)))
		}
		return &orgCommit{OrgResult: OrgResult{Org: layoutOrg}, org: org, index: x}
	}
	small, again, big := commitOf(3), commitOf(1), commitOf(2000)
	for _, c := range []*orgCommit{small, again, big} {
		if err := w.storeChatIndex3(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	if small.ChatIndex.Inline == nil || small.ChatIndex.Key != "" || !strings.HasPrefix(small.ChatIndex.Inline.Members.Key, membersPrefix(layoutOrg)+"2027/") {
		t.Fatalf("small index: %+v", small.ChatIndex)
	}
	if again.ChatIndex.Inline.Members != small.ChatIndex.Inline.Members {
		t.Errorf("the same members made another object: %+v and %+v", again.ChatIndex.Inline.Members, small.ChatIndex.Inline.Members)
	}
	if big.ChatIndex.Inline != nil || !strings.HasPrefix(big.ChatIndex.Key, dayPrefix3(layoutOrg, day)+"chatindex-") {
		t.Fatalf("big index: %+v", big.ChatIndex)
	}
	n := 0
	for k := range s.m {
		if strings.HasPrefix(k, membersPrefix(layoutOrg)) {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d members objects, want 1", n)
	}
	l := Ledger{Store: s}
	for _, c := range []*orgCommit{small, big} {
		m := &StoredManifest{Manifest: &Manifest{Version: ManifestVersion3, Org: layoutOrg, Date: day.String(), ChatIndex: c.ChatIndex}, Key: dayKey3(layoutOrg, day, 1)}
		x, err := l.ReadChatIndex(ctx, m)
		if err != nil || len(x.Chats) != len(c.index.Chats) || len(x.Members) != 1 || x.Members[0].ChatID != "c1" {
			t.Fatalf("ReadChatIndex: %+v, %v", x, err)
		}
	}
	// A members object that is not the one the manifest names is refused.
	forged := *small.ChatIndex.Inline
	forged.Members.SHA256 = strings.Repeat("0", 64)
	m := &StoredManifest{Manifest: &Manifest{Version: ManifestVersion3, Org: layoutOrg, Date: day.String(), ChatIndex: &ChatIndexRef{Inline: &forged}}}
	if _, err := l.ReadChatIndex(ctx, m); err == nil {
		t.Error("a members object of another hash was read")
	}
	forged = *small.ChatIndex.Inline
	forged.Members.Key = "orgs/other/members/2027/x.json"
	if _, err := l.ReadChatIndex(ctx, m); err == nil {
		t.Error("another organization's members object was read")
	}
	reliability.Record(t, "operations", "layout 3 chat index: inline, members once a year, overflow by key", reliability.Kept,
		"the index rides in the manifest with a members object written once per organization, year and membership; over 64 KiB it is stored whole in an object of the day; members objects of another hash or organization are refused")
}

// TestInlineLowerBound: the bound that skips encoding an inline chat index never exceeds
// the encoded size, whatever the ids (escapes make a string longer, never shorter), so an
// index that fits inline is never stored as an object for it.
func TestInlineLowerBound(t *testing.T) {
	for _, tc := range []struct {
		name string
		x    InlineChatIndex
	}{
		{"empty", InlineChatIndex{}},
		{"uuids", InlineChatIndex{Chats: []string{"0a1c2e3f-0000-4000-8000-00000000aaaa"}, Participants: []string{"0a1c2e3f-0000-4000-8000-00000000bbbb", "u-ada"}}},
		{"escapes", InlineChatIndex{Chats: []string{`"quoted"`, "line\nbreak", "<html>&", "\u2028"}, Participants: []string{"", "é", "\x01"}}},
		{"changes", InlineChatIndex{Chats: []string{"c"}, MembershipChanges: []MembershipChange{{ChatID: "c", Added: []string{"u"}, Removed: []string{}}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := tc.x
			x.Version = InlineChatIndexVersion
			b, err := ChatIndexRef{Inline: &x}.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			if lb := inlineLowerBound(&x); lb > len(b) {
				t.Fatalf("lower bound %d over the encoded size %d: %s", lb, len(b), b)
			}
		})
	}
}
