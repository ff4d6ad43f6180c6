package main

import (
	"context"
	"fmt"

	"github.com/chatvault/chatvault/archiver"
	"github.com/google/uuid"
)

// checkOrg refuses an --org the archive does not know: no chain in the store and not an
// organization of the directory. Everything is kept under the organization's id as the
// directory spells it (lower-case UUIDs), so another spelling of a UUID (upper case,
// braces, urn:uuid:) or a typo matched nothing, and the commands said so in the wrong
// words: a hold was "placed" on 0 objects, an audit listed no access at all (exit 0), a run
// found the organization "not archiving on that day". consequence says what the command
// would have done with it.
func checkOrg(ctx context.Context, e *env, store archiver.Store, org, consequence string) error {
	if err := checkOrgSpelling(org); err != nil {
		return err
	}
	head, err := archiver.Ledger{Store: store}.Head(ctx, org)
	if err != nil {
		return fmt.Errorf("read the chain of %s: %w", org, err)
	}
	if head != nil {
		return nil
	}
	// No day sealed yet: an organization of the directory all the same.
	dir, err := e.loadDirectory()
	if err != nil {
		return fmt.Errorf("organization %s has no chain in the store, and the directory, which would name it, cannot be read: %w", org, err)
	}
	for _, o := range dir.Organizations {
		if o.ID == org {
			return nil
		}
	}
	return usagef("organization %q has no chain in the store and is not an organization of the directory (%s): %s", org, e.cfg.Directory, consequence)
}

// checkOrgSpelling refuses another spelling of a UUID than the one ids are kept under.
func checkOrgSpelling(org string) error {
	if u, err := uuid.Parse(org); err == nil && u.String() != org {
		return usagef("organization %q: ids are kept as lower-case UUIDs with hyphens; did you mean %s?", org, u)
	}
	return nil
}
