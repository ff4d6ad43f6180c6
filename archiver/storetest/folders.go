package storetest

import (
	"context"

	"github.com/chatvault/chatvault/archiver"
)

// ListFolders implements archiver.FolderLister: one "List" request, and "Folders" counts
// the names handed to fn. Over a store that lists no folders, it counts what the
// fallback asks (one ListAfter per folder).
func (c *Counting) ListFolders(ctx context.Context, prefix string, fn func(string) error) error {
	if fl, ok := c.Store.(archiver.FolderLister); ok {
		c.add("List", 1)
		return fl.ListFolders(ctx, prefix, func(name string) error {
			c.add("Folders", 1)
			return fn(name)
		})
	}
	// Without this type's ListFolders, archiver.ListFolders takes its fallback, through
	// c's counted ListAfter.
	plain := struct {
		archiver.Store
		archiver.AfterLister
	}{c, c}
	return archiver.ListFolders(ctx, plain, prefix, func(name string) error {
		c.add("Folders", 1)
		return fn(name)
	})
}
