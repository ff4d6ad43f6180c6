package ledger

// The checks of a version 3 manifest's objects (layout 3, docs/design/layout.md), for
// package verify: a day without records names no object and the hashes of nothing, a day
// with records its export under its day prefix, re-hashed as CheckExport does; the chat
// index rides inline (its derived part compared with the records; its members in an
// organization-level object that verify checks once per object, CheckMembers, however
// many days name it) or, when too big, in an object of the day.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/chatvault/chatvault/archiver"
)

// CheckExport3 is CheckExport for a version 3 manifest; it does not read the members
// object an inline chat index names (CheckMembers does, once per object).
func (l Ledger) CheckExport3(ctx context.Context, org string, day archiver.Day, m *archiver.StoredManifest) (n int64, dataErr, indexErr error) {
	derived := archiver.NewChatIndexBuilder()
	switch d := m.Data; {
	case d.Records == 0 && !d.Keyless():
		dataErr = fmt.Errorf("a day without records names object %q: a version 3 manifest of an empty day names none", d.Key)
	case d.Records == 0:
		switch {
		case d.JSONLSize != 0 || d.JSONLSHA256 != archiver.EmptySHA256:
			dataErr = fmt.Errorf("a day without records has JSONL size %d and SHA-256 %s, not 0 and the SHA-256 of nothing", d.JSONLSize, d.JSONLSHA256)
		case m.Counts.Exported != 0:
			dataErr = fmt.Errorf("no records, but the manifest's counts say %d exported", m.Counts.Exported)
		case m.Window.FirstEvent != 0 || m.Window.LastEvent != 0 || m.ClockSkew != nil:
			dataErr = fmt.Errorf("no records, but the manifest's window or clock skew names events")
		}
	case d.Keyless():
		dataErr = fmt.Errorf("%d records, but the manifest names no export", d.Records)
	case !strings.HasPrefix(d.Key, archiver.DayPrefix3(org, day)+"events-"):
		dataErr = fmt.Errorf("data key %s is not an export of the day's (%sevents-…)", d.Key, archiver.DayPrefix3(org, day))
	default:
		n, dataErr = l.verifyData(ctx, m, derived)
	}
	if m.ChatIndex != nil {
		indexErr = l.verifyChatIndex3(ctx, org, day, m, derived, dataErr == nil)
	}
	return n, dataErr, indexErr
}

// verifyChatIndex3 checks a version 3 manifest's chat index: inline, its derived part
// against the records (when they read whole: complete) and that its members reference is
// an object of the organization and the day's year; stored (over MaxInlineChatIndex), as
// verifyChatIndex does, under the day's prefix.
func (l Ledger) verifyChatIndex3(ctx context.Context, org string, day archiver.Day, m *archiver.StoredManifest, derived *archiver.ChatIndexBuilder, complete bool) error {
	ref := m.ChatIndex
	want := derived.Index(org, day, nil)
	if x := ref.Inline; x != nil {
		if complete {
			if err := sameDerived(x.Chats, x.Participants, x.MembershipChanges, want); err != nil {
				return err
			}
		}
		prefix := fmt.Sprintf("%s%04d/", archiver.MembersPrefix(org), day.Start().Year())
		if !strings.HasPrefix(x.Members.Key, prefix) {
			return fmt.Errorf("members key %q is not one of the organization's members objects of the day's year (%s…)", x.Members.Key, prefix)
		}
		return nil
	}
	if !strings.HasPrefix(ref.Key, archiver.DayPrefix3(org, day)+"chatindex-") {
		return fmt.Errorf("key %s is not a chat index of the day's (%schatindex-…)", ref.Key, archiver.DayPrefix3(org, day))
	}
	x, err := l.ReadChatIndex(ctx, m)
	if err != nil {
		return err
	}
	if complete {
		if err := sameDerived(x.Chats, x.Participants, x.MembershipChanges, want); err != nil {
			return err
		}
	}
	return membersInForm(x.Members)
}

