package httpapi_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/httpapi"
	"github.com/chatvault/chatvault/archiver/storetest"
	"github.com/chatvault/chatvault/internal/exporttest"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestExportOfEmptyLayout3Day: a day without records sealed in layout 3 has a manifest
// and no export object. Its export is served from the constant empty gzip: 200 with an
// empty body (or, with Accept-Encoding: gzip, the empty gzip itself, its digest in
// Repr-Digest), the same with "delivery":"url" (there is no object to presign, so no
// URL), and GET /v1/exports reports the day empty with the empty gzip's SHA-256. A
// keyless manifest that claims records is not served: a 500 saying the stored export does
// not match its manifest.
func TestExportOfEmptyLayout3Day(t *testing.T) {
	presigned := 0
	f := newFixture(t, func(s *httpapi.Server) {
		s.Presign = func(context.Context, string, string) (string, time.Time, error) {
			presigned++
			return "https://bucket.example/never", time.Now(), nil
		}
	})
	day3 := "2026-11-23"
	d, _ := archiver.ParseDay(day3)
	// The day after the sample, in layout 3 (the chain's seqs are not the API's business).
	c := storetest.NewChain(t, f.archive, acme)
	c.Marker(d)
	c.Day(d, 0)

	checkEmptyDay(t, f, day3, &presigned)

	// A forged revision: no object, yet records.
	forged := &archiver.Manifest{Version: archiver.ManifestVersion3, Org: acme, OrgName: "Acme", Date: day3, Revision: 2, Seq: 9,
		Window: archiver.Window{Start: d.Start().UnixMilli(), End: d.End().UnixMilli()},
		Data:   archiver.DataObject{JSONLSHA256: archiver.EmptySHA256, Records: 3}}
	b, err := json.MarshalIndent(forged, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.archive.Create(t.Context(), archiver.DayKey3(acme, d, 2), bytes.NewReader(b), int64(len(b)), sha256.Sum256(b), archiver.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, enc := range []string{"identity", "gzip"} {
		resp, body := f.export(t, f.tokens["acme"], date(day3), "Accept-Encoding", enc)
		wantCode(t, resp, body, 500, "internal")
	}
	reliability.Record(t, "input", "export of a day without records sealed in layout 3 (no export object)", reliability.Kept,
		"200 with the constant empty gzip (or an empty body), never a presigned URL; a manifest naming no object but claiming records is not served (500)")
}

// checkEmptyDay checks the answers for acme's day day3, sealed in layout 3 without
// records: the export in either coding and with "delivery":"url", and the listing.
func checkEmptyDay(t *testing.T, f *fixture, day3 string, presigned *int) {
	t.Helper()
	empty := archiver.EmptyExport()
	resp, body := f.export(t, f.tokens["acme"], date(day3))
	if resp.StatusCode != 200 || len(body) != 0 {
		t.Fatalf("identity: %d %q, want 200 and no body", resp.StatusCode, body)
	}
	if resp.Header.Get(httpapi.HeaderRecords) != "0" || resp.Header.Get(httpapi.HeaderSHA256) != archiver.EmptySHA256 ||
		resp.Header.Get(httpapi.HeaderRevision) != "1" || resp.Header.Get("Content-Type") != "application/x-ndjson" {
		t.Errorf("identity headers: %v", resp.Header)
	}
	sum := sha256.Sum256(empty)
	digest := "sha-256=:" + base64.StdEncoding.EncodeToString(sum[:]) + ":"
	resp, body = f.export(t, f.tokens["acme"], date(day3), "Accept-Encoding", "gzip")
	if resp.StatusCode != 200 || !bytes.Equal(body, empty) || resp.Header.Get("Content-Encoding") != "gzip" || resp.Header.Get("Repr-Digest") != digest {
		t.Fatalf("gzip: %d %q %v; want 200 and the empty gzip %q", resp.StatusCode, body, resp.Header, empty)
	}
	resp, body = f.export(t, f.tokens["acme"], `{"date":"`+day3+`","delivery":"url"}`, "Accept-Encoding", "gzip")
	if resp.StatusCode != 200 || !bytes.Equal(body, empty) || resp.Header.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("url delivery: %d %q %v; want 200 and the empty gzip, no URL", resp.StatusCode, body, resp.Header)
	}
	if *presigned != 0 {
		t.Errorf("presigned %d URLs for a day with no object", *presigned)
	}

	resp, body = f.get(t, "/v1/exports?from="+prevDay(t, day3)+"&to="+day3, f.tokens["acme"])
	var list struct{ Days []httpapi.DayJSON }
	if err := json.Unmarshal(body, &list); err != nil || resp.StatusCode != 200 || len(list.Days) != 2 {
		t.Fatalf("list: %d %s (%v)", resp.StatusCode, body, err)
	}
	if got := list.Days[1]; got.State != "empty" || got.Records != 0 || got.SHA256 != archiver.EmptySHA256 || got.StoredSHA256 != sha(empty) {
		t.Errorf("list: %+v, want empty with the empty gzip's storedSha256 %s", got, sha(empty))
	}
}

func prevDay(t *testing.T, s string) string {
	t.Helper()
	d, err := archiver.ParseDay(s)
	if err != nil {
		t.Fatal(err)
	}
	return archiver.DayOf(d.Start().Add(-time.Hour)).String()
}

// TestExportOfEmptyLayout3DaySealed: the same answers for a day without records that the
// writer sealed in layout 3, after a day it sealed in the old layout.
func TestExportOfEmptyLayout3DaySealed(t *testing.T) {
	presigned := 0
	f := newFixture(t, func(s *httpapi.Server) {
		s.Presign = func(context.Context, string, string) (string, time.Time, error) {
			presigned++
			return "https://bucket.example/never", time.Now(), nil
		}
	})
	exporttest.SealEmptyLayout3Day(t, f.archive, "2026-11-23", "../../testdata/eventlog/directory.json")
	checkEmptyDay(t, f, "2026-11-23", &presigned)
	reliability.Record(t, "input", "export of a day without records the layout-3 writer sealed (no export object)", reliability.Kept,
		"200 with the constant empty gzip (or an empty body), never a presigned URL; the listing reports it empty")
}
