package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/eventlog"
	"github.com/chatvault/chatvault/archiver/exporttask"
	"github.com/chatvault/chatvault/archiver/httpapi"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/internal/reliability"
	"github.com/chatvault/chatvault/model"
)

// custodianDay is one generated day: its events and chat-c's members at its seal.
type custodianDay struct {
	date    string
	chatC   []string
	events  []model.Event
	members map[string][]string
}

// sealCustodianDays generates and seals 2026-11-18 to 21 for Acme: u-kim is added to
// chat-c on the 19th at 10:00 and removed on the 20th at 12:00 (membership changes in the
// records, and chat-c's members recorded at each seal); u-kim is a member of chat-d
// throughout (no change, only the seals record it), never of chat-e, and sends one
// message in chat-f, which the directory does not list.
func sealCustodianDays(t *testing.T, store archiver.Store) {
	t.Helper()
	person := func(id string) model.Participant {
		return model.Participant{Type: model.ParticipantEmail, ID: id, DisplayName: id, Email: id[2:] + "@acme.example"}
	}
	at := func(date string, hour int) int64 {
		d, _ := archiver.ParseDay(date)
		return d.Start().Add(time.Duration(hour) * time.Hour).UnixMilli()
	}
	msg := func(date string, hour int, chat, from, id string) model.Event {
		ts := at(date, hour)
		return model.Event{EventType: model.EventSent, ChatID: chat, Timestamp: ts, EventTimestamp: ts, MessageID: id, Sender: person(from),
			ContentType: model.ContentText, HasContent: true, Content: model.Content{Type: model.ContentText, Text: id, MarkdownText: id}}
	}
	change := func(date string, hour int, from, id string, added, removed []model.Participant) model.Event {
		ts := at(date, hour)
		return model.Event{EventType: model.EventSent, ChatID: "chat-c", Timestamp: ts, EventTimestamp: ts, MessageID: id, Sender: person(from),
			ContentType: model.ContentMembersChanged, HasContent: true, Content: model.Content{Type: model.ContentMembersChanged, Added: added, Removed: removed}}
	}
	kim := person("u-kim")
	days := []custodianDay{
		{"2026-11-18", []string{"u-ann", "u-bob"}, []model.Event{
			msg("2026-11-18", 10, "chat-c", "u-ann", "c18"), msg("2026-11-18", 11, "chat-d", "u-bob", "d18"), msg("2026-11-18", 12, "chat-e", "u-ann", "e18")}, nil},
		{"2026-11-19", []string{"u-ann", "u-bob", "u-kim"}, []model.Event{
			msg("2026-11-19", 9, "chat-c", "u-ann", "c19-before"), change("2026-11-19", 10, "u-ann", "c19-kim-added", []model.Participant{kim}, []model.Participant{}),
			msg("2026-11-19", 11, "chat-c", "u-bob", "c19-after")}, nil},
		{"2026-11-20", []string{"u-ann", "u-bob"}, []model.Event{
			msg("2026-11-20", 8, "chat-c", "u-bob", "c20-member"), msg("2026-11-20", 9, "chat-c", "u-kim", "c20-kim"), msg("2026-11-20", 10, "chat-f", "u-kim", "f20-kim"),
			change("2026-11-20", 12, "u-ann", "c20-kim-removed", []model.Participant{}, []model.Participant{kim}),
			msg("2026-11-20", 13, "chat-c", "u-bob", "c20-after"), msg("2026-11-20", 14, "chat-e", "u-bob", "e20")}, nil},
		{"2026-11-21", []string{"u-ann", "u-bob"}, []model.Event{
			msg("2026-11-21", 10, "chat-c", "u-bob", "c21"), msg("2026-11-21", 11, "chat-d", "u-bob", "d21")}, nil},
	}
	sample, err := os.ReadFile("../../testdata/eventlog/directory.json")
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	src, err := eventlog.NewDir(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range days {
		var dir map[string]any
		if err := json.Unmarshal(sample, &dir); err != nil {
			t.Fatal(err)
		}
		for _, u := range []string{"u-kim", "u-ann", "u-bob"} {
			dir["users"] = append(dir["users"].([]any), map[string]any{"id": u, "orgId": acme, "email": u[2:] + "@acme.example", "displayName": u})
		}
		dir["chats"] = append(dir["chats"].([]any),
			map[string]any{"id": "chat-c", "members": d.chatC},
			map[string]any{"id": "chat-d", "members": []string{"u-kim", "u-bob"}},
			map[string]any{"id": "chat-e", "members": []string{"u-ann", "u-bob"}})
		dirBytes, err := json.Marshal(dir)
		if err != nil {
			t.Fatal(err)
		}
		var lines []byte
		for i := range d.events {
			lines = append(model.AppendJSON(lines, &d.events[i]), '\n')
		}
		if err := os.MkdirAll(filepath.Join(root, d.date), 0o755); err != nil {
			t.Fatal(err)
		}
		for name, b := range map[string][]byte{"events.jsonl": lines, "_CLOSED": nil} {
			if err := os.WriteFile(filepath.Join(root, d.date, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		day, _ := archiver.ParseDay(d.date)
		s := &archiver.Sealer{Source: src, Store: store, Chain: ledger.Ledger{Store: store}, Options: archiver.Options{TempDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler),
			Now: func() time.Time { return day.End().Add(30 * time.Minute) }}}
		res, err := s.Seal(context.Background(), day, dirBytes, acme)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Failed()) > 0 {
			t.Fatalf("%s: %v", d.date, res.Failed()[0].Err)
		}
	}
}

// TestTaskCustodian: over HTTP, custodianIds selects what the custodian sent and what was
// said in their chats while they were members (from the membership changes and the
// membership recorded at each seal), and userIds still selects only what they sent (and
// the changes naming them).
func TestTaskCustodian(t *testing.T) {
	store := newFolderStore(t)
	sealCustodianDays(t, store)
	var engine *exporttask.Engine
	f := newFixtureOn(t, store, func(s *httpapi.Server) {
		engine = &exporttask.Engine{Store: store, Directory: s.Directory, Now: s.Now, Links: exporttask.Links{Key: []byte("test-key")}, TempDir: t.TempDir()}
		s.Tasks = engine
	})
	task := func(body string) []string {
		t.Helper()
		resp, b := f.post(t, "/v1/exports/tasks", f.tokens["acme"], body)
		var created struct{ TaskID string }
		if resp.StatusCode != 202 || json.Unmarshal(b, &created) != nil {
			t.Fatalf("create: %d %s", resp.StatusCode, b)
		}
		if st, err := engine.Execute(context.Background(), acme, created.TaskID); err != nil || st.State != exporttask.StateCompleted {
			t.Fatalf("execute: %v %+v", err, st)
		}
		resp, b = f.get(t, "/v1/exports/tasks/"+created.TaskID, f.tokens["acme"])
		var st exporttask.Status
		if resp.StatusCode != 200 || json.Unmarshal(b, &st) != nil {
			t.Fatalf("status: %d %s", resp.StatusCode, b)
		}
		resp, b = f.get(t, st.URL, "")
		if resp.StatusCode != 200 {
			t.Fatalf("download: %d %s", resp.StatusCode, b)
		}
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for dec := json.NewDecoder(zr); dec.More(); {
			var e struct{ MessageID string }
			if err := dec.Decode(&e); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, e.MessageID)
		}
		if int64(len(ids)) != st.Result.Events {
			t.Fatalf("%d records, status says %d", len(ids), st.Result.Events)
		}
		return ids
	}
	for _, tt := range []struct {
		name, body string
		want       []string
	}{
		{"custodian", `{"from":"2026-11-18","to":"2026-11-21","format":"jsonl","custodianIds":["u-kim"]}`,
			[]string{"d18", "c19-kim-added", "c19-after", "c20-member", "c20-kim", "f20-kim", "c20-kim-removed", "d21"}},
		{"custodian in one chat", `{"from":"2026-11-18","to":"2026-11-21","format":"jsonl","custodianIds":["u-kim"],"chatIds":["chat-c"]}`,
			[]string{"c19-kim-added", "c19-after", "c20-member", "c20-kim", "c20-kim-removed"}},
		{"sender only", `{"from":"2026-11-18","to":"2026-11-21","format":"jsonl","userIds":["u-kim"]}`,
			[]string{"c19-kim-added", "c20-kim", "f20-kim", "c20-kim-removed"}},
		// The range starts while u-kim is a member of chat-c: the seal of the 20th does
		// not record them, the removal at 12:00 says they were until then.
		{"range starting mid-membership", `{"from":"2026-11-20","to":"2026-11-21","format":"jsonl","custodianIds":["u-kim"]}`,
			[]string{"c20-member", "c20-kim", "f20-kim", "c20-kim-removed", "d21"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := task(tt.body); !slices.Equal(got, tt.want) {
				t.Fatalf("records %q, want %q", got, tt.want)
			}
		})
	}
	reliability.Record(t, "input", "export task for a custodian who joined and left a chat mid-range", reliability.Kept,
		"custodianIds exports what they sent and each chat's messages while they were a member; userIds only what they sent")
}

func (f *fixture) post(t *testing.T, path, token, body string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest("POST", f.url+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// TestTaskCustodianNoMatchNamesTheCustodians: a custodian task that finds nothing says
// which custodians it looked for. Before, noMatch left custodianIds out: with chatIds too
// it read "the filters chatIds ["chat-e"] ... no record matched", as if chat-e were
// empty (it holds two records), and alone "the task has no filter, and the days hold no
// record", as if the range were empty.
func TestTaskCustodianNoMatchNamesTheCustodians(t *testing.T) {
	store := newFolderStore(t)
	sealCustodianDays(t, store)
	var engine *exporttask.Engine
	f := newFixtureOn(t, store, func(s *httpapi.Server) {
		engine = &exporttask.Engine{Store: store, Directory: s.Directory, Now: s.Now, Links: exporttask.Links{Key: []byte("test-key")}, TempDir: t.TempDir()}
		s.Tasks = engine
	})
	for _, tt := range []struct{ body, want string }{
		// u-kim was never a member of chat-e and sent nothing there.
		{`{"from":"2026-11-18","to":"2026-11-21","format":"jsonl","custodianIds":["u-kim"],"chatIds":["chat-e"]}`,
			`no record matched: the filters chatIds ["chat-e"], custodianIds ["u-kim"], in the 4 sealed day(s) searched, 2026-11-18 to 2026-11-21 (14 records read)`},
		// u-ada is Acme's user in the directory but in none of these days' chats.
		{`{"from":"2026-11-21","to":"2026-11-21","format":"jsonl","custodianIds":["u-ada"]}`,
			`no record matched: the filters custodianIds ["u-ada"], in the 1 sealed day(s) searched, 2026-11-21 to 2026-11-21 (2 records read)`},
	} {
		resp, b := f.post(t, "/v1/exports/tasks", f.tokens["acme"], tt.body)
		var created struct{ TaskID string }
		if resp.StatusCode != 202 || json.Unmarshal(b, &created) != nil {
			t.Fatalf("create: %d %s", resp.StatusCode, b)
		}
		st, err := engine.Execute(context.Background(), acme, created.TaskID)
		if err != nil || st.State != exporttask.StateCompleted {
			t.Fatalf("execute: %v %+v", err, st)
		}
		if st.Result.Events != 0 || st.NoMatch != tt.want {
			t.Fatalf("%s:\nevents %d, noMatch %q\nwant   %q", tt.body, st.Result.Events, st.NoMatch, tt.want)
		}
	}
	reliability.Record(t, "input", "export task by custodianIds (alone, or with chatIds) that matches no record", reliability.Kept,
		"noMatch names the custodians beside the other filters; it said \"the task has no filter\" (or named only chatIds, as if the chat were empty)")
}
