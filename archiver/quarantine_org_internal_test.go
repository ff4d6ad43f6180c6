package archiver

import (
	"testing"

	"github.com/chatvault/chatvault/internal/reliability"
)

// TestAttributable reads a quarantined line's chat and sender only when the line says
// them once, as a valid JSON object: a line cut short, not UTF-8 or naming a field twice
// may claim anything, and a guess could show one organization another's line.
func TestAttributable(t *testing.T) {
	for _, tt := range []struct {
		name, line    string
		chat, typ, id string
		ok            bool
	}{
		{"chat and sender", `{"chatId":"c1","sender":{"participantType":"email","id":"u1"},"messageId":5}`, "c1", "email", "u1", true},
		{"chat only", `{"chatId":"c1","sender":"nobody"}`, "c1", "", "", true},
		{"sender only", `{"chatId":7,"sender":{"id":"b1","participantType":"bot"}}`, "", "bot", "b1", true},
		{"unknown participant type is still read", `{"sender":{"participantType":"robot","id":"r1"}}`, "", "robot", "r1", true},
		{"chat given twice", `{"chatId":"c1","chatId":"c2"}`, "", "", "", false},
		{"chat twice, sender once", `{"chatId":"c1","chatId":"c2","sender":{"participantType":"email","id":"u1"}}`, "", "email", "u1", true},
		{"sender id given twice", `{"sender":{"participantType":"email","id":"u1","id":"u2"}}`, "", "", "", false},
		{"cut short", `{"chatId":"c1","timestamp":`, "", "", "", false},
		{"not UTF-8", "{\"chatId\":\"c1\",\"x\":\"\xff\"}", "", "", "", false},
		{"not an object", `["chatId","c1"]`, "", "", "", false},
		{"empty chat", `{"chatId":""}`, "", "", "", false},
		{"empty", ``, "", "", "", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ev, ok := attributable([]byte(tt.line))
			if ok != tt.ok || ev.ChatID != tt.chat || ev.Sender.Type != tt.typ || ev.Sender.ID != tt.id {
				t.Errorf("attributable(%q) = chat %q sender %q/%q ok %v, want %q %q/%q %v",
					tt.line, ev.ChatID, ev.Sender.Type, ev.Sender.ID, ok, tt.chat, tt.typ, tt.id, tt.ok)
			}
		})
	}
	reliability.Record(t, "security", "quarantined line naming a chat twice (duplicate keys) or cut short", reliability.Quarantined,
		"its chat and sender are read only from a valid JSON object naming each once; otherwise it stays in the operators' quarantine, never shown to a guessed organization")
}
