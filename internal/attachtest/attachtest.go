// Package attachtest builds, for the export formats' tests, a folder store with a sealed
// day whose records link files, captured by archiver/attach from a local HTTP server: the
// organization Acme links two files (one twice, from two messages) and a URL that answers
// 404; Globex links a file of its own, which no Acme export may carry.
package attachtest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/attach"
	"github.com/chatvault/chatvault/archiver/eventlog"
	"github.com/chatvault/chatvault/archiver/fsstore"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/model"
)

// Organizations of the fixture.
const (
	Acme   = "0a1c2e3f-0000-4000-8000-00000000aaaa"
	Globex = "0b1c2e3f-0000-4000-8000-00000000bbbb"
)

// Date is the sealed day.
const Date = "2026-11-22"

const directoryJSON = `{
  "organizations": [
    {"id": "` + Acme + `", "name": "Acme", "archival": true, "archivalStart": "2026-01-01", "retentionDays": 2557},
    {"id": "` + Globex + `", "name": "Globex", "archival": true, "archivalStart": "2026-01-01", "retentionDays": 3650}
  ],
  "users": [
    {"id": "u-ada", "orgId": "` + Acme + `", "email": "ada@acme.example", "displayName": "Ada Lovelace"},
    {"id": "u-hank", "orgId": "` + Globex + `", "email": "hank@globex.example", "displayName": "Hank Scorpio"}
  ],
  "bots": [],
  "chats": [
    {"id": "chat-acme", "members": ["u-ada"]},
    {"id": "chat-globex", "members": ["u-hank"]}
  ]
}`

// Files are the bytes the server serves, by path.
var Files = map[string][]byte{
	"/plan.png":    []byte("\x89PNG\r\n\x1a\n not really a picture, but bytes all the same"),
	"/notes.txt":   []byte("minutes of the meeting\n"),
	"/globex.bin":  []byte("Globex's secret file"),
	"/missing.pdf": nil, // 404
}

// Fixture is a store with Date sealed for both organizations and its links captured.
type Fixture struct {
	Store     *fsstore.Store
	Root      string // the store's folder
	Directory *model.Directory
	// URL is the server's base URL (no trailing slash): links are URL+path.
	URL string
}

// SHA256 is the hex SHA-256 of a served path's bytes.
func SHA256(path string) string {
	s := sha256.Sum256(Files[path])
	return hex.EncodeToString(s[:])
}

// New seals the day and captures its links.
func New(t testing.TB) *Fixture {
	t.Helper()
	srv := Serve(t, Files, func(string) string { return "application/octet-stream" })
	base := srv.URL

	day, _ := archiver.ParseDay(Date)
	rec := func(i int, chat, id, sender, name, email string, links ...string) string {
		return Line(day.Start().UnixMilli()+int64(i)*1000, chat, id, sender, name, email, "see "+id, links...)
	}
	lines := []string{
		rec(1, "chat-acme", "m-1", "u-ada", "Ada Lovelace", "ada@acme.example", Link("plan.png", base+"/plan.png"), Link("report.pdf", base+"/missing.pdf")),
		rec(2, "chat-acme", "m-2", "u-ada", "Ada Lovelace", "ada@acme.example", Link("plan again.png", base+"/plan.png"), Link("notes.txt", base+"/notes.txt")),
		rec(3, "chat-globex", "m-3", "u-hank", "Hank Scorpio", "hank@globex.example", Link("secret.bin", base+"/globex.bin")),
	}
	f, r := seal(t, base, lines)
	if r.Captured != 3 || r.Failed != 1 {
		t.Fatalf("fixture: Acme captured %d and failed %d links, want 3 and 1", r.Captured, r.Failed)
	}
	return f
}

// seal seals Date of lines for both organizations and captures their links from base:
// the fixture, and Acme's capture.
func seal(t testing.TB, base string, lines []string) (*Fixture, attach.DayResult) {
	t.Helper()
	day, _ := archiver.ParseDay(Date)
	src := Log(t, []byte(directoryJSON), Date, lines...)
	events, err := eventlog.NewDir(src)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	store, err := fsstore.New(root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	now := func() time.Time { return day.End().Add(2 * time.Hour) }
	s := &archiver.Sealer{Source: events, Store: store, Chain: ledger.Ledger{Store: store}, Options: archiver.Options{
		Now: now, TempDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)}}
	ctx := context.Background()
	if _, err := s.Seal(ctx, day, []byte(directoryJSON), ""); err != nil {
		t.Fatal(err)
	}
	res := Capture(t, store, base, nil, now, day, Acme, Globex)
	dir, err := model.ParseDirectory([]byte(directoryJSON))
	if err != nil {
		t.Fatal(err)
	}
	return &Fixture{Store: store, Root: root, Directory: dir, URL: base}, res[0]
}

// Corrupt overwrites org's stored copy of a served path's file with other bytes of the
// same length, as a damaged disk would.
func (f *Fixture) Corrupt(t testing.TB, org, path string) {
	t.Helper()
	raw, _ := hex.DecodeString(SHA256(path))
	p := filepath.Join(f.Root, filepath.FromSlash(attach.FileKey(org, [sha256.Size]byte(raw))))
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("corrupt: %v", err)
	}
	b[0] ^= 0xff
	os.Chmod(p, 0o644)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatalf("corrupt: %v", err)
	}
}
