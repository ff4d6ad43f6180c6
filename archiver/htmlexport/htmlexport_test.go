package htmlexport

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/internal/exporttest"
	"github.com/chatvault/chatvault/internal/reliability"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func testOptions(t testing.TB) Options {
	return Options{Org: exporttest.Org, OrgName: exporttest.OrgName, TaskID: "3f6c1a2e-7d4b-4c8e-9a1f-0b2c3d4e5f60",
		TempDir: t.TempDir()}
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

// entries unpacks the archive: name → content, and the names in order.
func entries(t testing.TB, b []byte) (map[string][]byte, []string) {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("output is not a ZIP: %v", err)
	}
	m := map[string][]byte{}
	var names []string
	for _, zf := range zr.File {
		rc, err := zf.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		m[zf.Name] = data
		names = append(names, zf.Name)
	}
	return m, names
}

func TestGolden(t *testing.T) {
	out := produce(t, exporttest.Fixture(t), testOptions(t), nil)
	files, names := entries(t, out)
	want := []string{"chats/00001.html", "chats/00002.html", "index.html"}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Fatalf("entries %v, want %v", names, want)
	}
	for _, name := range names {
		path := filepath.Join("testdata", "golden", name)
		if *update {
			os.MkdirAll(filepath.Dir(path), 0o755)
			if err := os.WriteFile(path, files[name], 0o644); err != nil {
				t.Fatal(err)
			}
		}
		golden, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run with -update to create it)", err)
		}
		if !bytes.Equal(files[name], golden) {
			t.Errorf("%s differs from %s (run with -update if the change is intended)", name, path)
		}
	}
	if again := produce(t, exporttest.Fixture(t), testOptions(t), nil); !bytes.Equal(out, again) {
		t.Error("a second export of the same days differs")
	}
}

// TestTranscript checks what a reader must find on the team chat's page.
func TestTranscript(t *testing.T) {
	files, _ := entries(t, produce(t, exporttest.Fixture(t), testOptions(t), nil))
	page := string(files["chats/00002.html"])
	for _, want := range []string{
		"<h1>Chat chat-team</h1>",
		"b583c3463dae00fce41c18642db832a505c4095c96eed7ca377d9b09fa4372bd", // 2026-11-21's manifest hash
		"Morning! Report attached.</p>",                                    // the original, kept
		"Morning! Report attached (v2).</p>",                               // its edit
		"new version of the message above",
		`<a href="https://files.example/r.pdf?x=1&amp;y=2" rel="noopener noreferrer">report.pdf</a>`,
		`evil link (javascript:document.title=&#39;pwned&#39;)`, // shown, not linked
		`<div class="ev message reply">`,
		`<a href="#t1795251600000">the message of 2026-11-21T09:00:00.000Z</a>`,
		`<span class="badge">deleted</span> at <time datetime="2026-11-21T09:07:00.000Z">2026-11-21T09:07:00.000Z</time>`,
		"Added: Grace Hopper. Removed: Guest Visitor.",
		"<code>:&#43;1:</code>",
		"Snippet (go)",
		"Grüße — 日本語",
		"2026-11-21T09:00:00.000Z",
		"Guest Visitor</td><td>occupant</td><td>guest",
		"Standup Bot</td><td>bot</td><td>bot standup, integration int-standup",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("team chat page lacks %q", want)
		}
	}
	// Replies follow their parent: m-002 (a reply to m-001) comes before m-003, sent later.
	if i, j := strings.Index(page, "Standup starts in 5 minutes"), strings.Index(page, "Morning! Report attached (v2)."); i < j {
		t.Errorf("the reply comes before its parent's edit (%d < %d)", i, j)
	}
	if i, j := strings.Index(page, "Late reply to yesterday"), strings.Index(page, "Standup starts"); i < j {
		t.Errorf("the next day's reply to m-001 is not in m-001's thread")
	}
	if strings.Contains(page, "not shown above") || strings.Contains(page, "not in this export") {
		t.Error("the whole range is exported, yet an original or a thread parent is said to be missing")
	}
	// Exporting only the second day: its edit, deletion and reply point at messages of the first.
	second, _ := entries(t, produce(t, exporttest.Fixture(t)[1:], testOptions(t), nil))
	for _, want := range []string{
		"new version of a message sent 2026-11-21T09:04:00.000Z (original not shown above)",
		"(a message sent 2026-11-21T09:01:00.000Z; original not shown above)",
		"the message of 2026-11-21T09:00:00.000Z (not in this export)",
	} {
		if !strings.Contains(string(second["chats/00001.html"]), want) {
			t.Errorf("second day's page lacks %q", want)
		}
	}
	index := string(files["index.html"])
	for _, want := range []string{`<a href="chats/00001.html">chat-injection</a>`, `<a href="chats/00002.html">chat-team</a>`,
		"<h2>Chats (2)</h2>", "2026-11-22"} {
		if !strings.Contains(index, want) {
			t.Errorf("index lacks %q", want)
		}
	}
}

