package archiver_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/fsstore"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/internal/reliability"
	"github.com/chatvault/chatvault/model"
)

// TestChatIndexInlineOrOverflow: a layout-3 seal puts the chat index in the manifest, with
// its members in a members object of the year, the same object for every day whose
// members do not change; an index whose inline part is over 64 KiB is stored whole in an
// object of the day and named by key. ReadChatIndex reads either back.
func TestChatIndexInlineOrOverflow(t *testing.T) {
	const layoutOrg = "0a1c2e3f-0000-4000-8000-00000000aaaa"
	ctx := t.Context()
	s, err := fsstore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := archiver.WriteStoreLayout(ctx, s, archiver.FreshStoreSince); err != nil {
		t.Fatal(err)
	}
	day, err := archiver.ParseDay("2027-01-05")
	if err != nil {
		t.Fatal(err)
	}
	org := model.Organization{ID: layoutOrg, RetentionDays: 30}
	members := []archiver.ChatMembers{{ChatID: "c1", Members: []string{"u1", "u2"}}}
	indexOf := func(chats int) *archiver.ChatIndex {
		x := &archiver.ChatIndex{Version: archiver.ChatIndexVersion, Org: layoutOrg, Date: day.String(), Participants: []string{"u1"},
			MembershipChanges: []archiver.MembershipChange{}, Members: members}
		for i := range chats {
			x.Chats = append(x.Chats, fmt.Sprintf("chat-%06d-%s", i, strings.Repeat("x", 40)))
		}
		return x
	}
	indexes := []*archiver.ChatIndex{indexOf(3), indexOf(1), indexOf(2000)}
	var refs []*archiver.ChatIndexRef
	for _, x := range indexes {
		ref, err := archiver.StoreChatIndexForTest(ctx, s, day, org, x)
		if err != nil {
			t.Fatal(err)
		}
		refs = append(refs, ref)
	}
	small, again, big := refs[0], refs[1], refs[2]
	if small.Inline == nil || small.Key != "" || !strings.HasPrefix(small.Inline.Members.Key, archiver.MembersPrefix(layoutOrg)+"2027/") {
		t.Fatalf("small index: %+v", small)
	}
	if again.Inline.Members != small.Inline.Members {
		t.Errorf("the same members made another object: %+v and %+v", again.Inline.Members, small.Inline.Members)
	}
	if big.Inline != nil || !strings.HasPrefix(big.Key, archiver.DayPrefix3(layoutOrg, day)+"chatindex-") {
		t.Fatalf("big index: %+v", big)
	}
	n := 0
	if err := s.List(ctx, archiver.MembersPrefix(layoutOrg), func(string) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("%d members objects, want 1", n)
	}
	l := ledger.Ledger{Store: s}
	manifestOf := func(ref *archiver.ChatIndexRef) *archiver.StoredManifest {
		return &archiver.StoredManifest{Manifest: &archiver.Manifest{Version: archiver.ManifestVersion3, Org: layoutOrg, Date: day.String(), ChatIndex: ref},
			Key: archiver.DayKey3(layoutOrg, day, 1)}
	}
	for i, ref := range []*archiver.ChatIndexRef{small, big} {
		x, err := l.ReadChatIndex(ctx, manifestOf(ref))
		if err != nil || len(x.Chats) != len(indexes[2*i].Chats) || len(x.Members) != 1 || x.Members[0].ChatID != "c1" {
			t.Fatalf("ReadChatIndex: %+v, %v", x, err)
		}
	}
	// A members object that is not the one the manifest names is refused.
	forged := *small.Inline
	forged.Members.SHA256 = strings.Repeat("0", 64)
	m := manifestOf(&archiver.ChatIndexRef{Inline: &forged})
	if _, err := l.ReadChatIndex(ctx, m); err == nil {
		t.Error("a members object of another hash was read")
	}
	forged = *small.Inline
	forged.Members.Key = "orgs/other/members/2027/x.json"
	if _, err := l.ReadChatIndex(ctx, m); err == nil {
		t.Error("another organization's members object was read")
	}
	reliability.Record(t, "operations", "layout 3 chat index: inline, members once a year, overflow by key", reliability.Kept,
		"the index rides in the manifest with a members object written once per organization, year and membership; over 64 KiB it is stored whole in an object of the day; members objects of another hash or organization are refused")
}
