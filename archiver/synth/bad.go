package synth

import (
	"bytes"
	"strconv"

	"github.com/chatvault/chatvault/model"
)

// Kinds of deliberately bad lines, each something the archiver must quarantine rather than
// guess at. The n-th bad line of a generation is of kind n mod numBadKinds, so any Bad of
// at least numBadKinds produces every kind.
const (
	badInvalidJSON = iota
	badTruncated
	badUnknownEventType
	badUnknownContentType
	badMissingMessageID
	badStringTimestamp
	badFloatTimestamp
	badUnknownParticipantType
	badInvalidUTF8
	badNullContent
	numBadKinds
)

// BadKinds names the kinds of bad lines, in the order they are injected; Stats.BadByKind
// uses these names.
var BadKinds = [numBadKinds]string{
	"invalid-json",             // a missing or trailing comma, an unquoted key, single quotes
	"truncated",                // the line stops part way
	"unknown-event-type",       // "eventType":"reacted"
	"unknown-content-type",     // "contentType":"poll"
	"missing-message-id",       // no "messageId"
	"string-timestamp",         // "timestamp":"1763769600123"
	"float-timestamp",          // "timestamp" or "eventTimestamp" with a fraction: 1763769600123.5
	"unknown-participant-type", // "participantType":"guest" and the like
	"invalid-utf8",             // raw bytes that are not UTF-8 inside a string
	"null-content",             // "content":null on a sent event
}

var (
	unknownParticipantTypes = []string{"guest", "system", "anonymous", "Email"}
	invalidUTF8             = []string{"\xff", "\xc3\x28", "\xe2\x82", "\xed\xa0\x80", "\xf8\x88\x80\x80\x80", "\x80"}
)

// bad returns a bad line committed at t: a plausible text message, broken one way.
func (g *fileGen) bad(t int64) []byte {
	kind := g.badNext % numBadKinds
	g.badNext++
	g.badLeft--
	g.st.bad++
	g.st.badKinds[kind]++

	r := g.r
	g.sent(g.pickChat(), t, cText, false)
	e := &g.ev
	switch kind {
	case badUnknownEventType:
		e.EventType = "reacted"
	case badUnknownParticipantType:
		e.Sender.Type = unknownParticipantTypes[r.IntN(len(unknownParticipantTypes))]
	case badUnknownContentType:
		e.ContentType = "poll"
		b := appendEnvelope(g.line[:0], e)
		b = append(b, `,"content":{"contentType":"poll","question":"Lunch? 🍕","options":["🍕","🥗","🍣"],"multiple":false}}`...)
		g.line = b
		return b
	case badNullContent:
		e.HasContent = false
		b := model.AppendJSON(g.line[:0], e)
		b = append(b[:len(b)-1], `,"content":null}`...)
		g.line = b
		return b
	}
	b := model.AppendJSON(g.line[:0], e)
	out := g.line2[:0]
	switch kind {
	case badInvalidJSON:
		switch r.IntN(4) {
		case 0:
			out = replaceOnce(out, b, `,"timestamp":`, ` "timestamp":`)
		case 1:
			out = append(append(out, b[:len(b)-1]...), ",}"...)
		case 2:
			out = replaceOnce(out, b, `"chatId":`, `chatId:`)
		default:
			out = replaceOnce(out, b, `{"eventType":"sent"`, `{'eventType':'sent'`)
		}
	case badTruncated:
		// Cut before a character (never inside one) and not right after a closing brace.
		p := len(b)/4 + r.IntN(len(b)/2)
		for p > 1 && (b[p]&0xc0 == 0x80 || b[p-1] == '}') {
			p--
		}
		out = append(out, b[:p]...)
	case badMissingMessageID:
		key := `,"messageId":"`
		i := bytes.Index(b, []byte(key))
		out = append(append(out, b[:i]...), b[i+len(key)+len(e.MessageID)+1:]...)
	case badStringTimestamp:
		key := `,"timestamp":`
		i := bytes.Index(b, []byte(key)) + len(key)
		j := i + bytes.IndexByte(b[i:], ',')
		out = append(out, b[:i]...)
		out = append(out, '"')
		out = append(out, b[i:j]...)
		out = append(out, '"')
		out = append(out, b[j:]...)
	case badFloatTimestamp:
		key := `,"timestamp":`
		if r.IntN(2) == 0 {
			key = `,"eventTimestamp":`
		}
		i := bytes.Index(b, []byte(key)) + len(key)
		j := i + bytes.IndexByte(b[i:], ',')
		out = append(append(append(out, b[:j]...), ".5"...), b[j:]...)
	case badInvalidUTF8:
		key := `,"text":"`
		i := bytes.Index(b, []byte(key)) + len(key)
		out = append(append(append(out, b[:i]...), invalidUTF8[r.IntN(len(invalidUTF8))]...), b[i:]...)
	default: // unknown event or participant type: the canonical encoding says it all
		g.line = b
		return b
	}
	g.line, g.line2 = b, out
	return out
}

func replaceOnce(dst, b []byte, old, repl string) []byte {
	i := bytes.Index(b, []byte(old))
	return append(append(append(dst, b[:i]...), repl...), b[i+len(old):]...)
}

func appendInt(dst []byte, n int64) []byte { return strconv.AppendInt(dst, n, 10) }
