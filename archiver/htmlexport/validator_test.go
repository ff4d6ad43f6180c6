package htmlexport

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/internal/exporttest"
	"github.com/chatvault/chatvault/internal/reliability"
	"github.com/chatvault/chatvault/model"
)

// EnvVNU names the variable holding the path of vnu.jar, the W3C Nu HTML checker; `make
// test` sets it from scripts/vnu.sh (which also installs the Java runtime it needs).
const EnvVNU = "CHATVAULT_VNU"

func vnuJar(t *testing.T) string {
	t.Helper()
	jar := os.Getenv(EnvVNU)
	if jar == "" {
		if testing.Short() {
			t.Skip("no HTML validator under -short")
		}
		t.Fatalf("%s is not set: run the tests with %s=$(scripts/vnu.sh), as make test does", EnvVNU, EnvVNU)
	}
	if _, err := os.Stat(jar); err != nil {
		t.Fatalf("%s: %v", EnvVNU, err)
	}
	return jar
}

// hostileLines is a day of records whose text fields carry what a page must not write
// raw: every C0 control character but tab and newline, DEL, C1 controls, noncharacters;
// and an emoji without a fileUrl.
var hostileLines = []string{
	`{"eventType":"sent","chatId":"chat-ctl\u0007","timestamp":1795420800000,"eventTimestamp":1795420800000,"messageId":"m-c1","sender":{"participantType":"email","id":"u-\u001bmallory","displayName":"Mal\u0000lory\u001b[31m","email":"mal\u0008@acme.example"},"contentType":"text","content":{"contentType":"text","text":"` + allControls() + `","markdownText":"*bold*\u001b[0m\r\n\u007f","attachments":[{"name":"re\u0001port\u0085.pdf","url":"https://files.example/a\u0085b.pdf"}]}}`,
	`{"eventType":"sent","chatId":"chat-ctl\u0007","timestamp":1795420860000,"eventTimestamp":1795420860000,"messageId":"m-c2","sender":{"participantType":"bot","id":"b-\u000bbot","displayName":"Bot\u000c","roamId":"r","integrationId":"int\u0010","botCode":"code\u001f"},"contentType":"emoji","content":{"contentType":"emoji","text":"\ud83d\udc4d","colons":":+1:\u0003"}}`,
	`{"eventType":"sent","chatId":"chat-ctl\u0007","timestamp":1795420920000,"eventTimestamp":1795420920000,"messageId":"m-c3","sender":{"participantType":"occupant","id":"o-g\ufdd0","displayName":"Guest\ufffe"},"contentType":"item","content":{"contentType":"item","itemUrl":"javascript:\u0002x","itemType":"doc\u0004"}}`,
	`{"eventType":"sent","chatId":"chat-ctl\u0007","timestamp":1795420980000,"eventTimestamp":1795420980000,"messageId":"m-c4","sender":{"participantType":"occupant","id":"o-g","displayName":"Guest"},"contentType":"textSnippet","content":{"contentType":"textSnippet","text":"x := \"\u001b\"\u0000","language":"go\u0005"}}`,
	`{"eventType":"sent","chatId":"chat-ctl\u0007","timestamp":1795421040000,"eventTimestamp":1795421040000,"messageId":"m-c5","sender":{"participantType":"occupant","id":"o-g","displayName":"Guest"},"contentType":"emoji","content":{"contentType":"emoji","text":"x","colons":":x:","fileUrl":"ftp://files.example/x\u0006.png"}}`,
	`{"eventType":"edited","chatId":"chat-ctl\u0007","timestamp":1795420800000,"eventTimestamp":1795421100000,"messageId":"m-c1","sender":{"participantType":"email","id":"u-\u001bmallory","displayName":"Mal\u0000lory\u001b[31m","email":"mal\u0008@acme.example"},"contentType":"text","content":{"contentType":"text","text":"edited\u001b","markdownText":"edited\u001b","attachments":[]}}`,
}

