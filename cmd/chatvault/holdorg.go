package main

import (
	"context"
	"fmt"

	"github.com/chatvault/chatvault/archiver"
)

// checkHoldOrg refuses a hold on an organization the archive does not know: no chain in
// the store and not an organization of the directory. The seal matches hold events by the
// organization's id as the directory spells it, so an event under another spelling of a
// UUID (upper case) or a typo would hold nothing now and nothing ever sealed, while the
// command said the hold was placed.
func checkHoldOrg(ctx context.Context, e *env, store archiver.Store, org string) error {
	head, err := archiver.Ledger{Store: store}.Head(ctx, org)
	if err != nil {
		return fmt.Errorf("read the chain of %s: %w", org, err)
	}
	if head != nil {
		return nil
	}
	// No day sealed yet: a hold placed ahead of its first seal, if the directory has it.
	dir, err := e.loadDirectory()
	if err != nil {
		return fmt.Errorf("organization %s has no chain in the store, and the directory, which would name it, cannot be read: %w", org, err)
	}
	for _, o := range dir.Organizations {
		if o.ID == org {
			return nil
		}
	}
	return usagef("organization %q has no chain in the store and is not an organization of the directory (%s): a hold on it would hold nothing", org, e.cfg.Directory)
}
