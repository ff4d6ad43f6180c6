package rsmf

import (
	"net/mail"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/chatvault/chatvault/archiver/attach"
	"github.com/chatvault/chatvault/archiver/exporttask"
	"github.com/chatvault/chatvault/model"
)

// The manifest's types follow rsmf_schema_2_0_0.json; empty optional fields are left out.
type manifest struct {
	Version           string         `json:"version"`
	Participants      []participant  `json:"participants"`
	Conversations     []conversation `json:"conversations"`
	Events            []event        `json:"events"`
	EventCollectionID string         `json:"eventcollectionid,omitempty"`
}

type participant struct {
	ID        string   `json:"id"`
	Display   string   `json:"display,omitempty"`
	Email     string   `json:"email,omitempty"`
	AccountID string   `json:"account_id,omitempty"`
	Custom    []custom `json:"custom,omitempty"`
}

// label is how the load file and the text body name a participant.
func (p participant) label() string {
	name := p.Display
	if name == "" {
		name = p.ID
	}
	if p.Email != "" {
		return name + " <" + p.Email + ">"
	}
	return name
}

type conversation struct {
	ID           string   `json:"id"`
	Display      string   `json:"display,omitempty"`
	Platform     string   `json:"platform"`
	Type         string   `json:"type"`
	Participants []string `json:"participants"`
	Custom       []custom `json:"custom,omitempty"`
}

type event struct {
	ID           string   `json:"id,omitempty"`
	Type         string   `json:"type"`
	Parent       string   `json:"parent,omitempty"`
	Body         string   `json:"body"`
	Participant  string   `json:"participant,omitempty"`
	Conversation string   `json:"conversation"`
	Timestamp    string   `json:"timestamp"`
	Deleted      bool     `json:"deleted,omitempty"`
	Edits        []edit   `json:"edits,omitempty"`
	Attachments  []attRef `json:"attachments,omitempty"`
	Custom       []custom `json:"custom,omitempty"`

	// ms is Timestamp as the record has it (epoch ms), and deletedMS the deletion's
	// eventTimestamp: the transcript shows them beside the RFC 3339 times.
	ms, deletedMS int64
	// who is the sender's name in the record when it is not the participant's display
	// (renamed during the day: see builder.named); the transcript shows it.
	who string
}

// attRef is an event's attachment: ID is the file's name inside rsmf.zip.
type attRef struct {
	ID      string `json:"id"`
	Display string `json:"display,omitempty"`
	Size    int64  `json:"size,omitempty"`
}

type edit struct {
	Participant string  `json:"participant"`
	Timestamp   string  `json:"timestamp"`
	Previous    *string `json:"previous,omitempty"`
	New         string  `json:"new"`

	ms  int64  // the edit's eventTimestamp
	who string // as event.who
}

// custom is a name/value pair; the schema wants both non-empty, so callers add only
// values they have.
type custom struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

func addCustom(cs []custom, name, value string) []custom {
	if value == "" {
		return cs
	}
	return append(cs, custom{name, value})
}

// Platform names the source platform in conversations and the X-RSMF-Application header.
const Platform = "chatvault"

// fileInfo is what a file says about where it came from.
type fileInfo struct {
	org, orgName, taskID, docID string
	day, manifestSHA256         string
	part                        int
	collection                  string
}

// file is one .rsmf before encoding.
type file struct {
	info        fileInfo
	chat        string
	manifest    manifest
	first, last time.Time
	// files are the captured files its events reference, each once, in order of first
	// reference: they go into rsmf.zip beside the manifest.
	files []packed
}

// lastRFC3339 is the latest time RFC 3339 writes (a four-digit year), in epoch ms.
const lastRFC3339 = 253402300799999 // 9999-12-31T23:59:59.999Z

// msTime is epoch ms as a time in UTC, clamped to what RFC 3339 can write: a record's
// time past the year 9999 (a platform clock bug, microseconds taken for milliseconds) is
// sealed as it is, but a timestamp the schema cannot parse would make a review platform
// refuse the production. The event's epoch custom property keeps the record's value.
func msTime(ms int64) time.Time { return time.UnixMilli(min(ms, lastRFC3339)).UTC() }

// stamp formats epoch ms as ISO 8601 in UTC, with milliseconds.
func stamp(ms int64) string { return msTime(ms).Format("2006-01-02T15:04:05.000Z") }

// epochName is the custom property giving an event's timestamp as the record has it, in
// epoch ms, beside the RFC 3339 timestamp the schema asks for, so a reviewer can find the
// record an event came from.
const epochName = "Timestamp (epoch ms)"

func epoch(ms int64) string { return strconv.FormatInt(ms, 10) }

