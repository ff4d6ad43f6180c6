package httpapi_test

import (
	"context"
	"io"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/audit"
	"github.com/chatvault/chatvault/archiver/httpapi"
	"github.com/chatvault/chatvault/internal/reliability"
)

// heldExports holds the first n exports opened until release is closed, telling arrived
// of each: downloads in progress, as a client that reads slowly keeps them.
type heldExports struct {
	httpapi.Exports
	n       int64
	opened  atomic.Int64
	arrived chan struct{}
	release chan struct{}
}

func (h *heldExports) OpenExport(ctx context.Context, org string, day archiver.Day) (*archiver.StoredManifest, io.ReadCloser, error) {
	if h.opened.Add(1) <= h.n {
		h.arrived <- struct{}{}
		<-h.release
	}
	return h.Exports.OpenExport(ctx, org, day)
}

// TestTokenConcurrencyCap: one token's requests in progress are capped
// (http.tokenConcurrency). The token rate bounds how fast a token starts requests, not
// how many it keeps: a client that reads slowly (a write may stall up to
// http.writeTimeout and is renewed at every write) kept every download it started, each
// a connection, buffers and a store reader, until one organization's token held every
// connection of http.maxConnections and no other organization could export.
func TestTokenConcurrencyCap(t *testing.T) {
	held := &heldExports{n: 2, arrived: make(chan struct{}, 2), release: make(chan struct{})}
	f := newFixture(t, func(s *httpapi.Server) {
		held.Exports = s.Exports
		s.Exports = held
		s.TokenConcurrency = 2
	})
	// The server's Close waits for its handlers: a failure must not leave them held.
	var releaseOnce sync.Once
	release := func() { releaseOnce.Do(func() { close(held.release) }) }
	t.Cleanup(release)

	var wg sync.WaitGroup
	statuses := make(chan int, 2)
	for range 2 {
		wg.Go(func() {
			resp, _ := f.export(t, f.tokens["acme"], date(sample))
			statuses <- resp.StatusCode
		})
	}
	<-held.arrived
	<-held.arrived

	// A third request of the same token is refused, without being read.
	resp, body := f.export(t, f.tokens["acme"], date(sample))
	checkError(t, resp, body, 429, "rate_limited")
	if resp.Header.Get("Retry-After") == "" {
		t.Errorf("429 without Retry-After")
	}
	// Another organization's token is not held up by it.
	if resp, body := f.export(t, f.tokens["globex"], date(sample)); resp.StatusCode != 200 {
		t.Fatalf("globex while acme's token is at its cap: %d %s", resp.StatusCode, body)
	}

	release()
	wg.Wait()
	close(statuses)
	for s := range statuses {
		if s != 200 {
			t.Fatalf("a held export ended %d", s)
		}
	}
	// Once they end, the token may start again.
	if resp, body := f.export(t, f.tokens["acme"], date(sample)); resp.StatusCode != 200 {
		t.Fatalf("acme after its downloads ended: %d %s", resp.StatusCode, body)
	}

	// The refusal is audited under the token's organization, as a rate refusal is.
	flushAudit(t, f.audit)
	var refused int
	day := mustDay(t, sample)
	err := f.audit.List(context.Background(), acme, day, day.Next().Next(), func(r audit.Record) error {
		if r.Status == 429 && r.Error == "rate_limited" {
			refused++
		}
		return nil
	})
	if err != nil || refused != 1 {
		t.Fatalf("audit: %d refusals recorded (%v), want 1", refused, err)
	}

	reliability.Record(t, "security", "one token's downloads held open by a slow reader", reliability.Refused,
		"429 rate_limited past http.tokenConcurrency in progress; other tokens served, audited under the organization")
}
