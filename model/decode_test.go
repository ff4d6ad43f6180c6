package model

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

// base is a valid text event; the tables below derive their inputs from it with edit,
// so that each case shows only what it changes.
const base = `{"eventType":"sent","chatId":"c1","timestamp":1763769601456,"eventTimestamp":1763769601501,"messageId":"m1",` +
	`"sender":{"participantType":"email","id":"u1","displayName":"Ada","email":"ada@acme.example"},` +
	`"contentType":"text","content":{"contentType":"text","text":"hi","markdownText":"hi","attachments":[]}}`

const (
	baseSender  = `"sender":{"participantType":"email","id":"u1","displayName":"Ada","email":"ada@acme.example"}`
	baseContent = `"contentType":"text","content":{"contentType":"text","text":"hi","markdownText":"hi","attachments":[]}`
	botSender   = `"sender":{"participantType":"bot","id":"b1","displayName":"Bot","roamId":"r1","integrationId":"i1","botCode":"c"}`
	guestSender = `"sender":{"participantType":"occupant","id":"g1","displayName":"Guest"}`
	// A membersChanged content whose members are one of each participant variant.
	members = `"contentType":"membersChanged","content":{"contentType":"membersChanged",` +
		`"added":[{"participantType":"email","id":"u2","displayName":"Grace","email":"grace@acme.example"},` +
		`{"participantType":"bot","id":"b1","displayName":"Bot","roamId":"r1","integrationId":"i1","botCode":"c"}],` +
		`"removed":[{"participantType":"occupant","id":"g1","displayName":"Guest"}]}`
)

// edit applies old→new replacements to base, each of which must match exactly once, so
// that a table case cannot silently stop testing what it says when base changes.
func edit(pairs ...string) string {
	s := base
	for i := 0; i < len(pairs); i += 2 {
		if n := strings.Count(s, pairs[i]); n != 1 {
			panic(fmt.Sprintf("edit: %q occurs %d times in %s", pairs[i], n, s))
		}
		s = strings.Replace(s, pairs[i], pairs[i+1], 1)
	}
	return s
}

// withContent replaces the base's content (and contentType) with c.
func withContent(c string) string { return edit(baseContent, c) }

// nested returns an object holding n levels of objects ({"a":{"a":…1…}}).
func nested(n int) string {
	return strings.Repeat(`{"a":`, n) + "1" + strings.Repeat("}", n)
}

// decodeErrorTest is a line Decode must refuse, with the kind and field it must report.
type decodeErrorTest struct {
	name  string
	line  string
	kind  error
	field string
}

