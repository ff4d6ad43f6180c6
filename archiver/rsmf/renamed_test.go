package rsmf

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/internal/exporttest"
	"github.com/chatvault/chatvault/internal/reliability"
	"github.com/chatvault/chatvault/model"
)

// renamedDay is a day of one chat in which Ada is renamed: she sends as "Ada Lovelace",
// then as "Ada King", and edits her first message under the new name; a day's records
// keep each event's sender as the platform sent it.
func renamedDay(t *testing.T) exporttest.Day {
	t.Helper()
	lines := []string{
		`{"eventType":"sent","chatId":"chat-team","timestamp":1795251600000,"eventTimestamp":1795251600000,"messageId":"m-001","sender":{"participantType":"email","id":"u-ada","displayName":"Ada Lovelace","email":"ada@acme.example"},"contentType":"text","content":{"contentType":"text","text":"Morning","markdownText":"Morning","attachments":[]}}`,
		`{"eventType":"sent","chatId":"chat-team","timestamp":1795255200000,"eventTimestamp":1795255200000,"messageId":"m-002","sender":{"participantType":"email","id":"u-ada","displayName":"Ada King","email":"ada@acme.example"},"contentType":"text","content":{"contentType":"text","text":"New name","markdownText":"New name","attachments":[]}}`,
		`{"eventType":"edited","chatId":"chat-team","timestamp":1795251600000,"eventTimestamp":1795258800000,"messageId":"m-001","sender":{"participantType":"email","id":"u-ada","displayName":"Ada King","email":"ada@acme.example"},"contentType":"text","content":{"contentType":"text","text":"Morning, all","markdownText":"Morning, all","attachments":[]}}`,
		`{"eventType":"sent","chatId":"chat-team","timestamp":1795262400000,"eventTimestamp":1795262400000,"messageId":"m-003","sender":{"participantType":"email","id":"u-bob","displayName":"Bob","email":"bob@acme.example"},"contentType":"text","content":{"contentType":"text","text":"Hi Ada","markdownText":"Hi Ada","attachments":[]}}`,
	}
	d := exporttest.Day{Manifest: exporttest.Manifest("2026-11-21")}
	for _, l := range lines {
		e, err := model.Decode([]byte(l))
		if err != nil {
			t.Fatal(err)
		}
		d.Events = append(d.Events, e)
	}
	d.Manifest.Data.Records = int64(len(d.Events))
	return d
}

// TestRenamedParticipant: an RSMF participant has one display (the schema's
// participants[].display), and it is the name the participant was first seen under in the
// file; a participant renamed during the day lost every other name: the events sent,
// edited or deleted under the new name showed the old one, and the new name appeared
// nowhere in the production. Every other name is now kept: on the participant, as custom
// "Display name 2", "Display name 3"… in the order first seen, and on each event (and
// edit) made under a name other than the participant's display, as custom "Sender display
// name" ("Edit N: display name"). Pinned by the golden file renamed.txt.
func TestRenamedParticipant(t *testing.T) {
	out := produce(t, []exporttest.Day{renamedDay(t)}, testOptions(t), nil)
	p := parseProduction(t, out)
	checkProduction(t, p)
	if len(p.files) != 1 {
		t.Fatalf("%d files, want 1", len(p.files))
	}
	var m manifest
	if err := json.Unmarshal(p.files[0].manifest, &m); err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(m.Participants, func(p participant) bool { return p.ID == "u-ada" })
	if i < 0 {
		t.Fatalf("no participant u-ada: %+v", m.Participants)
	}
	ada := m.Participants[i]
	if ada.Display != "Ada Lovelace" || !slices.Contains(ada.Custom, custom{"Display name 2", "Ada King"}) {
		t.Errorf("participant u-ada = %+v; want display Ada Lovelace (first seen) and custom Display name 2: Ada King", ada)
	}
	for _, ev := range m.Events {
		switch ev.ID {
		case "m-002":
			if !slices.Contains(ev.Custom, custom{"Sender display name", "Ada King"}) {
				t.Errorf("m-002, sent as Ada King: custom %+v, want Sender display name: Ada King", ev.Custom)
			}
		case "m-001":
			if slices.ContainsFunc(ev.Custom, func(c custom) bool { return c.Name == "Sender display name" }) ||
				!slices.Contains(ev.Custom, custom{"Edit 1: display name", "Ada King"}) {
				t.Errorf("m-001, sent as Ada Lovelace, edited as Ada King: custom %+v", ev.Custom)
			}
		}
	}
	if !strings.Contains(p.files[0].text, "Ada King") {
		t.Errorf("the text body never names Ada King:\n%s", p.files[0].text)
	}
	golden(t, "renamed.txt", render(t, p))
	reliability.Record(t, "input", "RSMF export of a day in which a participant was renamed", reliability.Kept,
		"the participant's display is the name first seen; every other name is kept on the participant (custom Display name 2…) and on each event and edit made under it (Sender display name); before, only the first name appeared anywhere in the production")
}
