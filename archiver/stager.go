package archiver

import (
	"bufio"
	"crypto/sha256"
	"hash"
	"io"
)

// stager is what a stagedObject writes through: its compressor, the buffer that batches
// the compressor's small writes into large ones, and the two hashes. Each is a few hundred
// KiB to a few MiB once used, so a seal keeps them in a free list (stagerList) and an
// organization reuses the last one's instead of making its own.
type stager struct {
	zw     blockGzip
	buf    *bufio.Writer
	sink   hashingWriter
	jsonl  hash.Hash
	stored hash.Hash
}

// hashingWriter writes to w and hashes what was written.
type hashingWriter struct {
	w io.Writer
	h hash.Hash
	n int64 // bytes written: the object's size when it has no file to ask (StreamObject)
}

func (hw *hashingWriter) Write(p []byte) (int, error) {
	n, err := hw.w.Write(p)
	hw.h.Write(p[:n])
	hw.n += int64(n)
	return n, err
}

// stagedBuffer is the size of a stager's write buffer.
const stagedBuffer = 256 << 10

// reset readies the stager to write a new object to w.
func (sg *stager) reset(w io.Writer) {
	sg.jsonl.Reset()
	sg.stored.Reset()
	sg.sink = hashingWriter{w: w, h: sg.stored}
	sg.buf.Reset(&sg.sink)
	sg.zw.Reset(sg.buf)
}

// stagerList is a seal's free list of stagers. It is a fixed list rather than a
// sync.Pool, which every garbage collection empties: on a day of many small organizations
// the collector runs every few organizations, and each would then build its stager anew.
// It holds at most as many as were in use at once, and goes with the seal.
type stagerList struct {
	free chan *stager
}

// newStagerList makes a free list that keeps up to n stagers.
func newStagerList(n int) *stagerList {
	return &stagerList{free: make(chan *stager, n)}
}

// get returns a stager from the list, or a new one when the list is empty.
func (l *stagerList) get() *stager {
	select {
	case sg := <-l.free:
		return sg
	default:
		return &stager{buf: bufio.NewWriterSize(io.Discard, stagedBuffer), jsonl: sha256.New(), stored: sha256.New()}
	}
}

// put returns sg to the list; a stager beyond its capacity is dropped. Its compressor must
// not be running.
func (l *stagerList) put(sg *stager) {
	sg.sink.w = nil // not keep the last object's file reachable
	sg.buf.Reset(io.Discard)
	sg.zw.Reset(io.Discard)
	select {
	case l.free <- sg:
	default:
	}
}
