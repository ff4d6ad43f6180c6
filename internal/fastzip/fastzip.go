package fastzip

import (
	"archive/zip"
	"io"
	"sync"

	"github.com/klauspost/compress/flate"
)

// Level is the deflate level used.
const Level = 5

var pool sync.Pool

type writer struct{ *flate.Writer }

func (w writer) Close() error {
	err := w.Writer.Close()
	pool.Put(w.Writer)
	return err
}

func newWriter(dst io.Writer) (io.WriteCloser, error) {
	if fw, ok := pool.Get().(*flate.Writer); ok {
		fw.Reset(dst)
		return writer{fw}, nil
	}
	fw, err := flate.NewWriter(dst, Level)
	if err != nil {
		return nil, err
	}
	return writer{fw}, nil
}

// Register makes zw compress its Deflate entries with the pooled fast compressor.
func Register(zw *zip.Writer) { zw.RegisterCompressor(zip.Deflate, newWriter) }
