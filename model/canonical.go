package model

import (
	"math"
	"unicode/utf8"
	"unsafe"
)

// DecodeCanonical decodes line as Decode does, and also reports whether line is already
// the canonical encoding of the Event it holds: whether AppendJSON would give back line
// itself, byte for byte. A caller that wants the canonical encoding can then keep line
// instead of encoding the Event again.
//
// Most lines a platform writes are canonical already (no whitespace, fields in the
// export's order, nothing but the variant's fields), so they are first matched against the
// canonical layout, byte for byte, which costs less than decoding them in full: a string
// without escapes is not copied, and the layout leaves nothing to look up. A line that
// departs from the layout anywhere is decoded by Decode instead, which gives the same
// Event and the same errors, and reported as not canonical.
//
// The Event's strings alias line (those of a canonical line without escapes) or the
// Decoder's buffer, and its slices the Decoder's: all are valid until the next call, and
// only while line is not changed.
func (dc *Decoder) DecodeCanonical(line []byte) (Event, bool, error) {
	if e, ok := dc.canonical(line); ok {
		return e, true, nil
	}
	e, err := dc.Decode(line)
	return e, false, err
}

// canonical matches line against the canonical layout of AppendJSON and returns its
// Event when every byte is where AppendJSON would have put it and every value is one that
// Decode accepts; false otherwise, and then the Event is garbage.
func (dc *Decoder) canonical(line []byte) (Event, bool) {
	c := canon{b: line, arena: arena{b: dc.buf[:0]}, atts: dc.atts[:0], added: dc.added[:0], removed: dc.removed[:0]}
	var e Event
	ok := c.event(&e)
	// Keep the grown buffers for the next line, unless a huge line grew them.
	if cap(c.arena.b) <= 1<<20 {
		dc.buf = c.arena.b
	}
	if cap(c.atts) <= 1<<10 && cap(c.added) <= 1<<10 && cap(c.removed) <= 1<<10 {
		dc.atts, dc.added, dc.removed = c.atts, c.added, c.removed
	}
	return e, ok
}

// canon is a line being matched against the canonical layout. Each method consumes what
// it matches and reports false at the first byte that is not canonical; the caller then
// gives up on the line (pos is not restored).
type canon struct {
	b   []byte
	pos int
	// arena receives the text of strings with escapes; strings without alias b.
	arena arena
	// atts, added and removed collect the Event's slices, reused from line to line.
	atts           []RawJSON
	added, removed []Participant
}

func (c *canon) lit(s string) bool {
	if len(c.b)-c.pos < len(s) || string(c.b[c.pos:c.pos+len(s)]) != s {
		return false
	}
	c.pos += len(s)
	return true
}

func (c *canon) event(e *Event) bool {
	var ok bool
	if !c.lit(`{"eventType":`) {
		return false
	}
	if e.EventType, ok = c.str(); !ok || EventTypeRank(e.EventType) > 2 {
		return false
	}
	if !c.lit(`,"chatId":`) {
		return false
	}
	if e.ChatID, ok = c.str(); !ok || e.ChatID == "" {
		return false
	}
	// AppendJSON writes a thread timestamp only when it is not 0.
	if c.lit(`,"threadTimestamp":`) {
		if e.ThreadTimestamp, ok = c.num(); !ok || e.ThreadTimestamp == 0 {
			return false
		}
	}
	if !c.lit(`,"timestamp":`) {
		return false
	}
	if e.Timestamp, ok = c.num(); !ok || !c.lit(`,"eventTimestamp":`) {
		return false
	}
	if e.EventTimestamp, ok = c.num(); !ok || !c.lit(`,"messageId":`) {
		return false
	}
	if e.MessageID, ok = c.str(); !ok || e.MessageID == "" || !c.lit(`,"sender":`) {
		return false
	}
	if !c.participant(&e.Sender) || !c.lit(`,"contentType":`) {
		return false
	}
	// Other content types (waves, invitations) are errors of Decode's, which it reports.
	if e.ContentType, ok = c.str(); !ok || !IsMessageContentType(e.ContentType) {
		return false
	}
	if c.lit(`,"content":`) {
		e.HasContent = true
		if !c.content(&e.Content, e.ContentType) {
			return false
		}
	} else if e.EventType != EventDeleted {
		return false
	}
	return c.lit(`}`) && c.pos == len(c.b)
}

