package httpapi_test

import (
	"context"
	"net/http"
	"runtime"
	"testing"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/httpapi"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/archiver/storetest"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestExportOversizedManifest: someone with write access to the store puts a 1 GiB object
// under an organization's manifest of the day. serve used to read it whole on the
// request (out of memory: every organization's requests lost with the process); it now
// answers that request with an error, reading at most the manifest cap, and the other
// organizations are served.
func TestExportOversizedManifest(t *testing.T) {
	var over *storetest.Oversized
	var key string
	f := newFixture(t, func(s *httpapi.Server) {
		store := s.Exports.(ledger.Ledger).Store
		m, err := s.Exports.Latest(context.Background(), acme, mustDay(t, sample))
		if err != nil || m == nil {
			t.Fatalf("latest: %v %v", m, err)
		}
		key = m.Key
		over = &storetest.Oversized{Store: store, Sizes: map[string]int64{key: 1 << 30}}
		s.Exports = ledger.Ledger{Store: over}
	})
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	resp, body := f.export(t, f.tokens["acme"], date(sample))
	runtime.ReadMemStats(&after)
	if resp.StatusCode < 500 {
		t.Fatalf("export over an oversized manifest: %d %s, want a server error", resp.StatusCode, body)
	}
	_, max := archiver.ObjectKind(key)
	if served, alloc := over.Served(), after.TotalAlloc-before.TotalAlloc; served > 4*(max+1) || alloc > 1<<28 {
		t.Errorf("read %d bytes of the 1 GiB object and allocated %d (cap %d)", served, alloc, max)
	}
	if resp, body := f.export(t, f.tokens["globex"], date(sample)); resp.StatusCode != http.StatusOK {
		t.Fatalf("another organization's export: %d %s", resp.StatusCode, body)
	}
	reliability.Record(t, "security", "a 1 GiB object put under an organization's manifest, then an export of that day", reliability.CleanFailure,
		"that request answers a server error, reading at most the manifest cap (16 MiB); other organizations are served")
}
