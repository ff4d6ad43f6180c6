package archiver

import (
	"context"
	"crypto/sha256"
	"fmt"
	"reflect"
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

func ChainKey(org string, seq int64) string {
	return fmt.Sprintf("%s%012d.json", ChainPrefix(org), seq)
}

func DayPrefix(org string, day Day) string { return "orgs/" + org + "/days/" + day.String() + "/" }

func RevisionPrefix(org string, day Day) string { return DayPrefix(org, day) + "r" }

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

func FailedPrefix(org string, day Day) string { return DayPrefix(org, day) + "failed-" }

func quarantineKey(day Day, sum [sha256.Size]byte) string {
	return "quarantine/" + day.String() + "/quarantine-" + HexSum(sum) + ".jsonl.gz"
}

// StoredManifest is a manifest with its stored bytes' identity.
type StoredManifest struct {
	*Manifest
	Key    string
	SHA256 [sha256.Size]byte
	Bytes  []byte
}

// ReadAll reads the object at key whole: for the small objects (manifests, accounting
// objects, audit segments, checkpoints) that the root and the packages reading the
// archive (archiver/verify, archiver/audit) decode in one piece. An object bigger than
// its kind's cap (ObjectKind) is refused with an *ObjectTooLargeError, read no further.
func ReadAll(ctx context.Context, s Store, key string) ([]byte, error) { return readAll(ctx, s, key) }

func readAll(ctx context.Context, s Store, key string) ([]byte, error) {
	rc, err := s.Open(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return readCapped(rc, key)
}

// HeadHints maps a headHintKey to the headHint of the head Head last found (hintcache.go:
// bounded).
var HeadHints hintCache[HeadHintKey, HeadHint]

// HeadHint is what Head remembers of the head it found: its seq and key and, in layout 3,
// the tip (the last manifest key under d/, "" when there was none) as it was then.
type HeadHint struct {
	Seq     int64
	Key     string
	Tip     string
	Layout3 bool // the hint was made by head3: tip is known
}

type HeadHintKey struct {
	store Store
	org   string
}

// HeadHintKeyOf returns the key of org's hint in s, when s can key a map: a pointer (every
// store this program opens is one), never a value that might not be comparable.
func HeadHintKeyOf(s Store, org string) (HeadHintKey, bool) {
	if s == nil || reflect.TypeOf(s).Kind() != reflect.Pointer {
		return HeadHintKey{}, false
	}
	return HeadHintKey{s, org}, true
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
