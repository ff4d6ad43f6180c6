package exporttask_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/attach"
	"github.com/chatvault/chatvault/archiver/exporttask"
	"github.com/chatvault/chatvault/archiver/fsstore"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/internal/reliability"
	"github.com/chatvault/chatvault/model"
)

// attachCounting counts the requests a store sees for attachment objects (keys under
// attach.Prefix), by kind: what loading a task's attachments costs, apart from the days'
// own reads.
type attachCounting struct {
	archiver.Store
	mu sync.Mutex
	n  map[string]int
}

func (c *attachCounting) add(kind, key string) {
	if !strings.HasPrefix(key, attach.Prefix) {
		return
	}
	c.mu.Lock()
	c.n[kind]++
	c.mu.Unlock()
}

func (c *attachCounting) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	c.add("Open", key)
	return c.Store.Open(ctx, key)
}

func (c *attachCounting) List(ctx context.Context, prefix string, fn func(string) error) error {
	c.add("List", prefix)
	return c.Store.List(ctx, prefix, fn)
}

func (c *attachCounting) ListAfter(ctx context.Context, prefix, startAfter string, fn func(string) error) error {
	c.add("List", prefix)
	return archiver.ListAfter(ctx, c.Store, prefix, startAfter, fn)
}

func (c *attachCounting) reset() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.n
	c.n = map[string]int{}
	return n
}

// TestAttachmentLoadingCost: an html or rsmf task looks for the range's attachment
// indexes with one listing, whatever the range's days, and reads only the days that have
// one: with capture off (no index anywhere) six days cost one listing and no read, not a
// listing per day; with three of the six captured, one listing and three reads. Counted:
// the store requests for attachment objects.
func TestAttachmentLoadingCost(t *testing.T) {
	dates := []string{"2026-11-10", "2026-11-11", "2026-11-12", "2026-11-13", "2026-11-14", "2026-11-15"}
	store, err := fsstore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	dir := sealSampleAs(t, store, nil, dates)
	// A day of the range's neighbours captured: outside the range, never read.
	sealSampleAs(t, store, nil, []string{"2026-11-16"})
	cs := &attachCounting{Store: store, n: map[string]int{}}
	e := &exporttask.Engine{
		Store:     cs,
		Directory: func(context.Context) (*model.Directory, error) { return dir, nil },
		Formats:   allFormats,
		Links:     exporttask.Links{Key: []byte("0123456789abcdef0123456789abcdef")},
		TempDir:   t.TempDir(),
	}
	cost := func(t *testing.T, format string) map[string]int {
		t.Helper()
		cs.reset()
		st, _ := run(t, e, exporttask.Request{From: dates[0], To: dates[len(dates)-1], Format: format})
		if st.State != exporttask.StateCompleted || len(st.SourceDays) != len(dates) {
			t.Fatalf("%s task %s (%s), %d source days", format, st.State, st.Error, len(st.SourceDays))
		}
		return cs.reset()
	}
	formats := []string{"html", "rsmf"}
	off := map[string]map[string]int{}
	for _, f := range formats {
		off[f] = cost(t, f)
	}

	// Capture on: the sample's links are to hosts not on the list, so each captured day
	// gets an index of failed links without a request to any host.
	fetcher, err := attach.NewFetcher(attach.Options{AllowedHosts: []string{"127.0.0.1:1"}, Concurrency: 1, MaxSize: 1 << 20,
		ConnectTimeout: time.Second, HeaderTimeout: time.Second, Timeout: time.Second, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	c := &attach.Capturer{Ledger: ledger.Ledger{Store: store}, Fetcher: fetcher, Log: slog.New(slog.DiscardHandler),
		Now: func() time.Time { return time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC) }}
	for _, d := range []string{dates[0], dates[2], dates[5], "2026-11-16"} {
		day, _ := archiver.ParseDay(d)
		r, err := c.CaptureDay(context.Background(), acme, day)
		if err != nil {
			t.Fatal(err)
		}
		if r.Failed == 0 {
			t.Fatalf("capture of %s: %+v, want failed links (the fixture measures nothing)", d, r)
		}
	}
	on := map[string]map[string]int{}
	for _, f := range formats {
		on[f] = cost(t, f)
	}
	for _, f := range formats {
		t.Logf("%s over %d days: capture off %v; three days captured %v", f, len(dates), off[f], on[f])
		if off[f]["List"] != 1 || off[f]["Open"] != 0 {
			t.Errorf("%s, capture off: %v attachment requests, want one listing and no read", f, off[f])
		}
		if on[f]["List"] != 1 || on[f]["Open"] != 3 {
			t.Errorf("%s, three days captured: %v attachment requests, want one listing and three reads", f, on[f])
		}
	}
	reliability.Record(t, "operations", "html or rsmf export task over six days, with attachment capture off, and with three of the days captured", reliability.Kept,
		fmt.Sprintf("counted: one listing of the range's attachment indexes whatever its days, and one read per day that has one (capture off: %d listing, %d reads)",
			off["html"]["List"], off["html"]["Open"]))
}
