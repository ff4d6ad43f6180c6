package archiver

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
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
func chainPrefix(org string) string { return "orgs/" + org + "/manifests/" }

func chainKey(org string, seq int64) string {
	return fmt.Sprintf("%s%012d.json", chainPrefix(org), seq)
}

func dayPrefix(org string, day Day) string { return "orgs/" + org + "/days/" + day.String() + "/" }

func revisionPrefix(org string, day Day) string { return dayPrefix(org, day) + "r" }

func revisionKey(org string, day Day, rev int) string {
	return fmt.Sprintf("%s%04d.json", revisionPrefix(org, day), rev)
}

func dataKey(org string, day Day, sum [sha256.Size]byte) string {
	return dayPrefix(org, day) + "events-" + hexSum(sum) + ".jsonl.gz"
}

// orgQuarantineKey names an organization's quarantine object of day by its SHA-256.
func orgQuarantineKey(org string, day Day, sum [sha256.Size]byte) string {
	return dayPrefix(org, day) + "quarantine-" + hexSum(sum) + ".jsonl.gz"
}

func failedPrefix(org string, day Day) string { return dayPrefix(org, day) + "failed-" }

func quarantineKey(day Day, sum [sha256.Size]byte) string {
	return "quarantine/" + day.String() + "/quarantine-" + hexSum(sum) + ".jsonl.gz"
}

// Ledger reads what has been committed to a Store.
type Ledger struct {
	Store Store
	// TrustedKeys, when set, are the public keys a manifest Latest returns must be signed
	// by (serve's signing keys; see checkLatest). Nil: no signature is required.
	TrustedKeys []ed25519.PublicKey
}

// StoredManifest is a manifest with its stored bytes' identity.
type StoredManifest struct {
	*Manifest
	Key    string
	SHA256 [sha256.Size]byte
	Bytes  []byte
}

func (l Ledger) readManifest(ctx context.Context, key string) (*StoredManifest, error) {
	b, err := readAll(ctx, l.Store, key)
	if err != nil {
		return nil, err
	}
	m, err := decodeManifest(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	return &StoredManifest{Manifest: m, Key: key, SHA256: sha256.Sum256(b), Bytes: b}, nil
}

func readAll(ctx context.Context, s Store, key string) ([]byte, error) {
	rc, err := s.Open(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	return b, nil
}

// lastKey returns the greatest key under prefix, or "".
func lastKey(ctx context.Context, s Store, prefix string) (string, error) {
	var last string
	err := s.List(ctx, prefix, func(key string) error {
		last = key
		return nil
	})
	return last, err
}

// Head returns the organization's latest committed manifest, or nil when it has none.
func (l Ledger) Head(ctx context.Context, org string) (*StoredManifest, error) {
	key, err := lastKey(ctx, l.Store, chainPrefix(org))
	if err != nil || key == "" {
		return nil, err
	}
	return l.readManifest(ctx, key)
}

// Latest returns the latest revision of the organization's day, or nil when the day has
// not been sealed. A manifest that is not the one its key names, or (with TrustedKeys) not
// signed by a trusted key, is an error wrapping ErrUntrustedManifest (see checkLatest).
func (l Ledger) Latest(ctx context.Context, org string, day Day) (*StoredManifest, error) {
	key, err := lastKey(ctx, l.Store, revisionPrefix(org, day))
	if err != nil || key == "" {
		return nil, err
	}
	m, err := l.readFirstManifest(ctx, key)
	if err != nil {
		return nil, err
	}
	if err := l.checkLatest(m, org, day); err != nil {
		return nil, err
	}
	return m, nil
}

// SealedDays calls fn, oldest first, with every day of org that has a committed revision
// (a day index), from one listing of the organization's days: the scheduler's catch-up
// learns which days are sealed in a request or a few (pages on S3) rather than two per
// day (Latest). A day whose chain manifest was written but whose index was not (a crash
// in between) is not reported; sealing it again restores the index and changes nothing
// (see writer.stage).
func (l Ledger) SealedDays(ctx context.Context, org string, fn func(Day) error) error {
	root := "orgs/" + org + "/days/"
	var last string
	return l.Store.List(ctx, root, func(key string) error {
		date, name, ok := strings.Cut(strings.TrimPrefix(key, root), "/")
		if !ok || date == last || !isRevisionName(name) {
			return nil
		}
		d, err := ParseDay(date)
		if err != nil {
			return nil // not a day of ours
		}
		last = date
		return fn(d)
	})
}

// isRevisionName reports whether name is a day index's, r<revision>.json (revisionKey).
func isRevisionName(name string) bool {
	n, ok := strings.CutPrefix(name, "r")
	if !ok {
		return false
	}
	n, ok = strings.CutSuffix(n, ".json")
	if !ok || len(n) < 4 {
		return false
	}
	_, err := strconv.ParseUint(n, 10, 32)
	return err == nil
}

// Failed reports whether an attempt to seal the day failed, and its last error message.
func (l Ledger) Failed(ctx context.Context, org string, day Day) (bool, string, error) {
	key, err := lastKey(ctx, l.Store, failedPrefix(org, day))
	if err != nil || key == "" {
		return false, "", err
	}
	b, err := readAll(ctx, l.Store, key)
	if err != nil {
		return true, "", err
	}
	return true, strings.TrimSpace(string(b)), nil
}

// OpenExport returns the day's latest export as stored (gzip) with its manifest.
func (l Ledger) OpenExport(ctx context.Context, org string, day Day) (*StoredManifest, io.ReadCloser, error) {
	m, err := l.Latest(ctx, org, day)
	if err != nil {
		return nil, nil, err
	}
	if m == nil {
		return nil, nil, fmt.Errorf("%s %s: %w", org, day, ErrNotSealed)
	}
	rc, err := l.OpenObject(ctx, m.Data.Key, m.Data.VersionID)
	if err != nil {
		return nil, nil, err
	}
	return m, rc, nil
}

// ErrNotSealed is returned (wrapped) when a day has no committed manifest.
var ErrNotSealed = errors.New("day not sealed")

// DayState is a day's state for an organization.
type DayState string

// Day states, as status and the API report them.
const (
	StateSealed  DayState = "sealed"  // committed with at least one record
	StateEmpty   DayState = "empty"   // committed with no records
	StatePending DayState = "pending" // not committed yet
	StateFailed  DayState = "failed"  // the last attempt failed and none succeeded
)

// DayStatus is one row of status.
type DayStatus struct {
	Org      string
	Day      Day
	State    DayState
	Manifest *StoredManifest // set when sealed or empty
	Error    string          // set when failed
}

// Status reports the state of each day from..to (inclusive) for org.
func (l Ledger) Status(ctx context.Context, org string, from, to Day) ([]DayStatus, error) {
	var out []DayStatus
	for d := from; !d.After(to); d = d.Next() {
		st := DayStatus{Org: org, Day: d, State: StatePending}
		m, err := l.Latest(ctx, org, d)
		if err != nil {
			return nil, err
		}
		if m != nil {
			st.Manifest, st.State = m, StateSealed
			if m.Data.Records == 0 {
				st.State = StateEmpty
			}
		} else {
			failed, msg, err := l.Failed(ctx, org, d)
			if err != nil {
				return nil, err
			}
			if failed {
				st.State, st.Error = StateFailed, msg
			}
		}
		out = append(out, st)
	}
	return out, nil
}

// parseSeq extracts the sequence number from a chain key.
func parseSeq(org, key string) (int64, bool) {
	s, ok := strings.CutPrefix(key, chainPrefix(org))
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
