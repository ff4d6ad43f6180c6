package archiver

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
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

// EncodeMembers is a members object's stored form: compact JSON and a newline.
func EncodeMembers(m *MembersObject) ([]byte, error) {
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
	return DayPrefix(org, day) + "chatindex-" + HexSum(sum) + ".json"
}

// ChatIndexBuilder derives a ChatIndex's record-derived parts from the records, in export
// order. It holds one organization-day's distinct ids.
type ChatIndexBuilder struct {
	chats, participants *idSet
	changes             []MembershipChange
}

// NewChatIndexBuilder returns an empty builder of a day's chat index.
func NewChatIndexBuilder() *ChatIndexBuilder {
	return &ChatIndexBuilder{chats: newIDSet(), participants: newIDSet()}
}

// Add takes e's chat and participants into the index being built.
func (b *ChatIndexBuilder) Add(e *model.Event) {
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
func (b *ChatIndexBuilder) addLines(lines []byte) error {
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
func (b *ChatIndexBuilder) addLine(line []byte) error {
	chat, sender, _, ok := chatIndexFields(line)
	if !ok {
		e, err := model.Decode(line)
		if err != nil {
			return fmt.Errorf("chat index: %w", err)
		}
		b.Add(&e)
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

// Index returns the chat index of org's day from what Add took, with the day's members.
func (b *ChatIndexBuilder) Index(org string, day Day, members []ChatMembers) *ChatIndex {
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

// MembersTime is when the members the chat index names were read (epoch ms), in either
// form.
func (r *ChatIndexRef) MembersTime() int64 {
	if r.Inline != nil {
		return r.Inline.Members.MembersAt
	}
	return r.MembersAt
}
