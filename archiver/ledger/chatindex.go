package ledger

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/chatvault/chatvault/archiver"
)

// ReadChatIndex reads and checks the chat index m names: its size and SHA-256 must be the
// manifest's, and it must be of m's organization and day. Nil, nil when m has none (sealed
// before chat indexes existed).
//
// A version 3 manifest's inline index (ChatIndexRef.Inline) is returned as a ChatIndex
// whose Members are read from the members object it names (ReadMembers, checked the same
// way).
func (l Ledger) ReadChatIndex(ctx context.Context, m *archiver.StoredManifest) (*archiver.ChatIndex, error) {
	ref := m.ChatIndex
	if ref == nil {
		return nil, nil
	}
	if x := ref.Inline; x != nil {
		mo, err := l.ReadMembers(ctx, m)
		if err != nil {
			return nil, err
		}
		return &archiver.ChatIndex{Version: archiver.ChatIndexVersion, Org: m.Org, Date: m.Date, Chats: x.Chats, Participants: x.Participants,
			MembershipChanges: x.MembershipChanges, Members: mo.Members}, nil
	}
	b, err := l.readNamedObject(ctx, ref.Key, ref.VersionID, ref.Size, ref.SHA256, "chat index", m.Key) // chatindex.go
	if err != nil {
		return nil, err
	}
	x, err := archiver.DecodeChatIndex(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ref.Key, err)
	}
	if x.Org != m.Org || x.Date != m.Date {
		return nil, fmt.Errorf("%s: chat index of %s %s in manifest %s of %s %s: %w", ref.Key, x.Org, x.Date, m.Key, m.Org, m.Date, ErrUntrustedManifest)
	}
	return x, nil
}

// verifyChatIndex checks m's chat index: its hash, its form, that it is of m's
// organization and day, and, when the day's records read whole (complete), that its
// chats, participants and membership changes are those derived from them. Members come
// from the directory of the seal, which verify does not have: their form is checked
// (sorted, unique), and the manifest's signature covers their hash.
func (l Ledger) verifyChatIndex(ctx context.Context, org string, day archiver.Day, m *archiver.StoredManifest, derived *archiver.ChatIndexBuilder, complete bool) error {
	switch {
	case m.ChatIndex.Inline != nil:
		if m.Version < archiver.ManifestVersion3 {
			return fmt.Errorf("an inline chat index in a version %d manifest", m.Version)
		}
	case m.Version >= archiver.ManifestVersion3:
		if !strings.HasPrefix(m.ChatIndex.Key, archiver.DayPrefix3(org, day)+"chatindex-") {
			return fmt.Errorf("key %s is not the day's", m.ChatIndex.Key)
		}
	case !strings.HasPrefix(m.ChatIndex.Key, archiver.DayPrefix(org, day)):
		return fmt.Errorf("key %s is outside the day's folder", m.ChatIndex.Key)
	}
	x, err := l.ReadChatIndex(ctx, m)
	if err != nil {
		return err
	}
	if complete {
		want := derived.Index(x.Org, day, x.Members)
		if !slices.Equal(x.Chats, want.Chats) {
			return fmt.Errorf("its chats are not those of the day's records")
		}
		if !slices.Equal(x.Participants, want.Participants) {
			return fmt.Errorf("its participants are not those of the day's records")
		}
		if !slices.EqualFunc(x.MembershipChanges, want.MembershipChanges, func(a, b archiver.MembershipChange) bool {
			return a.ChatID == b.ChatID && a.EventTimestamp == b.EventTimestamp && a.MessageID == b.MessageID &&
				a.EventType == b.EventType && slices.Equal(a.Added, b.Added) && slices.Equal(a.Removed, b.Removed)
		}) {
			return fmt.Errorf("its membership changes are not those of the day's records")
		}
	}
	for i, c := range x.Members {
		if i > 0 && x.Members[i-1].ChatID >= c.ChatID {
			return fmt.Errorf("members: chat %q is out of order or repeated", c.ChatID)
		}
		if !slices.IsSorted(c.Members) || len(slices.Compact(slices.Clone(c.Members))) != len(c.Members) {
			return fmt.Errorf("members of chat %q are not sorted and unique", c.ChatID)
		}
	}
	return nil
}

// readNamedObject reads the object a manifest (manifestKey) names with its version, size
// and SHA-256, what it is said as in errors: bytes that do not match what the manifest
// says fail with ErrUntrustedManifest.
func (l Ledger) readNamedObject(ctx context.Context, key, versionID string, size int64, sum, what, manifestKey string) ([]byte, error) {
	if err := archiver.CheckDeclaredSize(key, size); err != nil { // objectcap.go
		return nil, fmt.Errorf("%w (as %s names it)", err, manifestKey)
	}
	rc, err := l.OpenObject(ctx, key, versionID)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, size+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	if int64(len(b)) != size || archiver.HexSum(sha256.Sum256(b)) != sum {
		return nil, fmt.Errorf("%s: %s does not match its manifest %s (run chatvault verify): %w", key, what, manifestKey, ErrUntrustedManifest)
	}
	return b, nil
}
