package exporttask_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver/exporttask"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestLinkExpiryUTCWhateverTheHostZone: serve's clock is time.Now, in the host's zone. A
// task status's urlExpiresAt was answered in that zone ("2026-12-05T05:41:27+14:00" under
// TZ=Pacific/Kiritimati), the only time of the API's answers that was not UTC: the answer
// depended on the host, and a client comparing it as a string with createdAt (UTC) was
// wrong by the offset.
func TestLinkExpiryUTCWhateverTheHostZone(t *testing.T) {
	l := exporttask.Links{Key: []byte("k"), Expiry: 24 * time.Hour}
	utc := time.Date(2026, 12, 3, 15, 41, 27, 0, time.UTC)
	const id = "5f0c0b3e-8a4f-4d7e-9a59-3f3f0e1d2c3b"
	for _, zone := range []*time.Location{time.FixedZone("LINT", 14*3600), time.FixedZone("SST", -11*3600), time.FixedZone("NPT", 5*3600+45*60)} {
		link, exp := l.Make("http://x", acme, id, "tok-1", utc.In(zone))
		b, err := json.Marshal(exporttask.Status{URL: link, URLExpiresAt: exp})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), `"urlExpiresAt":"2026-12-04T15:41:27Z"`) {
			t.Errorf("clock in %s: %s", zone, b)
		}
	}
	reliability.Record(t, "operations", "export task status (urlExpiresAt) on a host whose time zone is not UTC (+14, -11, +5:45)", reliability.Kept,
		"urlExpiresAt is UTC like every other time of the API (it was answered in the host's zone, +14:00)")
}
