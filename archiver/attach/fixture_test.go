package attach

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/eventlog"
	"github.com/chatvault/chatvault/archiver/fsstore"
	"github.com/chatvault/chatvault/archiver/ledger"
)

const (
	acme   = "0a1c2e3f-0000-4000-8000-00000000aaaa"
	globex = "0b1c2e3f-0000-4000-8000-00000000bbbb"
)

var testDay, _ = archiver.ParseDay("2026-11-22")

const directoryJSON = `{
  "organizations": [
    {"id": "` + acme + `", "name": "Acme", "archival": true, "archivalStart": "2026-01-01", "retentionDays": 2557},
    {"id": "` + globex + `", "name": "Globex", "archival": true, "archivalStart": "2026-01-01", "retentionDays": 3650}
  ],
  "users": [
    {"id": "u-ada", "orgId": "` + acme + `", "email": "ada@acme.example", "displayName": "Ada Lovelace"},
    {"id": "u-hank", "orgId": "` + globex + `", "email": "hank@globex.example", "displayName": "Hank Scorpio"}
  ],
  "bots": [],
  "chats": [
    {"id": "chat-acme", "members": ["u-ada"]},
    {"id": "chat-globex", "members": ["u-hank"]}
  ]
}`

// msg is one record of the test day: its sender (u-ada for acme, u-hank for globex) and
// the URLs of a text's attachments.
type msg struct {
	id, sender string
	urls       []string
}

// recordLine makes the record's event line.
func recordLine(i int, m msg) string {
	name, email, chat := "Ada Lovelace", "ada@acme.example", "chat-acme"
	if m.sender == "u-hank" {
		name, email, chat = "Hank Scorpio", "hank@globex.example", "chat-globex"
	}
	ts := testDay.Start().UnixMilli() + int64(i)*1000
	var atts []string
	for _, u := range m.urls {
		b, _ := json.Marshal(u)
		atts = append(atts, `{"name":"f","url":`+string(b)+`}`)
	}
	return fmt.Sprintf(`{"eventType":"sent","chatId":%q,"timestamp":%d,"eventTimestamp":%d,"messageId":%q,"sender":{"participantType":"email","id":%q,"displayName":%q,"email":%q},"contentType":"text","content":{"contentType":"text","text":"see","markdownText":"see","attachments":[%s]}}`,
		chat, ts, ts, m.id, m.sender, name, email, strings.Join(atts, ","))
}

// sealDay seals testDay with msgs into a new folder store and returns it.
func sealDay(t testing.TB, msgs []msg) *fsstore.Store { return sealDays(t, msgs, testDay) }

// layouts maps a test's name to the store layout sealDays writes while it runs
// (forLayouts); layout 2 by default.
var layouts sync.Map

// forLayouts runs f once sealing in layout 2 and once in layout 3 (docs/design/layout.md):
// capture reads the sealed days through ledger.Ledger, whatever their keys.
func forLayouts(t *testing.T, f func(t *testing.T)) {
	for _, l := range []int{archiver.Layout2, archiver.Layout3} {
		t.Run(fmt.Sprintf("layout%d", l), func(t *testing.T) {
			layouts.Store(t.Name(), l)
			t.Cleanup(func() { layouts.Delete(t.Name()) })
			f(t)
		})
	}
}

func layoutOf(t testing.TB) int {
	if l, ok := layouts.Load(t.Name()); ok {
		return l.(int)
	}
	return archiver.Layout2
}

// sealDays seals each of days with the same msgs (their timestamps in testDay: clock
// skew, archived all the same) into a new folder store and returns it.
func sealDays(t testing.TB, msgs []msg, days ...archiver.Day) *fsstore.Store {
	t.Helper()
	root := t.TempDir()
	var lines []string
	for i, m := range msgs {
		lines = append(lines, recordLine(i, m))
	}
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(root, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("directory.json", directoryJSON)
	for _, d := range days {
		if err := os.MkdirAll(filepath.Join(root, d.String()), 0o755); err != nil {
			t.Fatal(err)
		}
		write(d.String()+"/part-0001.jsonl", strings.Join(lines, "\n")+"\n")
		write(d.String()+"/_CLOSED", "")
	}
	src, err := eventlog.NewDir(root)
	if err != nil {
		t.Fatal(err)
	}
	store, err := fsstore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	for _, d := range days {
		s := &archiver.Sealer{Source: src, Store: store, Chain: ledger.Ledger{Store: store}, Options: archiver.Options{
			Now:     func() time.Time { return d.End().Add(2 * time.Hour) },
			TempDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler), Layout: layoutOf(t)}}
		if _, err := s.Seal(context.Background(), d, []byte(directoryJSON), ""); err != nil {
			t.Fatal(err)
		}
	}
	return store
}

// server is a local file server whose connections and requests are counted.
type server struct {
	*httptest.Server
	conns, requests atomic.Int64
}

func newServer(t testing.TB, h http.Handler, tls bool) *server {
	t.Helper()
	s := &server{}
	counted := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		h.ServeHTTP(w, r)
	})
	s.Server = httptest.NewUnstartedServer(counted)
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	if tls {
		s.StartTLS()
	} else {
		s.Start()
	}
	t.Cleanup(s.Close)
	return s
}

// host is the server's host:port.
func (s *server) host() string {
	return strings.TrimPrefix(strings.TrimPrefix(s.URL, "https://"), "http://")
}

func testOptions(hosts ...string) Options {
	return Options{AllowedHosts: hosts, Concurrency: 4, MaxSize: 1 << 20,
		ConnectTimeout: 2 * time.Second, HeaderTimeout: 300 * time.Millisecond, Timeout: time.Second}
}

func newTestFetcher(t testing.TB, opt Options) *Fetcher {
	t.Helper()
	if opt.TempDir == "" {
		opt.TempDir = t.TempDir()
	}
	f, err := NewFetcher(opt)
	if err != nil {
		t.Fatal(err)
	}
	return f
}
