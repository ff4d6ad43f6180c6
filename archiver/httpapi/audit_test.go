package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/audit"
	"github.com/chatvault/chatvault/archiver/httpapi"
	"github.com/chatvault/chatvault/internal/reliability"
	dto "github.com/prometheus/client_model/go"
)

// countingStore records every key opened and every prefix listed.
type countingStore struct {
	archiver.Store
	mu     sync.Mutex
	opened []string
	listed []string
}

func (s *countingStore) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	s.mu.Lock()
	s.opened = append(s.opened, key)
	s.mu.Unlock()
	return s.Store.Open(ctx, key)
}

func (s *countingStore) List(ctx context.Context, prefix string, fn func(string) error) error {
	s.mu.Lock()
	s.listed = append(s.listed, prefix)
	s.mu.Unlock()
	return s.Store.List(ctx, prefix, fn)
}

func (s *countingStore) reset() {
	s.mu.Lock()
	s.opened, s.listed = nil, nil
	s.mu.Unlock()
}

// flushAudit writes what the audit log holds in memory, when it holds anything.
func flushAudit(t *testing.T, a httpapi.Audit) {
	t.Helper()
	if f, ok := a.(interface{ Flush(context.Context) error }); ok {
		if err := f.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

// storeKeys lists every key of the fixture's store.
func storeKeys(t *testing.T, s archiver.Store) []string {
	t.Helper()
	var keys []string
	if err := s.List(context.Background(), "", func(k string) error {
		keys = append(keys, k)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return keys
}

// counterSum is the sum of a counter family's samples in reg (0 when absent).
func (f *fixture) counterSum(t *testing.T, name string) float64 {
	t.Helper()
	mfs, err := f.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			sum += counterValue(m)
		}
	}
	return sum
}

func counterValue(m *dto.Metric) float64 {
	if c := m.GetCounter(); c != nil {
		return c.GetValue()
	}
	return 0
}

// TestAnonymousTrafficNeverGrowsTheStore: a thousand requests without a valid token (none,
// malformed, guessed; most of them answered 429 once the address is blocked) leave the
// store exactly as it was, and are counted in chatvault_http_unauthenticated_total.
func TestAnonymousTrafficNeverGrowsTheStore(t *testing.T) {
	f := newFixture(t, func(s *httpapi.Server) { s.ClientRate, s.ClientBurst = 20, 50 })
	before := storeKeys(t, f.store)
	statuses := map[int]int{}
	for i := range 1000 {
		tok := []string{"", "not-a-token", "cvt_" + strings.Repeat("A", 43)}[i%3]
		resp, _ := f.export(t, tok, date(sample))
		statuses[resp.StatusCode]++
	}
	if statuses[200] != 0 || statuses[401] == 0 || statuses[429] == 0 {
		t.Fatalf("statuses %v", statuses)
	}
	flushAudit(t, f.audit)
	after := storeKeys(t, f.store)
	if len(after) != len(before) {
		t.Fatalf("anonymous requests added %d objects to the store (%v...)", len(after)-len(before), after[len(before):min(len(after), len(before)+3)])
	}
	if n := f.counterSum(t, "chatvault_http_unauthenticated_total"); n != 1000 {
		t.Fatalf("chatvault_http_unauthenticated_total = %v, want 1000", n)
	}
	reliability.Record(t, "security", "1,000 requests without a valid token (the store-filling attack)", reliability.Refused,
		"401/429, zero objects stored; counted in chatvault_http_unauthenticated_total{reason}")
}

// auditRecords fetches the audit of 2026-11-23 with token.
func (f *fixture) auditRecords(t *testing.T, token string) []audit.Record {
	t.Helper()
	flushAudit(t, f.audit)
	resp, body := get(t, f.url+"/v1/audit?from=2026-11-23&to=2026-11-23", token)
	var out struct {
		Org     string
		Records []audit.Record
	}
	if resp.StatusCode != 200 || json.Unmarshal(body, &out) != nil {
		t.Fatalf("audit: %d %s", resp.StatusCode, body)
	}
	return out.Records
}

// TestRefusalsOfValidTokensAudited: a request refused for its scope (403) or its rate (429)
// with a valid token is recorded under the token's organization, where its auditor sees it.
func TestRefusalsOfValidTokensAudited(t *testing.T) {
	f := newFixture(t, func(s *httpapi.Server) { s.TokenRate, s.TokenBurst = 1, 1 })
	if resp, body := f.export(t, f.tokens["acme"], date(sample)); resp.StatusCode != 200 {
		t.Fatalf("first: %d %s", resp.StatusCode, body)
	}
	resp, body := f.export(t, f.tokens["acme"], date(sample))
	checkError(t, resp, body, 429, "rate_limited")
	resp, body = f.export(t, f.tokens["acme-audit"], date(sample))
	checkError(t, resp, body, 403, "insufficient_scope")

	recs := f.auditRecords(t, f.tokens["acme-audit"])
	byStatus := map[int]audit.Record{}
	for _, r := range recs {
		if r.Org != acme {
			t.Errorf("acme's audit holds a record of %q", r.Org)
		}
		byStatus[r.Status] = r
	}
	if r := byStatus[429]; r.Error != "rate_limited" || r.TokenName != "acme" {
		t.Errorf("429 not recorded under acme: %+v (all: %+v)", r, recs)
	}
	if r := byStatus[403]; r.Error != "insufficient_scope" || r.TokenName != "acme-audit" {
		t.Errorf("403 not recorded under acme: %+v (all: %+v)", r, recs)
	}
	if len(recs) != 3 {
		t.Errorf("%d records, want 3: %+v", len(recs), recs)
	}
	reliability.Record(t, "security", "valid token refused for scope (403) or rate (429)", reliability.Refused,
		"the refusal is in the token's organization's audit, where its auditor sees it")
}

// TestAuditReadsOnlyTheCallersKeys: organization A's auditor never sees B's records, and
// the listing opens and lists only A's keys of the requested range.
func TestAuditReadsOnlyTheCallersKeys(t *testing.T) {
	var cs *countingStore
	f := newFixture(t, func(s *httpapi.Server) {
		cs = &countingStore{Store: auditStoreOf(s)}
		s.Audit = newAudit(cs)
	})
	for range 5 {
		f.export(t, f.tokens["globex"], date(sample))
		f.export(t, f.tokens["initech"], date(sample))
	}
	f.export(t, f.tokens["acme"], date(sample))
	flushAudit(t, f.audit)
	cs.reset()
	recs := f.auditRecords(t, f.tokens["acme-audit"])
	if len(recs) != 1 || recs[0].Org != acme {
		t.Fatalf("acme's audit: %+v", recs)
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	for _, k := range cs.opened {
		if !strings.Contains(k, acme) {
			t.Errorf("acme's audit opened %s", k)
		}
	}
	for _, p := range cs.listed {
		if !strings.Contains(p, acme) {
			t.Errorf("acme's audit listed %q", p)
		}
	}
	if len(cs.opened) == 0 {
		t.Error("nothing opened")
	}
	reliability.Record(t, "security", "an auditor reads the audit while other organizations fill theirs", reliability.Refused,
		"GET /v1/audit lists and opens only the caller's organization's segments of the range")
}

// TestBadTokensNeverLockOutValidOnes: behind a proxy every client shares one address; bad
// tokens from some of them must not lock the others out. Only failing attempts are limited.
func TestBadTokensNeverLockOutValidOnes(t *testing.T) {
	f := newFixture(t, func(s *httpapi.Server) { s.ClientRate, s.ClientBurst = 20, 50 })
	for i := range 50 {
		resp, body := f.export(t, "cvt_"+strings.Repeat(string(rune('A'+i%26)), 43), date(sample))
		if resp.StatusCode != 401 && resp.StatusCode != 429 {
			t.Fatalf("bad token %d: %d %s", i, resp.StatusCode, body)
		}
	}
	// The guesser is still limited...
	resp, body := f.export(t, "cvt_guess", date(sample))
	checkError(t, resp, body, 429, "rate_limited")
	// ...but a valid token from the same address is served.
	if resp, body := f.export(t, f.tokens["acme"], date(sample)); resp.StatusCode != 200 {
		t.Fatalf("valid token after 50 bad ones from its address: %d %.200s", resp.StatusCode, body)
	}
	if resp, body := get(t, f.url+"/v1/exports?from=2026-11-22&to=2026-11-22", f.tokens["globex"]); resp.StatusCode != 200 {
		t.Fatalf("listing with a valid token: %d %.200s", resp.StatusCode, body)
	}
	reliability.Record(t, "security", "50 bad tokens, then a valid one, from one (proxy) address", reliability.Refused,
		"the bad tokens get 401, then 429; the valid token is still served (200)")
}

// auditStoreOf is the store s's audit log writes to.
func auditStoreOf(s *httpapi.Server) archiver.Store { return s.Audit.(*audit.Log).Store }

// newAudit is an audit log on store.
func newAudit(store archiver.Store) httpapi.Audit { return &audit.Log{Store: store} }
