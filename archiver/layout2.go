package archiver

import (
	"crypto/sha256"
	"fmt"
	"strconv"
	"strings"
)

// Store layout. Every object is created once; nothing is ever updated in place.
//
//	orgs/<org>/manifests/<seq>.json          the chain: each manifest, the commit point
//	orgs/<org>/days/<date>/r<rev>.json       the same bytes, indexed by day for readers
//	orgs/<org>/days/<date>/events-<sha>.jsonl.gz   the export, named by its SHA-256
//	orgs/<org>/days/<date>/failed-<ms>.json  a failed attempt, for status and alerting
//	orgs/<org>/days/<date>/quarantine-<sha>.jsonl.gz  the day's quarantined lines attributed to org
//	quarantine/<date>/quarantine-<sha>.jsonl.gz    the day's quarantined records
//
// Data objects are named by content so that a rerun after a crash between data and
// manifest finds its own object already there (an idempotent create), instead of a
// different object under the same name.
func ChainPrefix(org string) string { return "orgs/" + org + "/manifests/" }

// ChainKey is where org's manifest seq of the chain is stored (layout 2's chain).
func ChainKey(org string, seq int64) string {
	return fmt.Sprintf("%s%012d.json", ChainPrefix(org), seq)
}

// DayPrefix is the prefix of org's layout-2 objects of day.
func DayPrefix(org string, day Day) string { return "orgs/" + org + "/days/" + day.String() + "/" }

// RevisionPrefix starts the keys of org's layout-2 revision indexes of day.
func RevisionPrefix(org string, day Day) string { return DayPrefix(org, day) + "r" }

// RevisionKey is where revision rev of org's day is indexed in layout 2.
func RevisionKey(org string, day Day, rev int) string {
	return fmt.Sprintf("%s%04d.json", RevisionPrefix(org, day), rev)
}

func dataKey(org string, day Day, sum [sha256.Size]byte) string {
	return DayPrefix(org, day) + "events-" + HexSum(sum) + ".jsonl.gz"
}

// orgQuarantineKey names an organization's quarantine object of day by its SHA-256.
func orgQuarantineKey(org string, day Day, sum [sha256.Size]byte) string {
	return DayPrefix(org, day) + "quarantine-" + HexSum(sum) + ".jsonl.gz"
}

// FailedPrefix starts the keys of org's failed attempts of day in layout 2.
func FailedPrefix(org string, day Day) string { return DayPrefix(org, day) + "failed-" }

func quarantineKey(day Day, sum [sha256.Size]byte) string {
	return "quarantine/" + day.String() + "/quarantine-" + HexSum(sum) + ".jsonl.gz"
}

// IsRevisionName reports whether name is a day index's, r<revision>.json (revisionKey),
// or, in layout 3, a manifest's name within its day.
func IsRevisionName(name string) bool {
	_, ok := ParseRevisionName(name)
	return ok
}

// ParseSeq extracts the sequence number from a chain key.
func ParseSeq(org, key string) (int64, bool) {
	s, ok := strings.CutPrefix(key, ChainPrefix(org))
	if !ok {
		return 0, false
	}
	s, ok = strings.CutSuffix(s, ".json")
	if !ok || len(s) != 12 {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}
