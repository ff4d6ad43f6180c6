package htmlexport

import (
	"strings"
	"testing"

	"github.com/chatvault/chatvault/internal/exporttest"
	"github.com/chatvault/chatvault/internal/reliability"
	"github.com/chatvault/chatvault/model"
)

// bidiLines are records whose names, ids, text and attachment names carry the Unicode
// explicit directional formatting characters (the "Trojan Source" ones: LRE, RLE, PDF,
// LRO, RLO, LRI, RLI, FSI, PDI). Written raw, an override opened in a sender's name runs
// to the end of its block: the rest of the event's header line (the sender's address, "edited
// at", the time) and every later name of a membership change are drawn reversed, so the
// page shows a reviewer something other than the record. Right-to-left text itself
// (Hebrew, Arabic letters) is data and stays as written.
var bidiLines = []string{
	`{"eventType":"sent","chatId":"chat-bidi\u202e","timestamp":1795420800000,"eventTimestamp":1795420800000,"messageId":"m-b1","sender":{"participantType":"email","id":"u-eve\u2066","displayName":"Eve\u202e","email":"eve@acme.example"},"contentType":"text","content":{"contentType":"text","text":"invoice\u202egpj.exe \u05e9\u05dc\u05d5\u05dd \u0645\u0631\u062d\u0628\u0627","markdownText":"a\u202ab\u202bc\u202cd\u202de\u2067f\u2068g\u2069h","attachments":[{"name":"photo\u202egnp.exe","url":"https://files.example/x.exe"}]}}`,
	`{"eventType":"sent","chatId":"chat-bidi\u202e","timestamp":1795420860000,"eventTimestamp":1795420860000,"messageId":"m-b2","sender":{"participantType":"email","id":"u-ada","displayName":"Ada","email":"ada@acme.example"},"contentType":"membersChanged","content":{"contentType":"membersChanged","added":[{"participantType":"email","id":"u-eve","displayName":"Eve\u202e","email":"eve@acme.example"},{"participantType":"email","id":"u-bob","displayName":"Bob","email":"bob@acme.example"}],"removed":[]}}`,
}

// TestBidiControlsShownVisibly: an explicit directional formatting character of the data
// is shown as its escape (\u202e), never written raw, so that it cannot reorder what a
// reviewer reads around it; right-to-left letters are shown as written.
func TestBidiControlsShownVisibly(t *testing.T) {
	d := exporttest.Day{Manifest: exporttest.Manifest("2026-11-23")}
	for i, line := range bidiLines {
		e, err := model.Decode([]byte(line))
		if err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		d.Events = append(d.Events, e)
	}
	files, _ := entries(t, produce(t, []exporttest.Day{d}, testOptions(t), nil))
	for name, page := range files {
		for i, r := range string(page) {
			if r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069 {
				t.Errorf("%s holds U+%04X raw at byte %d: %q", name, r, i, page[max(0, i-40):min(len(page), i+40)])
				break
			}
		}
	}
	page := string(files["chats/00001.html"])
	for _, want := range []string{
		`<h1>Chat chat-bidi\u202e</h1>`, `Eve\u202e`, `u-eve\u2066`, `invoice\u202egpj.exe שלום مرحبا`,
		`a\u202ab\u202bc\u202cd\u202de\u2067f\u2068g\u2069h`, `>photo\u202egnp.exe</a>`, `Added: Eve\u202e, Bob.`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("page:\n%s", page)
	}
	reliability.Record(t, "security", "html export: bidi override and isolate characters (U+202A-202E, U+2066-2069) in names, ids, text, attachment names", reliability.Kept,
		`shown as \u escapes, never written raw: a name's override no longer draws the rest of the line (address, times, later names) reversed; right-to-left letters shown as written`)
}