// allControls is a JSON string body holding every code point the pages must not write
// raw, each between letters.
func allControls() string {
	var b strings.Builder
	for r := rune(0); r < 0x20; r++ {
		b.WriteString("a")
		b.WriteString(jsonEscape(r))
	}
	for _, r := range []rune{0x7f, 0x80, 0x85, 0x9f, 0xfdd0, 0xfdef, 0xfffe, 0xffff, 0x1fffe, 0x10ffff} {
		b.WriteString("b")
		b.WriteString(jsonEscape(r))
	}
	return b.String() + "z"
}

func jsonEscape(r rune) string {
	b, _ := json.Marshal(string(r))
	s := strings.Trim(string(b), `"`)
	if r == 0x7f || r >= 0x80 {
		return string(r)
	}
	return s
}

func hostileDay(t testing.TB) exporttest.Day {
	t.Helper()
	d := exporttest.Day{Manifest: exporttest.Manifest("2026-11-23")}
	for i, line := range hostileLines {
		e, err := model.Decode([]byte(line))
		if err != nil {
			t.Fatalf("hostile line %d: %v", i, err)
		}
		d.Events = append(d.Events, e)
	}
	return d
}

// forbidden reports the first code point a page must not hold raw: a C0 control but tab,
// newline and the page's own carriage returns (there are none), DEL, a C1 control, a
// noncharacter.
func forbidden(page []byte) (rune, int, bool) {
	for i, r := range string(page) {
		if r < 0x20 && r != '\t' && r != '\n' || r >= 0x7f && r <= 0x9f || r >= 0xfdd0 && r <= 0xfdef || r&0xfffe == 0xfffe {
			return r, i, true
		}
	}
	return 0, 0, false
}

// TestControlCharactersShownVisibly: control characters in the data are shown visibly
// on the page (a control picture such as ␛, or \u0085 for those without one), never
// written raw, wherever they come from: text, markdown, snippets, names, ids, attachments.
func TestControlCharactersShownVisibly(t *testing.T) {
	files, _ := entries(t, produce(t, append(exporttest.Fixture(t), hostileDay(t)), testOptions(t), nil))
	for name, page := range files {
		if r, at, ok := forbidden(page); ok {
			t.Errorf("%s holds U+%04X raw at byte %d: %q", name, r, at, page[max(0, at-40):min(len(page), at+40)])
		}
	}
	page := string(files["chats/00001.html"])
	if !strings.Contains(page, "<h1>Chat chat-ctl␇</h1>") {
		t.Fatalf("the hostile chat is not the first page")
	}
	for _, want := range []string{
		"a␀a␁a␂a␃a␄a␅a␆a␇a␈a\ta\na␋a␌a␍a␎a␏a␐a␑a␒a␓a␔a␕a␖a␗a␘a␙a␚a␛a␜a␝a␞a␟",
		`b␡b\u0080b\u0085b\u009fb\ufdd0b\ufdefb\ufffeb\uffffb\U0001fffeb\U0010ffffz`,
		"Mal␀lory␛[31m", "u-␛mallory", "mal␈@acme.example", "*bold*␛[0m␍\n␡",
		`re␁port\u0085.pdf`, "Bot␌", "bot code␟, integration int␐", ":&#43;1:␃", "javascript:␂x", "Item (doc␄)",
		"x := &#34;␛&#34;␀", "Snippet (go␅)", "(ftp://files.example/x␆.png)", "edited␛</p>",
		"Guest\\ufffe", "o-g\\ufdd0",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("hostile chat page lacks %q", want)
		}
	}
	reliability.Record(t, "input", "html export: control characters (C0 but tab and newline, DEL, C1) and noncharacters in text, names, ids", reliability.Kept,
		"shown as control pictures (␛) or \\u escapes, never written raw")
}

// TestEmojiWithoutFile: an emoji without fileUrl shows its text and colons and no
// stray "()".
func TestEmojiWithoutFile(t *testing.T) {
	files, _ := entries(t, produce(t, []exporttest.Day{hostileDay(t)}, testOptions(t), nil))
	page := string(files["chats/00001.html"])
	if !strings.Contains(page, `<p class="text">👍 <code>:&#43;1:␃</code></p>`) {
		t.Errorf("emoji without fileUrl is not shown as its text and colons alone:\n%s", page)
	}
	if strings.Contains(page, "()") {
		t.Error(`page holds a stray "()"`)
	}
	reliability.Record(t, "input", `html export: emoji without fileUrl`, reliability.Kept, `text and colons, no stray "()"`)
}

