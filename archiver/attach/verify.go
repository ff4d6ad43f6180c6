package attach

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/chatvault/chatvault/archiver"
)

// VerifyStats counts what VerifyOrg or VerifyDays read, and what they found of each day.
type VerifyStats struct {
	Indexes, Files int
	Bytes          int64
	// Days are the days whose index revisions were checked, each with the greatest revision
	// stored (the latest, whether or not it checked). Tip is the greatest index key seen.
	Days map[archiver.Day]int
	Tip  string
	// Problems counts the problems reported.
	Problems int
}

// IndexRoot is the prefix of every attachment index key of org.
func IndexRoot(org string) string { return orgPrefix(org) + "index/" }

// IndexStartAfter is the key a listing of IndexRoot(org) starts after to begin with day's
// revisions: it sorts before each of them and after every earlier day's.
func IndexStartAfter(org string, day archiver.Day) string {
	return strings.TrimSuffix(IndexPrefix(org, day), "r")
}

// ParseIndexKey reads the day and revision an index key of org names.
func ParseIndexKey(org, key string) (archiver.Day, int, bool) {
	n, ok := parseIndexKey(org, key)
	return n.day, n.rev, ok
}

// DayIndexKeys lists the revisions of org's attachment index of day, in order (one listing).
func DayIndexKeys(ctx context.Context, s archiver.Store, org string, day archiver.Day) ([]string, error) {
	var keys []string
	if err := s.List(ctx, IndexPrefix(org, day), func(key string) error {
		keys = append(keys, key)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("attach: list %s: %w", IndexPrefix(org, day), err)
	}
	return keys, nil
}

// counted counts the problems reported through it.
type counted struct {
	archiver.Findings
	n *int
}

func (c counted) Problemf(format string, args ...any) {
	*c.n++
	c.Findings.Problemf(format, args...)
}

// checker holds what a verification of one organization's attachments has seen.
type checker struct {
	s       archiver.Store
	org     string
	trusted []ed25519.PublicKey
	rep     archiver.Findings
	st      *VerifyStats
	// manifests are the sealed manifests read (key and SHA-256); named the captured
	// files the indexes name (file key → an entry naming it); namedRecords the named
	// records listed (nil: not checked).
	manifests    map[string]bool
	named        map[string]Entry
	namedRecords map[string]bool
}

func newChecker(s archiver.Store, org string, trusted []ed25519.PublicKey, rep archiver.Findings, st *VerifyStats) *checker {
	st.Days = map[archiver.Day]int{}
	return &checker{s: s, org: org, trusted: trusted, rep: counted{rep, &st.Problems}, st: st,
		manifests: map[string]bool{}, named: map[string]Entry{}}
}

// indexes checks index keys of the organization, in key order, every revision of each day
// they touch: each decodes, is signed by a trusted key (when trusted keys are given) and
// is the one its key names; each day's revisions run from 1 without a gap, each naming the
// one before by key and SHA-256; the sealed manifest each names is there with that SHA-256.
func (c *checker) indexes(ctx context.Context, keys []string) error {
	org, rep := c.org, c.rep
	var prev *StoredIndex
	for _, key := range keys {
		c.st.Tip = max(c.st.Tip, key)
		name, ok := parseIndexKey(org, key)
		if !ok {
			rep.Problemf("%s: not an attachment index key", key)
			prev = nil
			continue
		}
		c.st.Days[name.day] = max(c.st.Days[name.day], name.rev)
		b, err := archiver.ReadAll(ctx, c.s, key)
		if err != nil {
			return err
		}
		c.st.Indexes++
		rep.Read(1, int64(len(b)))
		ix, err := DecodeIndex(key, b, c.trusted)
		if err != nil {
			rep.Problemf("%v", err)
			prev = nil
			continue
		}
		switch {
		case prev != nil && prev.Date == ix.Date && ix.Revision != prev.Revision+1:
			rep.Problemf("%s: revision %d follows revision %d", key, ix.Revision, prev.Revision)
		case prev != nil && prev.Date == ix.Date && (ix.PreviousKey != prev.Key || ix.Previous != hex.EncodeToString(prev.SHA256[:])):
			rep.Problemf("%s: previous %s (%s) is not %s as stored (%s)", key, ix.PreviousKey, ix.Previous, prev.Key, hex.EncodeToString(prev.SHA256[:]))
		case (prev == nil || prev.Date != ix.Date) && ix.Revision != 1:
			rep.Problemf("%s: revision %d of %s without the revisions before it", key, ix.Revision, ix.Date)
		case ix.Revision == 1 && (ix.Previous != "" || ix.PreviousKey != ""):
			rep.Problemf("%s: revision 1 names a previous revision", key)
		}
		if !c.manifests[ix.Manifest.Key+" "+ix.Manifest.SHA256] {
			mb, err := archiver.ReadAll(ctx, c.s, ix.Manifest.Key)
			rep.Read(1, int64(len(mb)))
			switch {
			case errors.Is(err, archiver.ErrNotFound):
				rep.Problemf("%s: the sealed manifest it names, %s, is missing", key, ix.Manifest.Key)
			case err != nil:
				return err
			default:
				if sum := sha256.Sum256(mb); hex.EncodeToString(sum[:]) != ix.Manifest.SHA256 {
					rep.Problemf("%s: the sealed manifest %s does not hash to %s", key, ix.Manifest.Key, ix.Manifest.SHA256)
				}
			}
			c.manifests[ix.Manifest.Key+" "+ix.Manifest.SHA256] = true
		}
		for _, e := range ix.Entries {
			if e.Outcome != Captured {
				continue
			}
			sum, err := hex.DecodeString(e.SHA256)
			if err != nil || len(sum) != sha256.Size || e.Key != FileKey(org, [sha256.Size]byte(sum)) {
				rep.Problemf("%s: %s is captured as %s, not a file key of its SHA-256 %s", key, e.URL, e.Key, e.SHA256)
				continue
			}
			if p, ok := c.named[e.Key]; ok && p.Size != e.Size {
				rep.Problemf("%s: %s has size %d here and %d in another index", key, e.Key, e.Size, p.Size)
			}
			c.named[e.Key] = e
			if c.namedRecords == nil {
				continue
			}
			if nk := namedKey(org, e.SHA256, name.day); !c.namedRecords[nk] {
				c.namedRecords[nk] = true // one warning per file and day
				rep.Warn(nk + ": missing: the API does not serve " + e.Key + " for this day (captured before named records were written)")
			}
		}
		prev = ix
	}
	return nil
}

// file re-hashes the captured file key against e, what an index says of it.
func (c *checker) file(ctx context.Context, key string, e Entry) error {
	n, sum, err := hashObject(ctx, c.s, key)
	if errors.Is(err, archiver.ErrNotFound) {
		c.rep.Problemf("%s: captured according to its index, but missing", key)
		return nil
	}
	if err != nil {
		return err
	}
	c.st.Files++
	c.st.Bytes += n
	c.rep.Read(1, n)
	switch {
	case hex.EncodeToString(sum[:]) != e.SHA256:
		c.rep.Problemf("%s: bytes hash to %s, its index names %s", key, hex.EncodeToString(sum[:]), e.SHA256)
	case n != e.Size:
		c.rep.Problemf("%s: %d bytes, the index says %d", key, n, e.Size)
	}
	return nil
}

// VerifyOrg checks org's attachments (issue 14, "verify re-hashes captured files against
// their index"): every index revision as checker.indexes does; every captured file an
// index names is there, and its bytes hash to its name with the size the index gives
// (each file read once). A file or URL record no index names is a warning: a capture
// stopped before its index, which the next run completes.
//
// rep is archiver/verify's report (archiver.Findings), so that verify can run it for each
// organization it walks.
func VerifyOrg(ctx context.Context, s archiver.Store, org string, trusted []ed25519.PublicKey, rep archiver.Findings) (VerifyStats, error) {
	var st VerifyStats
	c := newChecker(s, org, trusted, rep, &st)
	c.namedRecords = map[string]bool{}
	var indexKeys, fileKeys []string
	prefix := orgPrefix(org)
	err := s.List(ctx, prefix, func(key string) error {
		switch rest := strings.TrimPrefix(key, prefix); {
		case strings.HasPrefix(rest, "index/"):
			indexKeys = append(indexKeys, key)
		case strings.HasPrefix(rest, "files/"):
			fileKeys = append(fileKeys, key)
		case strings.HasPrefix(rest, "named/"):
			c.namedRecords[key] = true
		case strings.HasPrefix(rest, "urls/"):
		default:
			c.rep.Problemf("%s: not an attachment object", key)
		}
		return nil
	})
	if err != nil {
		return st, fmt.Errorf("attach: list %s: %w", prefix, err)
	}
	if err := c.indexes(ctx, indexKeys); err != nil {
		return st, err
	}
	stored := map[string]bool{}
	for _, key := range fileKeys {
		stored[key] = true
		e, ok := c.named[key]
		if !ok {
			c.rep.Warn(key + ": an attachment no index names (a capture stopped before its index; the next run completes it)")
			continue
		}
		if err := c.file(ctx, key, e); err != nil {
			return st, err
		}
	}
	for _, key := range slices.Sorted(maps.Keys(c.named)) {
		if !stored[key] {
			c.rep.Problemf("%s: captured according to its index, but missing", key)
		}
	}
	return st, nil
}

// VerifyDays checks org's index revisions keys (in key order: every revision of each day
// they touch, as DayIndexKeys lists them) as VerifyOrg does, and re-hashes each captured
// file they name, read by key (each once): the work of verify --date, of an incremental
// verification's new revisions and of its sample, which grows with the days asked about,
// not with the organization's history. Named records and files no index names are left
// to VerifyOrg.
func VerifyDays(ctx context.Context, s archiver.Store, org string, keys []string, trusted []ed25519.PublicKey, rep archiver.Findings) (VerifyStats, error) {
	var st VerifyStats
	c := newChecker(s, org, trusted, rep, &st)
	if err := c.indexes(ctx, keys); err != nil {
		return st, err
	}
	for _, key := range slices.Sorted(maps.Keys(c.named)) {
		if err := c.file(ctx, key, c.named[key]); err != nil {
			return st, err
		}
	}
	return st, nil
}

func hashObject(ctx context.Context, s archiver.Store, key string) (int64, [sha256.Size]byte, error) {
	var sum [sha256.Size]byte
	rc, err := s.Open(ctx, key)
	if err != nil {
		return 0, sum, fmt.Errorf("attach: open %s: %w", key, err)
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(h, rc)
	if err != nil {
		return 0, sum, fmt.Errorf("attach: read %s: %w", key, err)
	}
	copy(sum[:], h.Sum(nil))
	return n, sum, nil
}
