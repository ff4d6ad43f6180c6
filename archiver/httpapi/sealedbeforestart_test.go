package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"testing"

	"github.com/chatvault/chatvault/archiver/httpapi"
	"github.com/chatvault/chatvault/internal/reliability"
	"github.com/chatvault/chatvault/model"
)

// TestSealedDayServedWhateverTheArchivalSettings: Acme's sample day is sealed, then the
// directory moves Acme's archivalStart past it, or turns its archival off, or drops the
// organization. The API answered 404 export_not_found for that sealed day while
// `chatvault export` served it: a compliance officer must get what is sealed. A day with
// a committed manifest is served whatever the directory says now; a day without one
// keeps its answer (404 before the start, with archival off, or without the organization).
func TestSealedDayServedWhateverTheArchivalSettings(t *testing.T) {
	golden, err := os.ReadFile("../../testdata/golden/acme.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		edit func(o *model.Organization) bool // false drops the organization
	}{
		{"archivalStart moved past the day", func(o *model.Organization) bool { o.ArchivalStart = "2026-11-23"; return true }},
		{"archival turned off", func(o *model.Organization) bool { o.Archival, o.ArchivalStart = false, ""; return true }},
		{"organization gone from the directory", func(*model.Organization) bool { return false }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, func(s *httpapi.Server) {
				orig := s.Directory
				s.Directory = func(ctx context.Context) (*model.Directory, error) {
					d, err := orig(ctx)
					if err != nil {
						return nil, err
					}
					c := *d
					c.Organizations = nil
					for _, o := range d.Organizations {
						if o.ID == acme && !tc.edit(&o) {
							continue
						}
						c.Organizations = append(c.Organizations, o)
					}
					return &c, nil
				}
			})
			tok := f.tokens["acme"]
			resp, body := f.export(t, tok, date(sample))
			if resp.StatusCode != 200 || !bytes.Equal(body, golden) {
				t.Fatalf("export of the sealed %s: %d %.200s; want 200 with the golden day", sample, resp.StatusCode, body)
			}
			resp, body = get(t, f.url+"/v1/exports/"+sample+"/manifest", tok)
			if resp.StatusCode != 200 {
				t.Fatalf("manifest of the sealed %s: %d %s", sample, resp.StatusCode, body)
			}
			resp, body = getQuarantine(t, f, "GET", sample, tok)
			if resp.StatusCode != 200 {
				t.Fatalf("quarantine of the sealed %s: %d %s", sample, resp.StatusCode, body)
			}
			resp, body = get(t, f.url+"/v1/exports?from=2026-11-20&to=2026-11-23", tok)
			var list struct{ Days []httpapi.DayJSON }
			if resp.StatusCode != 200 || json.Unmarshal(body, &list) != nil {
				t.Fatalf("listing: %d %s", resp.StatusCode, body)
			}
			// The sealed day, and the days the directory archives now (from the moved
			// start: today, pending); not the unsealed days it no longer archives.
			want := 1
			if tc.name == "archivalStart moved past the day" {
				want = 2
			}
			if len(list.Days) != want || list.Days[0].Date != sample || list.Days[0].State != "sealed" || list.Days[0].Revision != 1 ||
				(want == 2 && (list.Days[1].Date != "2026-11-23" || list.Days[1].State != "pending")) {
				t.Fatalf("listing %+v, want the sealed %s (and today, pending, when archived)", list.Days, sample)
			}
			// An unsealed day keeps its answer.
			resp, body = f.export(t, tok, date("2026-11-21"))
			checkError(t, resp, body, 404, "export_not_found")
			resp, body = get(t, f.url+"/v1/exports/2026-11-21/manifest", tok)
			checkError(t, resp, body, 404, "export_not_found")
			resp, body = get(t, f.url+"/v1/exports?from=2026-11-20&to=2026-11-21", tok)
			if tc.name == "archivalStart moved past the day" {
				if resp.StatusCode != 200 || json.Unmarshal(body, &list) != nil || len(list.Days) != 0 {
					t.Fatalf("listing before the start without a sealed day: %d %s, want 200 with no day", resp.StatusCode, body)
				}
			} else {
				checkError(t, resp, body, 404, "export_not_found")
			}
		})
	}
	reliability.Record(t, "operations", "sealed day requested after archivalStart moved past it, archival turned off or the organization left the directory",
		reliability.Kept, "the API serves every day with a committed manifest (export, manifest, quarantine, listing) as `chatvault export` does; unsealed days stay 404 export_not_found")
}
