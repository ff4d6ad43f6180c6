package exporttask_test

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver/exporttask"
	"github.com/chatvault/chatvault/internal/exporttest"
	"github.com/chatvault/chatvault/internal/reliability"
	"github.com/chatvault/chatvault/model"
)

// TestJSONTimesPastYear9999: a record's epoch milliseconds past the year 9999 (a platform
// clock bug, microseconds taken for milliseconds) are sealed as they are; the json
// document's *Rfc3339 fields must still be RFC 3339, which writes four-digit years, or a
// consumer's parser refuses the document. Before: "292278994-08-17T07:12:55.807Z" and
// "10000-01-01T00:00:00.000Z". They are clamped to the last time RFC 3339 writes, as the
// rsmf format does; the epoch fields keep the record's values.
func TestJSONTimesPastYear9999(t *testing.T) {
	const y10k = 253402300800000 // 10000-01-01T00:00:00.000Z
	e := model.Event{EventType: model.EventEdited, ChatID: "c", Timestamp: math.MaxInt64, EventTimestamp: y10k, ThreadTimestamp: y10k - 1,
		MessageID: "m", Sender: model.Participant{Type: model.ParticipantOccupant, ID: "o"},
		ContentType: model.ContentText, HasContent: true, Content: model.Content{Type: model.ContentText, Text: "x", MarkdownText: "x"}}
	var out bytes.Buffer
	enc, err := exporttask.NewJSON(&out, exporttask.FormatOptions{Org: exporttest.Org, OrgName: "Acme"})
	if err != nil {
		t.Fatal(err)
	}
	if err := enc.WriteDay(context.Background(), exporttest.Manifest("2026-11-23"), exporttest.Slice([]model.Event{e})); err != nil {
		t.Fatal(err)
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	raw := gunzip(t, &out)
	var doc jsonDoc
	if err := json.Unmarshal(raw, &doc); err != nil || len(doc.Days) != 1 || len(doc.Days[0].Records) != 1 {
		t.Fatalf("not a valid document (%v):\n%s", err, raw)
	}
	var rec recordTimes
	if err := json.Unmarshal(doc.Days[0].Records[0], &rec); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, s  string
		ms, want int64
	}{
		{"timestampRfc3339", rec.TimestampRFC3339, rec.Timestamp, math.MaxInt64},
		{"eventTimestampRfc3339", rec.EventTimestampRFC3339, rec.EventTimestamp, y10k},
		{"threadTimestampRfc3339", rec.ThreadTimestampRFC3339, rec.ThreadTimestamp, y10k - 1},
	} {
		at, err := time.Parse(time.RFC3339, c.s)
		if err != nil || c.s != "9999-12-31T23:59:59.999Z" || at.Year() != 9999 {
			t.Errorf("%s %q is not RFC 3339 clamped to 9999-12-31T23:59:59.999Z (%v)", c.name, c.s, err)
		}
		if c.ms != c.want {
			t.Errorf("%s's epoch field %d, the record has %d", c.name, c.ms, c.want)
		}
	}
	reliability.Record(t, "input", "json export of records whose epoch ms lie after year 9999", reliability.Kept,
		"timestampRfc3339, eventTimestampRfc3339 and threadTimestampRfc3339 clamped to 9999-12-31T23:59:59.999Z (were 292278994-… and 10000-…, which RFC 3339 parsers refuse); the epoch fields keep the record's values")
}
