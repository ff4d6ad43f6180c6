package verifyloop

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/internal/reliability"
)

// TestRecordTimesUTCWhateverTheHostZone: serve's clock is time.Now, which carries the
// host's zone (TZ=Pacific/Kiritimati is UTC+14). Every time a verification record stores
// is UTC, so that the signed record's bytes do not depend on where the process ran:
// cycleStarted was written as "2026-11-24T17:00:00+14:00" while started and finished
// were UTC.
func TestRecordTimesUTCWhateverTheHostZone(t *testing.T) {
	a := newArchive(t, "2026-11-22", "2026-11-23")
	kiritimati := time.FixedZone("LINT", 14*3600)
	c := &clock{now: time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC).In(kiritimati)}
	d := start(t, newLoop(a, c, time.Hour, 2*time.Hour))
	first := d.next()
	second, _ := d.slice(c.add(time.Hour)) // carries the cycle's start over from the first
	d.stop()
	for _, r := range []*Record{first, second} {
		if !r.OK() || r.CycleStarted.IsZero() {
			t.Fatalf("slice: %+v", r)
		}
	}
	var n int
	err := filepath.WalkDir(filepath.Join(a.root, "verifications"), func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		n++
		if strings.Contains(string(b), "+14:00") {
			t.Errorf("%s holds the host's zone: %s", p, b)
		}
		if !strings.Contains(string(b), `"cycleStarted":"2026-11-24T03:00:00Z"`) {
			t.Errorf("%s: cycleStarted is not the first slice's start in UTC: %s", p, b)
		}
		return nil
	})
	if err != nil || n != 2 {
		t.Fatalf("%d records: %v", n, err)
	}
	reliability.Record(t, "operations", "serve's verification records on a host whose time zone is not UTC (UTC+14)", reliability.Kept,
		"every time a signed record stores is UTC (cycleStarted was written in the host's zone, +14:00, while started and finished were UTC)")
}