type builder struct {
	f       *file
	pidx    map[string]int
	ids     map[string]bool
	parents map[int64]string // a sent message's timestamp → its event id, for thread replies
	atts    map[string]attach.Entry
	packed  map[string]string // a packed file's SHA-256 → its name in rsmf.zip
	// names are, per participant id, the display names seen after the first (the
	// participant's display), in the order first seen.
	names map[string][]string
}

// buildFile maps one chat's events (grouped by message: sent, then its edits, then its
// deletion) to an RSMF manifest.
func buildFile(chat string, events []model.Event, info fileInfo, atts map[string]attach.Entry) *file {
	f := &file{info: info, chat: chat, manifest: manifest{Version: Version, EventCollectionID: info.collection}}
	b := &builder{f: f, pidx: map[string]int{}, ids: map[string]bool{}, parents: map[int64]string{},
		atts: atts, packed: map[string]string{}, names: map[string][]string{}}
	for i := 0; i < len(events); {
		j := i + 1
		for j < len(events) && events[j].MessageID == events[i].MessageID && events[j].Timestamp == events[i].Timestamp {
			j++
		}
		b.group(events[i:j])
		i = j
	}
	conv := conversation{ID: chat, Display: "Chat " + chat, Platform: Platform, Type: "channel",
		Participants: make([]string, len(f.manifest.Participants))}
	for i, p := range f.manifest.Participants {
		conv.Participants[i] = p.ID
	}
	conv.Custom = addCustom(conv.Custom, "Chat ID", chat)
	conv.Custom = addCustom(conv.Custom, "Custodian organization", info.orgName)
	conv.Custom = addCustom(conv.Custom, "Custodian organization ID", info.org)
	conv.Custom = addCustom(conv.Custom, "Sealed day", info.day)
	conv.Custom = addCustom(conv.Custom, "Sealed day manifest SHA-256", info.manifestSHA256)
	conv.Custom = addCustom(conv.Custom, "Export task", info.taskID)
	conv.Custom = addCustom(conv.Custom, "DocID", info.docID)
	if info.collection != "" {
		conv.Custom = addCustom(conv.Custom, "Part", strconv.Itoa(info.part))
	}
	f.manifest.Conversations = []conversation{conv}
	return f
}

func (b *builder) participant(p *model.Participant) string {
	id := p.ID
	if id == "" {
		id = "unknown"
	}
	if i, ok := b.pidx[id]; ok {
		b.rename(i, p.DisplayName)
		return id
	}
	mp := participant{ID: id, Display: p.DisplayName, AccountID: p.ID}
	if p.Type == model.ParticipantEmail && validEmail(p.Email) {
		mp.Email = p.Email
	} else {
		mp.Custom = addCustom(mp.Custom, "Email", p.Email)
	}
	mp.Custom = addCustom(mp.Custom, "Participant type", p.Type)
	mp.Custom = addCustom(mp.Custom, "Roam ID", p.RoamID)
	mp.Custom = addCustom(mp.Custom, "Integration ID", p.IntegrationID)
	mp.Custom = addCustom(mp.Custom, "Bot code", p.BotCode)
	b.pidx[id] = len(b.f.manifest.Participants)
	b.f.manifest.Participants = append(b.f.manifest.Participants, mp)
	return id
}

// rename records that the participant at index i was also shown as name. RSMF gives a
// participant one display, the name it is first seen under in the file (the events are
// in time order, so that is its name at its first event); a participant renamed during
// the day keeps every other name, in the order first seen, as custom "Display name 2",
// "Display name 3"…, and each event made under another name says so (named): the
// records carry each event's name, and the production must not lose one.
func (b *builder) rename(i int, name string) {
	mp := &b.f.manifest.Participants[i]
	switch {
	case name == "" || name == mp.Display || slices.Contains(b.names[mp.ID], name):
		return
	case mp.Display == "":
		// First seen without a name: the first name seen is its display.
		mp.Display = name
		return
	}
	b.names[mp.ID] = append(b.names[mp.ID], name)
	mp.Custom = append(mp.Custom, custom{"Display name " + strconv.Itoa(len(b.names[mp.ID])+1), name})
}

// named returns p's name in its record when it is not the display of its participant
// (id, as participant returned it): empty when the participant goes by it.
func (b *builder) named(id string, p *model.Participant) string {
	if p.DisplayName == "" || p.DisplayName == b.f.manifest.Participants[b.pidx[id]].Display {
		return ""
	}
	return p.DisplayName
}

// validEmail keeps the manifest valid against the schema's idn-email format: an address
// the platform sent that does not parse goes into a custom property instead.
func validEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Name == "" && a.Address == s
}

// uniqueID returns id, or id with a suffix when a malformed input reuses it, since event ids
// must be unique within a conversation.
func (b *builder) uniqueID(id string) string {
	u := id
	for n := 2; b.ids[u] || u == ""; n++ {
		u = id + "#" + strconv.Itoa(n)
	}
	b.ids[u] = true
	return u
}

