package htmlexport

import (
	"bytes"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/archiver/exporttask"
	"github.com/chatvault/chatvault/internal/attachtest"
	"github.com/chatvault/chatvault/internal/reliability"
)

// encoder is the html format as an export task makes it.
func encoder(w io.Writer, o exporttask.FormatOptions) (exporttask.Encoder, error) {
	return NewWriter(w, Options(o))
}

// TestCapturedAttachmentsInHTML: the organization's captured files are in the archive's
// files/ folder once each, the pages link them there (relative links that resolve inside
// the archive), a failed capture keeps its remote link and says it was not captured, and
// another organization's files are never included.
func TestCapturedAttachmentsInHTML(t *testing.T) {
	f := attachtest.New(t)
	b := f.Export(t, attachtest.Acme, "html", encoder)
	files, names := entries(t, b)
	plan := "files/" + attachtest.SHA256("/plan.png") + ".png"
	notes := "files/" + attachtest.SHA256("/notes.txt") + ".txt"
	want := []string{"chats/00001.html", notes, plan, "index.html"}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Fatalf("entries %v, want %v", names, want)
	}
	for name, p := range map[string]string{plan: "/plan.png", notes: "/notes.txt"} {
		if !bytes.Equal(files[name], attachtest.Files[p]) {
			t.Errorf("%s: %q, want the served bytes of %s", name, files[name], p)
		}
	}
	page := string(files["chats/00001.html"])
	if n := strings.Count(page, `href="../`+plan+`"`); n != 2 {
		t.Errorf("plan.png linked locally %d times, want 2 (from both messages)", n)
	}
	if !strings.Contains(page, `href="../`+notes+`"`) {
		t.Error("notes.txt not linked locally")
	}
	// Every local link resolves to an entry of the archive.
	for _, m := range anchorRE.FindAllStringSubmatch(page, -1) {
		if u := m[1]; strings.HasPrefix(u, "../files/") {
			if _, ok := files[path.Join("chats", u)]; !ok {
				t.Errorf("link %s resolves to no entry", u)
			}
		}
	}
	if strings.Contains(page, `href="`+f.URL+`/plan.png"`) {
		t.Error("a captured file is still linked remotely")
	}
	missing := f.URL + "/missing.pdf"
	if !strings.Contains(page, `href="`+missing+`"`) || !strings.Contains(page, "not captured: http_status 404") {
		t.Errorf("the failed capture lost its remote link or its note:\n%s", page)
	}
	if bytes.Contains(b, []byte(attachtest.SHA256("/globex.bin"))) || bytes.Contains(b, attachtest.Files["/globex.bin"]) {
		t.Error("Globex's file is in Acme's export")
	}

	// The pages with their links in a browser and in the Nu checker.
	dir := t.TempDir()
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	pages := []string{filepath.Join(dir, "index.html"), filepath.Join(dir, "chats", "00001.html")}
	if !testing.Short() {
		dom := dumpDOM(t, chromium(t), pages[1])
		if !strings.Contains(dom, `href="../`+plan+`"`) || !strings.Contains(dom, "(captured copy, in this export; from "+f.URL+"/plan.png)") {
			t.Errorf("rendered page lacks the local link or its note")
		}
		for _, m := range vnu(t, vnuJar(t), pages...) {
			t.Errorf("%s:%d: %s: %s (%q)", m.URL, m.LastLine, m.Type, m.Message, m.Extract)
		}
	}
	reliability.Record(t, "security", "html export of an organization whose records link captured files", reliability.Kept,
		"captured files once each under files/, linked relatively from the pages; a failed capture keeps its remote link and says why it was not captured; another organization's files never included")
}

// TestCorruptAttachmentFailsHTML: a captured file whose stored bytes no longer hash to its
// index's SHA-256 fails the task, naming the file, instead of exporting wrong bytes.
func TestCorruptAttachmentFailsHTML(t *testing.T) {
	attachtest.CheckCorrupt(t, "html", encoder, "/plan.png")
	reliability.Record(t, "fault", "html export: a captured file's stored bytes damaged", reliability.CleanFailure,
		"the task fails naming the file and the SHA-256 its index gives; no export with other bytes is produced")
}

// TestAttachmentsStreamed: a captured file is streamed into the production, never held:
// the bytes allocated to write the fixture with a 96 MiB attachment exceed those with a
// 1 KiB one by less than 4 MiB (counted with runtime.MemStats.TotalAlloc).
func TestAttachmentsStreamed(t *testing.T) {
	attachtest.CheckStreamed(t, 96<<20, encoder)
	reliability.Record(t, "operations", "html export including a 96 MiB captured file", reliability.Kept,
		"streamed into the archive: bytes allocated do not grow with the file's size (less than a quarter of the file's size more than for 1 KiB)")
}

// TestServedAsInHTML: a file its host served gzip-encoded although asked for identity is
// in files/ as stored (the bytes its index hashes), named with .gz after the link's
// extension so that whoever opens it knows to decompress it, and the page says so; a file
// reached through a redirect says which URL served it.
func TestServedAsInHTML(t *testing.T) {
	f := attachtest.NewServed(t)
	b := f.Export(t, attachtest.Acme, "html", encoder)
	files, names := entries(t, b)
	enc := "files/" + f.SHA256(attachtest.Encoded) + ".txt.gz"
	moved := "files/" + f.SHA256(attachtest.Target) + ".png"
	want := []string{"chats/00001.html", enc, moved, "index.html"}
	if f.SHA256(attachtest.Target) < f.SHA256(attachtest.Encoded) {
		want[1], want[2] = moved, enc
	}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Fatalf("entries %v, want %v", names, want)
	}
	if !bytes.Equal(files[enc], f.Files[attachtest.Encoded]) {
		t.Errorf("%s: %q, want the bytes as served (gzip)", enc, files[enc])
	}
	page := string(files["chats/00001.html"])
	for _, s := range []string{
		`href="../` + enc + `"`,
		"from " + f.URL + attachtest.Encoded + "; kept gzip-encoded as the host served it",
		`href="../` + moved + `"`,
		"from " + f.URL + attachtest.Moved + ", which redirected to " + f.URL + attachtest.Target,
	} {
		if !strings.Contains(page, s) {
			t.Errorf("the page lacks %q:\n%s", s, page)
		}
	}
	// The notes in a browser and in the Nu checker.
	if !testing.Short() {
		dir := t.TempDir()
		for name, data := range files {
			p := filepath.Join(dir, filepath.FromSlash(name))
			os.MkdirAll(filepath.Dir(p), 0o755)
			if err := os.WriteFile(p, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		chat := filepath.Join(dir, "chats", "00001.html")
		if dom := dumpDOM(t, chromium(t), chat); !strings.Contains(dom, "kept gzip-encoded as the host served it") ||
			!strings.Contains(dom, ", which redirected to "+f.URL+attachtest.Target) {
			t.Errorf("rendered page lacks the encoding or redirect note")
		}
		for _, m := range vnu(t, vnuJar(t), filepath.Join(dir, "index.html"), chat) {
			t.Errorf("%s:%d: %s: %s (%q)", m.URL, m.LastLine, m.Type, m.Message, m.Extract)
		}
	}
	if t.Failed() {
		return
	}
	reliability.Record(t, "input", "html export of a file its host served gzip-encoded although asked for identity, and of one reached by a redirect", reliability.Kept,
		"the bytes as stored under files/ with .gz after the link's extension, the page noting the encoding; a redirected file's note names the URL that served it (servedFrom)")
}
