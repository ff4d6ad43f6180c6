package htmlexport

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/internal/exporttest"
	"github.com/chatvault/chatvault/internal/reliability"
)

// EnvChromium names the variable holding the headless browser's path; `make test` sets it
// from scripts/chromium.sh.
const EnvChromium = "CHATVAULT_CHROMIUM"

func chromium(t *testing.T) string {
	t.Helper()
	bin := os.Getenv(EnvChromium)
	if bin == "" {
		if testing.Short() {
			t.Skip("no browser under -short")
		}
		t.Fatalf("%s is not set: run the tests with %s=$(scripts/chromium.sh), as make test does", EnvChromium, EnvChromium)
	}
	return bin
}

// dumpDOM loads a page in headless Chromium and returns the DOM after its scripts (if
// any could run) ran.
func dumpDOM(t *testing.T, bin, page string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu",
		"--disable-background-networking", "--no-first-run", "--user-data-dir="+t.TempDir(),
		"--virtual-time-budget=2000", "--dump-dom", "file://"+page)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || len(out) == 0 {
		t.Fatalf("%s could not render %s: %v\n%s", bin, page, err, stderr.String())
	}
	return string(out)
}

var anchorRE = regexp.MustCompile(`<a [^>]*href="([^"]*)"`)

var titleRE = regexp.MustCompile(`(?s)<title>(.*?)</title>`)

func title(dom string) string {
	m := titleRE.FindStringSubmatch(dom)
	if m == nil {
		return ""
	}
	return m[1]
}

// TestBrowser renders the export in a real headless browser and looks at the resulting
// DOM: the messages are there, and nothing the data injected ran, with the page's
// Content-Security-Policy and, to show the escaping holds alone, without it.
func TestBrowser(t *testing.T) {
	bin := chromium(t)
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}

	// The control: a page whose script does run must show it in the dumped DOM, or the
	// checks below would prove nothing.
	control := dumpDOM(t, bin, write("control.html", []byte(`<!DOCTYPE html><title>clean</title><p>x</p><script>document.title='pwned'</script>`)))
	if title(control) != "pwned" {
		t.Fatalf("the control page's script did not run (title %q): the browser check cannot see scripts", title(control))
	}

	files, _ := entries(t, produce(t, exporttest.Fixture(t), testOptions(t), nil))
	for name, b := range files {
		write(name, b)
	}
	index := dumpDOM(t, bin, filepath.Join(dir, "index.html"))
	for _, want := range []string{"Chat export for Acme", `href="chats/00001.html"`, "chat-injection", "chat-team"} {
		if !strings.Contains(index, want) {
			t.Errorf("rendered index lacks %q", want)
		}
	}
	team := dumpDOM(t, bin, filepath.Join(dir, "chats", "00002.html"))
	for _, want := range []string{"Morning! Report attached.", "Morning! Report attached (v2).", "Standup starts in 5 minutes",
		"Added: Grace Hopper. Removed: Guest Visitor.", "Grüße — 日本語", `class="ev message reply"`} {
		if !strings.Contains(team, want) {
			t.Errorf("rendered team chat lacks %q", want)
		}
	}

	const wantTitle = "Chat chat-injection · Acme · chatvault export"
	injection := files["chats/00001.html"]
	noCSP := bytes.Replace(injection, []byte(`<meta http-equiv="Content-Security-Policy"`), []byte(`<meta name="removed-csp"`), 1)
	if bytes.Equal(noCSP, injection) {
		t.Fatal("the page has no Content-Security-Policy to remove")
	}
	for name, page := range map[string][]byte{"as exported": injection, "without its CSP": noCSP} {
		dom := dumpDOM(t, bin, write("injection-"+strings.ReplaceAll(name, " ", "-")+".html", page))
		if got := title(dom); got != wantTitle {
			t.Errorf("%s: title %q, want %q: injected script ran", name, got, wantTitle)
		}
		lower := strings.ToLower(dom)
		for _, bad := range []string{"<script", "<img", "<iframe"} {
			if strings.Contains(lower, bad) {
				t.Errorf("%s: rendered DOM has %s", name, bad)
			}
		}
		// Every link element the browser built points where the exporter allows.
		links := anchorRE.FindAllStringSubmatch(dom, -1)
		if len(links) == 0 {
			t.Errorf("%s: no link found at all, not even the one back to the index", name)
		}
		for _, m := range links {
			if u := m[1]; !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "#") && u != "../index.html" {
				t.Errorf("%s: rendered link to %q", name, u)
			}
		}
		// The hostile text is there, as text.
		if !strings.Contains(dom, "&lt;script&gt;document.title='pwned'&lt;/script&gt;") {
			t.Errorf("%s: the message text is not shown as text", name)
		}
	}
	reliability.Record(t, "security", "html export rendered in headless Chromium: injected script and handlers", reliability.Kept,
		"title unchanged, no script or img element, with and without the CSP")
}
