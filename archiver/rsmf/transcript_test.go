package rsmf

import (
	"strings"
	"testing"

	"github.com/chatvault/chatvault/internal/exporttest"
	"github.com/chatvault/chatvault/internal/reliability"
	"github.com/chatvault/chatvault/model"
)

// forgedLine is what a hostile record tries to pass off as a line of its own in the
// transcript: an event of another time, by another person.
const forgedLine = "2026-11-23T07:00:00.000Z (1795417200000) Ada Lovelace: FORGED"

// transcriptLines are records that put a line break before forgedLine in each field the
// transcript shows: a text's lone carriage return (quoted-printable writes it as a line
// break), a vertical tab, a form feed, NEL and the Unicode line and paragraph separators
// (which viewers break lines at), a display name, a thread parent's message id, an edit's
// text, and the chat id of the subject.
var transcriptLines = []string{
	`{"eventType":"sent","chatId":"chat-t\r` + forgedLine + `","timestamp":1795420800000,"eventTimestamp":1795420800000,"messageId":"m-1\n` + forgedLine + `","sender":{"participantType":"email","id":"u-a","displayName":"Eve\r\n` + forgedLine + `","email":"eve@acme.example"},"contentType":"text","content":{"contentType":"text","text":"a\r` + forgedLine + `\u000b` + forgedLine + `\u000c` + forgedLine + "\u0085" + forgedLine + "\u2028" + forgedLine + "\u2029" + forgedLine + `","markdownText":"a","attachments":[]}}`,
	`{"eventType":"sent","chatId":"chat-t\r` + forgedLine + `","threadTimestamp":1795420800000,"timestamp":1795420860000,"eventTimestamp":1795420860000,"messageId":"m-2","sender":{"participantType":"email","id":"u-b","displayName":"Bob","email":"bob@acme.example"},"contentType":"text","content":{"contentType":"text","text":"reply","markdownText":"reply","attachments":[]}}`,
	`{"eventType":"edited","chatId":"chat-t\r` + forgedLine + `","timestamp":1795420860000,"eventTimestamp":1795420920000,"messageId":"m-2","sender":{"participantType":"email","id":"u-b","displayName":"Bob","email":"bob@acme.example"},"contentType":"text","content":{"contentType":"text","text":"b\r` + forgedLine + `","markdownText":"b","attachments":[]}}`,
}

// TestTranscriptLinesCannotBeForged: the plain-text transcript's second and later lines of
// a text start with "  | ", so that no message can pass for a line of its own. Only "\n"
// was marked: a lone carriage return (which the quoted-printable body turns into a line
// break), the other breaks a viewer honours (VT, FF, NEL, U+2028, U+2029), and every
// field but the texts (names, a reply's parent id, the chat id) went out unmarked, so a
// record could write a line reading as another person's message.
func TestTranscriptLinesCannotBeForged(t *testing.T) {
	d := exporttest.Day{Manifest: exporttest.Manifest("2026-11-23")}
	for i, line := range transcriptLines {
		e, err := model.Decode([]byte(line))
		if err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		d.Events = append(d.Events, e)
	}
	p := parseProduction(t, produce(t, []exporttest.Day{d}, testOptions(t), nil))
	checkProduction(t, p)
	breaks := strings.NewReplacer("\r\n", "\n", "\r", "\n", "\v", "\n", "\f", "\n", "\u0085", "\n", "\u2028", "\n", "\u2029", "\n")
	for _, f := range p.files {
		seen := 0
		for _, line := range strings.Split(breaks.Replace(f.text), "\n") {
			if !strings.Contains(line, "FORGED") {
				continue
			}
			seen++
			if !strings.HasPrefix(line, "  | ") {
				t.Errorf("%s: a record wrote a line of its own: %q", f.path, line)
			}
		}
		if seen < 10 {
			t.Errorf("%s: the forged text shows on %d lines, want every field's:\n%s", f.path, seen, f.text)
		}
	}
	reliability.Record(t, "security", "rsmf transcript: line breaks (CR, VT, FF, NEL, U+2028, U+2029, LF) in a text, a name, a parent id or the chat id", reliability.Kept,
		`every line a record's field continues starts with "  | ": no record writes a line that reads as another event (a lone CR, the other breaks and every field but the texts went out unmarked)`)
}

// TestTranscriptBidiControlsShown: the plain-text transcript shows a bidi embedding,
// override or isolate of a record (U+202A–U+202E, U+2066–U+2069) as its escape (\u202e),
// as the html pages do: written raw, an override in a sender's name drew the rest of its
// line (the text, the next names) reversed in a viewer. The manifest keeps them verbatim.
func TestTranscriptBidiControlsShown(t *testing.T) {
	line := `{"eventType":"sent","chatId":"chat-b\u2067","timestamp":1795420800000,"eventTimestamp":1795420800000,"messageId":"m-1","sender":{"participantType":"email","id":"u-e","displayName":"Eve\u202e","email":"eve@acme.example"},"contentType":"text","content":{"contentType":"text","text":"pay invoice\u202egpj.exe","markdownText":"x","attachments":[]}}`
	e, err := model.Decode([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	d := exporttest.Day{Manifest: exporttest.Manifest("2026-11-23"), Events: []model.Event{e}}
	p := parseProduction(t, produce(t, []exporttest.Day{d}, testOptions(t), nil))
	checkProduction(t, p)
	f := p.files[0]
	if strings.ContainsAny(f.text, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069") {
		t.Errorf("the transcript holds a raw bidi control:\n%q", f.text)
	}
	for _, want := range []string{`Eve\u202e: pay invoice\u202egpj.exe`, `Chat chat-b\u2067 on 2026-11-23`} {
		if !strings.Contains(f.text, want) {
			t.Errorf("the transcript lacks %q:\n%s", want, f.text)
		}
	}
	if !strings.Contains(string(f.manifest), "Eve\u202e") || !strings.Contains(string(f.manifest), "invoice\u202egpj.exe") {
		t.Errorf("the manifest does not keep the name and text verbatim")
	}
	reliability.Record(t, "security", "rsmf transcript: bidi override and isolate characters in names, chat ids and texts", reliability.Kept,
		`shown as \u escapes in the plain-text transcript, as on the html pages; the manifest keeps them verbatim`)
}
