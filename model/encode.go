package model

import (
	"strconv"
	"unicode/utf8"
)

// AppendJSON appends e's canonical JSON encoding to dst, without a trailing newline, and
// returns the extended slice.
//
// Canonical means: the fields of the export format in its fixed order, only the fields
// of each variant (fileUrl and threadTimestamp only when set), integers in decimal,
// strings escaped minimally (quote, backslash and control characters only; no HTML
// escaping, so text survives byte for byte), attachments as they were decoded. Two events
// are the same record exactly when their encodings are equal.
func AppendJSON(dst []byte, e *Event) []byte {
	dst = append(dst, `{"eventType":`...)
	dst = appendString(dst, e.EventType)
	dst = append(dst, `,"chatId":`...)
	dst = appendString(dst, e.ChatID)
	if e.ThreadTimestamp != 0 {
		dst = append(dst, `,"threadTimestamp":`...)
		dst = strconv.AppendInt(dst, e.ThreadTimestamp, 10)
	}
	dst = append(dst, `,"timestamp":`...)
	dst = strconv.AppendInt(dst, e.Timestamp, 10)
	dst = append(dst, `,"eventTimestamp":`...)
	dst = strconv.AppendInt(dst, e.EventTimestamp, 10)
	dst = append(dst, `,"messageId":`...)
	dst = appendString(dst, e.MessageID)
	dst = append(dst, `,"sender":`...)
	dst = appendParticipant(dst, &e.Sender)
	dst = append(dst, `,"contentType":`...)
	dst = appendString(dst, e.ContentType)
	if e.HasContent {
		dst = append(dst, `,"content":`...)
		dst = appendContent(dst, &e.Content)
	}
	return append(dst, '}')
}

func appendParticipant(dst []byte, p *Participant) []byte {
	dst = append(dst, `{"participantType":`...)
	dst = appendString(dst, p.Type)
	dst = append(dst, `,"id":`...)
	dst = appendString(dst, p.ID)
	dst = append(dst, `,"displayName":`...)
	dst = appendString(dst, p.DisplayName)
	switch p.Type {
	case ParticipantEmail:
		dst = append(dst, `,"email":`...)
		dst = appendString(dst, p.Email)
	case ParticipantBot:
		dst = append(dst, `,"roamId":`...)
		dst = appendString(dst, p.RoamID)
		dst = append(dst, `,"integrationId":`...)
		dst = appendString(dst, p.IntegrationID)
		dst = append(dst, `,"botCode":`...)
		dst = appendString(dst, p.BotCode)
	}
	return append(dst, '}')
}

func appendParticipants(dst []byte, ps []Participant) []byte {
	dst = append(dst, '[')
	for i := range ps {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendParticipant(dst, &ps[i])
	}
	return append(dst, ']')
}

func appendContent(dst []byte, c *Content) []byte {
	dst = append(dst, `{"contentType":`...)
	dst = appendString(dst, c.Type)
	switch c.Type {
	case ContentText:
		dst = append(dst, `,"text":`...)
		dst = appendString(dst, c.Text)
		dst = append(dst, `,"markdownText":`...)
		dst = appendString(dst, c.MarkdownText)
		dst = append(dst, `,"attachments":[`...)
		for i, a := range c.Attachments {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, a...)
		}
		dst = append(dst, ']')
	case ContentEmoji:
		dst = append(dst, `,"text":`...)
		dst = appendString(dst, c.Text)
		dst = append(dst, `,"colons":`...)
		dst = appendString(dst, c.Colons)
		if c.FileURL != "" {
			dst = append(dst, `,"fileUrl":`...)
			dst = appendString(dst, c.FileURL)
		}
	case ContentItem:
		dst = append(dst, `,"itemUrl":`...)
		dst = appendString(dst, c.ItemURL)
		dst = append(dst, `,"itemType":`...)
		dst = appendString(dst, c.ItemType)
	case ContentTextSnippet:
		dst = append(dst, `,"text":`...)
		dst = appendString(dst, c.Text)
		dst = append(dst, `,"language":`...)
		dst = appendString(dst, c.Language)
	case ContentMembersChanged:
		dst = append(dst, `,"added":`...)
		dst = appendParticipants(dst, c.Added)
		dst = append(dst, `,"removed":`...)
		dst = appendParticipants(dst, c.Removed)
	}
	return append(dst, '}')
}

const hexDigits = "0123456789abcdef"

// appendString writes s as a JSON string. Only '"', '\\' and control characters are
// escaped; invalid UTF-8 (which the decoder never produces) becomes U+FFFD so that the
// output is always valid JSON.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	open := len(dst)
	var high uint64 // the OR of the bytes copied as they are, for their top bits
	run := 0        // start of the bytes of s not yet copied
	for i := 0; ; {
		var h uint64
		i, h = skipPlain(s, i)
		high |= h
		if i >= len(s) {
			break
		}
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			high |= uint64(c)
			i++
			continue
		}
		dst = append(dst, s[run:i]...)
		dst = appendEscape(dst, c)
		i++
		run = i
	}
	if high&(0x80*lsb) != 0 && !utf8.ValidString(s) {
		return appendInvalidUTF8(dst[:open], s)
	}
	dst = append(dst, s[run:]...)
	return append(dst, '"')
}

// appendEscape writes the escape sequence of c, a quote, backslash or control character.
func appendEscape(dst []byte, c byte) []byte {
	switch c {
	case '"', '\\':
		return append(dst, '\\', c)
	case '\n':
		return append(dst, '\\', 'n')
	case '\r':
		return append(dst, '\\', 'r')
	case '\t':
		return append(dst, '\\', 't')
	case '\b':
		return append(dst, '\\', 'b')
	case '\f':
		return append(dst, '\\', 'f')
	}
	return append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
}

// appendInvalidUTF8 finishes appendString for a string that is not valid UTF-8, rune by
// rune, writing U+FFFD for each invalid byte.
func appendInvalidUTF8(dst []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b >= 0x20 && b != '"' && b != '\\' && b < utf8.RuneSelf {
			i++
			continue
		}
		if b >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, s[start:i]...)
				dst = append(dst, `\ufffd`...)
				i++
				start = i
				continue
			}
			i += size
			continue
		}
		dst = append(dst, s[start:i]...)
		dst = appendEscape(dst, b)
		i++
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// AppendString appends s as a canonical JSON string, escaped as AppendJSON escapes
// strings, for other records that want the same rules (the quarantine's, for one).
func AppendString(dst []byte, s string) []byte { return appendString(dst, s) }