func (b *builder) see(ms int64) {
	t := msTime(ms)
	if b.f.first.IsZero() || t.Before(b.f.first) {
		b.f.first = t
	}
	if t.After(b.f.last) {
		b.f.last = t
	}
}

func (b *builder) add(ev event, ms int64) {
	b.see(ms)
	ev.ms = ms
	ev.Custom = append([]custom{{epochName, epoch(ms)}}, ev.Custom...)
	b.f.manifest.Events = append(b.f.manifest.Events, ev)
}

func (b *builder) group(g []model.Event) {
	first := &g[0]
	if first.EventType == model.EventSent && first.ContentType == model.ContentMembersChanged {
		b.membersChanged(first)
		g = g[1:]
		if len(g) == 0 {
			return
		}
		first = &g[0]
	}
	ev := event{
		ID:           b.uniqueID(first.MessageID),
		Type:         "message",
		Participant:  b.participant(&first.Sender),
		Conversation: b.f.chat,
		Timestamp:    stamp(first.Timestamp),
	}
	ev.who = b.named(ev.Participant, &first.Sender)
	ev.Custom = addCustom(ev.Custom, "Sender display name", ev.who)
	var cur string
	known := false
	rest := g
	if first.EventType == model.EventSent {
		cur, known = body(first), true
		ev.Custom = contentCustom(ev.Custom, "", first)
		rest = g[1:]
		if _, ok := b.parents[first.Timestamp]; !ok {
			b.parents[first.Timestamp] = ev.ID
		}
	} else {
		ev.Custom = addCustom(ev.Custom, "Original message", "sent "+stamp(first.Timestamp)+", not in this file")
	}
	if first.ThreadTimestamp != 0 && first.ThreadTimestamp != first.Timestamp {
		if parent, ok := b.parents[first.ThreadTimestamp]; ok && parent != ev.ID {
			ev.Parent = parent
		} else {
			ev.Custom = addCustom(ev.Custom, "Thread parent", "message sent "+stamp(first.ThreadTimestamp)+", not in this file")
		}
	}
	for i := range rest {
		e := &rest[i]
		switch e.EventType {
		case model.EventDeleted:
			ev.Deleted = true
			ev.Custom = addCustom(ev.Custom, "Deleted at", stamp(e.EventTimestamp))
			ev.Custom = addCustom(ev.Custom, "Deleted at (epoch ms)", epoch(e.EventTimestamp))
			ev.deletedMS = e.EventTimestamp
			ev.Custom = addCustom(ev.Custom, "Deleted by", displayOf(&e.Sender))
			b.participant(&e.Sender)
			if e.HasContent && !known {
				cur, known = body(e), true
			}
			b.see(e.EventTimestamp)
		default: // an edit (or a repeated send, which can only be a changed one)
			nb := body(e)
			ed := edit{Participant: b.participant(&e.Sender), Timestamp: stamp(e.EventTimestamp), New: nb, ms: e.EventTimestamp}
			ed.who = b.named(ed.Participant, &e.Sender)
			if known {
				prev := cur
				ed.Previous = &prev
			}
			ev.Edits = append(ev.Edits, ed)
			ev.Custom = addCustom(ev.Custom, "Edit "+strconv.Itoa(len(ev.Edits))+": at (epoch ms)", epoch(e.EventTimestamp))
			ev.Custom = addCustom(ev.Custom, "Edit "+strconv.Itoa(len(ev.Edits))+": display name", ed.who)
			ev.Custom = contentCustom(ev.Custom, "Edit "+strconv.Itoa(len(ev.Edits))+": ", e)
			cur, known = nb, true
			b.see(e.EventTimestamp)
		}
	}
	ev.Body = cur
	for i := range g {
		b.attachments(&ev, &g[i])
	}
	b.add(ev, first.Timestamp)
}

// membersChanged becomes a join per member added and a leave per member removed.
func (b *builder) membersChanged(e *model.Event) {
	by := displayOf(&e.Sender)
	b.participant(&e.Sender)
	emit := func(typ string, ps []model.Participant) {
		for i := range ps {
			ev := event{
				ID:           b.uniqueID(e.MessageID + "/" + typ + "/" + ps[i].ID),
				Type:         typ,
				Participant:  b.participant(&ps[i]),
				Conversation: b.f.chat,
				Timestamp:    stamp(e.Timestamp),
			}
			ev.Custom = addCustom(ev.Custom, "Changed by", by)
			b.add(ev, e.Timestamp)
		}
	}
	emit("join", e.Content.Added)
	emit("leave", e.Content.Removed)
	if len(e.Content.Added)+len(e.Content.Removed) == 0 {
		b.add(event{ID: b.uniqueID(e.MessageID), Type: "unknown", Body: "membership change without members",
			Participant: b.participant(&e.Sender), Conversation: b.f.chat, Timestamp: stamp(e.Timestamp)}, e.Timestamp)
	}
}

