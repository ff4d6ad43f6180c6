package model

import (
	"errors"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// Kinds of decode failure. A *DecodeError wraps exactly one of them, so callers can count
// quarantined records by kind with errors.Is.
var (
	ErrSyntax         = errors.New("invalid JSON")
	ErrMissingField   = errors.New("missing required field")
	ErrWrongType      = errors.New("wrong type")
	ErrNotInteger     = errors.New("not an integer")
	ErrUnknownVariant = errors.New("unknown variant")
	ErrDuplicateField = errors.New("duplicate field")
	ErrInvalidValue   = errors.New("invalid value")
)

// MaxDepth bounds the nesting of attachment objects. Deeper input is refused rather than
// risking the stack on hostile data.
const MaxDepth = 64

// DecodeError says what is wrong with a record and where.
type DecodeError struct {
	// Field is the dotted path of the offending field (content.attachments[2]), or empty
	// for the record as a whole.
	Field string
	// Kind is one of the Err* sentinels.
	Kind error
	// Detail adds what was found.
	Detail string
}

func (e *DecodeError) Error() string {
	msg := e.Kind.Error()
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	if e.Field == "" {
		return msg
	}
	return "field " + e.Field + ": " + msg
}

func (e *DecodeError) Unwrap() error { return e.Kind }

// Reason is a short, stable code for the failure kind, used to count quarantined records.
func (e *DecodeError) Reason() string {
	switch e.Kind {
	case ErrSyntax:
		return "invalid_json"
	case ErrMissingField:
		return "missing_field"
	case ErrWrongType:
		return "wrong_type"
	case ErrNotInteger:
		return "not_integer"
	case ErrUnknownVariant:
		return "unknown_variant"
	case ErrDuplicateField:
		return "duplicate_field"
	}
	return "invalid_value"
}

// Decode parses one event-log line strictly.
//
// It refuses what it cannot represent faithfully: invalid JSON or UTF-8, lone surrogate
// escapes, duplicate fields, a missing required field, a value of the wrong type, a
// timestamp that is not a non-negative integer within int64, an unknown event type or
// participant type. Fields the export format does not define are skipped (after checking
// they are valid JSON): the platform may add some, and they are not part of the record.
//
// When the only problem is that contentType is not one of the five message variants, the
// returned error wraps ErrUnknownVariant with Field "contentType" and the returned Event
// still holds the envelope (everything but Content), so that a caller can exclude waves
// and room invitations by rule, per organization, instead of quarantining them.
func Decode(line []byte) (Event, error) {
	d := decoder{buf: line}
	var e Event
	err := d.event(&e)
	return e, err
}

type decoder struct {
	buf []byte
	pos int
	// path and key locate the value being decoded, for errors. They are kept apart and
	// joined only when an error is built, because joining them for every field would
	// allocate on the hot path.
	path string
	key  []byte
	// keyStart and keyEnd delimit the raw (still escaped) key object passed to its callback.
	keyStart, keyEnd int
}

func (d *decoder) field() string {
	if d.key == nil {
		return d.path
	}
	return join(d.path, string(d.key))
}

func (d *decoder) fail(kind error, detail string) error {
	return &DecodeError{Field: d.field(), Kind: kind, Detail: detail}
}

func (d *decoder) failAt(field string, kind error, detail string) error {
	return &DecodeError{Field: field, Kind: kind, Detail: detail}
}

func (d *decoder) ws() {
	for d.pos < len(d.buf) {
		switch d.buf[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

func (d *decoder) syntax(what string) error {
	if d.pos >= len(d.buf) {
		return d.fail(ErrSyntax, "unexpected end of line, want "+what)
	}
	return d.fail(ErrSyntax, fmt.Sprintf("unexpected %q at offset %d, want %s", d.buf[d.pos], d.pos, what))
}

// peek returns the next significant byte, or 0 at the end.
func (d *decoder) peek() byte {
	d.ws()
	if d.pos >= len(d.buf) {
		return 0
	}
	return d.buf[d.pos]
}

// kindOf names the JSON type starting at the next byte, for wrong-type errors.
func kindOf(b byte) string {
	switch {
	case b == '{':
		return "object"
	case b == '[':
		return "array"
	case b == '"':
		return "string"
	case b == 't' || b == 'f':
		return "boolean"
	case b == 'n':
		return "null"
	case b == '-' || (b >= '0' && b <= '9'):
		return "number"
	}
	return "invalid JSON"
}

// object iterates over the members of an object, calling fn with each key (unescaped;
// valid only during the call) positioned at the value. fn must consume the value.
func (d *decoder) object(fn func(key []byte) error) error {
	if d.peek() != '{' {
		return d.syntax("'{'")
	}
	d.pos++
	if d.peek() == '}' {
		d.pos++
		return nil
	}
	for {
		if d.peek() != '"' {
			return d.syntax("a field name")
		}
		d.keyStart = d.pos
		key, err := d.rawBytes()
		if err != nil {
			return err
		}
		d.keyEnd = d.pos
		if d.peek() != ':' {
			return d.syntax("':'")
		}
		d.pos++
		d.ws()
		if err := fn(key); err != nil {
			return err
		}
		switch d.peek() {
		case ',':
			d.pos++
		case '}':
			d.pos++
			return nil
		default:
			return d.syntax("',' or '}'")
		}
	}
}

// array iterates over the elements of an array; fn must consume each element.
func (d *decoder) array(fn func(i int) error) error {
	if d.peek() != '[' {
		return d.syntax("'['")
	}
	d.pos++
	if d.peek() == ']' {
		d.pos++
		return nil
	}
	for i := 0; ; i++ {
		d.ws()
		if err := fn(i); err != nil {
			return err
		}
		switch d.peek() {
		case ',':
			d.pos++
		case ']':
			d.pos++
			return nil
		default:
			return d.syntax("',' or ']'")
		}
	}
}

// str decodes a string value of the current field.
func (d *decoder) str() (string, error) {
	if b := d.peek(); b != '"' {
		return "", d.fail(ErrWrongType, "want string, found "+kindOf(b))
	}
	return d.rawString()
}

// isNull consumes a null literal if one is next.
func (d *decoder) isNull() (bool, error) {
	if d.peek() != 'n' {
		return false, nil
	}
	if len(d.buf)-d.pos < 4 || string(d.buf[d.pos:d.pos+4]) != "null" {
		return false, d.syntax("null")
	}
	d.pos += 4
	return true, nil
}

// rawString decodes the string starting at d.pos (which is '"').
func (d *decoder) rawString() (string, error) {
	b, err := d.rawBytes()
	return string(b), err
}

// rawBytes decodes the string starting at d.pos (which is '"'). The result aliases the
// input when the string has no escapes.
func (d *decoder) rawBytes() ([]byte, error) {
	d.pos++
	start := d.pos
	// Fast path: no escapes, ASCII or valid UTF-8.
	ascii := true
	for d.pos < len(d.buf) {
		b := d.buf[d.pos]
		switch {
		case b == '"':
			s := d.buf[start:d.pos]
			d.pos++
			if !ascii && !utf8.Valid(s) {
				return nil, d.fail(ErrSyntax, "invalid UTF-8 in string")
			}
			return s, nil
		case b == '\\':
			return d.slowString(start)
		case b < 0x20:
			return nil, d.fail(ErrSyntax, "control character in string")
		case b >= utf8.RuneSelf:
			ascii = false
		}
		d.pos++
	}
	return nil, d.fail(ErrSyntax, "unterminated string")
}

func (d *decoder) slowString(start int) ([]byte, error) {
	out := make([]byte, 0, d.pos-start+16)
	out = append(out, d.buf[start:d.pos]...)
	if !utf8.Valid(out) {
		return nil, d.fail(ErrSyntax, "invalid UTF-8 in string")
	}
	for d.pos < len(d.buf) {
		b := d.buf[d.pos]
		switch {
		case b == '"':
			d.pos++
			return out, nil
		case b < 0x20:
			return nil, d.fail(ErrSyntax, "control character in string")
		case b == '\\':
			if d.pos+1 >= len(d.buf) {
				return nil, d.fail(ErrSyntax, "unterminated string")
			}
			c := d.buf[d.pos+1]
			d.pos += 2
			switch c {
			case '"', '\\', '/':
				out = append(out, c)
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				r, err := d.hex4()
				if err != nil {
					return nil, err
				}
				if utf16.IsSurrogate(r) {
					// A high surrogate must be followed by an escaped low one; a lone
					// surrogate has no UTF-8 form, so we refuse rather than replace it.
					if r >= 0xDC00 || d.pos+1 >= len(d.buf) || d.buf[d.pos] != '\\' || d.buf[d.pos+1] != 'u' {
						return nil, d.fail(ErrSyntax, "lone surrogate escape in string")
					}
					d.pos += 2
					r2, err := d.hex4()
					if err != nil {
						return nil, err
					}
					r = utf16.DecodeRune(r, r2)
					if r == utf8.RuneError {
						return nil, d.fail(ErrSyntax, "lone surrogate escape in string")
					}
				}
				out = utf8.AppendRune(out, r)
			default:
				return nil, d.fail(ErrSyntax, fmt.Sprintf("invalid escape \\%c in string", c))
			}
		case b < utf8.RuneSelf:
			out = append(out, b)
			d.pos++
		default:
			r, size := utf8.DecodeRune(d.buf[d.pos:])
			if r == utf8.RuneError && size <= 1 {
				return nil, d.fail(ErrSyntax, "invalid UTF-8 in string")
			}
			out = append(out, d.buf[d.pos:d.pos+size]...)
			d.pos += size
		}
	}
	return nil, d.fail(ErrSyntax, "unterminated string")
}

func (d *decoder) hex4() (rune, error) {
	if d.pos+4 > len(d.buf) {
		return 0, d.fail(ErrSyntax, "short \\u escape")
	}
	var r rune
	for _, c := range d.buf[d.pos : d.pos+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, d.fail(ErrSyntax, "invalid \\u escape")
		}
	}
	d.pos += 4
	return r, nil
}

// timestamp decodes a non-negative integer that fits in int64. Floats, exponents,
// strings and anything beyond int64 are refused: a timestamp that had to be rounded is
// not the timestamp the platform recorded.
func (d *decoder) timestamp() (int64, error) {
	b := d.peek()
	if b != '-' && (b < '0' || b > '9') {
		return 0, d.fail(ErrWrongType, "want integer, found "+kindOf(b))
	}
	start := d.pos
	end := d.numberEnd()
	if end < 0 {
		return 0, d.syntax("a number")
	}
	lit := d.buf[start:end]
	d.pos = end
	for _, c := range lit {
		if c == '.' || c == 'e' || c == 'E' {
			return 0, d.fail(ErrNotInteger, fmt.Sprintf("%s has a fraction or exponent", lit))
		}
	}
	if lit[0] == '-' {
		return 0, d.fail(ErrInvalidValue, fmt.Sprintf("%s is negative", lit))
	}
	n, err := strconv.ParseInt(string(lit), 10, 64)
	if err != nil {
		return 0, d.fail(ErrNotInteger, fmt.Sprintf("%s does not fit in 64 bits", lit))
	}
	return n, nil
}

// numberEnd validates the JSON number at d.pos and returns the offset after it, or -1.
func (d *decoder) numberEnd() int {
	i := d.pos
	n := len(d.buf)
	if i < n && d.buf[i] == '-' {
		i++
	}
	switch {
	case i < n && d.buf[i] == '0':
		i++
	case i < n && d.buf[i] >= '1' && d.buf[i] <= '9':
		for i < n && d.buf[i] >= '0' && d.buf[i] <= '9' {
			i++
		}
	default:
		return -1
	}
	if i < n && d.buf[i] == '.' {
		i++
		if i >= n || d.buf[i] < '0' || d.buf[i] > '9' {
			return -1
		}
		for i < n && d.buf[i] >= '0' && d.buf[i] <= '9' {
			i++
		}
	}
	if i < n && (d.buf[i] == 'e' || d.buf[i] == 'E') {
		i++
		if i < n && (d.buf[i] == '+' || d.buf[i] == '-') {
			i++
		}
		if i >= n || d.buf[i] < '0' || d.buf[i] > '9' {
			return -1
		}
		for i < n && d.buf[i] >= '0' && d.buf[i] <= '9' {
			i++
		}
	}
	return i
}

// skip consumes any JSON value, checking that it is well formed.
func (d *decoder) skip(depth int) error {
	return d.compact(nil, depth)
}

// compact consumes any JSON value and, when out is non-nil, appends it to *out with
// insignificant whitespace removed and everything else (string escapes, number
// spellings, key order) exactly as it was.
func (d *decoder) compact(out *[]byte, depth int) error {
	if depth > MaxDepth {
		return d.fail(ErrInvalidValue, fmt.Sprintf("nested deeper than %d levels", MaxDepth))
	}
	b := d.peek()
	start := d.pos
	switch {
	case b == '{':
		if out != nil {
			*out = append(*out, '{')
		}
		first := true
		err := d.object(func([]byte) error {
			if out != nil {
				if !first {
					*out = append(*out, ',')
				}
				first = false
				*out = append(*out, d.buf[d.keyStart:d.keyEnd]...)
				*out = append(*out, ':')
			}
			return d.compact(out, depth+1)
		})
		if err != nil {
			return err
		}
		if out != nil {
			*out = append(*out, '}')
		}
		return nil
	case b == '[':
		if out != nil {
			*out = append(*out, '[')
		}
		err := d.array(func(i int) error {
			if out != nil && i > 0 {
				*out = append(*out, ',')
			}
			return d.compact(out, depth+1)
		})
		if err != nil {
			return err
		}
		if out != nil {
			*out = append(*out, ']')
		}
		return nil
	case b == '"':
		if _, err := d.rawString(); err != nil {
			return err
		}
	case b == 't' || b == 'f' || b == 'n':
		lit := "null"
		if b == 't' {
			lit = "true"
		} else if b == 'f' {
			lit = "false"
		}
		if len(d.buf)-d.pos < len(lit) || string(d.buf[d.pos:d.pos+len(lit)]) != lit {
			return d.syntax("a literal")
		}
		d.pos += len(lit)
	case b == '-' || (b >= '0' && b <= '9'):
		end := d.numberEnd()
		if end < 0 {
			return d.syntax("a number")
		}
		d.pos = end
	default:
		return d.syntax("a value")
	}
	if out != nil {
		*out = append(*out, d.buf[start:d.pos]...)
	}
	return nil
}

// seen tracks which fields of an object were present, to refuse duplicates.
type seen uint32

func (d *decoder) mark(s *seen, bit uint32) error {
	if *s&seen(bit) != 0 {
		return d.fail(ErrDuplicateField, "")
	}
	*s |= seen(bit)
	return nil
}

const (
	fEventType = 1 << iota
	fChatID
	fThreadTimestamp
	fTimestamp
	fEventTimestamp
	fMessageID
	fSender
	fContentType
	fContent
)

func join(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

func (d *decoder) event(e *Event) error {
	var s seen
	contentStart, contentEnd := -1, -1
	err := d.object(func(key []byte) error {
		d.path, d.key = "", key
		var err error
		switch string(key) {
		case "eventType":
			if err = d.mark(&s, fEventType); err == nil {
				e.EventType, err = d.str()
			}
		case "chatId":
			if err = d.mark(&s, fChatID); err == nil {
				e.ChatID, err = d.str()
			}
		case "threadTimestamp":
			if err = d.mark(&s, fThreadTimestamp); err == nil {
				var null bool
				if null, err = d.isNull(); err == nil && !null {
					e.ThreadTimestamp, err = d.timestamp()
				}
			}
		case "timestamp":
			if err = d.mark(&s, fTimestamp); err == nil {
				e.Timestamp, err = d.timestamp()
			}
		case "eventTimestamp":
			if err = d.mark(&s, fEventTimestamp); err == nil {
				e.EventTimestamp, err = d.timestamp()
			}
		case "messageId":
			if err = d.mark(&s, fMessageID); err == nil {
				e.MessageID, err = d.str()
			}
		case "sender":
			if err = d.mark(&s, fSender); err == nil {
				err = d.participant(&e.Sender, "sender")
			}
		case "contentType":
			if err = d.mark(&s, fContentType); err == nil {
				e.ContentType, err = d.str()
			}
		case "content":
			if err = d.mark(&s, fContent); err == nil {
				// Decoded once contentType is known, which may come later in the line.
				var null bool
				if null, err = d.isNull(); err == nil && !null {
					if b := d.peek(); b != '{' {
						return d.fail(ErrWrongType, "want object, found "+kindOf(b))
					}
					contentStart = d.pos
					err = d.skip(1)
					contentEnd = d.pos
				}
			}
		default:
			err = d.skip(1)
		}
		return err
	})
	if err != nil {
		return err
	}
	d.key = nil
	if d.peek() != 0 {
		return d.syntax("end of line after the record")
	}
	for _, r := range [...]struct {
		bit  uint32
		name string
	}{
		{fEventType, "eventType"}, {fChatID, "chatId"}, {fTimestamp, "timestamp"},
		{fEventTimestamp, "eventTimestamp"}, {fMessageID, "messageId"}, {fSender, "sender"},
		{fContentType, "contentType"},
	} {
		if s&seen(r.bit) == 0 {
			return d.failAt(r.name, ErrMissingField, "")
		}
	}
	switch e.EventType {
	case EventSent, EventEdited, EventDeleted:
	default:
		return d.failAt("eventType", ErrUnknownVariant, strconv.Quote(e.EventType))
	}
	if e.ChatID == "" {
		return d.failAt("chatId", ErrInvalidValue, "empty")
	}
	if e.MessageID == "" {
		return d.failAt("messageId", ErrInvalidValue, "empty")
	}
	if !IsMessageContentType(e.ContentType) {
		return d.failAt("contentType", ErrUnknownVariant, strconv.Quote(e.ContentType))
	}
	if contentStart < 0 {
		if e.EventType == EventDeleted {
			return nil
		}
		return d.failAt("content", ErrMissingField, "")
	}
	e.HasContent = true
	sub := decoder{buf: d.buf[:contentEnd], pos: contentStart}
	if err := sub.content(&e.Content, "content"); err != nil {
		return err
	}
	if e.Content.Type != e.ContentType {
		return d.failAt("content.contentType", ErrInvalidValue,
			fmt.Sprintf("%q differs from the record's contentType %q", e.Content.Type, e.ContentType))
	}
	return nil
}

const (
	pType = 1 << iota
	pID
	pDisplayName
	pEmail
	pRoamID
	pIntegrationID
	pBotCode
)

func (d *decoder) participant(p *Participant, path string) error {
	if b := d.peek(); b != '{' {
		return d.failAt(path, ErrWrongType, "want object, found "+kindOf(b))
	}
	var s seen
	err := d.object(func(key []byte) error {
		d.path, d.key = path, key
		var err error
		switch string(key) {
		case "participantType":
			if err = d.mark(&s, pType); err == nil {
				p.Type, err = d.str()
			}
		case "id":
			if err = d.mark(&s, pID); err == nil {
				p.ID, err = d.str()
			}
		case "displayName":
			if err = d.mark(&s, pDisplayName); err == nil {
				p.DisplayName, err = d.str()
			}
		case "email":
			if err = d.mark(&s, pEmail); err == nil {
				p.Email, err = d.str()
			}
		case "roamId":
			if err = d.mark(&s, pRoamID); err == nil {
				p.RoamID, err = d.str()
			}
		case "integrationId":
			if err = d.mark(&s, pIntegrationID); err == nil {
				p.IntegrationID, err = d.str()
			}
		case "botCode":
			if err = d.mark(&s, pBotCode); err == nil {
				p.BotCode, err = d.str()
			}
		default:
			err = d.skip(2)
		}
		return err
	})
	if err != nil {
		return err
	}
	required := uint32(pType | pID | pDisplayName)
	switch p.Type {
	case ParticipantEmail:
		required |= pEmail
		p.RoamID, p.IntegrationID, p.BotCode = "", "", ""
	case ParticipantBot:
		required |= pRoamID | pIntegrationID | pBotCode
		p.Email = ""
	case ParticipantOccupant:
		p.Email, p.RoamID, p.IntegrationID, p.BotCode = "", "", "", ""
	default:
		if s&pType == 0 {
			return d.failAt(join(path, "participantType"), ErrMissingField, "")
		}
		return d.failAt(join(path, "participantType"), ErrUnknownVariant, strconv.Quote(p.Type))
	}
	for _, r := range [...]struct {
		bit  uint32
		name string
	}{
		{pID, "id"}, {pDisplayName, "displayName"}, {pEmail, "email"},
		{pRoamID, "roamId"}, {pIntegrationID, "integrationId"}, {pBotCode, "botCode"},
	} {
		if required&r.bit != 0 && s&seen(r.bit) == 0 {
			return d.failAt(join(path, r.name), ErrMissingField, "")
		}
	}
	if p.ID == "" {
		return d.failAt(join(path, "id"), ErrInvalidValue, "empty")
	}
	return nil
}

func (d *decoder) participants(path string) ([]Participant, error) {
	if b := d.peek(); b != '[' {
		return nil, d.failAt(path, ErrWrongType, "want array, found "+kindOf(b))
	}
	ps := []Participant{}
	err := d.array(func(i int) error {
		var p Participant
		if err := d.participant(&p, path+"["+strconv.Itoa(i)+"]"); err != nil {
			return err
		}
		ps = append(ps, p)
		return nil
	})
	return ps, err
}

const (
	cType = 1 << iota
	cText
	cMarkdownText
	cAttachments
	cColons
	cFileURL
	cItemURL
	cItemType
	cLanguage
	cAdded
	cRemoved
)

func (d *decoder) content(c *Content, path string) error {
	var s seen
	err := d.object(func(key []byte) error {
		d.path, d.key = path, key
		var err error
		switch string(key) {
		case "contentType":
			if err = d.mark(&s, cType); err == nil {
				c.Type, err = d.str()
			}
		case "text":
			if err = d.mark(&s, cText); err == nil {
				c.Text, err = d.str()
			}
		case "markdownText":
			if err = d.mark(&s, cMarkdownText); err == nil {
				c.MarkdownText, err = d.str()
			}
		case "attachments":
			if err = d.mark(&s, cAttachments); err == nil {
				c.Attachments, err = d.attachments(d.field())
			}
		case "colons":
			if err = d.mark(&s, cColons); err == nil {
				c.Colons, err = d.str()
			}
		case "fileUrl":
			if err = d.mark(&s, cFileURL); err == nil {
				var null bool
				if null, err = d.isNull(); err == nil && !null {
					c.FileURL, err = d.str()
				}
			}
		case "itemUrl":
			if err = d.mark(&s, cItemURL); err == nil {
				c.ItemURL, err = d.str()
			}
		case "itemType":
			if err = d.mark(&s, cItemType); err == nil {
				c.ItemType, err = d.str()
			}
		case "language":
			if err = d.mark(&s, cLanguage); err == nil {
				c.Language, err = d.str()
			}
		case "added":
			if err = d.mark(&s, cAdded); err == nil {
				c.Added, err = d.participants(d.field())
			}
		case "removed":
			if err = d.mark(&s, cRemoved); err == nil {
				c.Removed, err = d.participants(d.field())
			}
		default:
			err = d.skip(2)
		}
		return err
	})
	if err != nil {
		return err
	}
	var required uint32
	switch c.Type {
	case ContentText:
		required = cText | cMarkdownText | cAttachments
	case ContentEmoji:
		required = cText | cColons
	case ContentItem:
		required = cItemURL | cItemType
	case ContentTextSnippet:
		required = cText | cLanguage
	case ContentMembersChanged:
		required = cAdded | cRemoved
	default:
		if s&cType == 0 {
			return d.failAt(join(path, "contentType"), ErrMissingField, "")
		}
		return d.failAt(join(path, "contentType"), ErrUnknownVariant, strconv.Quote(c.Type))
	}
	for _, r := range [...]struct {
		bit  uint32
		name string
	}{
		{cText, "text"}, {cMarkdownText, "markdownText"}, {cAttachments, "attachments"},
		{cColons, "colons"}, {cItemURL, "itemUrl"}, {cItemType, "itemType"},
		{cLanguage, "language"}, {cAdded, "added"}, {cRemoved, "removed"},
	} {
		if required&r.bit != 0 && s&seen(r.bit) == 0 {
			return d.failAt(join(path, r.name), ErrMissingField, "")
		}
	}
	// Fields of other variants are dropped, like unknown fields, so that the decoded
	// value encodes to exactly its variant.
	keep := Content{Type: c.Type}
	switch c.Type {
	case ContentText:
		keep.Text, keep.MarkdownText, keep.Attachments = c.Text, c.MarkdownText, c.Attachments
		if keep.Attachments == nil {
			keep.Attachments = []RawJSON{}
		}
	case ContentEmoji:
		keep.Text, keep.Colons, keep.FileURL = c.Text, c.Colons, c.FileURL
	case ContentItem:
		keep.ItemURL, keep.ItemType = c.ItemURL, c.ItemType
	case ContentTextSnippet:
		keep.Text, keep.Language = c.Text, c.Language
	case ContentMembersChanged:
		keep.Added, keep.Removed = c.Added, c.Removed
	}
	*c = keep
	return nil
}

func (d *decoder) attachments(path string) ([]RawJSON, error) {
	if b := d.peek(); b != '[' {
		return nil, d.fail(ErrWrongType, "want array, found "+kindOf(b))
	}
	out := []RawJSON{}
	var buf []byte
	err := d.array(func(i int) error {
		d.path, d.key = path+"["+strconv.Itoa(i)+"]", nil
		if b := d.peek(); b != '{' {
			return d.fail(ErrWrongType, "want object, found "+kindOf(b))
		}
		buf = buf[:0]
		if err := d.compact(&buf, 3); err != nil {
			return err
		}
		out = append(out, RawJSON(buf))
		return nil
	})
	return out, err
}
