package main

import (
	"time"

	"github.com/chatvault/chatvault/archiver"
)

// maxRangeSpan is the longest --from/--to range status and verify take: ten years (and
// a leap day or two), longer than any archive's retention so far. Both read each day of
// the range (verify lists every organization's day), so --to 9999-12-31 would mean
// millions of listings per organization; the whole store is what verify without a range
// checks, by walking the chains.
const maxRangeSpan = 3660 * 24 * time.Hour

// checkRangeSpan refuses (usage error) a range from..to longer than maxRangeSpan; hint
// says what to do instead.
func checkRangeSpan(from, to archiver.Day, hint string) error {
	if to.Start().Sub(from.Start()) > maxRangeSpan {
		return usagef("range longer than ten years (%s to %s): %s", from, to, hint)
	}
	return nil
}
