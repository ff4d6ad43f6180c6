package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/audit"
	"github.com/chatvault/chatvault/archiver/httpapi"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/model"
)

// fuzzExports records the days the handlers ask for; nothing is sealed.
type fuzzExports struct{ days []archiver.Day }

func (e *fuzzExports) OpenExport(_ context.Context, _ string, d archiver.Day) (*archiver.StoredManifest, io.ReadCloser, error) {
	e.days = append(e.days, d)
	return nil, nil, ledger.ErrNotSealed
}

func (e *fuzzExports) Latest(_ context.Context, _ string, d archiver.Day) (*archiver.StoredManifest, error) {
	e.days = append(e.days, d)
	return nil, nil
}

func (e *fuzzExports) Status(_ context.Context, _ string, from, to archiver.Day) ([]ledger.DayStatus, error) {
	e.days = append(e.days, from, to)
	return nil, nil
}

type fuzzTokens struct{}

func (fuzzTokens) Lookup(secret string, _ time.Time) (archiver.Token, error) {
	if secret != "cvt_fuzz" {
		return archiver.Token{}, archiver.ErrInvalidToken
	}
	return archiver.Token{ID: "t", Org: acme, Scopes: []string{archiver.ScopeComplianceRead}}, nil
}

type nopAudit struct{}

func (nopAudit) Append(context.Context, audit.Record) error { return nil }
func (nopAudit) List(context.Context, string, archiver.Day, archiver.Day, func(audit.Record) error) error {
	return nil
}

// FuzzExportRequest drives the API's request parsing (the export's JSON body, the
// listing's query, the manifest's path) with arbitrary input. Whatever comes in, the
// answer is a known status with the API's JSON error, never a 500 or a panic, and a day
// reaches the store only when it is a real calendar day.
func FuzzExportRequest(f *testing.F) {
	f.Add(`{"date":"2026-11-22"}`, "from=2026-11-01&to=2026-11-22", "2026-11-22")
	f.Add(`{"date":"2026-11-22","delivery":"url"}`, "from=2026-02-30&to=2026-03-01", "2026-02-30")
	f.Add(`{"date":"../../x"}`, "from=..%2F..&to=%00", "..%2F..%2Fetc")
	f.Add(`{"date":"2026-11-22"}{"date":"2026-11-23"}`, "from=&to=", "")
	f.Add(`{"date":"2026-11-22","org":"x","date":"1970-01-01"}`, "from=1969-12-31&to=9999-12-31", "99999-01-01")
	f.Add(`[`, "%zz", "%zz")
	f.Add("{\"date\":\"2026-11-22\u0000\"}", "from=2026-11-22T00:00:00Z&to=2026-11-22", "2026-11-22%00")

	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	dir := &model.Directory{Organizations: []model.Organization{{ID: acme, Archival: true, ArchivalStart: "1970-01-01"}}}
	f.Fuzz(func(t *testing.T, body, query, pathDate string) {
		ex := &fuzzExports{}
		s := &httpapi.Server{
			Exports: ex, Tokens: fuzzTokens{}, Audit: nopAudit{},
			Directory: func(context.Context) (*model.Directory, error) { return dir, nil },
			Now:       func() time.Time { return now },
			TokenRate: -1, ClientRate: -1, AuthFailures: -1,
		}
		h := s.Handler()
		reqs := []*http.Request{httptest.NewRequest("POST", "/messageevent.export", strings.NewReader(body))}
		if r, err := http.NewRequest("GET", "/v1/exports", nil); err == nil {
			r.URL.RawQuery = query
			reqs = append(reqs, r)
		}
		if u, err := url.Parse("/v1/exports/" + pathDate + "/manifest"); err == nil {
			reqs = append(reqs, &http.Request{Method: "GET", URL: u, Header: http.Header{}, Body: http.NoBody, RemoteAddr: "192.0.2.1:1234"})
		}
		for _, r := range reqs {
			r.Header.Set("Authorization", "Bearer cvt_fuzz")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			switch w.Code {
			case 200, 404, 405, 301, 307, 308:
			case 400, 409:
				var e struct{ Error, Message string }
				if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Message == "" ||
					(e.Error != httpapi.EInvalidRequest && e.Error != httpapi.EExportPending) {
					t.Fatalf("%s %s: %d with body %q", r.Method, r.URL, w.Code, w.Body)
				}
			default:
				t.Fatalf("%s %s: status %d: %s", r.Method, r.URL, w.Code, w.Body)
			}
		}
		for _, d := range ex.days {
			if _, err := archiver.ParseDay(d.String()); err != nil || d.After(archiver.DayOf(now)) {
				t.Fatalf("day %v reached the store", d)
			}
		}
	})
}
