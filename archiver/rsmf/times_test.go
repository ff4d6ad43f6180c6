package rsmf

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/chatvault/chatvault/internal/reliability"
)

// TestTimesOutsideRFC3339: a record's epoch milliseconds may lie outside the years RFC 3339
// can write (after 9999): a platform clock bug, a unit mix-up. The sealed day keeps them
// as they are; the .rsmf's timestamps and headers must still be valid RFC 3339, or a review
// platform rejects the whole production. They are clamped to the nearest time RFC 3339 can
// write, and the epoch custom property keeps the record's value.
func TestTimesOutsideRFC3339(t *testing.T) {
	days := fixtureDays(t)
	// Records are never negative (the decoder refuses it): the epoch is the earliest.
	first, last := &days[0].Events[0], &days[len(days)-1].Events[len(days[len(days)-1].Events)-1]
	first.Timestamp, first.EventTimestamp = 0, 0
	last.Timestamp, last.EventTimestamp = math.MaxInt64, math.MaxInt64
	p := parseProduction(t, produce(t, days, testOptions(t), nil))
	valid := func(what, s string) {
		t.Helper()
		at, err := time.Parse(time.RFC3339, s)
		if err != nil || at.Year() < 0 || at.Year() > 9999 {
			t.Errorf("%s %q is not an RFC 3339 time: %v", what, s, err)
		}
	}
	epochs := map[string]bool{}
	for _, f := range p.files {
		valid(f.path+" X-RSMF-BeginDate", f.header.Get("X-RSMF-BeginDate"))
		valid(f.path+" X-RSMF-EndDate", f.header.Get("X-RSMF-EndDate"))
		var man manifest
		if err := json.Unmarshal(f.manifest, &man); err != nil {
			t.Fatal(err)
		}
		for _, ev := range man.Events {
			valid(f.path+" event "+ev.ID, ev.Timestamp)
			for _, c := range ev.Custom {
				if c.Name == "Timestamp (epoch ms)" {
					epochs[c.Value] = true
				}
			}
		}
	}
	for _, v := range []string{"0", "9223372036854775807"} {
		if !epochs[v] {
			t.Errorf("no event keeps the record's epoch %s", v)
		}
	}
	if t.Failed() {
		return
	}
	reliability.Record(t, "input", "rsmf export of records whose epoch ms lie after year 9999", reliability.Kept,
		"timestamps and X-RSMF-BeginDate/EndDate clamped to 9999-12-31T23:59:59.999Z, the record's epoch ms kept as the event's custom property")
}
