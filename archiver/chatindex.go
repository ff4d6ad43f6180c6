package archiver

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/chatvault/chatvault/model"
)

// ChatIndexVersion is the version of the chat indexes this build writes.
const ChatIndexVersion = 1

// ChatIndex is a sealed organization-day's index of who and what its export holds (issue
// 12): the chats and participants of its records, its membership changes, and the
// members of each of the organization's chats as the directory showed them at the seal.
// It is stored beside the manifest, create-only, named by its SHA-256, which the manifest
// records (Manifest.ChatIndex), so the manifest's signature covers it.
//
// Export tasks read it to tell an unknown chat or user id from a known one, and to find
// when a custodian was a member of a chat, without reading the day's records. Everything
// but Members is derived from the day's records, and verify derives it again from them;
// Members comes from the directory, which verify does not have: it checks its hash and
// its form only.
type ChatIndex struct {
	Version int    `json:"version"`
	Org     string `json:"org"`
	Date    string `json:"date"`
	// Chats are the ids of the chats the day's records are in, sorted.
	Chats []string `json:"chats"`
	// Participants are the ids of every record's sender and of every participant a
	// membersChanged record adds or removes, sorted.
	Participants []string `json:"participants"`
	// MembershipChanges are the day's membersChanged records that have content, in export
	// order.
	MembershipChanges []MembershipChange `json:"membershipChanges"`
	// Members are the organization's chats in the directory snapshot of the seal (those
	// with at least one member who is a user of the organization, the chats inclusion
	// rule 2 archives), sorted by id, each with its members' ids as the directory lists
	// them (users of any organization, bots, occupants), sorted and unique. The time of
	// the snapshot is the manifest's ChatIndexRef.MembersAt.
	Members []ChatMembers `json:"members"`
}

// MembershipChange is one membersChanged record.
type MembershipChange struct {
	ChatID         string   `json:"chatId"`
	EventTimestamp int64    `json:"eventTimestamp"`
	MessageID      string   `json:"messageId"`
	EventType      string   `json:"eventType"`
	Added          []string `json:"added"`
	Removed        []string `json:"removed"`
}

// ChatMembers is one chat's members at a seal.
type ChatMembers struct {
	ChatID  string   `json:"chatId"`
	Members []string `json:"members"`
}

// ChatIndexRef is how a manifest names its chat index: in versions 1 and 2, and in
// version 3 when the index is too big to ride inline (over MaxInlineChatIndex encoded),
// by the key of a stored ChatIndex (Key, Size, SHA256, VersionID, MembersAt); in version 3
// otherwise inline (Inline set, the others empty): the index's derived part in the
// manifest, its members in an organization-level members object.
type ChatIndexRef struct {
	// Inline is the version 3 inline index; nil in the stored form.
	Inline *InlineChatIndex `json:"-"`

	Key    string `json:"key"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	// VersionID is the store's version id of the object, as in DataObject (issue 10.6).
	VersionID string `json:"versionId,omitempty"`
	// MembersAt is when the seal that recorded Members began, in epoch ms: the directory
	// snapshot it used was read just before, so Members is the membership at about
	// that time (which is usually after the day's end: a seal runs once the day is over).
	MembersAt int64 `json:"membersAt"`
}

// InlineChatIndexVersion is the version of the inline chat index (ChatIndexRef.Inline).
const InlineChatIndexVersion = 2

// MaxInlineChatIndex bounds an inline chat index, encoded: a bigger one is stored as an
// object of the day (chatindex-<sha>.json) and the manifest names it instead.
const MaxInlineChatIndex = 64 << 10

// InlineChatIndex is a version 3 manifest's chat index: the part derived from the day's
// records (which the organization can download, so the manifest the API serves shows it
// nothing new) and a reference to the members of its chats, which come from the directory
// and are kept out of the manifest (MembersObject).
type InlineChatIndex struct {
	Version           int                `json:"version"`
	Chats             []string           `json:"chats"`
	Participants      []string           `json:"participants"`
	MembershipChanges []MembershipChange `json:"membershipChanges"`
	Members           MembersRef         `json:"members"`
}

// MembersRef names an organization's members object and when its membership was read.
type MembersRef struct {
	Key    string `json:"key"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	// VersionID is the store's version id of the object, as in DataObject (issue 10.6).
	VersionID string `json:"versionId,omitempty"`
	// MembersAt is as ChatIndexRef.MembersAt.
	MembersAt int64 `json:"membersAt"`
}