// vnuMessage is one finding of the checker's JSON output.
type vnuMessage struct {
	Type, SubType, URL, Message, Extract string
	LastLine                             int
}

// TestNuValidator runs the W3C Nu HTML checker on every page of exports of the fixture,
// the hostile day and a generated day: each must pass with no error and no warning (the
// one information message allowed is about decomposed text, shown as written).
func TestNuValidator(t *testing.T) {
	jar := vnuJar(t)
	dir := t.TempDir()
	write := func(prefix string, out []byte) {
		files, _ := entries(t, out)
		for name, b := range files {
			path := filepath.Join(dir, prefix, name)
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	write("fixture", produce(t, append(exporttest.Fixture(t), hostileDay(t)), testOptions(t), nil))
	write("second-day", produce(t, exporttest.Fixture(t)[1:], testOptions(t), nil))
	write("empty", produce(t, []exporttest.Day{{Manifest: exporttest.Manifest("2026-11-24")}}, testOptions(t), nil))
	{
		var out bytes.Buffer
		w, err := NewWriter(&out, testOptions(t))
		if err != nil {
			t.Fatal(err)
		}
		if err := w.WriteDay(context.Background(), exporttest.Manifest("2026-11-22"), exporttest.Stream(t, exporttest.Synth(t, "2026-11-22", 2_000))); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		write("generated", out.Bytes())
	}
	var pages []string
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(path, ".html") {
			pages = append(pages, path)
		}
		return err
	})
	sort.Strings(pages)
	if len(pages) < 10 {
		t.Fatalf("only %d pages to check", len(pages))
	}

	// The control: a page with a raw control character fails, or the check proves nothing.
	control := filepath.Join(t.TempDir(), "control.html")
	os.WriteFile(control, []byte("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>x</title></head><body><p>a\x1bb</p></body></html>\n"), 0o644)
	if msgs := vnu(t, jar, control); len(msgs) == 0 {
		t.Fatal("the checker accepts a page holding a raw ESC: it cannot see what this test looks for")
	}

	var msgs []vnuMessage
	for _, m := range vnu(t, jar, pages...) {
		// Text the data holds decomposed (e + U+0301) is shown as it is, not normalized:
		// the page is evidence of what was written, so this information message stays.
		if m.Type == "info" && strings.HasPrefix(m.Message, "Text run is not in Unicode Normalization Form C") {
			continue
		}
		msgs = append(msgs, m)
	}
	for _, m := range msgs {
		t.Errorf("%s:%d: %s %s: %s (%q)", strings.TrimPrefix(strings.TrimPrefix(m.URL, "file:"), dir), m.LastLine, m.Type, m.SubType, m.Message, m.Extract)
	}
	if len(msgs) == 0 {
		reliability.Record(t, "input", "html export pages (fixture, control characters, generated day) in the W3C Nu HTML checker", reliability.Kept,
			"every page valid: no error, no warning")
	}
}

// vnu runs the checker on pages and returns its findings (errors and warnings).
func vnu(t *testing.T, jar string, pages ...string) []vnuMessage {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	args := append([]string{"-Xss8m", "-jar", jar, "--format", "json", "--also-check-css"}, pages...)
	cmd := exec.CommandContext(ctx, "java", args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	// The checker writes its JSON report to stderr and exits 1 when it found errors.
	var report struct{ Messages []vnuMessage }
	if jerr := json.Unmarshal(stderr.Bytes(), &report); jerr != nil {
		t.Fatalf("java -jar %s: %v, report not JSON (%v):\n%s%s", jar, err, jerr, stdout.String(), stderr.String())
	}
	if err != nil && len(report.Messages) == 0 {
		t.Fatalf("java -jar %s: %v with no finding:\n%s", jar, err, stderr.String())
	}
	return report.Messages
}
