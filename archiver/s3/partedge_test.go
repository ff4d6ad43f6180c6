package s3_test

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"testing"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/s3"
	"github.com/chatvault/chatvault/internal/miniotest"
)

// TestPartSizeEdges stores objects whose sizes sit at the part size's edges (empty, one
// byte, a part less one, a part, a part and one, two parts exactly) into a locked bucket
// and reads each back whole: a size at a part boundary is where an upload that decides
// PUT or multipart, or counts its parts, goes wrong by one.
func TestPartSizeEdges(t *testing.T) {
	srv := miniotest.Start(t)
	st := newStore(t, srv, true, "edges")
	const p = s3.MinPartSize
	for _, size := range []int{0, 1, p - 1, p, p + 1, 2 * p, 2*p + 1} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			body := bytes.Repeat([]byte{'x'}, size)
			for i := range body {
				body[i] = byte(i * 7)
			}
			key := fmt.Sprintf("orgs/acme/days/2026-11-22/events-%d.jsonl.gz", size)
			if err := st.Create(t.Context(), key, bytes.NewReader(body), int64(size), sha256.Sum256(body), archiver.CreateOptions{}); err != nil {
				t.Fatalf("create %d bytes: %v", size, err)
			}
			rc, err := st.Open(t.Context(), key)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(rc)
			rc.Close()
			if err != nil || !bytes.Equal(got, body) {
				t.Fatalf("read back %d bytes (err %v), want the %d stored", len(got), err, size)
			}
		})
	}
}
