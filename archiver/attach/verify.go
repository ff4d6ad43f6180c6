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

// VerifyStats counts what VerifyOrg read.
type VerifyStats struct {
	Indexes, Files int
	Bytes          int64
}

// VerifyOrg checks org's attachments (issue 14, "verify re-hashes captured files against
// their index"): every index revision decodes, is signed by a trusted key (when trusted
// keys are given) and is the one its key names; each day's revisions run from 1 without a
// gap, each naming the one before by key and SHA-256; the sealed manifest each names is
// there with that SHA-256; every captured file an index names is there, and its bytes
// hash to its name with the size the index gives (each file read once). A file or URL
// record no index names is a warning: a capture stopped before its index, which the next
// run completes.
//
// rep is archiver/verify's report (archiver.Findings), so that verify can run it for each
// organization it walks.
func VerifyOrg(ctx context.Context, s archiver.Store, org string, trusted []ed25519.PublicKey, rep archiver.Findings) (VerifyStats, error) {
	var st VerifyStats
	var indexKeys, fileKeys []string
	namedRecords := map[string]bool{} // named.go
	prefix := orgPrefix(org)
	err := s.List(ctx, prefix, func(key string) error {
		switch rest := strings.TrimPrefix(key, prefix); {
		case strings.HasPrefix(rest, "index/"):
			indexKeys = append(indexKeys, key)
		case strings.HasPrefix(rest, "files/"):
			fileKeys = append(fileKeys, key)
		case strings.HasPrefix(rest, "named/"):
			namedRecords[key] = true
		case strings.HasPrefix(rest, "urls/"):
		default:
			rep.Problemf("%s: not an attachment object", key)
		}
		return nil
	})
	if err != nil {
		return st, fmt.Errorf("attach: list %s: %w", prefix, err)
	}
	named := map[string]Entry{} // file key -> an entry naming it
	var prev *StoredIndex
	manifests := map[string]bool{}
	for _, key := range indexKeys {
		name, ok := parseIndexKey(org, key)
		if !ok {
			rep.Problemf("%s: not an attachment index key", key)
			prev = nil
			continue
		}
		b, err := archiver.ReadAll(ctx, s, key)
		if err != nil {
			return st, err
		}
		st.Indexes++
		rep.Read(1, int64(len(b)))
		ix, err := DecodeIndex(key, b, trusted)
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
		if !manifests[ix.Manifest.Key+" "+ix.Manifest.SHA256] {
			mb, err := archiver.ReadAll(ctx, s, ix.Manifest.Key)
			rep.Read(1, int64(len(mb)))
			switch {
			case errors.Is(err, archiver.ErrNotFound):
				rep.Problemf("%s: the sealed manifest it names, %s, is missing", key, ix.Manifest.Key)
			case err != nil:
				return st, err
			default:
				if sum := sha256.Sum256(mb); hex.EncodeToString(sum[:]) != ix.Manifest.SHA256 {
					rep.Problemf("%s: the sealed manifest %s does not hash to %s", key, ix.Manifest.Key, ix.Manifest.SHA256)
				}
			}
			manifests[ix.Manifest.Key+" "+ix.Manifest.SHA256] = true
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
			if p, ok := named[e.Key]; ok && p.Size != e.Size {
				rep.Problemf("%s: %s has size %d here and %d in another index", key, e.Key, e.Size, p.Size)
			}
			named[e.Key] = e
			if nk := namedKey(org, e.SHA256, name.day); !namedRecords[nk] {
				namedRecords[nk] = true // one warning per file and day
				rep.Warn(nk + ": missing: the API does not serve " + e.Key + " for this day (captured before named records were written)")
			}
		}
		prev = ix
	}
	stored := map[string]bool{}
	for _, key := range fileKeys {
		stored[key] = true
		e, ok := named[key]
		if !ok {
			rep.Warn(key + ": an attachment no index names (a capture stopped before its index; the next run completes it)")
			continue
		}
		n, sum, err := hashObject(ctx, s, key)
		if err != nil {
			return st, err
		}
		st.Files++
		st.Bytes += n
		rep.Read(1, n)
		switch {
		case hex.EncodeToString(sum[:]) != e.SHA256:
			rep.Problemf("%s: bytes hash to %s", key, hex.EncodeToString(sum[:]))
		case n != e.Size:
			rep.Problemf("%s: %d bytes, the index says %d", key, n, e.Size)
		}
	}
	for _, key := range slices.Sorted(maps.Keys(named)) {
		if !stored[key] {
			rep.Problemf("%s: captured according to its index, but missing", key)
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
