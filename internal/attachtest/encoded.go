package attachtest

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/chatvault/chatvault/archiver"
)

// ServeWith is Serve with redirects (a path → the path it redirects to, 302) and the
// response headers set by header (after Content-Type; nil: none).
func ServeWith(t testing.TB, files map[string][]byte, redirects map[string]string, header func(path string, h http.Header)) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if to, ok := redirects[r.URL.Path]; ok {
			http.Redirect(w, r, to, http.StatusFound)
			return
		}
		b, ok := files[r.URL.Path]
		if !ok || b == nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		if header != nil {
			header(r.URL.Path, w.Header())
		}
		w.Write(b)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// Gzip is b gzip-compressed.
func Gzip(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Served is the fixture NewServed makes: the bytes its server served, by path.
type Served struct {
	*Fixture
	Files map[string][]byte
}

// Paths of NewServed's links: Encoded is served gzip-encoded although asked for identity
// (Content-Type text/plain, Content-Encoding gzip); Moved redirects to Target.
const (
	Encoded = "/minutes.txt"
	Moved   = "/old/plan.png"
	Target  = "/new/plan.png"
)

// SHA256 is the hex SHA-256 of the bytes served at path.
func (s *Served) SHA256(path string) string {
	sum := sha256.Sum256(s.Files[path])
	return hex.EncodeToString(sum[:])
}

// NewServed seals the day, where Acme links a file its host serves gzip-encoded (Encoded)
// and one it redirects (Moved), and Globex a file of its own, and captures the links.
func NewServed(t testing.TB) *Served {
	t.Helper()
	files := map[string][]byte{
		Encoded:       Gzip(t, []byte("minutes of the meeting, compressed by the host\n")),
		Target:        []byte("\x89PNG\r\n\x1a\n a picture that moved"),
		"/globex.bin": Files["/globex.bin"],
	}
	srv := ServeWith(t, files, map[string]string{Moved: Target}, func(path string, h http.Header) {
		if path == Encoded {
			h.Set("Content-Type", "text/plain")
			h.Set("Content-Encoding", "gzip")
		}
	})
	base := srv.URL
	day, _ := archiver.ParseDay(Date)
	rec := func(i int, chat, id, sender, name, email string, links ...string) string {
		return Line(day.Start().UnixMilli()+int64(i)*1000, chat, id, sender, name, email, "see "+id, links...)
	}
	f, r := seal(t, base, []string{
		rec(1, "chat-acme", "m-1", "u-ada", "Ada Lovelace", "ada@acme.example", Link("minutes.txt", base+Encoded), Link("plan.png", base+Moved)),
		rec(2, "chat-globex", "m-2", "u-hank", "Hank Scorpio", "hank@globex.example", Link("secret.bin", base+"/globex.bin")),
	})
	if r.Captured != 2 || r.Failed != 0 {
		t.Fatalf("fixture: Acme captured %d and failed %d links, want 2 and 0", r.Captured, r.Failed)
	}
	return &Served{Fixture: f, Files: files}
}
