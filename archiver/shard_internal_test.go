package archiver

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/model"
)

// TestRouteFieldsNeverMissesAnOrganization: what a shard reads of a line to decide whether
// to skip it (routeFields) routes to every organization decoding routes it to (exactly
// those, for a line that decodes or is excluded by content type) and to every organization
// its quarantine copy goes to: over lines built to mislead a reader that looks for names
// rather than walking the object (fields inside attachments and strings, escaped keys and
// values, duplicates, fields out of order, broken JSON).
func TestRouteFieldsNeverMissesAnOrganization(t *testing.T) {
	const (
		chatA = "11111111-0000-4000-8000-00000000000a" // a chat of org 0
		userB = "22222222-0000-4000-8000-00000000000b" // a user of org 1
		botC  = "33333333-0000-4000-8000-00000000000c" // a bot of org 2
	)
	dir := &model.Directory{
		Organizations: []model.Organization{{ID: "o0", Archival: true}, {ID: "o1", Archival: true}, {ID: "o2", Archival: true}},
		Users:         []model.User{{ID: "44444444-0000-4000-8000-000000000004", OrgID: "o0"}, {ID: userB, OrgID: "o1"}},
		Bots:          []model.Bot{{ID: botC, OrgID: "o2"}},
		Chats:         []model.Chat{{ID: chatA, Members: []string{"44444444-0000-4000-8000-000000000004"}}},
	}
	rt, err := newRouter(dir, DayOf(time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)))
	if err != nil {
		t.Fatal(err)
	}
	env := func(chat, sender, content string) string {
		return `{"eventType":"sent","chatId":` + chat + `,"timestamp":1,"eventTimestamp":1,"messageId":"m","sender":` + sender +
			`,"contentType":"text","content":` + content + `}`
	}
	user := `{"participantType":"email","id":"` + userB + `","displayName":"B","email":"b@x"}`
	bot := `{"participantType":"bot","id":"` + botC + `","displayName":"C","roamId":"r","integrationId":"i","botCode":"c"}`
	text := `{"contentType":"text","text":"hi","markdownText":"hi","attachments":[]}`
	lines := []string{
		env(`"`+chatA+`"`, user, text),
		env(`"`+chatA+`"`, bot, text),
		env(`"nochat"`, user, text),
		// Escaped values and keys.
		env(`"`+strings.Replace(chatA, "1", `\u0031`, 1)+`"`, user, text),
		strings.Replace(env(`"`+chatA+`"`, user, text), `"chatId"`, `"chat\u0049d"`, 1),
		strings.Replace(env(`"x"`, user, text), `"sender"`, `"s\u0065nder"`, 1),
		strings.Replace(env(`"x"`, user, text), `"participantType"`, `"participant\u0054ype"`, 1),
		strings.Replace(env(`"x"`, user, text), userB, strings.Replace(userB, "2", `\u0032`, 1), 1),
		// Fields inside attachments and strings, before the real ones.
		`{"content":{"contentType":"text","text":"\"chatId\":\"` + chatA + `\"","markdownText":"","attachments":[{"chatId":"` + chatA + `","sender":` + user + `}]},"eventType":"sent","chatId":"x","timestamp":1,"eventTimestamp":1,"messageId":"m","sender":{"participantType":"occupant","id":"g","displayName":"G"},"contentType":"text"}`,
		`{"x":["{\"chatId\":\"` + chatA + `\"}",{"sender":` + bot + `}],"eventType":"sent","chatId":"x","timestamp":1,"eventTimestamp":1,"messageId":"m","sender":{"participantType":"occupant","id":"g","displayName":"G"},"contentType":"text","content":` + text + `}`,
		// Duplicates: the decoder refuses them; the quarantine attributes by the rest.
		env(`"`+chatA+`","chatId":"x"`, user, text),
		env(`"x","chatId":"`+chatA+`"`, user, text),
		env(`"x"`, user+`,"sender":`+bot, text),
		env(`"x"`, `{"participantType":"email","id":"`+userB+`","id":"z","displayName":"B","email":"b"}`, text),
		// Wrong types, missing fields, excluded content types.
		env(`7`, user, text),
		env(`"`+chatA+`"`, `"`+userB+`"`, text),
		env(`"`+chatA+`"`, `{"participantType":"email","id":7,"displayName":"B","email":"b"}`, text),
		strings.Replace(env(`"`+chatA+`"`, bot, text), `"contentType":"text","content"`, `"contentType":"wave","content"`, 1),
		strings.Replace(env(`"`+chatA+`"`, user, text), `"messageId":"m",`, ``, 1),
		// Not JSON, cut short, not an object.
		env(`"`+chatA+`"`, user, text)[:80],
		`[` + env(`"`+chatA+`"`, user, text) + `]`,
		`{"chatId":"` + chatA + `" "sender":` + user + `}`,
		`{"chatId":"` + chatA + `\q","sender":` + user + `}`,
		` 	{ "chatId" : "` + chatA + `" , "sender" : ` + user + ` } `,
		``,
	}
	// And every line of the sample event logs (a generated day is checked by every
	// sharded seal of TestShardsMatchUnsharded: sameRoute fails the run on a difference).
	crafted := len(lines)
	files, _ := filepath.Glob(filepath.Join("..", "testdata", "*", "*.jsonl"))
	more, _ := filepath.Glob(filepath.Join("..", "testdata", "eventlog", "*", "*.jsonl"))
	for _, f := range append(files, more...) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for l := range bytes.Lines(b) {
			lines = append(lines, strings.TrimSuffix(string(l), "\n"))
		}
	}
	var checked int
	for _, line := range lines {
		raw := []byte(line)
		ev := routeFields(raw)
		fast := rt.route(nil, &ev)
		var want []int32
		exact := false
		e, err := model.Decode(raw)
		var de *model.DecodeError
		switch {
		case err == nil:
			want, exact = rt.route(nil, &e), true
		case errorsAs(err, &de) && de.Field == "contentType" && de.Kind == model.ErrUnknownVariant:
			want, exact = rt.route(nil, &e), true
		default:
			want = rt.routeQuarantined(nil, raw)
		}
		if exact && !slices.Equal(fast, want) {
			t.Errorf("line %.120q: read %v, decoded %v", line, fast, want)
		}
		for _, o := range want {
			if !slices.Contains(fast, o) {
				t.Errorf("line %.120q: read %v, misses %d (decoding or quarantine: %v)", line, fast, o, want)
			}
		}
		checked++
	}
	if checked < crafted+20 {
		t.Fatalf("only %d lines checked", checked)
	}
}

