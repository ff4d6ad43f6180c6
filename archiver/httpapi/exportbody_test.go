package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/archiver/exporttask"
	"github.com/chatvault/chatvault/internal/reliability"
)

// The export request is read one way only, as a task request is
// (TestTaskRequestReadOneWayOnly): encoding/json keeps the last of two same-named fields
// and matches names regardless of case, so {"date":"2026-11-21","date":"2026-11-22"}
// served 2026-11-22 while a proxy, a log or a reviewer reading the body saw 2026-11-21,
// and {"DATE":"2026-11-22"} passed the check that refuses unknown fields.
func TestExportRequestReadOneWayOnly(t *testing.T) {
	f := newFixture(t, nil)
	for _, body := range []string{
		`{"date":"2026-11-21","date":"2026-11-22"}`,
		`{"date":"2026-11-22","Date":"2026-11-21"}`,
		`{"Date":"2026-11-22"}`,
		`{"DATE":"2026-11-22"}`,
		`{"dat\u0065":"2026-11-22","date":"2026-11-21"}`,
		`{"date":"2026-11-22","delivery":"url","delivery":"stream"}`,
		`{"date":"2026-11-22","Delivery":"stream"}`,
	} {
		resp, b := f.export(t, f.tokens["acme"], body)
		checkError(t, resp, b, 400, "invalid_request")
		if !strings.Contains(string(b), "given twice, or a field name in another case") {
			t.Fatalf("%s: %s", body, b)
		}
	}
	// One of each, in any order, still works.
	for _, body := range []string{`{"date":"2026-11-22"}`, `{"delivery":"stream","date":"2026-11-22"}`} {
		if resp, b := f.export(t, f.tokens["acme"], body); resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", body, resp.StatusCode, b)
		}
	}
	reliability.Record(t, "security", "export request with a field twice or in another case", reliability.Refused,
		"400 invalid_request naming the field: the day served is the day whoever reads the body sees")
}

// Two Authorization header fields are refused, not read as the first: the field is a
// singleton (RFC 9110, 11.6.2), and a proxy or a log that takes the last would see
// another token, and so another organization, than the one served.
func TestTwoAuthorizationHeadersRefused(t *testing.T) {
	f := newFixture(t, nil)
	for _, second := range []string{f.tokens["globex"], f.tokens["acme"], "cvt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"} {
		req, err := http.NewRequest("POST", f.url+"/messageevent.export", strings.NewReader(date(sample)))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Add("Authorization", "Bearer "+f.tokens["acme"])
		req.Header.Add("Authorization", "Bearer "+second)
		resp, b, err := do(req)
		if err != nil {
			t.Fatal(err)
		}
		checkError(t, resp, b, 401, "invalid_token")
		if !strings.Contains(string(b), "one Authorization header") {
			t.Fatalf("%s", b)
		}
	}
	// One still works.
	if resp, b := f.export(t, f.tokens["acme"], date(sample)); resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	reliability.Record(t, "security", "request with two Authorization headers (two tokens)", reliability.Refused,
		"401 invalid_token: the field is a singleton, and the first token is not taken while a proxy or a log may read the last")
}

// A weight of zero refuses gzip however it is spelled: the q parameter's name is
// case-insensitive (RFC 9110, 12.4.2) and may follow other parameters. "gzip;Q=0" was
// served gzip, to a client that said it cannot read it.
func TestGzipRefusedWhateverTheWeightsSpelling(t *testing.T) {
	f := newFixture(t, nil)
	for _, tt := range []struct {
		accept string
		gzip   bool
	}{
		{"gzip;Q=0", false},
		{"gzip; Q=0.000", false},
		{"gzip;level=1;q=0", false},
		{"br, GZIP ;q=0", false},
		{"gzip;Q=0.5", true},
		{"gzip;level=1", true},
		{"gzip;q=1", true},
	} {
		resp, b := f.export(t, f.tokens["acme"], date(sample), "Accept-Encoding", tt.accept)
		if resp.StatusCode != 200 {
			t.Fatalf("%q: %d %s", tt.accept, resp.StatusCode, b)
		}
		if got := resp.Header.Get("Content-Encoding") == "gzip"; got != tt.gzip {
			t.Errorf("Accept-Encoding %q: Content-Encoding %q, want gzip %v", tt.accept, resp.Header.Get("Content-Encoding"), tt.gzip)
		}
	}
}

// A query parameter is read one way only, as a body field is: url.Values.Get takes the
// first of two, so /v1/exports?from=2026-11-21&from=2026-11-22 listed from the 21st
// while a proxy, a log or a reviewer taking the last saw the 22nd.
func TestQueryParameterGivenTwiceRefused(t *testing.T) {
	f, _ := selectionFixture(t, exporttask.Limits{}) // one with export tasks
	for _, tt := range []struct{ path, token, param string }{
		{"/v1/exports?from=2026-11-21&from=2026-11-22&to=2026-11-22", "acme", "from"},
		{"/v1/exports?from=2026-11-22&to=2026-11-22&to=2026-11-23", "acme", "to"},
		{"/v1/audit?from=2026-11-22&to=2026-11-22&to=2026-11-23", "acme-audit", "to"},
		{"/v1/exports/tasks?limit=5&limit=6", "acme", "limit"},
		{"/v1/exports/tasks?after=a&after=b", "acme", "after"},
		{"/v1/exports/attachments/" + strings.Repeat("0", 64) + "?date=2026-11-21&date=2026-11-22", "acme", "date"},
	} {
		resp, b := get(t, f.url+tt.path, f.tokens[tt.token])
		checkError(t, resp, b, 400, "invalid_request")
		if !strings.Contains(string(b), `"field":"`+tt.param+`"`) {
			t.Fatalf("%s: %s, want field %s", tt.path, b, tt.param)
		}
	}
	// Once each still works.
	if resp, b := get(t, f.url+"/v1/exports?from=2026-11-21&to=2026-11-22", f.tokens["acme"]); resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	reliability.Record(t, "security", "query parameter given twice (from, to, limit, after)", reliability.Refused,
		"400 invalid_request naming the parameter: the range served is the range whoever reads the URL sees")
}