// decodeErrorTests is the error table; FuzzDecode starts from its lines too.
func decodeErrorTests() []decodeErrorTest {
	return []decodeErrorTest{
		// Not JSON at all: always ErrSyntax with no field (the offset is in Detail).
		{"empty line", "", ErrSyntax, ""},
		{"blank line", " \t\r\n", ErrSyntax, ""},
		{"truncated", base[:len(base)/2], ErrSyntax, ""},
		{"truncated inside a string", `{"eventType":"se`, ErrSyntax, ""},
		{"truncated after a comma", `{"eventType":"sent",`, ErrSyntax, ""},
		{"missing final brace", base[:len(base)-1], ErrSyntax, ""},
		{"trailing garbage", base + "x", ErrSyntax, ""},
		{"trailing second object", base + base, ErrSyntax, ""},
		{"trailing NUL", base + "\x00", ErrSyntax, ""},
		{"trailing comma in object", edit(`"attachments":[]}}`, `"attachments":[],}}`), ErrSyntax, ""},
		{"trailing comma in array", edit(`"attachments":[]`, `"attachments":[{},]`), ErrSyntax, ""},
		{"missing comma", edit(`"c1",`, `"c1" `), ErrSyntax, ""},
		{"missing colon", edit(`"chatId":`, `"chatId" `), ErrSyntax, ""},
		{"unquoted key", edit(`"chatId":`, `chatId:`), ErrSyntax, ""},
		{"single quotes", edit(`"c1"`, `'c1'`), ErrSyntax, ""},
		{"missing value", edit(`"c1"`, ``), ErrSyntax, ""},
		{"bad literal", edit(`"sent",`, `"sent","extra":tru,`), ErrSyntax, ""},
		{"bad null", edit(`"sent",`, `"sent","threadTimestamp":nul,`), ErrSyntax, ""},
		{"leading zero", edit(`1763769601456`, `01763769601456`), ErrSyntax, ""},
		{"plus sign", edit(`1763769601456`, `+1763769601456`), ErrSyntax, ""},
		{"bare minus", edit(`1763769601456`, `-`), ErrSyntax, ""},
		{"dot without digits", edit(`"sent",`, `"sent","extra":1.,`), ErrSyntax, ""},
		{"exponent without digits", edit(`"sent",`, `"sent","extra":1e+,`), ErrSyntax, ""},
		{"hex number", edit(`"sent",`, `"sent","extra":0x10,`), ErrSyntax, ""},
		{"NaN", edit(`"sent",`, `"sent","extra":NaN,`), ErrSyntax, ""},
		{"invalid UTF-8", edit(`"text":"hi"`, "\"text\":\"h\xffi\""), ErrSyntax, ""},
		{"truncated UTF-8", edit(`"text":"hi"`, "\"text\":\"h\xe4\xbd\""), ErrSyntax, ""},
		{"overlong UTF-8", edit(`"text":"hi"`, "\"text\":\"\xc0\xaf\""), ErrSyntax, ""},
		{"UTF-8 encoded surrogate", edit(`"text":"hi"`, "\"text\":\"\xed\xa0\x80\""), ErrSyntax, ""},
		{"invalid UTF-8 after an escape", edit(`"text":"hi"`, "\"text\":\"\\n\xff\""), ErrSyntax, ""},
		{"invalid UTF-8 in a key", edit(`"sent",`, "\"sent\",\"\xff\":1,"), ErrSyntax, ""},
		{"invalid UTF-8 in an unknown field", edit(`"sent",`, "\"sent\",\"x\":[\"\xff\"],"), ErrSyntax, ""},
		{"invalid UTF-8 in an attachment", edit(`"attachments":[]`, "\"attachments\":[{\"a\":\"\xff\"}]"), ErrSyntax, ""},
		{"invalid UTF-8 outside strings", edit(`"c1",`, "\"c1\",\xc3\xa9"), ErrSyntax, ""},
		{"lone high surrogate", edit(`"text":"hi"`, `"text":"\ud83d"`), ErrSyntax, ""},
		{"lone low surrogate", edit(`"text":"hi"`, `"text":"\ude00"`), ErrSyntax, ""},
		{"high surrogate then text", edit(`"text":"hi"`, `"text":"\ud83dxx"`), ErrSyntax, ""},
		{"high surrogate then non-surrogate", edit(`"text":"hi"`, `"text":"\ud83d\u0041"`), ErrSyntax, ""},
		{"high surrogate then high surrogate", edit(`"text":"hi"`, `"text":"\ud83d\ud83d"`), ErrSyntax, ""},
		{"high surrogate then other escape", edit(`"text":"hi"`, `"text":"\ud83d\n"`), ErrSyntax, ""},
		{"lone surrogate in a key", edit(`"sent",`, `"sent","\udfff":1,`), ErrSyntax, ""},
		{"lone surrogate in an attachment", edit(`"attachments":[]`, `"attachments":[{"a":"\ud800"}]`), ErrSyntax, ""},
		{"invalid escape", edit(`"text":"hi"`, `"text":"\x41"`), ErrSyntax, ""},
		{"invalid escape quote", edit(`"text":"hi"`, `"text":"\'"`), ErrSyntax, ""},
		{"short unicode escape", edit(`"text":"hi"`, `"text":"\u12"`), ErrSyntax, ""},
		{"non-hex unicode escape", edit(`"text":"hi"`, `"text":"\u12G4"`), ErrSyntax, ""},
		{"upper-case U escape", edit(`"text":"hi"`, `"text":"\U0041"`), ErrSyntax, ""},
		{"backslash at the end", `{"eventType":"\`, ErrSyntax, ""},
		{"raw tab in a string", edit(`"text":"hi"`, "\"text\":\"h\ti\""), ErrSyntax, ""},
		{"raw newline in a string", edit(`"text":"hi"`, "\"text\":\"h\ni\""), ErrSyntax, ""},
		{"raw NUL in a string", edit(`"text":"hi"`, "\"text\":\"h\x00i\""), ErrSyntax, ""},
		{"raw unit separator in a key", edit(`"sent",`, "\"sent\",\"a\x1f\":1,"), ErrSyntax, ""},
		// A line that is not JSON counts as such even when something else is wrong first.
		{"wrong type then syntax", edit(`"c1"`, `1`, `"attachments":[]`, `"attachments":[}`), ErrSyntax, ""},
		{"unknown eventType then truncated", edit(`"sent"`, `"reacted"`)[:len(base)-10], ErrSyntax, ""},
		{"wrong type with invalid value", edit(`"c1"`, `tru`), ErrSyntax, ""},
		{"missing field then deep and truncated", `{"sender":{},"x":` + strings.Repeat(`{"":`, MaxDepth+1), ErrSyntax, ""},
		{"missing field then deep and invalid", `{"sender":{},"x":` + strings.Repeat(`[`, MaxDepth+1) + `}` + strings.Repeat(`]`, MaxDepth+1) + `}`, ErrSyntax, ""},
		{"deep and truncated", `{"x":` + strings.Repeat(`[`, MaxDepth+1), ErrSyntax, ""},

		// Not a record.
		{"array", `[1,2]`, ErrWrongType, ""},
		{"string", `"sent"`, ErrWrongType, ""},
		{"null", `null`, ErrWrongType, ""},
		{"empty object", `{}`, ErrMissingField, "eventType"},

		// Missing fields: the first one in the format's order is reported.
		{"missing eventType", edit(`"eventType":"sent",`, ``), ErrMissingField, "eventType"},
		{"missing chatId", edit(`"chatId":"c1",`, ``), ErrMissingField, "chatId"},
		{"missing timestamp", edit(`"timestamp":1763769601456,`, ``), ErrMissingField, "timestamp"},
		{"missing eventTimestamp", edit(`"eventTimestamp":1763769601501,`, ``), ErrMissingField, "eventTimestamp"},
		{"missing messageId", edit(`"messageId":"m1",`, ``), ErrMissingField, "messageId"},
		{"missing sender", edit(baseSender+",", ``), ErrMissingField, "sender"},
		{"missing contentType", edit(`"contentType":"text","content"`, `"content"`), ErrMissingField, "contentType"},
		{"missing content on sent", edit(`,"content":{"contentType":"text","text":"hi","markdownText":"hi","attachments":[]}`, ``), ErrMissingField, "content"},
		{"missing content on edited", edit(`"sent"`, `"edited"`, `,"content":{"contentType":"text","text":"hi","markdownText":"hi","attachments":[]}`, ``), ErrMissingField, "content"},
		{"null content on sent", edit(`"content":{"contentType":"text","text":"hi","markdownText":"hi","attachments":[]}`, `"content":null`), ErrMissingField, "content"},
		{"missing content.contentType", edit(`{"contentType":"text","text"`, `{"text"`), ErrMissingField, "content.contentType"},
		{"missing text.text", edit(`"text":"hi",`, ``), ErrMissingField, "content.text"},
		{"missing text.markdownText", edit(`"markdownText":"hi",`, ``), ErrMissingField, "content.markdownText"},
		{"missing text.attachments", edit(`,"attachments":[]`, ``), ErrMissingField, "content.attachments"},
		{"missing emoji.text", withContent(`"contentType":"emoji","content":{"contentType":"emoji","colons":":+1:"}`), ErrMissingField, "content.text"},
		{"missing emoji.colons", withContent(`"contentType":"emoji","content":{"contentType":"emoji","text":"👍","fileUrl":"https://e.example/1.gif"}`), ErrMissingField, "content.colons"},
		{"missing item.itemUrl", withContent(`"contentType":"item","content":{"contentType":"item","itemType":"doc"}`), ErrMissingField, "content.itemUrl"},
		{"missing item.itemType", withContent(`"contentType":"item","content":{"contentType":"item","itemUrl":"https://d.example/1"}`), ErrMissingField, "content.itemType"},
		{"missing textSnippet.text", withContent(`"contentType":"textSnippet","content":{"contentType":"textSnippet","language":"go"}`), ErrMissingField, "content.text"},
		{"missing textSnippet.language", withContent(`"contentType":"textSnippet","content":{"contentType":"textSnippet","text":"x := 1"}`), ErrMissingField, "content.language"},
		{"missing membersChanged.added", withContent(`"contentType":"membersChanged","content":{"contentType":"membersChanged","removed":[]}`), ErrMissingField, "content.added"},
		{"missing membersChanged.removed", withContent(`"contentType":"membersChanged","content":{"contentType":"membersChanged","added":[]}`), ErrMissingField, "content.removed"},
		{"missing sender.participantType", edit(`"participantType":"email",`, ``), ErrMissingField, "sender.participantType"},
		{"missing sender.id", edit(`"id":"u1",`, ``), ErrMissingField, "sender.id"},
		{"missing sender.displayName", edit(`"displayName":"Ada",`, ``), ErrMissingField, "sender.displayName"},
		{"missing email.email", edit(`,"email":"ada@acme.example"`, ``), ErrMissingField, "sender.email"},
		{"missing bot.roamId", edit(baseSender, strings.Replace(botSender, `"roamId":"r1",`, ``, 1)), ErrMissingField, "sender.roamId"},
		{"missing bot.integrationId", edit(baseSender, strings.Replace(botSender, `"integrationId":"i1",`, ``, 1)), ErrMissingField, "sender.integrationId"},
		{"missing bot.botCode", edit(baseSender, strings.Replace(botSender, `,"botCode":"c"`, ``, 1)), ErrMissingField, "sender.botCode"},
		{"missing occupant.id", edit(baseSender, strings.Replace(guestSender, `"id":"g1",`, ``, 1)), ErrMissingField, "sender.id"},
		{"missing occupant.displayName", edit(baseSender, strings.Replace(guestSender, `,"displayName":"Guest"`, ``, 1)), ErrMissingField, "sender.displayName"},
		{"missing added[0].email", withContent(strings.Replace(members, `,"email":"grace@acme.example"`, ``, 1)), ErrMissingField, "content.added[0].email"},
		{"missing added[1].botCode", withContent(strings.Replace(members, `,"botCode":"c"`, ``, 1)), ErrMissingField, "content.added[1].botCode"},
		{"missing removed[0].id", withContent(strings.Replace(members, `"id":"g1",`, ``, 1)), ErrMissingField, "content.removed[0].id"},

		// Wrong types.
		{"eventType as number", edit(`"sent"`, `1`), ErrWrongType, "eventType"},
		{"chatId as number", edit(`"c1"`, `42`), ErrWrongType, "chatId"},
		{"messageId as null", edit(`"m1"`, `null`), ErrWrongType, "messageId"},
		{"timestamp as string", edit(`1763769601456`, `"1763769601456"`), ErrWrongType, "timestamp"},
		{"eventTimestamp as boolean", edit(`1763769601501`, `true`), ErrWrongType, "eventTimestamp"},
		{"threadTimestamp as string", edit(`"timestamp"`, `"threadTimestamp":"1","timestamp"`), ErrWrongType, "threadTimestamp"},
		{"timestamp as object", edit(`1763769601456`, `{"ms":1763769601456}`), ErrWrongType, "timestamp"},
		{"eventTimestamp as a leap-second string", edit(`1763769601501`, `"2016-12-31T23:59:60Z"`), ErrWrongType, "eventTimestamp"},
		{"timestamp as an RFC 3339 string", edit(`1763769601456`, `"2026-11-22T00:00:00.000Z"`), ErrWrongType, "timestamp"},
		{"sender as array", edit(baseSender, `"sender":[{"participantType":"email","id":"u1"}]`), ErrWrongType, "sender"},
		{"sender as string", edit(baseSender, `"sender":"u1"`), ErrWrongType, "sender"},
		{"sender.participantType as number", edit(`"participantType":"email"`, `"participantType":1`), ErrWrongType, "sender.participantType"},
		{"sender.email as array", edit(`"email":"ada@acme.example"`, `"email":["ada@acme.example"]`), ErrWrongType, "sender.email"},
		{"contentType as number", edit(`"contentType":"text","content"`, `"contentType":1,"content"`), ErrWrongType, "contentType"},
		{"content as string", edit(`"content":{"contentType":"text","text":"hi","markdownText":"hi","attachments":[]}`, `"content":"hi"`), ErrWrongType, "content"},
		{"content as array", edit(`"content":{"contentType":"text","text":"hi","markdownText":"hi","attachments":[]}`, `"content":[]`), ErrWrongType, "content"},
		{"content.text as number", edit(`"text":"hi"`, `"text":7`), ErrWrongType, "content.text"},
		{"attachments as object", edit(`"attachments":[]`, `"attachments":{}`), ErrWrongType, "content.attachments"},
		{"attachments as null", edit(`"attachments":[]`, `"attachments":null`), ErrWrongType, "content.attachments"},
		{"attachment as string", edit(`"attachments":[]`, `"attachments":[{"a":1},"file.pdf"]`), ErrWrongType, "content.attachments[1]"},
		{"attachment as null", edit(`"attachments":[]`, `"attachments":[null]`), ErrWrongType, "content.attachments[0]"},
		{"attachment as array", edit(`"attachments":[]`, `"attachments":[{},{},[{}]]`), ErrWrongType, "content.attachments[2]"},
		{"fileUrl as number", withContent(`"contentType":"emoji","content":{"contentType":"emoji","text":"x","colons":":x:","fileUrl":1}`), ErrWrongType, "content.fileUrl"},
		{"added as object", withContent(`"contentType":"membersChanged","content":{"contentType":"membersChanged","added":{},"removed":[]}`), ErrWrongType, "content.added"},
		{"added member as string", withContent(`"contentType":"membersChanged","content":{"contentType":"membersChanged","added":["u2"],"removed":[]}`), ErrWrongType, "content.added[0]"},
		{"removed member id as number", withContent(strings.Replace(members, `"id":"g1"`, `"id":1`, 1)), ErrWrongType, "content.removed[0].id"},

		// Timestamps must be non-negative integers within int64, spelled as such.
		{"timestamp with fraction", edit(`1763769601456`, `1763769601456.0`), ErrNotInteger, "timestamp"},
		{"timestamp with exponent", edit(`1763769601456`, `1.763769601456e12`), ErrNotInteger, "timestamp"},
		{"timestamp with E0", edit(`1763769601456`, `1763769601456E0`), ErrNotInteger, "timestamp"},
		{"timestamp beyond int64", edit(`1763769601456`, `9223372036854775808`), ErrNotInteger, "timestamp"},
		{"timestamp far beyond int64", edit(`1763769601456`, `123456789012345678901234567890`), ErrNotInteger, "timestamp"},
		{"eventTimestamp with fraction", edit(`1763769601501`, `1763769601501.5`), ErrNotInteger, "eventTimestamp"},
		{"threadTimestamp with exponent", edit(`"timestamp"`, `"threadTimestamp":1e3,"timestamp"`), ErrNotInteger, "threadTimestamp"},
		{"negative timestamp", edit(`1763769601456`, `-1`), ErrInvalidValue, "timestamp"},
		{"negative zero timestamp", edit(`1763769601456`, `-0`), ErrInvalidValue, "timestamp"},
		{"negative timestamp beyond int64", edit(`1763769601456`, `-9223372036854775809`), ErrInvalidValue, "timestamp"},
		{"negative threadTimestamp", edit(`"timestamp"`, `"threadTimestamp":-5,"timestamp"`), ErrInvalidValue, "threadTimestamp"},

		// Values the format cannot hold.
		{"empty chatId", edit(`"c1"`, `""`), ErrInvalidValue, "chatId"},
		{"empty messageId", edit(`"m1"`, `""`), ErrInvalidValue, "messageId"},
		{"empty sender.id", edit(`"u1"`, `""`), ErrInvalidValue, "sender.id"},
		{"empty added[0].id", withContent(strings.Replace(members, `"id":"u2"`, `"id":""`, 1)), ErrInvalidValue, "content.added[0].id"},
		{"content.contentType differs", edit(`{"contentType":"text"`, `{"contentType":"emoji"`), ErrInvalidValue, "content.contentType"},
		{"attachment nested too deep", edit(`"attachments":[]`, `"attachments":[`+nested(MaxDepth-2)+`]`), ErrInvalidValue, "content.attachments[0]"},
		{"arrays nested too deep", edit(`"attachments":[]`, `"attachments":[{"a":`+strings.Repeat("[", MaxDepth)+strings.Repeat("]", MaxDepth)+`}]`), ErrInvalidValue, "content.attachments[0]"},
		{"unknown field nested too deep", edit(`"sent",`, `"sent","extra":`+strings.Repeat("[", MaxDepth)+strings.Repeat("]", MaxDepth)+`,`), ErrInvalidValue, "extra"},
		{"sender field nested too deep", edit(`"id":"u1"`, `"id":"u1","extra":`+strings.Repeat("[", MaxDepth-1)+strings.Repeat("]", MaxDepth-1)), ErrInvalidValue, "sender.extra"},
		{"hostile nesting", `{"x":` + strings.Repeat("[", 1<<20) + strings.Repeat("]", 1<<20) + `}`, ErrInvalidValue, "x"},
		{"hostile nesting, truncated", `{"x":` + strings.Repeat("[", 1<<20), ErrSyntax, ""},

		// Unknown variants.
		{"unknown eventType", edit(`"sent"`, `"reacted"`), ErrUnknownVariant, "eventType"},
		{"eventType in the wrong case", edit(`"sent"`, `"Sent"`), ErrUnknownVariant, "eventType"},
		{"empty eventType", edit(`"sent"`, `""`), ErrUnknownVariant, "eventType"},
		{"unknown contentType", edit(`"contentType":"text","content"`, `"contentType":"wave","content"`), ErrUnknownVariant, "contentType"},
		{"unknown contentType without content", edit(`"contentType":"text","content":{"contentType":"text","text":"hi","markdownText":"hi","attachments":[]}`, `"contentType":"wave"`), ErrUnknownVariant, "contentType"},
		{"unknown contentType with foreign content", withContent(`"contentType":"roomInvitation","content":{"contentType":"roomInvitation","room":{"id":"r1"},"attachments":"none"}`), ErrUnknownVariant, "contentType"},
		{"unknown contentType after content", edit(`"contentType":"text","content":{"contentType":"text","text":"hi","markdownText":"hi","attachments":[]}`, `"content":{"contentType":"wave","to":"u2"},"contentType":"wave"`), ErrUnknownVariant, "contentType"},
		{"unknown content.contentType", edit(`{"contentType":"text"`, `{"contentType":"wave"`), ErrInvalidValue, "content.contentType"},
		{"unknown content.contentType before the record's", edit(`"contentType":"text","content":{"contentType":"text","text":"hi","markdownText":"hi","attachments":[]}`, `"content":{"contentType":"wave"},"contentType":"text"`), ErrInvalidValue, "content.contentType"},
		{"unknown participantType", edit(`"participantType":"email"`, `"participantType":"service"`), ErrUnknownVariant, "sender.participantType"},
		{"unknown member participantType", withContent(strings.Replace(members, `"participantType":"bot"`, `"participantType":"robot"`, 1)), ErrUnknownVariant, "content.added[1].participantType"},

		// Duplicate fields.
		{"duplicate chatId", edit(`"chatId":"c1",`, `"chatId":"c1","chatId":"c2",`), ErrDuplicateField, "chatId"},
		{"duplicate identical eventType", edit(`"eventType":"sent",`, `"eventType":"sent","eventType":"sent",`), ErrDuplicateField, "eventType"},
		{"duplicate threadTimestamp after null", edit(`"timestamp"`, `"threadTimestamp":null,"threadTimestamp":1,"timestamp"`), ErrDuplicateField, "threadTimestamp"},
		{"duplicate spelled with an escape", edit(`"chatId":"c1",`, `"chatId":"c1","chat\u0049d":"c2",`), ErrDuplicateField, "chatId"},
		{"duplicate content", edit(`"attachments":[]}}`, `"attachments":[]},"content":null}`), ErrDuplicateField, "content"},
		{"duplicate sender.id", edit(`"id":"u1",`, `"id":"u1","id":"u9",`), ErrDuplicateField, "sender.id"},
		{"duplicate content.text", edit(`"text":"hi",`, `"text":"hi","text":"ho",`), ErrDuplicateField, "content.text"},
		{"duplicate content.contentType", edit(`{"contentType":"text",`, `{"contentType":"text","contentType":"text",`), ErrDuplicateField, "content.contentType"},
		{"duplicate member field", withContent(strings.Replace(members, `"id":"u2",`, `"id":"u2","id":"u2",`, 1)), ErrDuplicateField, "content.added[0].id"},

		// Which error wins: the envelope is checked before the content.
		{"content error and missing messageId", edit(`"messageId":"m1",`, ``, `"text":"hi"`, `"text":1`), ErrMissingField, "messageId"},
		{"content error and unknown eventType", edit(`"sent"`, `"reacted"`, `"text":"hi"`, `"text":1`), ErrUnknownVariant, "eventType"},
		{"content error and unknown contentType after content", edit(`"contentType":"text","content":{"contentType":"text","text":"hi","markdownText":"hi","attachments":[]}`, `"content":{"contentType":"text","text":1},"contentType":"wave"`), ErrUnknownVariant, "contentType"},
		{"content error before contentType", edit(`"contentType":"text","content":{"contentType":"text","text":"hi","markdownText":"hi","attachments":[]}`, `"content":{"contentType":"text","text":1},"contentType":"text"`), ErrWrongType, "content.text"},
		{"content error before a syntax error", edit(`"text":"hi"`, `"text":1`, `"attachments":[]`, `"attachments":[,]`), ErrSyntax, ""},
		{"deep content before contentType", edit(`"contentType":"text","content":{"contentType":"text","text":"hi","markdownText":"hi","attachments":[]}`, `"content":{"contentType":"text","text":"","markdownText":"","attachments":[`+nested(MaxDepth-2)+`]},"contentType":"text"`), ErrInvalidValue, "content.attachments[0]"},
	}
}

func TestDecodeErrors(t *testing.T) {
	// The record, content, attachments array and attachment are 4 levels already.
	deepOK := withContent(`"contentType":"text","content":{"contentType":"text","text":"","markdownText":"","attachments":[` + nested(MaxDepth-3) + `]}`)
	if _, err := Decode([]byte(deepOK)); err != nil {
		t.Errorf("nesting of exactly MaxDepth: %v", err)
	}
	for _, tt := range decodeErrorTests() {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode([]byte(tt.line))
			if err == nil {
				t.Fatalf("Decode(%.200q) succeeded, want %v at %q", tt.line, tt.kind, tt.field)
			}
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error %v (%T) is not a *DecodeError", err, err)
			}
			if !errors.Is(err, tt.kind) || de.Field != tt.field {
				t.Errorf("Decode(%.200q)\n got: %v (kind %q, field %q)\nwant: kind %q, field %q", tt.line, err, de.Kind, de.Field, tt.kind, tt.field)
			}
			checkErrorShape(t, de)
		})
	}
}

// checkErrorShape checks what every DecodeError promises: one of the kinds, a message
// that names the field, a reason code.
func checkErrorShape(t *testing.T, de *DecodeError) {
	t.Helper()
	known := false
	for _, k := range []error{ErrSyntax, ErrMissingField, ErrWrongType, ErrNotInteger, ErrUnknownVariant, ErrDuplicateField, ErrInvalidValue} {
		if de.Kind == k {
			known = true
		}
	}
	if !known {
		t.Errorf("Kind %v is not one of the sentinels", de.Kind)
	}
	if de.Kind == ErrSyntax && (de.Field != "" || !strings.Contains(de.Detail, "offset")) {
		t.Errorf("syntax error %q: want no field and an offset", de.Error())
	}
	if de.Field != "" && !strings.Contains(de.Error(), "field "+de.Field+": ") {
		t.Errorf("message %q does not name field %q", de.Error(), de.Field)
	}
	if de.Reason() == "" || strings.ContainsAny(de.Reason(), " .:") {
		t.Errorf("Reason() = %q, want a short code", de.Reason())
	}
}

func TestDecodeUnknownContentTypeKeepsEnvelope(t *testing.T) {
	for _, line := range []string{
		edit(`"contentType":"text","content":{"contentType":"text","text":"hi","markdownText":"hi","attachments":[]}`, `"contentType":"wave","content":{"contentType":"wave","to":{"id":"u2"}}`),
		edit(`"contentType":"text","content":{"contentType":"text","text":"hi","markdownText":"hi","attachments":[]}`, `"content":{"contentType":"wave","text":1},"contentType":"wave"`),
		edit(`"contentType":"text","content":{"contentType":"text","text":"hi","markdownText":"hi","attachments":[]}`, `"contentType":"wave"`),
		edit(`"contentType":"text","content":{"contentType":"text","text":"hi","markdownText":"hi","attachments":[]}`, `"content":{"contentType":"text","text":"hi","markdownText":"hi","attachments":[]},"contentType":"wave"`),
	} {
		e, err := Decode([]byte(line))
		var de *DecodeError
		if !errors.As(err, &de) || de.Kind != ErrUnknownVariant || de.Field != "contentType" {
			t.Fatalf("Decode(%q) = %v, want unknown variant at contentType", line, err)
		}
		want := Event{
			EventType: EventSent, ChatID: "c1", Timestamp: 1763769601456, EventTimestamp: 1763769601501, MessageID: "m1",
			Sender:      Participant{Type: ParticipantEmail, ID: "u1", DisplayName: "Ada", Email: "ada@acme.example"},
			ContentType: "wave",
		}
		if !e.Equal(want) {
			t.Errorf("Decode(%q) envelope = %+v, want %+v", line, e, want)
		}
	}
}

func TestDecodeAccepts(t *testing.T) {
	ada := Participant{Type: ParticipantEmail, ID: "u1", DisplayName: "Ada", Email: "ada@acme.example"}
	hi := Content{Type: ContentText, Text: "hi", MarkdownText: "hi", Attachments: []RawJSON{}}
	envelope := func(f func(*Event)) Event {
		e := Event{EventType: EventSent, ChatID: "c1", Timestamp: 1763769601456, EventTimestamp: 1763769601501, MessageID: "m1",
			Sender: ada, ContentType: ContentText, HasContent: true, Content: hi}
		if f != nil {
			f(&e)
		}
		return e
	}
	tests := []struct {
		name string
		line string
		want Event
	}{
		{"base", base, envelope(nil)},
		{"trailing newline", base + "\n", envelope(nil)},
		{"trailing CRLF", base + "\r\n", envelope(nil)},
		{"surrounding whitespace", " \t" + base + " \t ", envelope(nil)},
		{"whitespace everywhere", strings.NewReplacer(`,`, " ,\n", `:`, "\t:\r", `{`, "{ ", `}`, " }").Replace(base), envelope(nil)},
		{"deleted without content", edit(`,"content":{"contentType":"text","text":"hi","markdownText":"hi","attachments":[]}`, ``, `"sent"`, `"deleted"`),
			envelope(func(e *Event) { e.EventType, e.HasContent, e.Content = EventDeleted, false, Content{} })},
		{"deleted with null content", edit(`"content":{"contentType":"text","text":"hi","markdownText":"hi","attachments":[]}`, `"content":null`, `"sent"`, `"deleted"`),
			envelope(func(e *Event) { e.EventType, e.HasContent, e.Content = EventDeleted, false, Content{} })},
		{"deleted with content", edit(`"sent"`, `"deleted"`), envelope(func(e *Event) { e.EventType = EventDeleted })},
		{"edited", edit(`"sent"`, `"edited"`), envelope(func(e *Event) { e.EventType = EventEdited })},
		{"threadTimestamp 0", edit(`"timestamp"`, `"threadTimestamp":0,"timestamp"`), envelope(nil)},
		{"threadTimestamp null", edit(`"timestamp"`, `"threadTimestamp":null,"timestamp"`), envelope(nil)},
		{"threadTimestamp", edit(`"timestamp"`, `"threadTimestamp":1763769500000,"timestamp"`), envelope(func(e *Event) { e.ThreadTimestamp = 1763769500000 })},
		{"timestamps at the edges", edit(`1763769601456`, `0`, `1763769601501`, `9223372036854775807`), envelope(func(e *Event) { e.Timestamp, e.EventTimestamp = 0, 1<<63-1 })},
		{"unknown fields everywhere", edit(
			`"eventType":"sent",`, `"eventType":"sent","platform":{"v":[1,2.5e-3,"x",null,true,false,{}]},"dup":1,"dup":2,`,
			`"email":"ada@acme.example"`, `"email":"ada@acme.example","avatar":{"url":"https://img.example/a.png"}`,
			`"markdownText":"hi",`, `"markdownText":"hi","reactions":[{"emoji":"👍","count":3}],`),
			envelope(nil)},
		{"fields of another variant dropped", edit(
			`"email":"ada@acme.example"`, `"email":"ada@acme.example","roamId":"r1","integrationId":"i1","botCode":"c"`,
			`"markdownText":"hi",`, `"markdownText":"hi","colons":":x:","fileUrl":"f","itemUrl":"u","itemType":"t","language":"go","added":[],"removed":[]`+`,`),
			envelope(nil)},
		{"bot fields of an occupant dropped", edit(baseSender, `"sender":{"participantType":"occupant","id":"g1","displayName":"Guest","email":"e","roamId":"r"}`),
			envelope(func(e *Event) { e.Sender = Participant{Type: ParticipantOccupant, ID: "g1", DisplayName: "Guest"} })},
		{"email of a bot dropped", edit(baseSender, strings.Replace(botSender, `"botCode":"c"`, `"botCode":"c","email":"bot@acme.example"`, 1)),
			envelope(func(e *Event) {
				e.Sender = Participant{Type: ParticipantBot, ID: "b1", DisplayName: "Bot", RoamID: "r1", IntegrationID: "i1", BotCode: "c"}
			})},
		{"empty strings where allowed", edit(`"displayName":"Ada"`, `"displayName":""`, `"text":"hi"`, `"text":""`),
			envelope(func(e *Event) { e.Sender.DisplayName, e.Content.Text = "", "" })},
		{"escaped keys", edit(`"chatId"`, `"\u0063hat\u0049d"`, `"text":"hi"`, `"t\u0065xt":"hi"`), envelope(nil)},
		{"escapes in values", edit(`"text":"hi"`, `"text":"\"h\\i\/\u00e9\ud83d\ude00\b\f\n\r\t"`),
			envelope(func(e *Event) { e.Content.Text = "\"h\\i/é😀\b\f\n\r\t" })},
		{"content before contentType", edit(`"contentType":"text","content":{"contentType":"text","text":"hi","markdownText":"hi","attachments":[]}`, `"content":{"contentType":"text","text":"hi","markdownText":"hi","attachments":[]},"contentType":"text"`), envelope(nil)},
		{"emoji with null fileUrl", withContent(`"contentType":"emoji","content":{"contentType":"emoji","text":"👍","colons":":+1:","fileUrl":null}`),
			envelope(func(e *Event) {
				e.ContentType, e.Content = ContentEmoji, Content{Type: ContentEmoji, Text: "👍", Colons: ":+1:"}
			})},
		{"members", withContent(members), envelope(func(e *Event) {
			e.ContentType = ContentMembersChanged
			e.Content = Content{Type: ContentMembersChanged,
				Added: []Participant{
					{Type: ParticipantEmail, ID: "u2", DisplayName: "Grace", Email: "grace@acme.example"},
					{Type: ParticipantBot, ID: "b1", DisplayName: "Bot", RoamID: "r1", IntegrationID: "i1", BotCode: "c"}},
				Removed: []Participant{{Type: ParticipantOccupant, ID: "g1", DisplayName: "Guest"}}}
		})},
		{"attachments compacted", edit(`"attachments":[]`, "\"attachments\":[ {\n\"b\" : [ 1 , -0.5E+3 ] ,\t\"a\":\"x y\\\" \\u00e9\" } , { } ]"),
			envelope(func(e *Event) { e.Content.Attachments = []RawJSON{`{"b":[1,-0.5E+3],"a":"x y\" \u00e9"}`, `{}`} })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode([]byte(tt.line))
			if err != nil {
				t.Fatalf("Decode(%q): %v", tt.line, err)
			}
			if !got.Equal(tt.want) {
				t.Errorf("Decode(%q)\n got %+v\nwant %+v", tt.line, got, tt.want)
			}
			checkCanonical(t, got)
		})
	}
}

// TestDecodeThreadTimestampZeroNotEncoded pins the one field whose zero means absent.
func TestDecodeThreadTimestampZeroNotEncoded(t *testing.T) {
	for _, v := range []string{"0", "null"} {
		e, err := Decode([]byte(edit(`"timestamp"`, `"threadTimestamp":`+v+`,"timestamp"`)))
		if err != nil {
			t.Fatal(err)
		}
		if out := AppendJSON(nil, &e); bytes.Contains(out, []byte("threadTimestamp")) || string(out) != base {
			t.Errorf("threadTimestamp %s encodes as %s, want %s", v, out, base)
		}
	}
}

// TestDecodeDoesNotAliasInput: callers reuse their line buffers.
func TestDecodeDoesNotAliasInput(t *testing.T) {
	line := []byte(edit(`"attachments":[]`, `"attachments":[{"a":"b"}]`))
	e, err := Decode(line)
	if err != nil {
		t.Fatal(err)
	}
	want := AppendJSON(nil, &e)
	for i := range line {
		line[i] = 'X'
	}
	if got := AppendJSON(nil, &e); !bytes.Equal(got, want) {
		t.Errorf("event changed with its input:\n got %s\nwant %s", got, want)
	}
}

func TestDecodeErrorMessage(t *testing.T) {
	for _, tt := range []struct {
		err  DecodeError
		want string
	}{
		{DecodeError{Kind: ErrSyntax, Detail: "unexpected 'x' at offset 3"}, "invalid JSON: unexpected 'x' at offset 3"},
		{DecodeError{Field: "sender.id", Kind: ErrMissingField}, "field sender.id: missing required field"},
		{DecodeError{Field: "contentType", Kind: ErrUnknownVariant, Detail: `"wave"`}, `field contentType: unknown variant: "wave"`},
	} {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
	reasons := map[error]string{
		ErrSyntax: "invalid_json", ErrMissingField: "missing_field", ErrWrongType: "wrong_type", ErrNotInteger: "not_integer",
		ErrUnknownVariant: "unknown_variant", ErrDuplicateField: "duplicate_field", ErrInvalidValue: "invalid_value",
	}
	for kind, want := range reasons {
		if got := (&DecodeError{Kind: kind}).Reason(); got != want {
			t.Errorf("Reason() for %v = %q, want %q", kind, got, want)
		}
	}
}

func TestDecodeErrorDetailIsShort(t *testing.T) {
	long := strings.Repeat("é", 1000)
	for _, line := range []string{
		edit(`"sent"`, `"`+long+`"`),
		edit(`"participantType":"email"`, `"participantType":"`+long+`"`),
		edit(`1763769601456`, strings.Repeat("9", 10000)),
		edit(`1763769601456`, "1."+strings.Repeat("5", 10000)),
		edit(`{"contentType":"text"`, `{"contentType":"`+long+`"`),
	} {
		_, err := Decode([]byte(line))
		if err == nil || len(err.Error()) > 200 || !utf8.ValidString(err.Error()) {
			t.Errorf("Decode error is %d bytes long: %.300s", len(err.Error()), err)
		}
	}
}

func TestEventTypeRankAndMessageTypes(t *testing.T) {
	if !(EventTypeRank(EventSent) < EventTypeRank(EventEdited) && EventTypeRank(EventEdited) < EventTypeRank(EventDeleted) &&
		EventTypeRank(EventDeleted) < EventTypeRank("reacted")) {
		t.Error("EventTypeRank does not order sent < edited < deleted < unknown")
	}
	for _, ct := range []string{ContentText, ContentEmoji, ContentItem, ContentTextSnippet, ContentMembersChanged} {
		if !IsMessageContentType(ct) {
			t.Errorf("IsMessageContentType(%q) = false", ct)
		}
	}
	for _, ct := range []string{"wave", "roomInvitation", "", "Text"} {
		if IsMessageContentType(ct) {
			t.Errorf("IsMessageContentType(%q) = true", ct)
		}
	}
}

// TestScanStringWordBoundaries puts each kind of byte that stops a string's scan at every
// position of strings up to three words long, since the scan reads 8 bytes at a time.
func TestScanStringWordBoundaries(t *testing.T) {
	for n := 0; n <= 24; n++ {
		for pos := 0; pos < n; pos++ {
			for _, tt := range []struct {
				insert string
				want   string // the unescaped text, or "" for an error
			}{
				{`\n`, "\n"}, {`\"`, `"`}, {`\u00e9`, "é"}, {"é", "é"}, {"\x1f", ""}, {"\xff", ""}, {"\x7f", "\x7f"},
			} {
				text := strings.Repeat("a", pos) + tt.insert + strings.Repeat("b", n-pos)
				d := decoder{buf: []byte(`"` + text + `",`)}
				raw, escaped, err := d.scanString()
				if tt.want == "" {
					if err == nil {
						t.Errorf("scanString(%q) accepted it", text)
					}
					continue
				}
				if err != nil {
					t.Errorf("scanString(%q): %v", text, err)
					continue
				}
				got := string(raw)
				if escaped {
					got = string(appendUnescaped(nil, raw))
				}
				if want := strings.Repeat("a", pos) + tt.want + strings.Repeat("b", n-pos); got != want || d.pos != len(text)+2 {
					t.Errorf("scanString(%q) = %q at %d, want %q at %d", text, got, d.pos, want, len(text)+2)
				}
			}
		}
	}
}
