package storetest

import (
	"context"
	"crypto/sha256"
	"io"
	"maps"
	"sync"

	"github.com/chatvault/chatvault/archiver"
)

// Counts are the requests a Counting store has seen, by kind ("Create", "Open", "List",
// "ListAfter"), and "Keys": how many keys its listings handed to their callbacks. Growth
// laws are tested with them (a lookup that must not grow with the history), never with
// timings. Reads of the store's layout marker (archiver.LayoutKey) are counted apart, as
// "Layout", and not in Requests: a process reads it once per store (Ledger.StoreLayout),
// not once per lookup.
type Counts map[string]int

// Requests is the number of requests of every kind.
func (c Counts) Requests() int { return c["Create"] + c["Open"] + c["List"] + c["ListAfter"] }

// Counting wraps a Store and counts what is asked of it. It is an archiver.AfterLister
// whatever it wraps (through archiver.ListAfter), so it counts what callers ask for; what
// a store without ListAfter does underneath is the fallback's cost, not counted here.
type Counting struct {
	archiver.Store
	mu sync.Mutex
	n  Counts
}

// NewCounting returns s wrapped, counting from zero.
func NewCounting(s archiver.Store) *Counting { return &Counting{Store: s, n: Counts{}} }

func (c *Counting) add(kind string, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = Counts{}
	}
	c.n[kind] += n
}

// Counts returns the counts so far.
func (c *Counting) Counts() Counts {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.n)
}

// Reset returns the counts so far and starts again from zero.
func (c *Counting) Reset() Counts {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.n
	c.n = Counts{}
	return n
}

// Unwrap implements archiver.LayoutUnwrapper: the layout marker remembered for the store
// it wraps is its own.
func (c *Counting) Unwrap() archiver.Store { return c.Store }

// Create implements archiver.Store.
func (c *Counting) Create(ctx context.Context, key string, body io.Reader, size int64, sum [sha256.Size]byte, opt archiver.CreateOptions) error {
	c.add("Create", 1)
	return c.Store.Create(ctx, key, body, size, sum, opt)
}

// Open implements archiver.Store.
func (c *Counting) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	if key == archiver.LayoutKey {
		c.add("Layout", 1)
		return c.Store.Open(ctx, key)
	}
	c.add("Open", 1)
	return c.Store.Open(ctx, key)
}

// List implements archiver.Store.
func (c *Counting) List(ctx context.Context, prefix string, fn func(string) error) error {
	c.add("List", 1)
	return c.Store.List(ctx, prefix, func(key string) error {
		c.add("Keys", 1)
		return fn(key)
	})
}

// ListAfter implements archiver.AfterLister.
func (c *Counting) ListAfter(ctx context.Context, prefix, startAfter string, fn func(string) error) error {
	c.add("ListAfter", 1)
	return archiver.ListAfter(ctx, c.Store, prefix, startAfter, func(key string) error {
		c.add("Keys", 1)
		return fn(key)
	})
}
