package httpapi_test

import (
	"strings"
	"testing"

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