// MembersObjectVersion is the version of the members objects this build writes.
const MembersObjectVersion = 1

// MembersObject is the members of an organization's chats as the directory showed them
// (ChatIndex.Members), stored at orgs/<org>/members/<yyyy>/<sha>.json: content-named,
// create-only, written by the first seal of the year whose directory shows a membership
// not yet stored that year, and named by every version 3 manifest of that year that saw
// it. Not served by the API.
type MembersObject struct {
	Version int           `json:"version"`
	Org     string        `json:"org"`
	Year    int           `json:"year"`
	Members []ChatMembers `json:"members"`
}

// encodeMembers is a members object's stored form: compact JSON and a newline.
func encodeMembers(m *MembersObject) ([]byte, error) {
	if m.Members == nil {
		m.Members = []ChatMembers{}
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode members: %w", err)
	}
	return append(b, '\n'), nil
}

// DecodeMembers parses a stored members object.
func DecodeMembers(b []byte) (*MembersObject, error) {
	var m MembersObject
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("decode members: %w", err)
	}
	if m.Version != MembersObjectVersion {
		return nil, fmt.Errorf("decode members: unsupported version %d", m.Version)
	}
	return &m, nil
}

// storedChatIndexRef is ChatIndexRef's stored form (versions 1 and 2, version 3 overflow).
type storedChatIndexRef struct {
	Key       string `json:"key"`
	Size      int64  `json:"size"`
	SHA256    string `json:"sha256"`
	VersionID string `json:"versionId,omitempty"`
	MembersAt int64  `json:"membersAt"`
}

// MarshalJSON encodes the reference in its form: inline or stored.
func (r ChatIndexRef) MarshalJSON() ([]byte, error) {
	if r.Inline != nil {
		x := *r.Inline
		if x.Chats == nil {
			x.Chats = []string{}
		}
		if x.Participants == nil {
			x.Participants = []string{}
		}
		if x.MembershipChanges == nil {
			x.MembershipChanges = []MembershipChange{}
		}
		return json.Marshal(x)
	}
	return json.Marshal(storedChatIndexRef{Key: r.Key, Size: r.Size, SHA256: r.SHA256, VersionID: r.VersionID, MembersAt: r.MembersAt})
}