func (c *canon) participant(p *Participant) bool {
	var ok bool
	if !c.lit(`{"participantType":`) {
		return false
	}
	if p.Type, ok = c.str(); !ok || !c.lit(`,"id":`) {
		return false
	}
	if p.ID, ok = c.str(); !ok || p.ID == "" || !c.lit(`,"displayName":`) {
		return false
	}
	if p.DisplayName, ok = c.str(); !ok {
		return false
	}
	switch p.Type {
	case ParticipantEmail:
		if !c.lit(`,"email":`) {
			return false
		}
		if p.Email, ok = c.str(); !ok {
			return false
		}
	case ParticipantBot:
		if !c.lit(`,"roamId":`) {
			return false
		}
		if p.RoamID, ok = c.str(); !ok || !c.lit(`,"integrationId":`) {
			return false
		}
		if p.IntegrationID, ok = c.str(); !ok || !c.lit(`,"botCode":`) {
			return false
		}
		if p.BotCode, ok = c.str(); !ok {
			return false
		}
	case ParticipantOccupant:
	default:
		return false
	}
	return c.lit(`}`)
}

// participants matches an array of participants into *ps (appending to its reused
// backing array).
func (c *canon) participants(ps *[]Participant) bool {
	if !c.lit(`[`) {
		return false
	}
	if c.lit(`]`) {
		return true
	}
	for {
		*ps = append(*ps, Participant{})
		if !c.participant(&(*ps)[len(*ps)-1]) {
			return false
		}
		if c.lit(`]`) {
			return true
		}
		if !c.lit(`,`) {
			return false
		}
	}
}

func (c *canon) content(ct *Content, contentType string) bool {
	var ok bool
	if !c.lit(`{"contentType":`) {
		return false
	}
	if ct.Type, ok = c.str(); !ok || ct.Type != contentType {
		return false
	}
	switch ct.Type {
	case ContentText:
		if !c.lit(`,"text":`) {
			return false
		}
		if ct.Text, ok = c.str(); !ok || !c.lit(`,"markdownText":`) {
			return false
		}
		if ct.MarkdownText, ok = c.str(); !ok || !c.lit(`,"attachments":`) {
			return false
		}
		if !c.attachments() {
			return false
		}
		ct.Attachments = c.atts
	case ContentEmoji:
		if !c.lit(`,"text":`) {
			return false
		}
		if ct.Text, ok = c.str(); !ok || !c.lit(`,"colons":`) {
			return false
		}
		if ct.Colons, ok = c.str(); !ok {
			return false
		}
		// AppendJSON writes a file URL only when it is not empty.
		if c.lit(`,"fileUrl":`) {
			if ct.FileURL, ok = c.str(); !ok || ct.FileURL == "" {
				return false
			}
		}
	case ContentItem:
		if !c.lit(`,"itemUrl":`) {
			return false
		}
		if ct.ItemURL, ok = c.str(); !ok || !c.lit(`,"itemType":`) {
			return false
		}
		if ct.ItemType, ok = c.str(); !ok {
			return false
		}
	case ContentTextSnippet:
		if !c.lit(`,"text":`) {
			return false
		}
		if ct.Text, ok = c.str(); !ok || !c.lit(`,"language":`) {
			return false
		}
		if ct.Language, ok = c.str(); !ok {
			return false
		}
	case ContentMembersChanged:
		if !c.lit(`,"added":`) || !c.participants(&c.added) || !c.lit(`,"removed":`) || !c.participants(&c.removed) {
			return false
		}
		ct.Added, ct.Removed = c.added, c.removed
	}
	return c.lit(`}`)
}