func displayOf(p *model.Participant) string {
	if p.DisplayName != "" {
		return p.DisplayName
	}
	return p.ID
}

// body is what a reviewer reads as the message's text.
func body(e *model.Event) string {
	if !e.HasContent {
		return ""
	}
	c := &e.Content
	switch c.Type {
	case model.ContentText:
		if c.Text == "" {
			return c.MarkdownText
		}
		return c.Text
	case model.ContentEmoji:
		if c.Text == "" {
			return c.Colons
		}
		return c.Text
	case model.ContentItem:
		return c.ItemURL
	case model.ContentTextSnippet:
		return c.Text
	case model.ContentMembersChanged:
		var parts []string
		for _, p := range c.Added {
			parts = append(parts, "added "+displayOf(&p))
		}
		for _, p := range c.Removed {
			parts = append(parts, "removed "+displayOf(&p))
		}
		return strings.Join(parts, ", ")
	}
	return ""
}

// contentCustom keeps what the body does not show: the variant's other fields and the
// attachments, verbatim.
func contentCustom(cs []custom, prefix string, e *model.Event) []custom {
	cs = addCustom(cs, prefix+"Content type", e.ContentType)
	if !e.HasContent {
		return cs
	}
	c := &e.Content
	switch c.Type {
	case model.ContentText:
		if c.MarkdownText != c.Text {
			cs = addCustom(cs, prefix+"Markdown", c.MarkdownText)
		}
		for i, a := range c.Attachments {
			cs = addCustom(cs, prefix+"Attachment "+strconv.Itoa(i+1), string(a))
		}
	case model.ContentEmoji:
		cs = addCustom(cs, prefix+"Emoji", c.Colons)
		cs = addCustom(cs, prefix+"Emoji file", c.FileURL)
	case model.ContentItem:
		cs = addCustom(cs, prefix+"Item type", c.ItemType)
	case model.ContentTextSnippet:
		cs = addCustom(cs, prefix+"Language", c.Language)
	}
	return cs
}

// packed is a captured file that goes into a .rsmf's rsmf.zip.
type packed struct {
	name   string // its name there: the SHA-256, with the link's extension
	sha256 string
	size   int64
}

// attachments adds the captured files e links to ev (each once per event, and once per
// rsmf.zip however many events link it); a link that was not captured is named in a
// custom property with why, and the file is not in the package.
func (b *builder) attachments(ev *event, e *model.Event) {
	for _, l := range exporttask.EventLinks(e) {
		ent, ok := b.atts[l.URL]
		switch {
		case !ok:
			if b.atts != nil {
				ev.Custom = addCustom(ev.Custom, "Attachment not captured", l.URL+" (not in the attachment index)")
			}
			continue
		case ent.Outcome != attach.Captured:
			why := ent.Reason
			if ent.Status != 0 {
				why += " " + strconv.Itoa(ent.Status)
			}
			ev.Custom = addCustom(ev.Custom, "Attachment not captured", l.URL+" ("+why+")")
			continue
		}
		name, ok := b.packed[ent.SHA256]
		if !ok {
			name = exporttask.CapturedFileName(ent, l.URL)
			b.packed[ent.SHA256] = name
			b.f.files = append(b.f.files, packed{name: name, sha256: ent.SHA256, size: ent.Size})
		}
		if slices.ContainsFunc(ev.Attachments, func(a attRef) bool { return a.ID == name }) {
			continue
		}
		// An encoded file's display ends as its name does (.gz): a viewer shows a display
		// ending in .png inline, and these bytes are not a picture until decompressed.
		display := exporttask.LinkName(e, l) + attach.EncodingSuffix(ent.ContentEncoding)
		ev.Attachments = append(ev.Attachments, attRef{ID: name, Display: display, Size: ent.Size})
		ev.Custom = addCustom(ev.Custom, "Attachment "+name, l.URL)
		// The schema's attachment object has only id, display and size: how the bytes
		// were served goes beside the link, in the event's custom properties.
		if ent.ContentEncoding != "" {
			v := ent.ContentEncoding + " (kept as the host served it, encoded; its SHA-256 is of these bytes"
			if ent.ContentType != "" {
				v += "; content type " + ent.ContentType
			}
			ev.Custom = addCustom(ev.Custom, "Attachment "+name+" content encoding", v+")")
		}
		ev.Custom = addCustom(ev.Custom, "Attachment "+name+" served from", ent.ServedFrom)
	}
}
