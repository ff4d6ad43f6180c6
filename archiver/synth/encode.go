package synth

import (
	"math/rand/v2"
	"strconv"
	"unicode/utf8"

	"github.com/chatvault/chatvault/model"
)

const hexDigits = "0123456789abcdef"

// appendStr writes s as a JSON string escaped like model.AppendJSON does (quote, backslash
// and control characters only). s is always valid UTF-8 here.
func appendStr(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		b := s[i]
		if b >= 0x20 && b != '"' && b != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch b {
		case '"', '\\':
			dst = append(dst, '\\', b)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xf])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// appendStrEscaped writes s as a JSON string with every escape a decoder must understand
// and a canonical encoder would not produce: \uXXXX for all non-ASCII (surrogate pairs
// above U+FFFF, upper- or lower-case hex), \/ for slashes, \u003c for HTML characters, and
// \u000A instead of \n.
func appendStrEscaped(dst []byte, s string, upper bool) []byte {
	hex := hexDigits
	if upper {
		hex = "0123456789ABCDEF"
	}
	u4 := func(dst []byte, r rune) []byte {
		return append(dst, '\\', 'u', hex[r>>12&0xf], hex[r>>8&0xf], hex[r>>4&0xf], hex[r&0xf])
	}
	dst = append(dst, '"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			dst = append(dst, '\\', byte(r))
		case r == '/':
			dst = append(dst, '\\', '/')
		case r < 0x20 || r == '<' || r == '>' || r == '&' || r == 0x7f:
			dst = u4(dst, r)
		case r < utf8.RuneSelf:
			dst = append(dst, byte(r))
		case r > 0xffff:
			r -= 0x10000
			dst = u4(dst, 0xd800+(r>>10))
			dst = u4(dst, 0xdc00+(r&0x3ff))
		default:
			dst = u4(dst, r)
		}
	}
	return append(dst, '"')
}

// appendParticipant writes p in the export's field order.
func appendParticipant(dst []byte, p *model.Participant) []byte {
	dst = append(dst, `{"participantType":`...)
	dst = appendStr(dst, p.Type)
	dst = append(dst, `,"id":`...)
	dst = appendStr(dst, p.ID)
	dst = append(dst, `,"displayName":`...)
	dst = appendStr(dst, p.DisplayName)
	switch p.Type {
	case model.ParticipantEmail:
		dst = append(dst, `,"email":`...)
		dst = appendStr(dst, p.Email)
	case model.ParticipantBot:
		dst = append(dst, `,"roamId":`...)
		dst = appendStr(dst, p.RoamID)
		dst = append(dst, `,"integrationId":`...)
		dst = appendStr(dst, p.IntegrationID)
		dst = append(dst, `,"botCode":`...)
		dst = appendStr(dst, p.BotCode)
	}
	return append(dst, '}')
}

// appendEnvelope writes an event's fields up to and including "contentType", leaving the
// object open, for the non-message events whose content the model does not describe.
func appendEnvelope(dst []byte, e *model.Event) []byte {
	dst = append(dst, `{"eventType":`...)
	dst = appendStr(dst, e.EventType)
	dst = append(dst, `,"chatId":`...)
	dst = appendStr(dst, e.ChatID)
	dst = append(dst, `,"timestamp":`...)
	dst = strconv.AppendInt(dst, e.Timestamp, 10)
	dst = append(dst, `,"eventTimestamp":`...)
	dst = strconv.AppendInt(dst, e.EventTimestamp, 10)
	dst = append(dst, `,"messageId":`...)
	dst = appendStr(dst, e.MessageID)
	dst = append(dst, `,"sender":`...)
	dst = appendParticipant(dst, &e.Sender)
	dst = append(dst, `,"contentType":`...)
	return appendStr(dst, e.ContentType)
}

// variantEncoder writes an event as the producer sometimes does: members in another order,
// unknown extra fields, insignificant whitespace, other string escapes, an explicit
// "threadTimestamp":0, "content":null on a delete without content, a CRLF line ending.
// A conforming decoder turns the result into the same model.Event as the canonical line.
type variantEncoder struct {
	rng     *rand.Rand
	scratch [][]byte
	ws      bool // insert whitespace in this line
	escape  bool // use appendStrEscaped for string values in this line
	upper   bool
}

func (v *variantEncoder) space(dst []byte) []byte {
	if !v.ws {
		return dst
	}
	switch v.rng.IntN(6) {
	case 0:
		return append(dst, ' ')
	case 1:
		return append(dst, ' ', ' ')
	case 2:
		return append(dst, '\t')
	case 3:
		return append(dst, ' ', '\t', ' ')
	}
	return dst
}

func (v *variantEncoder) str(dst []byte, s string) []byte {
	if v.escape {
		return appendStrEscaped(dst, s, v.upper)
	}
	return appendStr(dst, s)
}

// object writes the members, shuffled, as one JSON object.
func (v *variantEncoder) object(dst []byte, members [][]byte) []byte {
	v.rng.Shuffle(len(members), func(i, j int) { members[i], members[j] = members[j], members[i] })
	dst = append(dst, '{')
	dst = v.space(dst)
	for i, m := range members {
		if i > 0 {
			dst = append(dst, ',')
			dst = v.space(dst)
		}
		dst = append(dst, m...)
		dst = v.space(dst)
	}
	return append(dst, '}')
}

// member starts a member "key": in a fresh buffer taken from the pool.
func (v *variantEncoder) member(key string) []byte {
	var b []byte
	if n := len(v.scratch); n > 0 {
		b = v.scratch[n-1][:0]
		v.scratch = v.scratch[:n-1]
	}
	b = appendStr(b, key)
	b = v.space(b)
	b = append(b, ':')
	return v.space(b)
}