// attachments matches an array of attachments. Each is an object that Decode's reader
// checks (valid JSON, valid strings, nested within MaxDepth) and keeps without its
// insignificant whitespace, so an attachment is canonical when it has none.
func (c *canon) attachments() bool {
	if !c.lit(`[`) {
		return false
	}
	if c.lit(`]`) {
		return true
	}
	for {
		if c.pos >= len(c.b) || c.b[c.pos] != '{' {
			return false
		}
		// Inside the record, its content and this array, as in Decode.
		d := decoder{buf: c.b, pos: c.pos, depth: 3}
		if d.skip() != nil {
			return false
		}
		raw := c.b[c.pos:d.pos]
		if !compact(raw) {
			return false
		}
		c.atts = append(c.atts, RawJSON(alias(raw)))
		c.pos = d.pos
		if c.lit(`]`) {
			return true
		}
		if !c.lit(`,`) {
			return false
		}
	}
}

// compact reports whether raw, a JSON value that skip has checked, has no whitespace
// outside its strings.
func compact(raw []byte) bool {
	for i := 0; i < len(raw); i++ {
		switch raw[i] {
		case ' ', '\t', '\n', '\r':
			return false
		case '"':
			for i++; raw[i] != '"'; i++ {
				if raw[i] == '\\' {
					i++
				}
			}
		}
	}
	return true
}

// str matches a string as appendString writes it: valid UTF-8, with exactly the quote,
// the backslash and the control characters escaped, each by its shortest escape
// (\" \\ \b \f \n \r \t, else \u00xx in lower case).
func (c *canon) str() (string, bool) {
	b := c.b
	if c.pos >= len(b) || b[c.pos] != '"' {
		return "", false
	}
	start := c.pos + 1
	escaped := false
	var high uint64 // the OR of the bytes taken as they are, for their top bits
	i := start
	for {
		var h uint64
		i, h = skipPlain(b, i)
		high |= h
		if i >= len(b) {
			return "", false
		}
		ch := b[i]
		if ch == '"' {
			break
		}
		switch {
		case ch == '\\':
			n := canonicalEscape(b, i)
			if n == 0 {
				return "", false
			}
			escaped = true
			i += n
		case ch < 0x20:
			return "", false
		default:
			high |= uint64(ch)
			i++
		}
	}
	raw := b[start:i]
	// Escapes are ASCII, so checking the raw bytes checks the text between them.
	if high&(0x80*lsb) != 0 && !utf8.Valid(raw) {
		return "", false
	}
	c.pos = i + 1
	if !escaped {
		return alias(raw), true
	}
	n := c.arena.Len()
	for len(raw) > 0 {
		j := 0
		for j < len(raw) && raw[j] != '\\' {
			j++
		}
		c.arena.Write(raw[:j])
		if j == len(raw) {
			break
		}
		r, size := unescape(raw[j:])
		c.arena.WriteRune(r)
		raw = raw[j+size:]
	}
	return c.arena.stringFrom(n), true
}

// canonicalEscape returns the length of the escape sequence at b[i] (a backslash) when it
// is the one appendEscape writes for its character, 0 otherwise.
func canonicalEscape(b []byte, i int) int {
	if i+1 >= len(b) {
		return 0
	}
	switch b[i+1] {
	case '"', '\\', 'b', 'f', 'n', 'r', 't':
		return 2
	case 'u':
	default:
		return 0
	}
	if i+6 > len(b) || b[i+2] != '0' || b[i+3] != '0' || (b[i+4] != '0' && b[i+4] != '1') {
		return 0
	}
	lo := b[i+5]
	var v byte
	switch {
	case lo >= '0' && lo <= '9':
		v = lo - '0'
	case lo >= 'a' && lo <= 'f':
		v = lo - 'a' + 10
	default:
		return 0
	}
	v += (b[i+4] - '0') << 4
	switch v {
	case '\b', '\f', '\n', '\r', '\t':
		return 0 // these have a short escape
	}
	return 6
}

// num matches a non-negative integer as strconv.AppendInt writes it, within int64.
func (c *canon) num() (int64, bool) {
	b, i := c.b, c.pos
	if i < len(b) && b[i] == '0' {
		c.pos++
		return 0, true
	}
	var n int64
	j := i
	for j < len(b) && b[j] >= '0' && b[j] <= '9' {
		d := int64(b[j] - '0')
		if n > (math.MaxInt64-d)/10 {
			return 0, false
		}
		n = n*10 + d
		j++
	}
	if j == i {
		return 0, false
	}
	c.pos = j
	return n, true
}

// alias returns b's bytes as a string without copying them.
func alias(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
