package exporttask

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"testing"

	"github.com/chatvault/chatvault/internal/reliability"
)

// TestJSONCarriesSummary: the json document, like the html and rsmf indexes, says when no
// record matched (naming the filters and the days searched) and carries the search term
// report, so a result read on its own is never silently empty.
func TestJSONCarriesSummary(t *testing.T) {
	var buf bytes.Buffer
	enc, err := NewJSON(&buf, FormatOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s, ok := enc.(Summarizer)
	if !ok {
		t.Fatal("the json encoder is no Summarizer: its document cannot say that nothing matched")
	}
	want := Summary{NoMatch: `no record matched: the filters terms ["zeppelin"], in the 2 sealed day(s) searched`,
		TermReport: []TermCount{{Term: "zeppelin"}}}
	if err := s.Summarize(want); err != nil {
		t.Fatal(err)
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Totals struct {
			Records    int64       `json:"records"`
			NoMatch    string      `json:"noMatch"`
			TermReport []TermCount `json:"termReport"`
		} `json:"totals"`
	}
	if err := json.NewDecoder(zr).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if doc.Totals.Records != 0 || doc.Totals.NoMatch != want.NoMatch || len(doc.Totals.TermReport) != 1 || doc.Totals.TermReport[0].Term != "zeppelin" {
		t.Fatalf("totals %+v; want no records, the noMatch text and the term report", doc.Totals)
	}
	reliability.Record(t, "input", "json export task whose filters match nothing", reliability.Kept,
		"the document's totals say so (noMatch: the filters and the days searched) and carry the term report, as the html and rsmf indexes do")
}