func (v *variantEncoder) release(ms [][]byte) {
	v.scratch = append(v.scratch, ms...)
}

func (v *variantEncoder) strMember(key, val string) []byte {
	return v.str(v.member(key), val)
}

func (v *variantEncoder) intMember(key string, val int64) []byte {
	return strconv.AppendInt(v.member(key), val, 10)
}

func (v *variantEncoder) participant(dst []byte, p *model.Participant, extra bool) []byte {
	ms := make([][]byte, 0, 8)
	ms = append(ms, v.strMember("participantType", p.Type), v.strMember("id", p.ID), v.strMember("displayName", p.DisplayName))
	switch p.Type {
	case model.ParticipantEmail:
		ms = append(ms, v.strMember("email", p.Email))
	case model.ParticipantBot:
		ms = append(ms, v.strMember("roamId", p.RoamID), v.strMember("integrationId", p.IntegrationID), v.strMember("botCode", p.BotCode))
	}
	if extra {
		ms = append(ms, v.strMember("avatarUrl", "https://cdn.chat.example/avatars/"+p.ID+".png"))
	}
	dst = v.object(dst, ms)
	v.release(ms)
	return dst
}

func (v *variantEncoder) participants(dst []byte, ps []model.Participant) []byte {
	dst = append(dst, '[')
	for i := range ps {
		if i > 0 {
			dst = append(dst, ',')
			dst = v.space(dst)
		}
		dst = v.participant(dst, &ps[i], false)
	}
	return append(dst, ']')
}

// spaceRaw copies a compact JSON value, adding whitespace after ':' and ',' outside strings.
func (v *variantEncoder) spaceRaw(dst []byte, raw model.RawJSON) []byte {
	in, esc := false, false
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		dst = append(dst, c)
		switch {
		case esc:
			esc = false
		case in && c == '\\':
			esc = true
		case c == '"':
			in = !in
		case !in && (c == ':' || c == ','):
			dst = v.space(dst)
		}
	}
	return dst
}

func (v *variantEncoder) content(dst []byte, c *model.Content) []byte {
	ms := make([][]byte, 0, 6)
	ms = append(ms, v.strMember("contentType", c.Type))
	switch c.Type {
	case model.ContentText:
		ms = append(ms, v.strMember("text", c.Text), v.strMember("markdownText", c.MarkdownText))
		a := append(v.member("attachments"), '[')
		for i, raw := range c.Attachments {
			if i > 0 {
				a = append(a, ',')
			}
			a = v.spaceRaw(a, raw)
		}
		ms = append(ms, append(a, ']'))
	case model.ContentEmoji:
		ms = append(ms, v.strMember("text", c.Text), v.strMember("colons", c.Colons))
		if c.FileURL != "" {
			ms = append(ms, v.strMember("fileUrl", c.FileURL))
		}
	case model.ContentItem:
		ms = append(ms, v.strMember("itemUrl", c.ItemURL), v.strMember("itemType", c.ItemType))
	case model.ContentTextSnippet:
		ms = append(ms, v.strMember("text", c.Text), v.strMember("language", c.Language))
	case model.ContentMembersChanged:
		ms = append(ms, v.participants(v.member("added"), c.Added), v.participants(v.member("removed"), c.Removed))
	}
	dst = v.object(dst, ms)
	v.release(ms)
	return dst
}

var clientInfos = []string{
	`{"platform":"ios","version":"5.12.1","build":48210,"locale":"is-IS"}`,
	`{"platform":"web","userAgent":"Mozilla\/5.0 (X11; Linux x86_64)","tz":"Europe\/Zürich"}`,
	`{"platform":"android","version":"5.11.0","flags":["a","b"],"battery":0.5}`,
	`{"platform":"desktop","os":"macOS 15.1","beta":true,"build":null}`,
}

// encode appends e's variant encoding to dst.
func (v *variantEncoder) encode(dst []byte, e *model.Event) []byte {
	r := v.rng.Uint64()
	v.ws = r&1 != 0
	v.escape = r&6 == 0 // one line in four
	v.upper = r&8 != 0
	extra := r&0x30 != 0
	ms := make([][]byte, 0, 12)
	ms = append(ms,
		v.strMember("eventType", e.EventType),
		v.strMember("chatId", e.ChatID),
		v.intMember("timestamp", e.Timestamp),
		v.intMember("eventTimestamp", e.EventTimestamp),
		v.strMember("messageId", e.MessageID),
		v.participant(v.member("sender"), &e.Sender, r&0x40 != 0),
		v.strMember("contentType", e.ContentType),
	)
	if e.ThreadTimestamp != 0 || r&0x80 != 0 {
		ms = append(ms, v.intMember("threadTimestamp", e.ThreadTimestamp))
	}
	switch {
	case e.HasContent:
		ms = append(ms, v.content(v.member("content"), &e.Content))
	case r&0x100 != 0:
		ms = append(ms, append(v.member("content"), "null"...))
	}
	if extra {
		ms = append(ms, append(v.member("clientInfo"), clientInfos[r>>9&3]...))
		if r&0x800 != 0 {
			ms = append(ms, strconv.AppendUint(v.member("schemaVersion"), 2+r>>12&1, 10))
		}
		if r&0x2000 != 0 {
			t := v.member("traceId")
			t = append(t, '"')
			t = strconv.AppendUint(t, r>>16, 16)
			ms = append(ms, append(t, '"'))
		}
	}
	dst = v.object(dst, ms)
	v.release(ms)
	if r&0xc0000 == 0 {
		dst = append(dst, '\r') // CRLF line ending
	}
	return dst
}
