package httpapi_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver/audit"
	"github.com/chatvault/chatvault/archiver/exporttask"
	"github.com/chatvault/chatvault/archiver/httpapi"
	"github.com/chatvault/chatvault/internal/reliability"
)

// selectionDays are the days of selectionLog, Acme's archival start first.
var selectionDays = []string{"2026-11-19", "2026-11-20", "2026-11-21", "2026-11-22"}

// selectionLog writes an event log of selectionDays into a new folder and returns it:
// the sample directory with Acme archiving from 2026-11-19, and in chat-acme-team a
// message (m-100) sent on the 19th, edited on the 20th and deleted on the 21st, beside
// messages for the search terms.
func selectionLog(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	b, err := os.ReadFile("../../testdata/eventlog/directory.json")
	if err != nil {
		t.Fatal(err)
	}
	b = bytes.Replace(b, []byte(`"archivalStart": "2026-01-01"`), []byte(`"archivalStart": "2026-11-19"`), 1)
	if err := os.WriteFile(filepath.Join(root, "directory.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	ada := `{"participantType":"email","id":"u-ada","displayName":"Ada Lovelace","email":"ada@acme.example"}`
	grace := `{"participantType":"email","id":"u-grace","displayName":"Grace Hopper","email":"grace@acme.example"}`
	ms := func(day string, hour int) int64 {
		d, _ := time.Parse("2006-01-02", day)
		return d.Add(time.Duration(hour) * time.Hour).UnixMilli()
	}
	text := func(typ, id, sender string, sent, at int64, body, attachments string) string {
		return fmt.Sprintf(`{"eventType":%q,"chatId":"chat-acme-team","timestamp":%d,"eventTimestamp":%d,"messageId":%q,"sender":%s,`+
			`"contentType":"text","content":{"contentType":"text","text":%q,"markdownText":%q,"attachments":[%s]}}`,
			typ, sent, at, id, sender, body, body, attachments)
	}
	sent100 := ms("2026-11-19", 9)
	lines := map[string][]string{
		"2026-11-19": {
			text("sent", "m-100", ada, sent100, sent100, "Please review the Contract draft before Friday.", ""),
			text("sent", "m-101", grace, ms("2026-11-19", 10), ms("2026-11-19", 10), "contracts and subcontracts are boring", ""),
		},
		"2026-11-20": {
			text("edited", "m-100", ada, sent100, ms("2026-11-20", 8), "Please review the CONTRACT   draft before Monday.", ""),
			text("sent", "m-102", ada, ms("2026-11-20", 11), ms("2026-11-20", 11), "see attached",
				`{"name":"Merger-Plan final.pdf","url":"https://files.example/d/7"}`),
		},
		"2026-11-21": {
			fmt.Sprintf(`{"eventType":"deleted","chatId":"chat-acme-team","timestamp":%d,"eventTimestamp":%d,"messageId":"m-100","sender":%s,"contentType":"text"}`,
				sent100, ms("2026-11-21", 7), ada),
			text("sent", "m-103", grace, ms("2026-11-21", 12), ms("2026-11-21", 12), "Überprüfung des Vertrags zum Großprojekt", ""),
		},
		"2026-11-22": {
			text("sent", "m-104", grace, ms("2026-11-22", 12), ms("2026-11-22", 12), "lunch?", ""),
		},
	}
	for _, d := range selectionDays {
		dir := filepath.Join(root, d)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "part-0001.jsonl"), []byte(strings.Join(lines[d], "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "_CLOSED"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// selectionFixture serves the sealed selectionDays with a task engine (limits l).
func selectionFixture(t *testing.T, l exporttask.Limits) (*fixture, *exporttask.Engine) {
	t.Helper()
	store := newFolderStore(t)
	var engine *exporttask.Engine
	f := newFixtureLog(t, store, selectionLog(t), selectionDays, func(s *httpapi.Server) {
		engine = &exporttask.Engine{Store: store, Directory: s.Directory, Now: s.Now, Limits: l,
			Links: exporttask.Links{Key: []byte("test-key")}, TempDir: t.TempDir()}
		s.Tasks = engine
	})
	return f, engine
}

func (f *fixture) postTask(t *testing.T, token, body string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest("POST", f.url+"/v1/exports/tasks", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// exportedEvent is what the selection tests look at of a result's record.
type exportedEvent struct {
	EventType      string `json:"eventType"`
	MessageID      string `json:"messageId"`
	EventTimestamp int64  `json:"eventTimestamp"`
}

func (e exportedEvent) String() string { return e.MessageID + "/" + e.EventType }

// runTask creates a task over HTTP, runs it, and returns its status (over HTTP) and the
// records of its downloaded jsonl result.
func (f *fixture) runTask(t *testing.T, engine *exporttask.Engine, body string) (exporttask.Status, []exportedEvent) {
	t.Helper()
	resp, b := f.postTask(t, f.tokens["acme"], body)
	var created struct{ TaskID string }
	if resp.StatusCode != 202 || json.Unmarshal(b, &created) != nil {
		t.Fatalf("create %s: %d %s", body, resp.StatusCode, b)
	}
	if _, err := engine.Execute(context.Background(), acme, created.TaskID); err != nil {
		t.Fatal(err)
	}
	resp, b = f.get(t, "/v1/exports/tasks/"+created.TaskID, f.tokens["acme"])
	var st exporttask.Status
	if resp.StatusCode != 200 || json.Unmarshal(b, &st) != nil || st.State != exporttask.StateCompleted {
		t.Fatalf("status: %d %s", resp.StatusCode, b)
	}
	resp, gz := f.get(t, st.URL, "")
	if resp.StatusCode != 200 {
		t.Fatalf("download: %d %s", resp.StatusCode, gz)
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	var out []exportedEvent
	for line := range strings.Lines(string(raw)) {
		var e exportedEvent
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	if int64(len(out)) != st.Result.Events {
		t.Fatalf("the result holds %d records; its status says %d", len(out), st.Result.Events)
	}
	return st, out
}

func names(evs []exportedEvent) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.String())
	}
	return out
}

func TestTaskMatchingNothingSaysSo(t *testing.T) {
	f, engine := selectionFixture(t, exporttask.Limits{})
	st, evs := f.runTask(t, engine, `{"from":"2026-11-19","to":"2026-11-22","chatIds":["chat-acme-team"],"terms":["zeppelin"],"format":"jsonl"}`)
	if len(evs) != 0 || st.Result.Events != 0 {
		t.Fatalf("events %d, want 0", st.Result.Events)
	}
	for _, want := range []string{"no record matched", `chatIds ["chat-acme-team"]`, `terms ["zeppelin"]`, "4 sealed day(s)", "2026-11-19 to 2026-11-22", "7 records read"} {
		if !strings.Contains(st.NoMatch, want) {
			t.Fatalf("noMatch %q does not say %q", st.NoMatch, want)
		}
	}
	// Globex's days are sealed and empty: with no filter, that is what it says.
	resp, b := f.postTask(t, f.tokens["globex"], `{"from":"2026-11-19","to":"2026-11-22","format":"jsonl"}`)
	var created struct{ TaskID string }
	if resp.StatusCode != 202 || json.Unmarshal(b, &created) != nil {
		t.Fatalf("create: %d %s", resp.StatusCode, b)
	}
	if _, err := engine.Execute(context.Background(), globex, created.TaskID); err != nil {
		t.Fatal(err)
	}
	_, b = f.get(t, "/v1/exports/tasks/"+created.TaskID, f.tokens["globex"])
	var empty exporttask.Status
	if err := json.Unmarshal(b, &empty); err != nil || empty.Result == nil || empty.Result.Events != 0 ||
		empty.NoMatch != "no record matched: the task has no filter, and the 4 sealed day(s) searched, 2026-11-19 to 2026-11-22, hold no record" {
		t.Fatalf("globex's empty days: %s", b)
	}
	// A task that found something does not say it found nothing.
	st, _ = f.runTask(t, engine, `{"from":"2026-11-19","to":"2026-11-22","chatIds":["chat-acme-team"],"format":"jsonl"}`)
	if st.NoMatch != "" || st.Result.Events == 0 {
		t.Fatalf("a task with records: noMatch %q, events %d", st.NoMatch, st.Result.Events)
	}
	reliability.Record(t, "input", "export task whose filters match no record", reliability.Kept,
		"completes with events 0 and a noMatch naming the filters and the days searched, in the status and the result's index")
}

func TestTaskMessageIDsFollowEditsAcrossDays(t *testing.T) {
	f, engine := selectionFixture(t, exporttask.Limits{})
	// No from or to: the organization's archival start to its last sealed day.
	st, evs := f.runTask(t, engine, `{"messageIds":["m-100"],"format":"jsonl"}`)
	if got, want := names(evs), []string{"m-100/sent", "m-100/edited", "m-100/deleted"}; !slices.Equal(got, want) {
		t.Fatalf("records %v, want %v", got, want)
	}
	if st.Request.From != "2026-11-19" || st.Request.To != "2026-11-22" || st.Progress.DaysTotal != 4 {
		t.Fatalf("defaults resolved to %s..%s (%d days), want the archival start 2026-11-19 to the last sealed day 2026-11-22",
			st.Request.From, st.Request.To, st.Progress.DaysTotal)
	}
	// The access audit names the days the task reads, not the empty from and to it was sent.
	recs := f.auditRecords(t, f.tokens["acme-audit"])
	if i := slices.IndexFunc(recs, func(r audit.Record) bool {
		return r.TaskID == st.TaskID && r.Action == audit.ActionTaskCreate
	}); i < 0 || recs[i].Date != "2026-11-19..2026-11-22" {
		t.Fatalf("audit of the create: %+v", recs)
	}
	reliability.Record(t, "input", "export task by messageIds, edited on a later day than sent", reliability.Kept,
		"the sent event, the edit and the deletion, each from its own sealed day")
}

// TestTaskMessageIDsNotFound: an e-discovery request for named messages, some of which
// the range's sealed days do not hold (a typo, another organization's, a message never
// archived), completed with the others and said nothing of the missing: a result of 8 of
// 10 messages read as the 10. The status now lists the ids no record of the range carries,
// whatever the other filters kept.
func TestTaskMessageIDsNotFound(t *testing.T) {
	f, engine := selectionFixture(t, exporttask.Limits{})
	st, evs := f.runTask(t, engine, `{"messageIds":["m-100","m-nope","m-104","m-typo"],"until":"2026-11-22T11:00:00Z","format":"jsonl"}`)
	if got, want := names(evs), []string{"m-100/sent", "m-100/edited", "m-100/deleted"}; !slices.Equal(got, want) {
		t.Fatalf("records %v, want %v", got, want)
	}
	// m-104 is in the range, though until leaves its record out: found, not missing.
	if want := []string{"m-nope", "m-typo"}; !slices.Equal(st.MessageIDsNotFound, want) {
		t.Fatalf("messageIdsNotFound %v, want %v", st.MessageIDsNotFound, want)
	}
	st, _ = f.runTask(t, engine, `{"messageIds":["m-100"],"format":"jsonl"}`)
	if st.MessageIDsNotFound != nil {
		t.Fatalf("every message found, yet messageIdsNotFound %v", st.MessageIDsNotFound)
	}
	reliability.Record(t, "input", "export task by messageIds, some of which no sealed day of the range holds", reliability.Kept,
		"completes with the messages found; the status lists messageIdsNotFound (ids no record of the range carries); the missing ones went unmentioned and the result read as complete")
}

func TestTaskInstantBounds(t *testing.T) {
	f, engine := selectionFixture(t, exporttask.Limits{})
	// since inclusive, until exclusive, on the event's time: only the edit of the 20th at 08:00.
	_, evs := f.runTask(t, engine, `{"since":"2026-11-20T08:00:00Z","until":"2026-11-20T11:00:00Z","format":"jsonl"}`)
	if got, want := names(evs), []string{"m-100/edited"}; !slices.Equal(got, want) {
		t.Fatalf("records %v, want %v", got, want)
	}
	// An offset is an instant like any other: 09:00+01:00 is 08:00Z.
	st, evs := f.runTask(t, engine, `{"since":"2026-11-20T09:00:00+01:00","format":"jsonl"}`)
	if got, want := names(evs), []string{"m-100/edited", "m-102/sent", "m-100/deleted", "m-103/sent", "m-104/sent"}; !slices.Equal(got, want) {
		t.Fatalf("records %v, want %v", got, want)
	}
	if st.Request.From != "2026-11-20" || st.Request.To != "2026-11-22" {
		t.Fatalf("since alone read %s..%s, want 2026-11-20..2026-11-22", st.Request.From, st.Request.To)
	}
	// Instants beyond the archive ask for all there is: from the archival start to the
	// last sealed day, not a refusal for days never archived or not over yet.
	st, evs = f.runTask(t, engine, `{"since":"2025-01-01T00:00:00Z","until":"2027-01-01T00:00:00Z","messageIds":["m-104"],"format":"jsonl"}`)
	if got := names(evs); !slices.Equal(got, []string{"m-104/sent"}) || st.Request.From != "2026-11-19" || st.Request.To != "2026-11-22" {
		t.Fatalf("records %v over %s..%s, want m-104/sent over 2026-11-19..2026-11-22", got, st.Request.From, st.Request.To)
	}
	for _, tt := range []struct{ body, field string }{
		{`{"since":"2026-11-20","format":"jsonl"}`, "since"},
		{`{"since":"2026-11-20T10:00:00Z","until":"2026-11-20T10:00:00Z","format":"jsonl"}`, "until"},
		{`{"from":"2026-11-18","format":"jsonl"}`, "from"},
	} {
		resp, b := f.postTask(t, f.tokens["acme"], tt.body)
		wantCode(t, resp, b, 400, "invalid_request")
		if !strings.Contains(string(b), `"field":"`+tt.field+`"`) {
			t.Fatalf("%s: %s, want field %s", tt.body, b, tt.field)
		}
	}
	reliability.Record(t, "input", "export task bounded by RFC 3339 instants since/until", reliability.Kept,
		"since inclusive, until exclusive on eventTimestamp; a day or an empty interval is 400 naming the field")
}

func TestTaskWorkLimit(t *testing.T) {
	// The four days hold 7 records: a limit of 6 refuses the whole range, not its days.
	f, engine := selectionFixture(t, exporttask.Limits{MaxScanEvents: 6})
	resp, b := f.postTask(t, f.tokens["acme"], `{"format":"jsonl"}`)
	wantCode(t, resp, b, 400, "invalid_request")
	for _, want := range []string{`"field":"to"`, "holds 7 sealed records", "at most 6", "exports.maxScanEvents"} {
		if !strings.Contains(string(b), want) {
			t.Fatalf("%s does not say %s", b, want)
		}
	}
	// A shorter range of the same work limit passes.
	_, evs := f.runTask(t, engine, `{"from":"2026-11-20","format":"jsonl"}`)
	if len(evs) != 5 {
		t.Fatalf("records %v, want the 5 of 2026-11-20 on", names(evs))
	}
	reliability.Record(t, "input", "export task over exports.maxScanEvents sealed records", reliability.Refused,
		"400 invalid_request (field to) naming the records of the range and the limit; nothing stored")
}

func TestTaskSearchTerms(t *testing.T) {
	f, engine := selectionFixture(t, exporttask.Limits{})
	body := `{"format":"jsonl","terms":["\"contract draft\"","Merger-Plan","final","ÜBERPRÜFUNG","prüfung","projekt","contract"]}`
	st, evs := f.runTask(t, engine, body)
	// m-101's "contracts" and "subcontracts" are other words; the deletion has no text.
	if got, want := names(evs), []string{"m-100/sent", "m-100/edited", "m-102/sent", "m-103/sent"}; !slices.Equal(got, want) {
		t.Fatalf("records %v, want %v", got, want)
	}
	want := []exporttask.TermCount{
		{Term: `"contract draft"`, Records: 2, Chats: 1, Custodians: 1, Unique: 0},
		{Term: "Merger-Plan", Records: 1, Chats: 1, Custodians: 1, Unique: 0},
		{Term: "final", Records: 1, Chats: 1, Custodians: 1, Unique: 0},
		{Term: "ÜBERPRÜFUNG", Records: 1, Chats: 1, Custodians: 1, Unique: 1},
		{Term: "prüfung", Records: 0, Chats: 0, Custodians: 0, Unique: 0},
		// ß is a letter: "Großprojekt" is one word (an ASCII \b would split it at ß).
		{Term: "projekt", Records: 0, Chats: 0, Custodians: 0, Unique: 0},
		{Term: "contract", Records: 2, Chats: 1, Custodians: 1, Unique: 0},
	}
	if !slices.Equal(st.TermReport, want) {
		t.Fatalf("termReport %+v, want %+v", st.TermReport, want)
	}
	// ANDed with the other filters; a term alone matched counts as unique.
	st, evs = f.runTask(t, engine, `{"format":"jsonl","userIds":["u-ada"],"terms":["draft","see"]}`)
	if got := names(evs); !slices.Equal(got, []string{"m-100/sent", "m-100/edited", "m-102/sent"}) {
		t.Fatalf("records %v", got)
	}
	if want := []exporttask.TermCount{{Term: "draft", Records: 2, Chats: 1, Custodians: 1, Unique: 2}, {Term: "see", Records: 1, Chats: 1, Custodians: 1, Unique: 1}}; !slices.Equal(st.TermReport, want) {
		t.Fatalf("termReport %+v, want %+v", st.TermReport, want)
	}
	reliability.Record(t, "input", "export task search terms: a phrase, an attachment name, case and Unicode word boundaries", reliability.Kept,
		"matched on whole Unicode words (projekt does not match Großprojekt, prüfung not Überprüfung); termReport per term in the status")
}