// FuzzRouteFields: on any line, routeFields never routes to fewer organizations than
// decoding or the quarantine's attribution do.
func FuzzRouteFields(f *testing.F) {
	f.Add([]byte(`{"chatId":"c","sender":{"participantType":"email","id":"u"}}`))
	f.Add([]byte(`{"chat\u0049d":"c","sender":{"id":"u","participantType":"email"}}`))
	f.Add([]byte(`{"a":[{"chatId":"c"}],"chatId":"x"}`))
	dir := &model.Directory{
		Organizations: []model.Organization{{ID: "o0", Archival: true}, {ID: "o1", Archival: true}},
		Users:         []model.User{{ID: "u", OrgID: "o0"}, {ID: "v", OrgID: "o1"}},
		Chats:         []model.Chat{{ID: "c", Members: []string{"v"}}, {ID: "x", Members: []string{"u"}}},
	}
	rt, err := newRouter(dir, Day{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		ev := routeFields(raw)
		fast := rt.route(nil, &ev)
		want := rt.routeQuarantined(nil, raw)
		if e, err := model.Decode(raw); err == nil {
			want = rt.route(nil, &e)
		}
		for _, o := range want {
			if !slices.Contains(fast, o) {
				t.Fatalf("%q: read %v, misses %d of %v", raw, fast, o, want)
			}
		}
	})
}

func errorsAs(err error, de **model.DecodeError) bool {
	d, ok := err.(*model.DecodeError)
	if ok {
		*de = d
	}
	return ok
}
