package archiver

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"

	"github.com/chatvault/chatvault/internal/crashpoint"
	"github.com/chatvault/chatvault/internal/panics"
	"github.com/klauspost/compress/flate"
)

// blockGzip writes one gzip member the way pgzip (github.com/klauspost/pgzip) does, byte
// for byte: the input is cut into gzipBlock-byte blocks, each deflated on its own goroutine
// (up to gzipBlocks at once) with the previous block's last tailSize bytes as its
// dictionary, ended by a sync flush, the last one also by a final block. Any gzip reader
// decodes it, and the same records always give the same bytes, as they did with pgzip.
//
// It exists because pgzip keeps its block buffers and compressors in sync.Pools, which
// every garbage collection empties: a day of ten thousand small organizations rebuilt them
// for nearly every one, 2 to 3 MB of garbage each. A blockGzip keeps its buffers and
// compressors for its whole life, so with a fixed free list (stagers) an organization
// costs no new buffer. They grow as used: a small organization's export touches one block
// buffer, as large as its export, and one compressor.
type blockGzip struct {
	w     io.Writer
	slots [gzipBlocks]gzipSlot
	cur   int // the slot being filled
	// tail is the end of the last block handed to a slot, the next block's dictionary;
	// none (hasTail false) when that block was not longer than tailSize, as in pgzip.
	tail        []byte
	hasTail     bool
	crc         uint32
	size        uint32
	wroteHeader bool
	closed      bool
	err         error
}

// tailSize is pgzip's dictionary length.
const tailSize = 16384

// gzipSlot is one block on its way through a compressor.
type gzipSlot struct {
	in   []byte
	dict []byte
	out  bytes.Buffer
	fw   *flate.Writer
	last bool
	busy bool
	done chan error
}

// Reset makes z write a new member to w.
func (z *blockGzip) Reset(w io.Writer) {
	z.abort()
	z.w, z.cur, z.hasTail, z.crc, z.size = w, 0, false, 0, 0
	z.wroteHeader, z.closed, z.err = false, false, nil
	for i := range z.slots {
		z.slots[i].in = z.slots[i].in[:0]
	}
}

// Write implements io.Writer.
func (z *blockGzip) Write(p []byte) (int, error) {
	if z.err != nil {
		return 0, z.err
	}
	if z.closed {
		return 0, errors.New("gzip: write after close")
	}
	if !z.wroteHeader {
		z.wroteHeader = true
		// No name, no modification time, no extra field; XFL 4 (gzipLevel is the fastest),
		// OS 255 (unknown).
		hdr := [10]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4, 255}
		if _, err := z.w.Write(hdr[:]); err != nil {
			z.err = err
			return 0, err
		}
	}
	n := len(p)
	z.crc = crc32.Update(z.crc, crc32.IEEETable, p)
	z.size += uint32(n)
	for len(p) > 0 {
		s := &z.slots[z.cur]
		k := min(len(p), gzipBlock-len(s.in))
		s.in = append(s.in, p[:k]...)
		p = p[k:]
		if len(s.in) == gzipBlock {
			if err := z.dispatch(false); err != nil {
				return n - len(p), err
			}
		}
	}
	return n, nil
}

// dispatch hands the current slot's block to a compressor and moves on to the next slot,
// writing that slot's previous block first (blocks are written in order).
func (z *blockGzip) dispatch(last bool) error {
	s := &z.slots[z.cur]
	s.dict = s.dict[:0]
	if z.hasTail {
		s.dict = append(s.dict, z.tail...)
	}
	if z.hasTail = len(s.in) > tailSize; z.hasTail {
		z.tail = append(z.tail[:0], s.in[len(s.in)-tailSize:]...)
	}
	if s.fw == nil {
		fw, err := flate.NewWriterDict(io.Discard, gzipLevel, nil)
		if err != nil {
			return err
		}
		s.fw, s.done = fw, make(chan error, 1)
	}
	s.last, s.busy = last, true
	go s.compress()
	z.cur = (z.cur + 1) % len(z.slots)
	return z.drain(&z.slots[z.cur])
}

// compress deflates the slot's block as pgzip does: a sync flush, and the final block
// after the last.
func (s *gzipSlot) compress() {
	var err error
	defer func() { s.done <- err }()
	defer panics.Recover(&err) // a panic (a bug) is the block's error, and the export's
	crashpoint.Hit("gzip.block")
	s.out.Reset()
	var dict []byte
	if len(s.dict) > 0 {
		dict = s.dict
	}
	s.fw.ResetDict(&s.out, dict)
	_, err = s.fw.Write(s.in)
	if err == nil {
		err = s.fw.Flush()
	}
	if err == nil && s.last {
		err = s.fw.Close()
	}
}

// drain waits for a busy slot's block and writes it, and empties the slot.
func (z *blockGzip) drain(s *gzipSlot) error {
	if !s.busy {
		return z.err
	}
	err := <-s.done
	s.busy = false
	s.in = s.in[:0]
	if z.err != nil {
		return z.err
	}
	if err == nil {
		_, err = z.w.Write(s.out.Bytes())
	}
	z.err = err
	return err
}

// Close writes the last block and the trailer. It does not close the underlying writer.
func (z *blockGzip) Close() error {
	if z.closed {
		return z.err
	}
	if !z.wroteHeader {
		if _, err := z.Write(nil); err != nil {
			return err
		}
	}
	z.closed = true
	if z.err != nil {
		z.abort()
		return z.err
	}
	if err := z.dispatch(true); err != nil {
		z.abort()
		return err
	}
	for i := range z.slots {
		if err := z.drain(&z.slots[(z.cur+i)%len(z.slots)]); err != nil {
			z.abort()
			return err
		}
	}
	var trailer [8]byte
	binary.LittleEndian.PutUint32(trailer[:4], z.crc)
	binary.LittleEndian.PutUint32(trailer[4:], z.size)
	if _, err := z.w.Write(trailer[:]); err != nil {
		z.err = err
		return err
	}
	return nil
}

// abort waits for the compressors still running, dropping their output.
func (z *blockGzip) abort() {
	for i := range z.slots {
		s := &z.slots[i]
		if s.busy {
			<-s.done
			s.busy = false
		}
	}
}