// UnmarshalJSON decodes either form, strictly (no unknown field): the inline form is the
// one with a "version".
func (r *ChatIndexRef) UnmarshalJSON(b []byte) error {
	var probe struct {
		Version *int `json:"version"`
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if probe.Version != nil {
		var x InlineChatIndex
		if err := dec.Decode(&x); err != nil {
			return fmt.Errorf("inline chat index: %w", err)
		}
		if x.Version != InlineChatIndexVersion {
			return fmt.Errorf("inline chat index: unsupported version %d", x.Version)
		}
		*r = ChatIndexRef{Inline: &x}
		return nil
	}
	var s storedChatIndexRef
	if err := dec.Decode(&s); err != nil {
		return fmt.Errorf("chat index: %w", err)
	}
	*r = ChatIndexRef{Key: s.Key, Size: s.Size, SHA256: s.SHA256, VersionID: s.VersionID, MembersAt: s.MembersAt}
	return nil
}

func chatIndexKey(org string, day Day, sum [sha256.Size]byte) string {
	return dayPrefix(org, day) + "chatindex-" + hexSum(sum) + ".json"
}

// chatIndexBuilder derives a ChatIndex's record-derived parts from the records, in export
// order. It holds one organization-day's distinct ids.
type chatIndexBuilder struct {
	chats, participants *idSet
	changes             []MembershipChange
}

func newChatIndexBuilder() *chatIndexBuilder {
	return &chatIndexBuilder{chats: newIDSet(), participants: newIDSet()}
}

func (b *chatIndexBuilder) add(e *model.Event) {
	b.chats.add(e.ChatID)
	b.participants.add(e.Sender.ID)
	if e.ContentType != model.ContentMembersChanged || !e.HasContent {
		return
	}
	c := MembershipChange{ChatID: e.ChatID, EventTimestamp: e.EventTimestamp, MessageID: e.MessageID, EventType: e.EventType,
		Added: []string{}, Removed: []string{}}
	for _, p := range e.Content.Added {
		c.Added = append(c.Added, p.ID)
		b.participants.add(p.ID)
	}
	for _, p := range e.Content.Removed {
		c.Removed = append(c.Removed, p.ID)
		b.participants.add(p.ID)
	}
	b.changes = append(b.changes, c)
}

// addLines adds '\n'-terminated canonical records.
func (b *chatIndexBuilder) addLines(lines []byte) error {
	for len(lines) > 0 {
		i := bytes.IndexByte(lines, '\n')
		if i < 0 {
			i = len(lines)
		}
		if err := b.addLine(lines[:i]); err != nil {
			return err
		}
		lines = lines[min(i+1, len(lines)):]
	}
	return nil
}

// addLine adds one canonical record. Most records only add their chat and sender, which
// are read from the canonical layout without decoding the record (chatIndexFields); a
// membership change, or an id with an escape, is decoded whole.
func (b *chatIndexBuilder) addLine(line []byte) error {
	chat, sender, _, ok := chatIndexFields(line)
	if !ok {
		e, err := model.Decode(line)
		if err != nil {
			return fmt.Errorf("chat index: %w", err)
		}
		b.add(&e)
		return nil
	}
	b.chats.addBytes(chat)
	b.participants.addBytes(sender)
	return nil
}

// Fields of the canonical layout (model.AppendJSON), in order: eventType first, chatId
// second, then the timestamps and messageId, the sender (participantType first, id
// second), and contentType right after the sender. In canonical JSON a quote inside a
// string is always escaped, so `,"` never occurs inside one: the first match of a field's
// prefix after the field before it is the field itself.
const (
	canonEventType = `{"eventType":"`
	canonChatID    = `,"chatId":"`
	canonSender    = `,"sender":{"participantType":"`
	canonSenderID  = `,"id":"`
	canonContent   = `,"contentType":"`
	canonMembers   = `membersChanged"`
)

// chatIndexFields returns a canonical record's chat id and sender id, and n, how far into
// line it read: up to the record's content type, never into its content, which is most of
// a record's bytes (TestChatIndexFieldsReadsHead). It reports false for a membership
// change, for an id or type with an escape, and for a line not in the canonical layout:
// the caller decodes those.
func chatIndexFields(line []byte) (chat, sender []byte, n int, ok bool) {
	if !bytes.HasPrefix(line, []byte(canonEventType)) {
		return nil, nil, 0, false
	}
	_, i, ok := plainAt(line, len(canonEventType))
	if !ok || !bytes.HasPrefix(line[i:], []byte(canonChatID)) {
		return nil, nil, 0, false
	}
	chat, i, ok = plainAt(line, i+len(canonChatID))
	if !ok {
		return nil, nil, 0, false
	}
	j := bytes.Index(line[i:], []byte(canonSender))
	if j < 0 {
		return nil, nil, 0, false
	}
	_, i, ok = plainAt(line, i+j+len(canonSender))
	if !ok || !bytes.HasPrefix(line[i:], []byte(canonSenderID)) {
		return nil, nil, 0, false
	}
	sender, i, ok = plainAt(line, i+len(canonSenderID))
	if !ok {
		return nil, nil, 0, false
	}
	j = bytes.Index(line[i:], []byte(canonContent))
	if j < 0 {
		return nil, nil, 0, false
	}
	i += j + len(canonContent)
	if bytes.HasPrefix(line[i:], []byte(canonMembers)) {
		return nil, nil, 0, false
	}
	_, i, ok = plainAt(line, i)
	return chat, sender, i, ok
}

// plainAt returns the string value that starts at line[i] (after its opening quote) and
// the index just past its closing quote; false when it has an escape or no closing quote.
func plainAt(line []byte, i int) ([]byte, int, bool) {
	j := bytes.IndexByte(line[i:], '"')
	if j < 0 {
		return nil, 0, false
	}
	v := line[i : i+j]
	if bytes.IndexByte(v, '\\') >= 0 {
		return nil, 0, false
	}
	return v, i + j + 1, true
}

func (b *chatIndexBuilder) index(org string, day Day, members []ChatMembers) *ChatIndex {
	x := &ChatIndex{Version: ChatIndexVersion, Org: org, Date: day.String(), Chats: b.chats.sorted(),
		Participants: b.participants.sorted(), MembershipChanges: b.changes, Members: members}
	if x.MembershipChanges == nil {
		x.MembershipChanges = []MembershipChange{}
	}
	if x.Members == nil {
		x.Members = []ChatMembers{}
	}
	return x
}

// encodeChatIndex is the index's stored form: compact JSON and a newline (deterministic:
// the same records and directory give the same bytes, so a rerun finds its own object).
func encodeChatIndex(x *ChatIndex) ([]byte, error) {
	b, err := json.Marshal(x)
	if err != nil {
		return nil, fmt.Errorf("encode chat index: %w", err)
	}
	return append(b, '\n'), nil
}

// DecodeChatIndex parses a stored chat index.
func DecodeChatIndex(b []byte) (*ChatIndex, error) {
	var x ChatIndex
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&x); err != nil {
		return nil, fmt.Errorf("decode chat index: %w", err)
	}
	if x.Version != ChatIndexVersion {
		return nil, fmt.Errorf("decode chat index: unsupported version %d", x.Version)
	}
	return &x, nil
}

