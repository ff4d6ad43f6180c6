package htmlexport

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/internal/exporttest"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestTimesPastYear9999: a record's epoch milliseconds past the year 9999 are sealed as
// they are; a page still shows RFC 3339 (four-digit years) in its time elements, whose
// datetime attribute HTML requires to be a valid date (the W3C Nu checker reports
// "292278994-08-17T07:12:55.807Z" as an error), clamped to 9999-12-31T23:59:59.999Z, with
// the record's epoch milliseconds beside it as always.
func TestTimesPastYear9999(t *testing.T) {
	days := exporttest.Fixture(t)
	last := &days[len(days)-1].Events[len(days[len(days)-1].Events)-1]
	last.Timestamp, last.EventTimestamp = math.MaxInt64, math.MaxInt64
	files, _ := entries(t, produce(t, days, testOptions(t), nil))
	clamped := false
	for name, b := range files {
		page := string(b)
		for _, m := range timeRE.FindAllStringSubmatch(page, -1) {
			if _, err := time.Parse(time.RFC3339, m[1]); err != nil || m[1] != m[2] {
				t.Errorf("%s: %q: datetime %q is not RFC 3339 (%v)", name, m[0], m[1], err)
			}
			if m[3] == "9223372036854775807" {
				clamped = clamped || m[1] == "9999-12-31T23:59:59.999Z"
			}
		}
		if strings.Contains(page, "292278994") {
			t.Errorf("%s shows the year 292278994", name)
		}
	}
	if !clamped {
		t.Errorf("no page shows the record's epoch 9223372036854775807 beside 9999-12-31T23:59:59.999Z")
	}
	reliability.Record(t, "input", "html export of records whose epoch ms lie after year 9999", reliability.Kept,
		"times shown (and time elements' datetime) clamped to 9999-12-31T23:59:59.999Z, the record's epoch ms beside them; was the year 292278994, an invalid datetime")
}
