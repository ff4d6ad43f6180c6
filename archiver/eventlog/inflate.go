package eventlog

import (
	"bufio"
	"io"

	"github.com/chatvault/chatvault/internal/panics"
	"github.com/klauspost/compress/gzip"
)

const (
	// inflateChunk and inflateChunks bound what an inflater holds ahead of the line
	// reader: 1 MiB of inflated bytes, in a few chunks so that both sides keep working.
	inflateChunk  = 256 << 10
	inflateChunks = 4
	// maxInflaters is how many gzipped files a scan inflates at once: the one being read
	// and the next.
	maxInflaters = 2
)

// inflateHook, when set (by tests), is called with a gzipped file's name once its first
// inflated bytes are ready.
var inflateHook func(name string)

// inflater gunzips one event file on its own goroutine, ahead of the goroutine that splits
// it into lines, into a few fixed chunks: inflating is most of the cost of reading a
// gzipped file, and the scan's caller (the seal) has its own goroutines for the lines, so
// a scan that inflated as it went left the other cores waiting for lines. A Scan starts
// inflating the next gzipped file while it reads the one before (Dir.Scan), so files of
// both kinds overlap too. An inflater is reused from file to file (scanner.inflaters).
//
// The bytes and the error the line reader gets are the gzipMembers reader's, in the same
// order, so a scan reports the same lines and the same errors as one inflating in turn.
type inflater struct {
	raw     *bufio.Reader
	gz      *gzip.Reader
	members gzipMembers
	chunks  [inflateChunks][]byte
	// Between the two goroutines: full carries inflated chunks in order, the last one
	// with the error that ended the file (io.EOF at its clean end); free carries them back.
	full chan chunk
	free chan []byte
	stop chan struct{}
	done chan struct{}
	// The reading side: what is left of the chunk at hand, and the error after it.
	cur     []byte
	held    []byte
	err     error
	running bool
	name    string
	closer  io.Closer // the file, when the scan opened it for the inflater
}

type chunk struct {
	b   []byte
	err error
}

func newInflater() *inflater {
	in := &inflater{raw: bufio.NewReaderSize(nil, gzipInBufSize), gz: new(gzip.Reader)}
	for i := range in.chunks {
		in.chunks[i] = make([]byte, inflateChunk)
	}
	return in
}

// start reads the gzip header of r, the event file name, and starts inflating the rest on
// a goroutine. A header that cannot be read is returned as it is (io.EOF for an empty file).
func (in *inflater) start(name string, r io.Reader) error {
	in.name, in.cur, in.held, in.err = name, nil, nil, nil
	in.raw.Reset(r)
	if err := in.gz.Reset(in.raw); err != nil {
		return err
	}
	in.gz.Multistream(false)
	in.members = gzipMembers{z: in.gz, raw: in.raw}
	in.full = make(chan chunk, inflateChunks)
	in.free = make(chan []byte, inflateChunks)
	in.stop = make(chan struct{})
	in.done = make(chan struct{})
	for _, c := range in.chunks {
		in.free <- c
	}
	in.running = true
	go in.run()
	return nil
}

// run inflates until the file ends, fails, or finish stops it.
func (in *inflater) run() {
	defer close(in.done)
	first := true
	for {
		var b []byte
		select {
		case b = <-in.free:
		case <-in.stop:
			return
		}
		n, err := fill(&in.members, b[:cap(b)])
		if first && inflateHook != nil {
			inflateHook(in.name)
		}
		first = false
		select {
		case in.full <- chunk{b: b[:n], err: err}:
		case <-in.stop:
			return
		}
		if err != nil {
			return
		}
	}
}

// fill reads from r until b is full or r fails, and returns the bytes read and the error
// (io.EOF at the end), unlike io.ReadFull, which hides a clean end after some bytes.
// A panic (a bug) is its error, the file's: fill runs on the inflater's goroutine.
func fill(r io.Reader, b []byte) (n int, err error) {
	defer panics.Recover(&err)
	for n < len(b) {
		k, err := r.Read(b[n:])
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// Read implements io.Reader for the line reader: the inflated bytes in order, then the
// error that ended the file.
func (in *inflater) Read(p []byte) (int, error) {
	for len(in.cur) == 0 {
		if in.err != nil {
			return 0, in.err
		}
		if in.held != nil {
			in.free <- in.held // never blocks: free holds every chunk
			in.held = nil
		}
		c, ok := <-in.full
		if !ok {
			return 0, io.ErrUnexpectedEOF // not reached: run sends the error before it ends
		}
		in.cur, in.held, in.err = c.b, c.b, c.err
	}
	n := copy(p, in.cur)
	in.cur = in.cur[n:]
	return n, nil
}

// finish stops the goroutine, waits for it and closes the file the scan opened for it;
// the inflater can then start another file.
func (in *inflater) finish() {
	if in.running {
		close(in.stop)
		<-in.done
		in.running = false
	}
	if in.closer != nil {
		in.closer.Close()
		in.closer = nil
	}
	in.raw.Reset(nil)
	in.members = gzipMembers{}
	in.cur, in.held = nil, nil
}
