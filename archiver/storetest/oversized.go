package storetest

import (
	"context"
	"io"
	"sync/atomic"

	"github.com/chatvault/chatvault/archiver"
)

// Oversized serves, for each key in Sizes, an object of that many bytes ('{' then spaces,
// never a valid JSON value) generated as it is read, so a test can offer gigabytes without
// holding them: the attack of someone with write access to the store who puts a huge
// object under a control object's key. Other keys go to Store. Served counts the bytes
// handed out, so a test can tell a reader that stopped early from one that read it all.
type Oversized struct {
	archiver.Store
	Sizes  map[string]int64
	served atomic.Int64
}

// Served returns how many bytes of oversized objects were read.
func (o *Oversized) Served() int64 { return o.served.Load() }

// Open implements archiver.Store.
func (o *Oversized) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	if n, ok := o.Sizes[key]; ok {
		return io.NopCloser(&spaces{left: n, first: true, served: &o.served}), nil
	}
	return o.Store.Open(ctx, key)
}

type spaces struct {
	left   int64
	first  bool
	served *atomic.Int64
}

func (s *spaces) Read(p []byte) (int, error) {
	if s.left <= 0 {
		return 0, io.EOF
	}
	n := int64(len(p))
	n = min(n, s.left)
	for i := range p[:n] {
		p[i] = ' '
	}
	if s.first && n > 0 {
		p[0], s.first = '{', false
	}
	s.left -= n
	s.served.Add(n)
	return int(n), nil
}
