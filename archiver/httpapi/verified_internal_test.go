package httpapi

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"golang.org/x/sync/semaphore"
)

// TestSendHeldBackManyChunks streams bodies of several chunks through the held-back path:
// an intact one arrives whole; one changed anywhere, even in its first chunk, which has
// long been sent when the hash is checked, is cut before its last chunk, so the client
// reads an error after exactly size minus the last chunk's bytes.
func TestSendHeldBackManyChunks(t *testing.T) {
	const size = 5*streamChunk + 1234
	orig := make([]byte, size)
	for i := range orig {
		orig[i] = byte(i * 7)
	}
	aligned := orig[:5*streamChunk] // a body that ends on a chunk boundary
	for _, tt := range []struct {
		name     string
		manifest []byte // what the manifest says
		body     []byte // what the store holds
		ok       bool
		got      int // bytes the client receives at most
	}{
		{"intact", orig, orig, true, size},
		{"first byte changed", orig, flip(orig, 0), false, size - 1234},
		{"last byte changed", orig, flip(orig, size-1), false, size - 1234},
		{"one byte short", orig, orig[:size-1], false, size - 1234},
		{"one byte long", orig, append(bytes.Clone(orig), 0), false, size - 1234},
		{"chunk-aligned, intact", aligned, aligned, true, len(aligned)},
		{"chunk-aligned, changed", aligned, flip(aligned, 3), false, len(aligned) - streamChunk},
	} {
		t.Run(tt.name, func(t *testing.T) {
			n := int64(len(tt.manifest))
			sum := sha256.Sum256(tt.manifest)
			want := hex.EncodeToString(sum[:])
			s := &Server{VerifyFirstMaxSize: -1, verifyBudget: semaphore.NewWeighted(1)}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				res, err := s.sendVerified(w, bytes.NewReader(tt.body), n, want, func(h http.Header) {
					h.Set("Content-Length", strconv.FormatInt(n, 10))
				})
				if err != nil || !res.complete {
					panic(http.ErrAbortHandler)
				}
			}))
			defer srv.Close()
			resp, err := http.Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if tt.ok != (err == nil) {
				t.Fatalf("read %d bytes, error %v; want ok=%v", len(b), err, tt.ok)
			}
			// A cut connection may lose some of what was sent, never deliver more.
			if len(b) > tt.got || (tt.ok && len(b) != tt.got) {
				t.Fatalf("the client received %d bytes, want %d (all but the held-back chunk when cut)", len(b), tt.got)
			}
		})
	}
}

func flip(b []byte, i int) []byte {
	b = bytes.Clone(b)
	b[i] ^= 0xff
	return b
}
