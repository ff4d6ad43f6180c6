package rsmf

import (
	"encoding/json"
	"testing"

	"github.com/chatvault/chatvault/internal/exporttest"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestSourceDayCountsSayWhichRecords: export.json's source days give, beside each
// manifest's SHA-256, the day's sealed records (the manifest's count) and the records the
// task selected, named as the json format and the task's status name them. Before, one
// "records" held the selected count, while the task's status calls the sealed count
// "records": the same name, two numbers, for a filtered task.
func TestSourceDayCountsSayWhichRecords(t *testing.T) {
	d := fixtureDays(t)[0]
	sealed := int64(len(d.Events))
	d.Manifest.Data.Records = sealed
	d.Events = d.Events[:3]
	p := parseProduction(t, produce(t, []exporttest.Day{d}, testOptions(t), nil))
	var info struct {
		Days []map[string]any `json:"sourceDays"`
	}
	if err := json.Unmarshal(p.export, &info); err != nil || len(info.Days) != 1 {
		t.Fatalf("export.json: %v\n%s", err, p.export)
	}
	got := info.Days[0]
	if got["sealedRecords"] != float64(sealed) || got["selected"] != float64(3) {
		t.Errorf("source day %v; want sealedRecords %d and selected 3", got, sealed)
	}
	if _, ok := got["records"]; ok {
		t.Errorf("source day still has an ambiguous \"records\": %v", got)
	}
	reliability.Record(t, "input", "rsmf export of a filtered task: export.json's counts per source day", reliability.Kept,
		"sealedRecords (the manifest's) and selected, as the json format names them; \"records\" held the selected count, which the task's status calls the sealed one")
}
