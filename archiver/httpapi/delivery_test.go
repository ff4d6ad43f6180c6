package httpapi_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/httpapi"
	"github.com/chatvault/chatvault/archiver/ledger"
)

// TestURLDelivery covers "delivery":"url": with a presigner the answer names the stored
// object and its hashes instead of carrying the bytes; each request presigns its own URL;
// without one (a folder store) it is a clear 400; pending days stay 409.
func TestURLDelivery(t *testing.T) {
	var presigned []string
	f := newFixture(t, func(s *httpapi.Server) {
		s.Presign = func(_ context.Context, key, _ string) (string, time.Time, error) {
			presigned = append(presigned, key)
			return "https://bucket.example/" + key + "?sig=" + itoa(len(presigned)), s.Now().Add(15 * time.Minute), nil
		}
	})
	body := `{"date":"` + sample + `","delivery":"url"}`
	var got [2]httpapi.URLDelivery
	for i := range got {
		resp, b := f.export(t, f.tokens["acme"], body)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("status %d %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
		}
		if err := json.Unmarshal(b, &got[i]); err != nil {
			t.Fatal(err)
		}
	}
	m, err := ledger.Ledger{Store: f.store}.Latest(context.Background(), acme, mustDay(t, sample))
	if err != nil {
		t.Fatal(err)
	}
	d := got[0]
	if d.SHA256 != m.Data.SHA256 || d.Size != m.Data.Size || d.JSONLSHA256 != m.Data.JSONLSHA256 ||
		d.Revision != m.Revision || d.Records != m.Data.Records || !strings.Contains(d.URL, m.Data.Key) {
		t.Errorf("delivery %+v does not describe the stored export %+v", d, m.Data)
	}
	if want := f.clock.Now().Add(15 * time.Minute); !d.ExpiresAt.Equal(want) {
		t.Errorf("expiresAt %v, want %v", d.ExpiresAt, want)
	}
	if len(presigned) != 2 {
		t.Errorf("%d URLs presigned for two requests; each request must presign its own", len(presigned))
	}

	resp, b := f.export(t, f.tokens["acme"], `{"date":"`+sample+`","delivery":"email"}`)
	checkError(t, resp, b, 400, "invalid_request")
	resp, b = f.export(t, f.tokens["acme"], `{"date":"2026-11-21","delivery":"url"}`)
	checkError(t, resp, b, 409, "export_pending")

	plain := newFixture(t, nil)
	resp, b = plain.export(t, plain.tokens["acme"], body)
	checkError(t, resp, b, 400, "invalid_request")
	if !strings.Contains(string(b), "S3") {
		t.Errorf("the refusal should say URL delivery needs S3: %s", b)
	}
}

func mustDay(t *testing.T, s string) archiver.Day {
	d, err := archiver.ParseDay(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestListingOnlyArchivableDays: the listing starts at the organization's archival start
// and ends today, and an organization without archival has nothing to list.
func TestListingOnlyArchivableDays(t *testing.T) {
	f := newFixture(t, nil)
	resp, body := get(t, f.url+"/v1/exports?from=2026-05-30&to=2026-06-02", f.tokens["globex"])
	var list struct {
		Days []httpapi.DayJSON
	}
	if resp.StatusCode != 200 || json.Unmarshal(body, &list) != nil {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if len(list.Days) != 2 || list.Days[0].Date != "2026-06-01" {
		t.Errorf("days %+v, want 2026-06-01 and 2026-06-02 (Globex archives from 2026-06-01)", list.Days)
	}
	resp, body = get(t, f.url+"/v1/exports?from=2026-11-22&to=2026-11-30", f.tokens["acme"])
	list.Days = nil
	if resp.StatusCode != 200 || json.Unmarshal(body, &list) != nil {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if len(list.Days) != 2 || list.Days[0].State != "sealed" || list.Days[1].Date != "2026-11-23" {
		t.Errorf("days %+v, want the sealed 2026-11-22 and today", list.Days)
	}
	resp, body = get(t, f.url+"/v1/exports?from=2026-11-22&to=2026-11-22", f.tokens["initech"])
	checkError(t, resp, body, 404, "export_not_found")
}
