package ledger

// The checks of this file know the formats of stored objects (the export's records and
// their order, the chat index derived from them, an organization's quarantine records, a
// revision's records against the previous one's): package verify, which walks the archive,
// asks the ledger for them instead of knowing those formats itself.

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/model"
	"github.com/klauspost/compress/gzip"
)

// CheckExport re-hashes m's export (stored bytes and the JSONL inside), checks its
// records (count, export order, no duplicates, window, clock skew) and, when m names one,
// its chat index against the records. It returns the stored bytes read, what is wrong with
// the export (dataErr) and what is wrong with the chat index (indexErr).
func (l Ledger) CheckExport(ctx context.Context, org string, day archiver.Day, m *archiver.StoredManifest) (n int64, dataErr, indexErr error) {
	derived := archiver.NewChatIndexBuilder()
	if m.Version >= archiver.ManifestVersion3 && m.Data.Keyless() {
		// A day without records names no object in layout 3: nothing to read, and its
		// hashes must be those of nothing.
		if d := m.Data; d.Records != 0 || d.JSONLSize != 0 || d.JSONLSHA256 != archiver.EmptySHA256 {
			dataErr = fmt.Errorf("names no export but says %d records, %d bytes of JSONL, SHA-256 %s", d.Records, d.JSONLSize, d.JSONLSHA256)
		}
	} else {
		n, dataErr = l.verifyData(ctx, m, derived)
	}
	if m.ChatIndex != nil {
		indexErr = l.verifyChatIndex(ctx, org, day, m, derived, dataErr == nil)
	}
	return n, dataErr, indexErr
}

// CheckOrgQuarantine checks an organization's quarantine object q of day against its
// manifest (see verifyOrgQuarantine) and returns the stored bytes read.
func (l Ledger) CheckOrgQuarantine(ctx context.Context, org string, day archiver.Day, q *archiver.DataObject) (int64, error) {
	return l.verifyOrgQuarantine(ctx, org, day, q)
}

// DroppedRecords returns how many records of revision old the revision new does not hold.
func (l Ledger) DroppedRecords(ctx context.Context, old, new *archiver.StoredManifest) (int64, error) {
	d, err := l.diffStored(ctx, old, new)
	return d.Dropped, err
}

// verifyData re-hashes the stored bytes and the JSONL inside, and checks the record count
// and that records are in export order without duplicates.
func (l Ledger) verifyData(ctx context.Context, m *archiver.StoredManifest, derived *archiver.ChatIndexBuilder) (int64, error) {
	g, err := l.openHashedGzip(ctx, &m.Data, 1<<20) // the version the manifest names
	if err != nil {
		return g.n(), err
	}
	defer g.Close()
	br := g.Reader
	var records, size int64
	var prevLine []byte
	var prev, cur archiver.Record
	var skew archiver.ClockSkew
	var first, last int64
	for {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			// A long line: assemble it.
			full := append([]byte(nil), line...)
			for err == bufio.ErrBufferFull {
				line, err = br.ReadSlice('\n')
				full = append(full, line...)
			}
			line = full
		}
		if len(line) > 0 {
			size += int64(len(line))
			if line[len(line)-1] != '\n' {
				return g.n(), fmt.Errorf("record %d has no newline", records+1)
			}
			records++
			// Each record must decode to what the format allows, and follow the previous
			// one in export order: a valid hash of a shuffled or foreign file is not enough.
			ev, err := model.Decode(line[:len(line)-1])
			if err != nil {
				return g.n(), fmt.Errorf("record %d: %w", records, err)
			}
			derived.Add(&ev)
			cur = archiver.Record{Ts: ev.EventTimestamp, ID: []byte(ev.MessageID), Rank: model.EventTypeRank(ev.EventType), Line: line}
			skew.Add(ev.EventTimestamp, m.Window.Start, m.Window.End)
			if records == 1 {
				first = ev.EventTimestamp
			}
			last = ev.EventTimestamp
			if prevLine != nil {
				switch c := archiver.CompareRecords(&prev, &cur); {
				case c == 0:
					return g.n(), fmt.Errorf("record %d repeats the previous one", records)
				case c > 0:
					return g.n(), fmt.Errorf("record %d is out of export order", records)
				}
			}
			prevLine = append(prevLine[:0], line...)
			prev = cur
			prev.ID = append([]byte(nil), cur.ID...)
			prev.Line = prevLine
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return g.n(), fmt.Errorf("read: %w", err)
		}
	}
	if err := g.check(&m.Data, size); err != nil {
		return g.n(), err
	}
	switch {
	case records != m.Data.Records || records != m.Counts.Exported:
		return g.n(), fmt.Errorf("%d records, manifest says %d", records, m.Data.Records)
	case first != m.Window.FirstEvent || last != m.Window.LastEvent:
		return g.n(), fmt.Errorf("records span eventTimestamp %d to %d, manifest's window says %d to %d",
			first, last, m.Window.FirstEvent, m.Window.LastEvent)
	}
	var flagged archiver.ClockSkew
	if m.ClockSkew != nil {
		flagged = *m.ClockSkew
	}
	if skew != flagged {
		return g.n(), fmt.Errorf("records outside the day: %+v, manifest's clockSkew says %+v", skew, flagged)
	}
	return g.n(), nil
}

