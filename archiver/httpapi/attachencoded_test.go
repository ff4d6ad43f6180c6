package httpapi_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"os"
	"testing"

	"github.com/chatvault/chatvault/archiver/attach"
	"github.com/chatvault/chatvault/archiver/httpapi"
	"github.com/chatvault/chatvault/internal/attachtest"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestAttachmentServedEncoded: a file its host served gzip-encoded although asked for
// identity is kept, and hashed, as served. The endpoint sends those bytes as
// application/octet-stream, naming the recorded encoding and type in headers of its own,
// and never as Content-Encoding: a client that decodes transparently (Go's transport,
// browsers) would otherwise hand over bytes that do not match X-Chatvault-Sha256 and
// Repr-Digest. A file served without an encoding keeps its recorded type.
func TestAttachmentServedEncoded(t *testing.T) {
	plain := []byte("minutes of the meeting\n")
	files := map[string][]byte{
		"/minutes.txt": attachtest.Gzip(t, plain),
		"/plain.txt":   plain,
	}
	srv := attachtest.ServeWith(t, files, nil, func(path string, h http.Header) {
		h.Set("Content-Type", "text/plain; charset=utf-8")
		if path == "/minutes.txt" {
			h.Set("Content-Encoding", "gzip")
		}
	})
	store := newFolderStore(t)
	dirBytes, err := os.ReadFile("../../testdata/eventlog/directory.json")
	if err != nil {
		t.Fatal(err)
	}
	logDir := attachtest.Log(t, dirBytes, sample,
		attachLine(1, "chat-acme-team", "u-ada", "Ada Lovelace", "ada@acme.example", srv.URL+"/minutes.txt", srv.URL+"/plain.txt"))
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	f := newFixtureLog(t, store, logDir, []string{sample}, func(s *httpapi.Server) {
		s.Attachments = attach.Reader{Store: store, TrustedKeys: []ed25519.PublicKey{pub}}
	})
	if r := attachtest.Capture(t, store, srv.URL, key, f.clock.Now, mustDay(t, sample), acme)[0]; r.Captured != 2 {
		t.Fatalf("captured %d, want 2", r.Captured)
	}

	// A client that decodes gzip transparently, as most do.
	decoding := &http.Client{}
	for _, tt := range []struct {
		path, contentType, encoding, recordedType, filename string
	}{
		{"/minutes.txt", "application/octet-stream", "gzip", "text/plain; charset=utf-8", sha(files["/minutes.txt"]) + ".gz"},
		{"/plain.txt", "text/plain; charset=utf-8", "", "", sha(plain)},
	} {
		t.Run(tt.path, func(t *testing.T) {
			want := files[tt.path]
			req, _ := http.NewRequest("GET", f.url+"/v1/exports/attachments/"+sha(want), nil)
			req.Header.Set("Authorization", "Bearer "+f.tokens["acme"])
			resp, err := decoding.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("%d %v %s", resp.StatusCode, err, body)
			}
			sum := sha256.Sum256(body)
			if string(body) != string(want) || resp.Uncompressed || sha(body) != resp.Header.Get(httpapi.HeaderSHA256) ||
				resp.Header.Get("Repr-Digest") != "sha-256=:"+base64.StdEncoding.EncodeToString(sum[:])+":" {
				t.Fatalf("body %q (decoded by the client: %v), X-Chatvault-Sha256 %s, Repr-Digest %s; want the stored bytes, which hash to the digests",
					body, resp.Uncompressed, resp.Header.Get(httpapi.HeaderSHA256), resp.Header.Get("Repr-Digest"))
			}
			for h, v := range map[string]string{
				"Content-Type":                      tt.contentType,
				"Content-Encoding":                  "",
				httpapi.HeaderAttachmentEncoding:    tt.encoding,
				httpapi.HeaderAttachmentContentType: tt.recordedType,
				"Content-Disposition":               `attachment; filename="` + tt.filename + `"`,
			} {
				if got := resp.Header.Get(h); got != v {
					t.Errorf("%s: %q, want %q", h, got, v)
				}
			}
		})
	}
	if t.Failed() {
		return
	}
	reliability.Record(t, "input", "a linked host serves a file gzip-encoded although asked for identity, and a client fetches it (GET /v1/exports/attachments/{sha256})", reliability.Kept,
		"the stored bytes as served, as application/octet-stream with X-Chatvault-Content-Encoding: gzip and X-Chatvault-Content-Type (the recorded type), filename with .gz, no Content-Encoding: a decoding client gets the bytes the digests name")
}
