package attachtest

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/attach"
	"github.com/chatvault/chatvault/archiver/ledger"
)

// Serve starts a loopback HTTP server, closed at the test's end, that serves files by
// path with the Content-Type contentType gives the path; a path files lacks, or maps to
// nil, is 404.
func Serve(t testing.TB, files map[string][]byte, contentType func(path string) string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := files[r.URL.Path]
		if !ok || b == nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", contentType(r.URL.Path))
		w.Write(b)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// Link is a record's attachment: its name and URL, as JSON.
func Link(name, url string) string {
	u, _ := json.Marshal(url)
	return fmt.Sprintf(`{"name":%q,"url":%s}`, name, u)
}

// Line is a "sent" text record of sender (an email participant) in chat at ts (Unix
// milliseconds), its text (plain and markdown) text, linking links (Link).
func Line(ts int64, chat, id, sender, name, email, text string, links ...string) string {
	return fmt.Sprintf(`{"eventType":"sent","chatId":%q,"timestamp":%d,"eventTimestamp":%d,"messageId":%q,"sender":{"participantType":"email","id":%q,"displayName":%q,"email":%q},"contentType":"text","content":{"contentType":"text","text":%q,"markdownText":%q,"attachments":[%s]}}`,
		chat, ts, ts, id, sender, name, email, text, text, strings.Join(links, ","))
}

// Log writes an event log folder, removed at the test's end, with directory as its
// directory.json and one closed partition, date, holding lines; it returns the folder.
func Log(t testing.TB, directory []byte, date string, lines ...string) string {
	t.Helper()
	dir := t.TempDir()
	write := func(name string, body []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, date), 0o755); err != nil {
		t.Fatal(err)
	}
	write("directory.json", directory)
	write(filepath.Join(date, "part-0001.jsonl"), []byte(strings.Join(lines, "\n")+"\n"))
	write(filepath.Join(date, "_CLOSED"), nil)
	return dir
}

// Capture captures the links of day's sealed records of each of orgs into store, fetched
// from base (the one host allowed), the indexes signed by key (nil: unsigned) and dated
// by now: each organization's result, in the order of orgs.
func Capture(t testing.TB, store archiver.Store, base string, key ed25519.PrivateKey, now func() time.Time, day archiver.Day, orgs ...string) []attach.DayResult {
	t.Helper()
	f, err := attach.NewFetcher(attach.Options{AllowedHosts: []string{strings.TrimPrefix(base, "http://")},
		Concurrency: 2, MaxSize: 1 << 20, ConnectTimeout: 5 * time.Second, HeaderTimeout: 5 * time.Second,
		Timeout: 10 * time.Second, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	c := &attach.Capturer{Ledger: ledger.Ledger{Store: store}, Fetcher: f, SigningKey: key, Now: now, Log: slog.New(slog.DiscardHandler)}
	var out []attach.DayResult
	for _, org := range orgs {
		r, err := c.CaptureDay(context.Background(), org, day)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}