var hrefRE = regexp.MustCompile(`(?i)\b(href|src)\s*=\s*"([^"]*)"`)

// assertInert checks one page for anything active that came from the data.
func assertInert(t *testing.T, name string, page []byte) {
	t.Helper()
	lower := bytes.ToLower(page)
	for _, bad := range []string{"<script", "<img", "<iframe", "onerror=\"", "onerror='", `href="javascript`} {
		if bytes.Contains(lower, []byte(bad)) {
			t.Errorf("%s contains %q", name, bad)
		}
	}
	for _, m := range hrefRE.FindAllSubmatch(page, -1) {
		u := string(m[2])
		if !(strings.HasPrefix(u, "https://") || strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "#") ||
			u == "../index.html" || strings.HasPrefix(u, "chats/")) {
			t.Errorf("%s: %s=%q", name, m[1], u)
		}
	}
}

// TestInjection: script tags, javascript: URLs and attribute-breaking quotes in message
// text, display names and attachments come out as text.
func TestInjection(t *testing.T) {
	files, _ := entries(t, produce(t, exporttest.Fixture(t), testOptions(t), nil))
	for name, page := range files {
		assertInert(t, name, page)
	}
	page := string(files["chats/00001.html"])
	for _, want := range []string{
		"&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;",
		"&#34;&gt;&lt;img src=x onerror=&#34;document.title=&#39;pwned&#39;&#34;&gt;Mallory",
		"&lt;script&gt;alert(3)&lt;/script&gt; (javascript:alert(4))",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("injection page lacks the escaped text %q", want)
		}
	}
	reliability.Record(t, "security", "html export: script tags, javascript: URLs and quotes in text, names, attachments", reliability.Kept,
		"escaped by html/template; only http(s) links; CSP forbids scripts")
}

// TestSpillsGiveSameOutput: a tiny sort budget (many spilled runs) changes nothing.
func TestSpillsGiveSameOutput(t *testing.T) {
	if testing.Short() {
		t.Skip("generates a day")
	}
	files := exporttest.Synth(t, "2026-11-22", 5_000)
	run := func(budget int) []byte {
		var out bytes.Buffer
		w, err := NewWriter(&out, testOptions(t))
		if err != nil {
			t.Fatal(err)
		}
		w.budget = budget
		if err := w.WriteDay(context.Background(), exporttest.Manifest("2026-11-22"), exporttest.Stream(t, files)); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if budget < sortMemory && w.sorter == nil {
			t.Fatal("no sorter")
		}
		return out.Bytes()
	}
	small, whole := run(1<<16), run(sortMemory)
	if !bytes.Equal(small, whole) {
		t.Fatal("output differs when the sort spills")
	}
	pages, _ := entries(t, whole)
	for name, page := range pages {
		assertInert(t, name, page)
	}
	if len(pages) < 10 {
		t.Errorf("only %d pages for a generated day", len(pages))
	}
}

func TestSpillFailureFailsCleanly(t *testing.T) {
	opt := testOptions(t)
	opt.TempDir = filepath.Join(opt.TempDir, "missing")
	w, err := NewWriter(io.Discard, opt)
	if err != nil {
		t.Fatal(err)
	}
	// Enough records to exceed the sort budget, so the day must spill.
	next := exporttest.Oversized(2 * sortMemory >> 16)
	err = w.WriteDay(context.Background(), exporttest.Manifest("2026-11-21"), next)
	if err == nil || !strings.Contains(err.Error(), "htmlexport: day 2026-11-21") {
		t.Fatalf("WriteDay = %v, want an error naming the day", err)
	}
	reliability.Record(t, "fault", "html export: spill folder missing", reliability.CleanFailure,
		"WriteDay fails naming the day; the task fails")
}

func TestCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	w, err := NewWriter(io.Discard, testOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	d := exporttest.Fixture(t)[0]
	if err := w.WriteDay(ctx, d.Manifest, d.Next()); !errors.Is(err, context.Canceled) {
		t.Fatalf("WriteDay after cancel = %v", err)
	}
}

// TestTimesAreTheSealedDays: the archive's only time is the latest sealing time of its
// source days (every entry's modification time and the pages' stamp), never the clock of
// the process that writes it, so the same task gives the same bytes on any replica.
func TestTimesAreTheSealedDays(t *testing.T) {
	days := exporttest.Fixture(t)
	want := days[len(days)-1].Manifest.SealedTime()
	if want.Before(days[0].Manifest.SealedTime()) || want.IsZero() {
		t.Fatalf("fixture: the last day is not the latest sealed: %v", want)
	}
	out := produce(t, days, testOptions(t), nil)
	zr, err := zip.NewReader(bytes.NewReader(out), int64(len(out)))
	if err != nil {
		t.Fatal(err)
	}
	for _, zf := range zr.File {
		if !zf.Modified.Equal(want.Truncate(time.Second)) {
			t.Errorf("%s modified %v, want the latest sealing time %v", zf.Name, zf.Modified, want)
		}
	}
	files, _ := entries(t, out)
	stamp := "as sealed by " + want.Format(time.RFC3339)
	for _, name := range []string{"index.html", "chats/00001.html"} {
		if !strings.Contains(string(files[name]), stamp) {
			t.Errorf("%s does not say %q", name, stamp)
		}
	}
}

var (
	timeRE   = regexp.MustCompile(`<time datetime="([^"]*)">([^<]*)</time> <span class="epoch">\((-?\d+)\)</span>`)
	legacyRE = regexp.MustCompile(`\d\d:\d\d:\d\d(\.\d+)? UTC`)
)

// TestTimesRFC3339: every time a reader sees is RFC 3339 in UTC, and an event's times
// carry the record's epoch milliseconds beside them, so a page ties back to the records.
func TestTimesRFC3339(t *testing.T) {
	files, _ := entries(t, produce(t, exporttest.Fixture(t), testOptions(t), nil))
	for name, b := range files {
		page := string(b)
		if m := legacyRE.FindString(page); m != "" {
			t.Errorf("%s shows a time not in RFC 3339: %q", name, m)
		}
		ms := timeRE.FindAllStringSubmatch(page, -1)
		if n := strings.Count(page, "<time"); n != len(ms) || (strings.HasPrefix(name, "chats/") && n == 0) {
			t.Errorf("%s: %d time elements, %d with their epoch value", name, n, len(ms))
		}
		for _, m := range ms {
			at, err := time.Parse(time.RFC3339, m[2])
			epoch, _ := strconv.ParseInt(m[3], 10, 64)
			if err != nil || m[1] != m[2] || !strings.HasSuffix(m[2], "Z") || at.UnixMilli() != epoch {
				t.Errorf("%s: %q: shown %q, datetime %q, epoch %s (%v)", name, m[0], m[2], m[1], m[3], err)
			}
		}
	}
	team := string(files["chats/00002.html"])
	for _, want := range []string{
		`<time datetime="2026-11-21T09:00:00.000Z">2026-11-21T09:00:00.000Z</time> <span class="epoch">(1795251600000)</span>`,
		`<span class="badge">deleted</span> at <time datetime="2026-11-21T09:07:00.000Z">2026-11-21T09:07:00.000Z</time> <span class="epoch">(1795252020000)</span>`,
	} {
		if !strings.Contains(team, want) {
			t.Errorf("team chat page lacks %q", want)
		}
	}
	stamp := "as sealed by " + exporttest.Fixture(t)[1].Manifest.SealedTime().Format(time.RFC3339)
	if !strings.Contains(string(files["index.html"]), stamp) || !strings.Contains(string(files["index.html"]), "<td>2026-11-21T09:00:00.000Z</td>") {
		t.Errorf("index.html lacks %q or the first chat's first time in RFC 3339", stamp)
	}
	reliability.Record(t, "input", "html export: times a reader sees", reliability.Kept,
		"RFC 3339 in UTC, each event's with the record's epoch milliseconds beside it")
}