// sameDerived compares a chat index's derived part with want, derived from the records.
func sameDerived(chats, participants []string, changes []archiver.MembershipChange, want *archiver.ChatIndex) error {
	if !slices.Equal(chats, want.Chats) {
		return fmt.Errorf("its chats are not those of the day's records")
	}
	if !slices.Equal(participants, want.Participants) {
		return fmt.Errorf("its participants are not those of the day's records")
	}
	if !slices.EqualFunc(changes, want.MembershipChanges, func(a, b archiver.MembershipChange) bool {
		return a.ChatID == b.ChatID && a.EventTimestamp == b.EventTimestamp && a.MessageID == b.MessageID &&
			a.EventType == b.EventType && slices.Equal(a.Added, b.Added) && slices.Equal(a.Removed, b.Removed)
	}) {
		return fmt.Errorf("its membership changes are not those of the day's records")
	}
	return nil
}

// membersInForm checks that members are sorted by chat, each chat once, each chat's
// members sorted and unique.
func membersInForm(members []archiver.ChatMembers) error {
	for i, c := range members {
		if i > 0 && members[i-1].ChatID >= c.ChatID {
			return fmt.Errorf("members: chat %q is out of order or repeated", c.ChatID)
		}
		if !slices.IsSorted(c.Members) || len(slices.Compact(slices.Clone(c.Members))) != len(c.Members) {
			return fmt.Errorf("members of chat %q are not sorted and unique", c.ChatID)
		}
	}
	return nil
}

// CheckMembers checks org's members object that ref names (a version 3 manifest's inline
// chat index): its stored bytes hash to ref's size and SHA-256 and to the SHA-256 in its
// key, it decodes, is org's and of the year in its key, and its members are in form. It
// returns the bytes read. Verify checks each object once, however many days name it.
func (l Ledger) CheckMembers(ctx context.Context, org string, ref archiver.MembersRef) (int64, error) {
	rest, ok := strings.CutPrefix(ref.Key, archiver.MembersPrefix(org))
	year, name, ok2 := strings.Cut(rest, "/")
	sumHex, ok3 := strings.CutSuffix(name, ".json")
	y, err := strconv.Atoi(year)
	if !ok || !ok2 || !ok3 || len(year) != 4 || err != nil || len(sumHex) != 64 {
		return 0, fmt.Errorf("members key %q is not one of the organization's members objects", ref.Key)
	}
	if err := archiver.CheckDeclaredSize(ref.Key, ref.Size); err != nil { // objectcap.go
		return 0, err
	}
	rc, err := l.OpenObject(ctx, ref.Key, ref.VersionID)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, max(ref.Size, 0)+1))
	n := int64(len(b))
	if err != nil {
		return n, fmt.Errorf("read %s: %w", ref.Key, err)
	}
	sum := archiver.HexSum(sha256.Sum256(b))
	switch {
	case n != ref.Size || sum != ref.SHA256:
		return n, fmt.Errorf("%s: does not match the manifest's reference (size %d, SHA-256 %s)", ref.Key, ref.Size, ref.SHA256)
	case sum != sumHex:
		return n, fmt.Errorf("%s: its bytes hash to %s, not to the SHA-256 in its name", ref.Key, sum)
	}
	mo, err := archiver.DecodeMembers(b)
	if err != nil {
		return n, fmt.Errorf("%s: %w", ref.Key, err)
	}
	if canon, err := archiver.EncodeMembers(mo); err != nil || !bytes.Equal(canon, b) {
		return n, fmt.Errorf("%s: not in the members object's encoding (compact JSON and a newline), as its writer stores it", ref.Key)
	}
	if mo.Org != org || mo.Year != y {
		return n, fmt.Errorf("%s: members of %s %d under %s %d", ref.Key, mo.Org, mo.Year, org, y)
	}
	if err := membersInForm(mo.Members); err != nil {
		return n, fmt.Errorf("%s: %w", ref.Key, err)
	}
	return n, nil
}
