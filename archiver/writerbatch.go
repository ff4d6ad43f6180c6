package archiver

import (
	"context"
	"fmt"

	"github.com/chatvault/chatvault/model"
)

// batched is the organization's retention (CreateOptions) with the seal's batch: for the
// objects of the day its manifest names (export, quarantine, chat index, members), which
// need to be durable only once a manifest names them. flushStaged makes them all durable
// at once, before commitAll writes the first manifest.
func (w *writer) batched(o model.Organization) CreateOptions {
	opt := w.retention(o)
	opt.Batch = w.batch
	return opt
}

// flushStaged flushes the seal's batch (Batcher): every staged organization's objects
// become durable, and only then visible, before any manifest names them. An organization
// one of whose objects could not be created fails (the manifest would name a missing
// object); when the batch could not be made durable, every organization with objects in it
// does.
func (w *writer) flushStaged(ctx context.Context) {
	if w.batch == nil {
		return
	}
	failed, err := w.batch.Flush(ctx)
	if err == nil && len(failed) == 0 {
		return
	}
	// A members object remembered as stored (storeMembers) may not be: forget them all
	// rather than name a missing one tomorrow. The next seal finds them again.
	storedMembers.DeleteFunc(func(membersHint) bool { return true })
	for _, c := range w.commits {
		if c.Err != nil || c.Outcome == OutcomeUnchanged {
			continue
		}
		ferr := err
		if ferr == nil {
			ferr = failedObject(failed, c)
		}
		if ferr != nil {
			w.fail(ctx, c, fmt.Errorf("store the day's objects: %w", ferr))
		}
	}
}

// failedObject returns the error of the first of c's objects in failed, nil when none is.
func failedObject(failed map[string]error, c *orgCommit) error {
	keys := []string{c.Data.Key}
	if q := c.Quarantined; q != nil {
		keys = append(keys, q.Key)
	}
	if x := c.ChatIndex; x != nil {
		keys = append(keys, x.Key)
		if x.Inline != nil {
			keys = append(keys, x.Inline.Members.Key)
		}
	}
	for _, k := range keys {
		if err, ok := failed[k]; ok && k != "" {
			return err
		}
	}
	return nil
}
