package synth_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/synth"
	"github.com/chatvault/chatvault/model"
)

func testDay(t testing.TB) archiver.Day {
	t.Helper()
	d, err := archiver.ParseDay("2026-11-22")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func generate(t testing.TB, dir string, opt synth.Options) synth.Stats {
	t.Helper()
	st, err := synth.Generate(context.Background(), dir, opt)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// digest hashes every file under dir, names included.
func digest(t *testing.T, dir string) string {
	t.Helper()
	h := sha256.New()
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		io.WriteString(h, rel+" "+hex.EncodeToString(sum[:])+"\n")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func TestDeterministic(t *testing.T) {
	opt := synth.Options{Day: testDay(t), Events: 20_000, Orgs: 12, Seed: 7, Files: 3, Bad: 20}
	a, b, c := t.TempDir(), t.TempDir(), t.TempDir()
	opt.Parallel = 1
	sa := generate(t, a, opt)
	opt.Parallel = 3
	sb := generate(t, b, opt)
	if da, db := digest(t, a), digest(t, b); da != db {
		t.Fatalf("same options, different bytes: %s != %s", da, db)
	}
	if !reflect.DeepEqual(sa, sb) {
		t.Fatalf("same options, different stats:\n%+v\n%+v", sa, sb)
	}
	opt.Seed = 8
	generate(t, c, opt)
	if digest(t, a) == digest(t, c) {
		t.Fatal("different seeds gave the same bytes")
	}
}

// readLines returns every line of the day's files (gunzipped), without the "\n".
func readLines(t *testing.T, dir string, st synth.Stats) map[string][][]byte {
	t.Helper()
	out := map[string][][]byte{}
	for _, name := range st.Files {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		var r io.Reader = f
		if strings.HasSuffix(name, ".gz") {
			zr, err := gzip.NewReader(f)
			if err != nil {
				t.Fatal(err)
			}
			r = zr
		}
		data, err := io.ReadAll(r)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(data) > 0 && data[len(data)-1] != '\n' {
			t.Fatalf("%s: does not end with a newline", name)
		}
		for line := range bytes.Lines(data) {
			out[name] = append(out[name], bytes.TrimSuffix(line, []byte("\n")))
		}
	}
	return out
}

// Test-side decoding of a message line, independent of the model's decoder.
type tParticipant struct {
	Type          string `json:"participantType"`
	ID            string `json:"id"`
	DisplayName   string `json:"displayName"`
	Email         string `json:"email"`
	RoamID        string `json:"roamId"`
	IntegrationID string `json:"integrationId"`
	BotCode       string `json:"botCode"`
}

type tContent struct {
	Type         string            `json:"contentType"`
	Text         string            `json:"text"`
	MarkdownText string            `json:"markdownText"`
	Attachments  []json.RawMessage `json:"attachments"`
	Colons       string            `json:"colons"`
	FileURL      string            `json:"fileUrl"`
	ItemURL      string            `json:"itemUrl"`
	ItemType     string            `json:"itemType"`
	Language     string            `json:"language"`
	Added        []tParticipant    `json:"added"`
	Removed      []tParticipant    `json:"removed"`
}

type tEvent struct {
	EventType       string       `json:"eventType"`
	ChatID          string       `json:"chatId"`
	ThreadTimestamp int64        `json:"threadTimestamp"`
	Timestamp       int64        `json:"timestamp"`
	EventTimestamp  int64        `json:"eventTimestamp"`
	MessageID       string       `json:"messageId"`
	Sender          tParticipant `json:"sender"`
	ContentType     string       `json:"contentType"`
	Content         *tContent    `json:"content"`
}

func (p tParticipant) model() model.Participant { return model.Participant(p) }

func (e tEvent) model(t *testing.T) model.Event {
	m := model.Event{EventType: e.EventType, ChatID: e.ChatID, ThreadTimestamp: e.ThreadTimestamp,
		Timestamp: e.Timestamp, EventTimestamp: e.EventTimestamp, MessageID: e.MessageID,
		Sender: e.Sender.model(), ContentType: e.ContentType, HasContent: e.Content != nil}
	if c := e.Content; c != nil {
		m.Content = model.Content{Type: c.Type, Text: c.Text, MarkdownText: c.MarkdownText, Colons: c.Colons,
			FileURL: c.FileURL, ItemURL: c.ItemURL, ItemType: c.ItemType, Language: c.Language}
		for _, a := range c.Attachments {
			var b bytes.Buffer
			if err := json.Compact(&b, a); err != nil {
				t.Fatal(err)
			}
			m.Content.Attachments = append(m.Content.Attachments, model.RawJSON(b.String()))
		}
		for _, p := range c.Added {
			m.Content.Added = append(m.Content.Added, p.model())
		}
		for _, p := range c.Removed {
			m.Content.Removed = append(m.Content.Removed, p.model())
		}
	}
	return m
}

// classifyBad names the bad kind of a line, or "" for a line that is fine.
func classifyBad(line []byte, obj map[string]any, decodeErr error) string {
	switch {
	case !utf8.Valid(line):
		return "invalid-utf8"
	case decodeErr != nil && bytes.HasSuffix(line, []byte("}")):
		return "invalid-json"
	case decodeErr != nil:
		return "truncated"
	case obj["eventType"] == "reacted":
		return "unknown-event-type"
	case obj["contentType"] == "poll":
		return "unknown-content-type"
	}
	if _, ok := obj["messageId"]; !ok {
		return "missing-message-id"
	}
	if _, ok := obj["timestamp"].(string); ok {
		return "string-timestamp"
	}
	for _, k := range []string{"timestamp", "eventTimestamp"} {
		if n, ok := obj[k].(json.Number); ok && strings.Contains(n.String(), ".") {
			return "float-timestamp"
		}
	}
	if s, _ := obj["sender"].(map[string]any); s != nil {
		switch s["participantType"] {
		case model.ParticipantEmail, model.ParticipantBot, model.ParticipantOccupant:
		default:
			return "unknown-participant-type"
		}
	}
	if c, ok := obj["content"]; ok && c == nil && obj["eventType"] == model.EventSent {
		return "null-content"
	}
	return ""
}

func TestContent(t *testing.T) {
	dir := t.TempDir()
	day := testDay(t)
	opt := synth.Options{Day: day, Events: 20_000, Orgs: 12, Seed: 42, Files: 3, Bad: 40}
	st := generate(t, dir, opt)

	if st.Lines != opt.Events || st.Messages+st.Waves+st.Invitations+st.Bad != st.Lines || st.Bad != opt.Bad {
		t.Fatalf("stats do not add up: %+v", st)
	}
	if len(st.Files) != 3 || strings.HasSuffix(st.Files[0], ".gz") || !strings.HasSuffix(st.Files[1], ".gz") {
		t.Fatalf("files: %v", st.Files)
	}
	if _, err := os.Stat(filepath.Join(dir, "2026-11-22", "_CLOSED")); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "directory.json"))
	if err != nil {
		t.Fatal(err)
	}
	d, err := model.ParseDirectory(data)
	if err != nil {
		t.Fatal(err)
	}
	userOrg := map[string]string{}
	for _, u := range d.Users {
		userOrg[u.ID] = u.OrgID
	}
	archiving := map[string]bool{}
	for _, o := range d.Organizations {
		archiving[o.ID] = o.Archival && o.ArchivalStart <= day.String()
	}
	botOrg := map[string]string{}
	for _, b := range d.Bots {
		botOrg[b.ID] = b.OrgID
	}
	chats := map[string][]string{}
	for _, c := range d.Chats {
		chats[c.ID] = c.Members
	}

	start, end := day.Start().UnixMilli(), day.End().UnixMilli()
	seen := map[string]int{}
	note := func(what string) { seen[what]++ }
	badKinds := map[string]int{}
	canon := map[string]bool{}
	lines, dups := 0, 0
	var prevEventTS map[string]int64 = map[string]int64{}
	for name, ls := range readLines(t, dir, st) {
		for i, line := range ls {
			lines++
			var obj map[string]any
			dec := json.NewDecoder(bytes.NewReader(line))
			dec.UseNumber()
			err := dec.Decode(&obj)
			if kind := classifyBad(line, obj, err); kind != "" {
				badKinds[kind]++
				continue
			}
			ct, _ := obj["contentType"].(string)
			if ct == "wave" || ct == "roomInvitation" {
				note(ct)
				continue
			}
			var te tEvent
			if err := json.Unmarshal(line, &te); err != nil {
				t.Fatalf("%s:%d: %v\n%s", name, i+1, err, line)
			}
			e := te.model(t)
			enc := model.AppendJSON(nil, &e)
			if bytes.Equal(enc, line) {
				note("canonical")
			} else {
				note("variant")
				if bytes.HasSuffix(line, []byte("\r")) {
					note("crlf")
				}
				if _, ok := obj["clientInfo"]; ok {
					note("extra field")
				}
				if bytes.Contains(line, []byte(`\u`)) || bytes.Contains(line, []byte(`\/`)) {
					note("escapes")
				}
			}
			if canon[string(enc)] {
				dups++
			}
			canon[string(enc)] = true

			if e.EventTimestamp < start || e.EventTimestamp >= end {
				t.Fatalf("%s:%d: eventTimestamp %d outside the day", name, i+1, e.EventTimestamp)
			}
			if e.EventTimestamp < prevEventTS[name] {
				note("out of order")
			}
			if e.EventTimestamp == prevEventTS[name] {
				note("same millisecond")
			}
			prevEventTS[name] = e.EventTimestamp
			if !model.IsMessageContentType(e.ContentType) || e.HasContent && e.Content.Type != e.ContentType {
				t.Fatalf("%s:%d: content type %q / %q", name, i+1, e.ContentType, e.Content.Type)
			}
			note("event " + e.EventType)
			note("content " + e.ContentType)
			note("sender " + e.Sender.Type)
			switch e.EventType {
			case model.EventSent:
				if !e.HasContent {
					t.Fatalf("%s:%d: sent without content", name, i+1)
				}
			case model.EventEdited, model.EventDeleted:
				if e.EventTimestamp <= e.Timestamp {
					t.Fatalf("%s:%d: %s not after the message", name, i+1, e.EventType)
				}
				if e.Timestamp < start {
					note("changes a message of the day before")
				}
				if !e.HasContent {
					note(e.EventType + " without content")
				}
			default:
				t.Fatalf("%s:%d: event type %q", name, i+1, e.EventType)
			}
			if e.ThreadTimestamp != 0 {
				note("thread")
			}
			for _, p := range append(append([]model.Participant{e.Sender}, e.Content.Added...), e.Content.Removed...) {
				if !utf8.ValidString(p.DisplayName) || p.ID == "" {
					t.Fatalf("%s:%d: participant %+v", name, i+1, p)
				}
			}
			if len(e.Content.Attachments) > 0 {
				note("attachments")
			}
			if e.Content.FileURL != "" {
				note("emoji fileUrl")
			}
			if len(e.Content.Text) > 20_000 {
				note("paste")
			}
			if strings.ContainsAny(e.Content.Text, "\u2028\"\\\t\n") {
				note("escaping-heavy text")
			}
			// Who could claim the event.
			members, listed := chats[e.ChatID]
			if !listed {
				note("unlisted chat")
				continue
			}
			orgs := map[string]bool{}
			entitled := false
			for _, m := range members {
				if o, ok := userOrg[m]; ok {
					orgs[o] = true
					entitled = entitled || archiving[o]
				}
			}
			if len(orgs) >= 2 {
				note("cross-org chat")
			}
			if o, ok := userOrg[e.Sender.ID]; ok && e.Sender.Type == model.ParticipantEmail && archiving[o] {
				entitled = true
			}
			if o, ok := botOrg[e.Sender.ID]; ok && archiving[o] {
				entitled = true
			}
			if !entitled {
				note("not entitled")
			}
		}
	}
	if lines != opt.Events {
		t.Fatalf("%d lines, want %d", lines, opt.Events)
	}
	want := []string{
		"canonical", "variant", "crlf", "extra field", "escapes", "out of order", "same millisecond",
		"event sent", "event edited", "event deleted", "edited without content", "deleted without content",
		"content text", "content emoji", "content item", "content textSnippet", "content membersChanged",
		"sender email", "sender bot", "sender occupant", "wave", "roomInvitation", "thread",
		"attachments", "emoji fileUrl", "escaping-heavy text", "changes a message of the day before",
		"unlisted chat", "cross-org chat", "not entitled",
	}
	for _, w := range want {
		if w == "edited without content" {
			continue // edits always carry content
		}
		if seen[w] == 0 {
			t.Errorf("no line shows %q", w)
		}
	}
	if seen["edited without content"] != 0 {
		t.Errorf("%d edits without content", seen["edited without content"])
	}
	if seen["wave"] != st.Waves || seen["roomInvitation"] != st.Invitations {
		t.Errorf("waves %d, invitations %d; stats say %d, %d", seen["wave"], seen["roomInvitation"], st.Waves, st.Invitations)
	}
	if dups != st.Duplicates || dups == 0 {
		t.Errorf("%d repeated records, stats say %d", dups, st.Duplicates)
	}
	for _, k := range synth.BadKinds {
		if badKinds[k] == 0 || badKinds[k] != st.BadByKind[k] {
			t.Errorf("bad kind %s: %d lines, stats say %d", k, badKinds[k], st.BadByKind[k])
		}
	}
	msgs := 0
	for k, n := range seen {
		if strings.HasPrefix(k, "event ") {
			msgs += n
		}
	}
	if msgs != st.Messages {
		t.Errorf("%d message lines, stats say %d", msgs, st.Messages)
	}
	t.Logf("stats: %+v", st)
	t.Logf("seen: %v", seen)
}

func TestDirectory(t *testing.T) {
	dir := t.TempDir()
	day := testDay(t)
	opt := synth.Options{Day: day, Events: 40_000, Orgs: 30, Seed: 1}
	st := generate(t, dir, opt)
	data, err := os.ReadFile(filepath.Join(dir, "directory.json"))
	if err != nil {
		t.Fatal(err)
	}
	d, err := model.ParseDirectory(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(d, synth.GenerateDirectory(opt)) {
		t.Error("directory.json differs from GenerateDirectory")
	}
	if len(d.Organizations) != 30 || st.Orgs != 30 || st.Users != len(d.Users) || st.Bots != len(d.Bots) || st.Chats != len(d.Chats) {
		t.Fatalf("stats %+v for %d orgs, %d users", st, len(d.Organizations), len(d.Users))
	}
	var on, off, future, today int
	size := map[string]int{}
	for _, u := range d.Users {
		size[u.OrgID]++
	}
	for _, o := range d.Organizations {
		switch {
		case !o.Archival:
			off++
		case o.ArchivalStart > day.String():
			future++
		case o.ArchivalStart == day.String():
			today++
			on++
		default:
			on++
		}
		if o.RetentionDays <= 0 {
			t.Errorf("org %s: retention %d", o.Name, o.RetentionDays)
		}
	}
	if future != 1 || today != 1 || off < 3 || on < 12 {
		t.Errorf("archival: %d on, %d off, %d future, %d today", on, off, future, today)
	}
	if big, small := size[d.Organizations[0].ID], size[d.Organizations[29].ID]; big < 20*small {
		t.Errorf("sizes not skewed: biggest %d, smallest %d", big, small)
	}
	var nonASCII, emoji int
	emails := map[string]bool{}
	for _, u := range d.Users {
		if emails[u.Email] || !strings.Contains(u.Email, "@") {
			t.Errorf("email %q repeated or malformed", u.Email)
		}
		emails[u.Email] = true
		for _, r := range u.DisplayName {
			if r > 0x7f {
				nonASCII++
				break
			}
		}
		if strings.ContainsAny(u.DisplayName, "🚀🌴🇮👩☕") {
			emoji++
		}
	}
	if nonASCII < len(d.Users)/4 || emoji == 0 {
		t.Errorf("%d of %d names non-ASCII, %d with emoji", nonASCII, len(d.Users), emoji)
	}
	if len(d.Bots) == 0 || st.Occupants == 0 || st.UnlistedChats == 0 {
		t.Errorf("bots %d, occupants %d, unlisted chats %d", len(d.Bots), st.Occupants, st.UnlistedChats)
	}
}

func TestRefusesNonEmptyDay(t *testing.T) {
	dir := t.TempDir()
	opt := synth.Options{Day: testDay(t), Events: 100, Orgs: 3}
	if err := os.MkdirAll(filepath.Join(dir, "2026-11-22"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "2026-11-22", "part-0001.jsonl"), []byte("{}\n"), 0o644)
	_, err := synth.Generate(context.Background(), dir, opt)
	if err == nil || !strings.Contains(err.Error(), "refusing to mix") {
		t.Fatalf("err = %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "directory.json")); err == nil {
		t.Error("wrote directory.json although it refused")
	}

	// A second generation of the same day is refused too; another day reuses the directory.
	dir = t.TempDir()
	generate(t, dir, opt)
	before := digest(t, dir)
	if _, err := synth.Generate(context.Background(), dir, opt); err == nil {
		t.Fatal("generated the same day twice")
	}
	if digest(t, dir) != before {
		t.Fatal("a refused generation changed files")
	}
	opt.Day = testDay(t).Next()
	st := generate(t, dir, opt)
	if !st.DirectoryReused {
		t.Error("directory not reused")
	}
	opt.Day, opt.Orgs = opt.Day.Next(), 5
	if _, err := synth.Generate(context.Background(), dir, opt); err == nil || !strings.Contains(err.Error(), "organizations") {
		t.Fatalf("orgs mismatch: err = %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, opt.Day.String())); err == nil {
		t.Error("a failed generation left its day folder")
	}
}

func TestCancel(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	opt := synth.Options{Day: testDay(t), Events: 300_000, Files: 3, Parallel: 2, Progress: func(n int) {
		calls++
		cancel()
	}}
	_, err := synth.Generate(ctx, dir, opt)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if calls == 0 {
		t.Error("progress never called")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 0 {
		t.Errorf("left %d entries behind, e.g. %s", len(entries), entries[0].Name())
	}
}

func TestProgress(t *testing.T) {
	var got []int
	opt := synth.Options{Day: testDay(t), Events: 120_001, Files: 3, Progress: func(n int) { got = append(got, n) }}
	generate(t, t.TempDir(), opt)
	if len(got) < 2 || got[len(got)-1] != opt.Events {
		t.Fatalf("progress calls %v", got)
	}
	for i := 1; i < len(got); i++ {
		if got[i] <= got[i-1] {
			t.Fatalf("progress went back: %v", got)
		}
	}
}

func TestSmall(t *testing.T) {
	for _, opt := range []synth.Options{
		{Events: 0},
		{Events: 1, Orgs: 1},
		{Events: 7, Orgs: 2, Files: 5, Bad: 7},
		{Events: 500, Orgs: 1, Bad: 10, Compression: synth.Gzip},
		{Events: 3000, Orgs: 4, Files: 2, Compression: synth.Plain},
	} {
		opt.Day = testDay(t)
		dir := t.TempDir()
		st := generate(t, dir, opt)
		n := 0
		for _, ls := range readLines(t, dir, st) {
			n += len(ls)
		}
		if n != opt.Events || st.Lines != opt.Events || st.Bad != opt.Bad {
			t.Errorf("%+v: %d lines, stats %+v", opt, n, st)
		}
		for _, f := range st.Files {
			if gz := strings.HasSuffix(f, ".gz"); opt.Compression == synth.Plain && gz || opt.Compression == synth.Gzip && !gz {
				t.Errorf("compression %d: file %s", opt.Compression, f)
			}
		}
	}
}

func TestOptionsErrors(t *testing.T) {
	for _, opt := range []synth.Options{
		{Events: 10},
		{Day: testDay(t), Events: -1},
		{Day: testDay(t), Events: 10, Bad: 11},
	} {
		if _, err := synth.Generate(context.Background(), t.TempDir(), opt); err == nil {
			t.Errorf("%+v: no error", opt)
		}
	}
}

func BenchmarkGenerate(b *testing.B) {
	const events = 500_000
	day := testDay(b)
	var bytesOut int64
	for b.Loop() {
		dir := b.TempDir()
		generate(b, dir, synth.Options{Day: day, Events: events, Orgs: 100, Files: 2, Bad: 100})
		b.StopTimer()
		filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.Contains(p, "part-") {
				if fi, err := d.Info(); err == nil {
					bytesOut += fi.Size()
				}
			}
			return nil
		})
		os.RemoveAll(dir)
		b.StartTimer()
	}
	b.ReportMetric(float64(events)*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
	b.ReportMetric(float64(bytesOut)/float64(b.N)/events, "B/line(stored)")
}

// TestModelDecode checks the lines against the archiver's strict decoder: message lines
// decode to the record the test-side decoding sees, waves and invitations are unknown
// content types, and every bad line is refused.
func TestModelDecode(t *testing.T) {
	dir := t.TempDir()
	st := generate(t, dir, synth.Options{Day: testDay(t), Events: 10_000, Orgs: 12, Seed: 3, Files: 2, Bad: 50})
	refused, unknownContent, ok := 0, 0, 0
	for name, ls := range readLines(t, dir, st) {
		for i, line := range ls {
			line = bytes.TrimSuffix(line, []byte("\r"))
			e, err := model.Decode(line)
			var obj map[string]any
			dec := json.NewDecoder(bytes.NewReader(line))
			dec.UseNumber()
			jerr := dec.Decode(&obj)
			if kind := classifyBad(line, obj, jerr); kind != "" {
				if err == nil {
					t.Errorf("%s:%d: %s line accepted: %s", name, i+1, kind, line)
				}
				refused++
				continue
			}
			if ct := obj["contentType"]; ct == "wave" || ct == "roomInvitation" {
				if !errors.Is(err, model.ErrUnknownVariant) {
					t.Errorf("%s:%d: %s: err = %v", name, i+1, ct, err)
				}
				unknownContent++
				continue
			}
			if err != nil {
				t.Fatalf("%s:%d: %v\n%s", name, i+1, err, line)
			}
			var te tEvent
			if err := json.Unmarshal(line, &te); err != nil {
				t.Fatal(err)
			}
			want := te.model(t)
			if got, want := model.AppendJSON(nil, &e), model.AppendJSON(nil, &want); !bytes.Equal(got, want) {
				t.Fatalf("%s:%d: decoded as\n%s\nwant\n%s", name, i+1, got, want)
			}
			ok++
		}
	}
	if refused != st.Bad || unknownContent != st.Waves+st.Invitations || ok != st.Messages {
		t.Errorf("refused %d, unknown content %d, ok %d; stats %+v", refused, unknownContent, ok, st)
	}
}

// TestDirectoryNearEpoch generates the directory of a day just after 1970-01-01: its
// organizations' archivalStart (up to 730 days before the day) must not fall before
// 1970, which the directory's validation refuses (no day exists before it).
func TestDirectoryNearEpoch(t *testing.T) {
	day, err := archiver.ParseDay("1970-01-03")
	if err != nil {
		t.Fatal(err)
	}
	d := synth.GenerateDirectory(synth.Options{Day: day, Events: 1000, Orgs: 30, Seed: 1})
	if err := d.Validate(); err != nil {
		t.Fatalf("the generated directory of %s is refused: %v", day, err)
	}
}
