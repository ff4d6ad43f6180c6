package model

import (
	"strings"
	"testing"

	"github.com/chatvault/chatvault/internal/reliability"
)

// TestRetentionDaysBounded: an organization's retentionDays becomes the Object Lock
// retain-until date of its objects, the day's end plus that many days. A typo such as
// 3000000 (for 3000) gave a date past the year 9999, which S3 refuses ("Date must be
// provided in ISO 8601 format"), and 4611686018427387904 wrapped time.AddDate around to
// the day itself ("the retain until date must be in the future"): either way every seal
// of that organization failed on a locking bucket, night after night, with a message
// about dates, while a folder store sealed and recorded the value as is. The snapshot is
// refused like any inconsistent one, naming the organization and the field; up to 100
// years (36525 days) is accepted.
func TestRetentionDaysBounded(t *testing.T) {
	for _, days := range []string{"36526", "3000000", "4611686018427387904"} {
		data := strings.Replace(validDirectory, `"retentionDays": 2557`, `"retentionDays": `+days, 1)
		_, err := ParseDirectory([]byte(data))
		if err == nil || !strings.Contains(err.Error(), `organizations[0] ("o1").retentionDays`) || !strings.Contains(err.Error(), "36525") {
			t.Errorf("retentionDays %s: ParseDirectory error %v, want one naming organizations[0] (\"o1\").retentionDays and the 36525-day bound", days, err)
		}
	}
	data := strings.Replace(validDirectory, `"retentionDays": 2557`, `"retentionDays": 36525`, 1)
	if _, err := ParseDirectory([]byte(data)); err != nil {
		t.Errorf("retentionDays 36525 (100 years): %v", err)
	}
	reliability.Record(t, "input", "an organization's retentionDays past 100 years in directory.json (3000000 for 3000, or one that wraps the date around)", reliability.Refused,
		"the directory is refused naming the organization and the field: run exits 1 and commits nothing; before, the retain-until date was past 9999 or wrapped to the day itself and every seal of it failed on a locking bucket with an S3 date error")
}
