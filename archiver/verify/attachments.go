package verify

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/attach"
)

// verifyAttachments checks the captured attachments (issue 14) of every organization
// that has some, or of opt.Org: attach.VerifyOrg re-hashes each file against the indexes
// that name it and checks the indexes' signatures and revision chains. Finding the next
// organization is one listing that starts past the last one's keys, so the walk costs one
// request per organization besides VerifyOrg's own.
func verifyAttachments(ctx context.Context, l archiver.Ledger, opt Options, rep *Report) error {
	prefix := attach.Prefix
	if opt.Org != "" {
		prefix += opt.Org + "/"
	}
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
		if _, err := attach.VerifyOrg(ctx, l.Store, org, opt.trustedKeys(), rep); err != nil {
			return fmt.Errorf("verify: attachments of %s: %w", org, err)
		}
		// Every key of org sorts before this: "/" is the byte before "0".
		after = attach.Prefix + org + "0"
	}
	if lk, ok := l.Store.(archiver.Locker); ok {
		return archiver.CheckVersions(ctx, lk, prefix, rep)
	}
	return nil
}
