package verify

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/attach"
	"github.com/chatvault/chatvault/archiver/ledger"
)

// verifyAttachments checks the captured attachments (issue 14) of every organization
// that has some, or of opt.Org: attach.VerifyOrg re-hashes each file against the indexes
// that name it and checks the indexes' signatures and revision chains. Finding the next
// organization is one listing that starts past the last one's keys, so the walk costs one
// request per organization besides VerifyOrg's own. The newest checkpoint's record of each
// organization's indexes (attachstate.go) must still hold: a day's latest revision below
// the one it recorded, or a recorded day without an index (an organization's attachments
// deleted whole among them), is a problem. anchor is that checkpoint (nil: none), read
// before the walk wrote checkpoints of its own; cp, when not nil, records what was verified.
func verifyAttachments(ctx context.Context, l ledger.Ledger, opt Options, rep *Report, cp *checkpointer, anchor *Checkpoint) error {
	records := map[string]*CheckpointAttachments{}
	if anchor != nil {
		for _, o := range anchor.Orgs {
			if o.Attachments != nil && (opt.Org == "" || o.Org == opt.Org) {
				records[o.Org] = o.Attachments
			}
		}
	}
	// compare reports what the record of org names that found (its days' latest
	// revisions) lacks, and records what the checkpoint keeps.
	compare := func(org string, st attach.VerifyStats) {
		p0 := len(rep.Problems) - st.Problems
		if rec := records[org]; rec != nil {
			if recorded, err := rec.decode(); err == nil {
				checkDeleted(org, recorded, st.Days, anchor.Key, nil, rep)
			}
		}
		if cp == nil {
			return
		}
		if len(rep.Problems) > p0 {
			cp.attach[org] = records[org] // kept as it was, so that the next verification checks it again
		} else {
			cp.attach[org] = encodeAttachments(st.Days, st.Tip)
		}
	}
	prefix := attach.Prefix
	if opt.Org != "" {
		prefix += opt.Org + "/"
	}
	visited := map[string]bool{}
	after := ""
	for {
		var next string
		err := archiver.ListAfter(ctx, l.Store, prefix, after, func(key string) error {
			next = key
			return archiver.ErrStopListing
		})
		if err != nil && !errors.Is(err, archiver.ErrStopListing) {
			return fmt.Errorf("verify: list %s: %w", prefix, err)
		}
		if next == "" {
			break
		}
		org, _, ok := strings.Cut(strings.TrimPrefix(next, attach.Prefix), "/")
		if !ok || org == "" {
			rep.Problemf("%s: not an attachment object", next)
			after = next
			continue
		}
		st, err := attach.VerifyOrg(ctx, l.Store, org, opt.trustedKeys(), rep)
		if err != nil {
			return fmt.Errorf("verify: attachments of %s: %w", org, err)
		}
		visited[org] = true
		compare(org, st)
		// Every key of org sorts before this: "/" is the byte before "0".
		after = attach.Prefix + org + "0"
	}
	// An organization the checkpoint recorded indexes of, with no attachment object left.
	for _, org := range slices.Sorted(maps.Keys(records)) {
		if !visited[org] {
			compare(org, attach.VerifyStats{})
		}
	}
	if cp != nil {
		cp.attachAll = true
	}
	if lk, ok := l.Store.(archiver.Locker); ok {
		return archiver.CheckVersions(ctx, lk, prefix, rep)
	}
	return nil
}
