package htmlexport

import (
	"strings"
	"testing"

	"github.com/chatvault/chatvault/internal/exporttest"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestSourceDayCountsSayWhichRecords: the index's table of source days puts a count
// beside each day's manifest SHA-256, which a reviewer checks against the manifest. A
// filtered task writes fewer records than the day holds; the table said only "Records"
// and gave the records the task selected, so a day of 9 sealed records read as a day of
// 3. It now gives both, named: the manifest's sealed records and the records selected.
func TestSourceDayCountsSayWhichRecords(t *testing.T) {
	days := exporttest.Fixture(t)
	d := days[0]
	sealed := int64(len(d.Events))
	d.Manifest.Data.Records = sealed
	d.Events = d.Events[:3] // what a filter kept
	files, _ := entries(t, produce(t, []exporttest.Day{d}, testOptions(t), nil))
	index := string(files["index.html"])
	for _, want := range []string{
		"<th>Day</th><th>Revision</th><th>Sealed records</th><th>Selected</th><th>Manifest SHA-256</th>",
		"<td>" + d.Manifest.Date + "</td><td>1</td><td>" + itoa(sealed) + "</td><td>3</td>",
	} {
		if !strings.Contains(index, want) {
			t.Errorf("index.html lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("index.html:\n%s", index)
	}
	reliability.Record(t, "input", "html export of a filtered task: the index's count beside each source day's manifest SHA-256", reliability.Kept,
		"the day's sealed records (the manifest's) and the records selected, each named; the one column \"Records\" gave the selected count, which read as the day's")
}

func itoa(n int64) string {
	var b []byte
	if n == 0 {
		return "0"
	}
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}
