package main

import (
	"context"
	"fmt"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/model"
	"github.com/google/uuid"
)

// checkOrg refuses an --org the archive does not know: no chain in the store and not an
// organization of the directory. Everything is kept under the organization's id exactly as
// the directory spells it, so another spelling of a UUID (upper case, braces, urn:uuid:)
// or a typo matched nothing, and the commands said so in the wrong words: a hold was
// "placed" on 0 objects, an audit listed no access at all (exit 0), a run found the
// organization "not archiving on that day". consequence says what the command would have
// done with it. An id the archive knows is taken however it is spelt: a directory may
// spell its UUIDs in upper case. When the organization has no chain and the directory
// cannot be read, strict refuses (a hold must name an organization); otherwise the command
// goes on, as before the check. dir is the directory when the command holds it already
// (run, export-task: decoding tens of MB again would double their start); nil loads it
// only if the organization has no chain.
func checkOrg(ctx context.Context, e *env, store archiver.Store, org string, dir *model.Directory, strict bool, consequence string) error {
	head, err := ledger.Ledger{Store: store}.Head(ctx, org)
	if err != nil {
		return fmt.Errorf("read the chain of %s: %w", org, err)
	}
	if head != nil {
		return nil
	}
	// No day sealed yet: an organization of the directory all the same.
	if dir == nil {
		loaded, err := e.loadDirectory()
		if err != nil && strict {
			return fmt.Errorf("organization %s has no chain in the store, and the directory, which would name it, cannot be read: %w", org, err)
		}
		if err != nil {
			return nil // the command reads what there is, and says what it found (status: not in the directory)
		}
		dir = loaded.Directory
	}
	for _, o := range dir.Organizations {
		if o.ID == org {
			return nil
		}
	}
	if u, err := uuid.Parse(org); err == nil && u.String() != org {
		return usagef("organization %q has no chain in the store and is not an organization of the directory (%s): ids are matched as spelt; did you mean %s?", org, e.cfg.Directory, u)
	}
	return usagef("organization %q has no chain in the store and is not an organization of the directory (%s): %s", org, e.cfg.Directory, consequence)
}
