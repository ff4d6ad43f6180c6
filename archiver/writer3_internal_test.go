package archiver

import (
	"testing"
)

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