// hashedGzip reads a gzip object a manifest names (an export, an organization's
// quarantine) in the version it names, hashing the stored bytes and the JSONL inside as
// they are read; check then compares both, and the sizes, with the manifest. Reader reads
// the JSONL.
type hashedGzip struct {
	*bufio.Reader
	rc            io.ReadCloser
	counted       *countingReader
	stored, jsonl hash.Hash
}

// openHashedGzip opens o. Its result's n counts the stored bytes read, also when the
// object is not gzip (the error then says so, and the object is closed).
func (l Ledger) openHashedGzip(ctx context.Context, o *archiver.DataObject, bufSize int) (*hashedGzip, error) {
	rc, err := l.OpenObject(ctx, o.Key, o.VersionID)
	if err != nil {
		return nil, err
	}
	g := &hashedGzip{rc: rc, stored: sha256.New(), jsonl: sha256.New()}
	g.counted = &countingReader{r: io.TeeReader(rc, g.stored)}
	zr, err := gzip.NewReader(g.counted)
	if err != nil {
		rc.Close()
		return g, fmt.Errorf("not gzip: %w", err)
	}
	g.Reader = bufio.NewReaderSize(io.TeeReader(zr, g.jsonl), bufSize)
	return g, nil
}

// n is how many stored bytes were read (0 when nothing could be opened).
func (g *hashedGzip) n() int64 {
	if g == nil {
		return 0
	}
	return g.counted.n
}

// Close closes the stored object.
func (g *hashedGzip) Close() error { return g.rc.Close() }

// check reads the rest of the stored object (the gzip trailer) and compares its size and
// SHA-256, and the JSONL's SHA-256 and jsonlSize, its size as read, with o.
func (g *hashedGzip) check(o *archiver.DataObject, jsonlSize int64) error {
	if _, err := io.Copy(io.Discard, g.counted); err != nil {
		return err
	}
	switch {
	case g.counted.n != o.Size:
		return fmt.Errorf("size %d, manifest says %d", g.counted.n, o.Size)
	case hex.EncodeToString(g.stored.Sum(nil)) != o.SHA256:
		return fmt.Errorf("SHA-256 of stored bytes does not match the manifest")
	case hex.EncodeToString(g.jsonl.Sum(nil)) != o.JSONLSHA256:
		return fmt.Errorf("SHA-256 of the JSONL does not match the manifest")
	case jsonlSize != o.JSONLSize:
		return fmt.Errorf("JSONL size %d, manifest says %d", jsonlSize, o.JSONLSize)
	}
	return nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
