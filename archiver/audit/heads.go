package audit

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/chatvault/chatvault/archiver"
)

// Heads returns every organization's audit chain head, by organization id: HeadsAt today.
func Heads(ctx context.Context, store archiver.Store) ([]archiver.WitnessAuditHead, error) {
	return HeadsAt(ctx, store, archiver.DayOf(time.Now()))
}

// HeadsAt returns every organization's audit chain head, by organization id, with today
// being today; a head refused (HeadsCheckedAt's refused) fails it.
func HeadsAt(ctx context.Context, store archiver.Store, today archiver.Day) ([]archiver.WitnessAuditHead, error) {
	heads, refused, err := HeadsCheckedAt(ctx, store, today)
	if err == nil && len(refused) > 0 {
		err = fmt.Errorf("witness: %w", errors.Join(refused...))
	}
	if err != nil {
		return nil, err
	}
	return heads, nil
}

// HeadsChecked is HeadsCheckedAt today.
func HeadsChecked(ctx context.Context, store archiver.Store) (heads []archiver.WitnessAuditHead, refused []error, err error) {
	return HeadsCheckedAt(ctx, store, archiver.DayOf(time.Now()))
}

// HeadsCheckedAt returns every organization's audit chain head, by organization id, with
// today being today, and apart, one error for each organization whose head is refused as
// not the segment written at its key (checkHeadAt, ErrIntegrity: an old segment copied to
// a later folder, no key needed). Those are left out rather than failing every
// organization's: one object planted in one organization's folder must not stop the
// witnessing of all the others. err is for what stops the reading (the store failing).
//
// It lists the folders of audit/orgs/ (the organizations) and finds each head as a writer
// does (headKey: a listing from yesterday's folder, or bounded probes of the folders by
// date), then reads only the heads: the cost grows with the organizations, not with the
// segments ever written.
func HeadsCheckedAt(ctx context.Context, store archiver.Store, today archiver.Day) (heads []archiver.WitnessAuditHead, refused []error, err error) {
	last := map[string]string{}
	err = archiver.ListFolders(ctx, store, "audit/orgs/", func(org string) error {
		key, err := headKey(ctx, store, org, today)
		if err != nil {
			return err
		}
		if _, _, _, ok := parseAuditSegmentKey(key); ok {
			last[org] = key
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("witness: audit heads: %w", err)
	}
	heads = make([]archiver.WitnessAuditHead, 0, len(last))
	for org, key := range last {
		b, err := archiver.ReadAll(ctx, store, key)
		if err != nil {
			return nil, nil, fmt.Errorf("witness: read %s: %w", key, err)
		}
		if err := checkHeadAt(key, b); err != nil {
			refused = append(refused, fmt.Errorf("audit chain head of %s: %w", org, err))
			continue
		}
		_, day, seq, _ := parseAuditSegmentKey(key)
		heads = append(heads, archiver.WitnessAuditHead{Org: org, Seq: seq, Date: day.String(), SHA256: hexSum(sha256.Sum256(b))})
	}
	sort.Slice(heads, func(i, j int) bool { return heads[i].Org < heads[j].Org })
	// In organization order, as the listing was, not the map's.
	sort.Slice(refused, func(i, j int) bool { return refused[i].Error() < refused[j].Error() })
	return heads, refused, nil
}

// NewestSignedBy returns, of the organizations' audit chain heads signed by key id, the
// one whose last record is the newest: its key and that time ("" when none is). keys
// rotate compares it with its own clock: verify dates a segment by its last record
// (archiver.RetiredAt). Only the heads are read, as HeadsCheckedAt reads them; a closing
// head holds no record and is not dated.
func NewestSignedBy(ctx context.Context, store archiver.Store, id string, today archiver.Day) (key string, last time.Time, err error) {
	heads, _, err := HeadsCheckedAt(ctx, store, today)
	if err != nil {
		return "", time.Time{}, err
	}
	for _, h := range heads {
		k := auditSegmentKey(h.Org, mustParseDay(h.Date), h.Seq)
		seg, err := readSegment(ctx, store, k)
		if seg == nil {
			return "", time.Time{}, fmt.Errorf("audit: %w", err)
		}
		if err != nil {
			continue // not a segment's shape: verify reports it, it dates nothing
		}
		signer, err := archiver.SignerID(seg.header.Signature)
		if err != nil || signer != id || seg.header.Last.IsZero() {
			continue
		}
		if seg.header.Last.After(last) {
			key, last = k, seg.header.Last
		}
	}
	return key, last, nil
}
