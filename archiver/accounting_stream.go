package archiver

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"os"
)

// writeAccounting writes a with manifests as its Manifests (a.Manifests is ignored),
// byte for byte as encodeAccounting would, one manifest at a time: the object of a day of
// 50,000 organizations lists them all, and encoding it whole took some 50 MiB of heap at
// the end of the seal (issue 13), where encoding/json's buffers held it twice over.
func writeAccounting(w io.Writer, a *Accounting, manifests iter.Seq[AccountedManifest]) error {
	head := *a
	head.Manifests = nil
	b, err := json.MarshalIndent(&head, "", "  ")
	if err != nil {
		return fmt.Errorf("encode accounting: %w", err)
	}
	// Top-level fields are the only ones at this indentation, and a string's quotes are
	// escaped: the marker is found once, where the list goes.
	const marker = "\n  \"manifests\": null"
	i := bytes.Index(b, []byte(marker))
	if i < 0 {
		return fmt.Errorf("encode accounting: no manifests field")
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.Write(b[:i])
	bw.WriteString("\n  \"manifests\": [")
	n := 0
	for m := range manifests {
		e, err := json.MarshalIndent(m, "    ", "  ")
		if err != nil {
			return fmt.Errorf("encode accounting: %w", err)
		}
		if n > 0 {
			bw.WriteByte(',')
		}
		bw.WriteString("\n    ")
		bw.Write(e)
		n++
	}
	if n > 0 {
		bw.WriteString("\n  ")
	}
	bw.WriteByte(']')
	bw.Write(b[i+len(marker):])
	bw.WriteByte('\n')
	return bw.Flush()
}

// spillAccounting writes the accounting object to a temporary file in dir, hashing it on
// the way; the caller stores and removes it. When key is set, it signs a first: Ed25519
// signs whole messages, so the unsigned encoding is then built in memory once (the
// manifests' part only, not encoding/json's copies of it).
func (w *writer) spillAccounting(a *Accounting, manifests iter.Seq[AccountedManifest]) (f *os.File, size int64, sum [sha256.Size]byte, err error) {
	if w.s.SigningKey != nil {
		a.Signature = nil
		var body bytes.Buffer
		if err := writeAccounting(&body, a, manifests); err != nil {
			return nil, 0, sum, err
		}
		a.Signature = NewSignature(w.s.SigningKey, body.Bytes())
	}
	f, err = os.CreateTemp(w.work, "chatvault-accounting-*")
	if err != nil {
		return nil, 0, sum, fmt.Errorf("stage accounting: %w", err)
	}
	h := sha256.New()
	cw := &countingWriter{w: io.MultiWriter(f, h)}
	if err = writeAccounting(cw, a, manifests); err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, 0, sum, fmt.Errorf("stage accounting: %w", err)
	}
	h.Sum(sum[:0])
	return f, cw.n, sum, nil
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
