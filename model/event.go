package model

// Event types of the export.
const (
	EventSent    = "sent"
	EventEdited  = "edited"
	EventDeleted = "deleted"
)

// Participant types.
const (
	ParticipantEmail    = "email"
	ParticipantBot      = "bot"
	ParticipantOccupant = "occupant"
)

// Message content types. Anything else (wave, roomInvitation, …) is not a message.
const (
	ContentText           = "text"
	ContentEmoji          = "emoji"
	ContentItem           = "item"
	ContentTextSnippet    = "textSnippet"
	ContentMembersChanged = "membersChanged"
)

// Event is one message event: a line of the event log and of an export.
//
// The struct is flat on purpose: variants are told apart by their discriminator
// (Sender.Type, ContentType) and only the fields of that variant are encoded. Keeping it
// free of pointers and maps makes it comparable with ==, apart from the slices of
// Content, which Equal handles.
type Event struct {
	// EventType is sent, edited or deleted.
	EventType string
	// ChatID is the chat the message belongs to.
	ChatID string
	// ThreadTimestamp is the thread parent's Timestamp; 0 when the message is not in a
	// thread (an explicit 0 in the input means the same and is not encoded).
	ThreadTimestamp int64
	// Timestamp is when the message was originally sent, epoch ms, also for edits and deletes.
	Timestamp int64
	// EventTimestamp is when the server committed this event, epoch ms.
	EventTimestamp int64
	// MessageID identifies the message; edits and deletes carry the original's id.
	MessageID string
	// Sender is who sent the message.
	Sender Participant
	// ContentType is the message's content variant, repeated inside Content.
	ContentType string
	// HasContent is false only for a deleted event that carries no content.
	HasContent bool
	// Content is the message body; meaningful when HasContent.
	Content Content
}

// Participant is a sender or a member. Type selects the variant:
// email (Email), bot (RoamID, IntegrationID, BotCode) or occupant (a guest without an account).
type Participant struct {
	Type          string
	ID            string
	DisplayName   string
	Email         string
	RoamID        string
	IntegrationID string
	BotCode       string
}

// Content is a message body. Type selects the variant and the fields it carries:
//
//	text            Text, MarkdownText, Attachments
//	emoji           Text, Colons, FileURL (optional)
//	item            ItemURL, ItemType
//	textSnippet     Text, Language
//	membersChanged  Added, Removed
type Content struct {
	Type         string
	Text         string
	MarkdownText string
	// Attachments are JSON objects kept byte for byte as they arrived (whitespace outside
	// strings removed), because an archive must not reinterpret what it did not define.
	Attachments []RawJSON
	Colons      string
	FileURL     string
	ItemURL     string
	ItemType    string
	Language    string
	Added       []Participant
	Removed     []Participant
}

// RawJSON is a JSON value kept verbatim.
type RawJSON string

// IsMessageContentType reports whether t is one of the five message content variants.
func IsMessageContentType(t string) bool {
	switch t {
	case ContentText, ContentEmoji, ContentItem, ContentTextSnippet, ContentMembersChanged:
		return true
	}
	return false
}

// EventTypeRank orders event types for sorting: sent < edited < deleted.
func EventTypeRank(t string) uint8 {
	switch t {
	case EventSent:
		return 0
	case EventEdited:
		return 1
	case EventDeleted:
		return 2
	}
	return 3
}

// Equal reports whether a and b are the same event.
func (e Event) Equal(o Event) bool {
	if e.EventType != o.EventType || e.ChatID != o.ChatID || e.ThreadTimestamp != o.ThreadTimestamp ||
		e.Timestamp != o.Timestamp || e.EventTimestamp != o.EventTimestamp || e.MessageID != o.MessageID ||
		e.Sender != o.Sender || e.ContentType != o.ContentType || e.HasContent != o.HasContent {
		return false
	}
	return e.Content.equal(o.Content)
}

func (c Content) equal(o Content) bool {
	return c.Type == o.Type && c.Text == o.Text && c.MarkdownText == o.MarkdownText &&
		c.Colons == o.Colons && c.FileURL == o.FileURL && c.ItemURL == o.ItemURL &&
		c.ItemType == o.ItemType && c.Language == o.Language &&
		equalSlices(c.Attachments, o.Attachments) && equalSlices(c.Added, o.Added) && equalSlices(c.Removed, o.Removed)
}

func equalSlices[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