// orgMembers returns the members of organization org's chats in the directory (see
// ChatIndex.Members).
func (r *router) orgMembers(org int32) []ChatMembers {
	idx := r.orgChats[org]
	out := make([]ChatMembers, 0, len(idx))
	for _, i := range idx {
		c := r.chats[i]
		m := slices.Clone(c.Members)
		slices.Sort(m)
		out = append(out, ChatMembers{ChatID: c.ID, Members: slices.Compact(m)})
	}
	slices.SortFunc(out, func(a, b ChatMembers) int { return strings.Compare(a.ChatID, b.ChatID) })
	return out
}

// ReadChatIndex reads and checks the chat index m names: its size and SHA-256 must be the
// manifest's, and it must be of m's organization and day. Nil, nil when m has none (sealed
// before chat indexes existed).
//
// A version 3 manifest's inline index (ChatIndexRef.Inline) is returned as a ChatIndex
// whose Members are read from the members object it names (ReadMembers, checked the same
// way).
func (l Ledger) ReadChatIndex(ctx context.Context, m *StoredManifest) (*ChatIndex, error) {
	ref := m.ChatIndex
	if ref == nil {
		return nil, nil
	}
	if x := ref.Inline; x != nil {
		mo, err := l.ReadMembers(ctx, m)
		if err != nil {
			return nil, err
		}
		return &ChatIndex{Version: ChatIndexVersion, Org: m.Org, Date: m.Date, Chats: x.Chats, Participants: x.Participants,
			MembershipChanges: x.MembershipChanges, Members: mo.Members}, nil
	}
	b, err := l.readNamedObject(ctx, ref.Key, ref.VersionID, ref.Size, ref.SHA256, "chat index", m.Key) // chatindex.go
	if err != nil {
		return nil, err
	}
	x, err := DecodeChatIndex(b)
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
func (l Ledger) verifyChatIndex(ctx context.Context, org string, day Day, m *StoredManifest, derived *chatIndexBuilder, complete bool) error {
	switch {
	case m.ChatIndex.Inline != nil:
		if m.Version < ManifestVersion3 {
			return fmt.Errorf("an inline chat index in a version %d manifest", m.Version)
		}
	case m.Version >= ManifestVersion3:
		if !strings.HasPrefix(m.ChatIndex.Key, dayPrefix3(org, day)+"chatindex-") {
			return fmt.Errorf("key %s is not the day's", m.ChatIndex.Key)
		}
	case !strings.HasPrefix(m.ChatIndex.Key, dayPrefix(org, day)):
		return fmt.Errorf("key %s is outside the day's folder", m.ChatIndex.Key)
	}
	x, err := l.ReadChatIndex(ctx, m)
	if err != nil {
		return err
	}
	if complete {
		want := derived.index(x.Org, day, x.Members)
		if !slices.Equal(x.Chats, want.Chats) {
			return fmt.Errorf("its chats are not those of the day's records")
		}
		if !slices.Equal(x.Participants, want.Participants) {
			return fmt.Errorf("its participants are not those of the day's records")
		}
		if !slices.EqualFunc(x.MembershipChanges, want.MembershipChanges, func(a, b MembershipChange) bool {
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
	if err := checkDeclaredSize(key, size); err != nil { // objectcap.go
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
	if int64(len(b)) != size || hexSum(sha256.Sum256(b)) != sum {
		return nil, fmt.Errorf("%s: %s does not match its manifest %s (run chatvault verify): %w", key, what, manifestKey, ErrUntrustedManifest)
	}
	return b, nil
}
