package archiver

import (
	"context"
	"errors"
	"strings"
)

// Listings of a Store by folder: what the ledger and the readers beside it (holds, key
// rotation, the witness, serve's continuous verification) need to walk organizations and
// their days without listing the whole orgs/ prefix. The keys themselves are spelled in
// layout2.go and layout.go.

// OrgsPrefix starts every organization's objects: orgs/<org>/…
const OrgsPrefix = "orgs/"

// FolderLister is a Store that can list the "folders" under a prefix: the distinct key
// segments that follow it up to the next '/', without the keys below them. The folder
// store reads one folder; S3 lists with a delimiter (a thousand folders per page). The
// organizations of a store (the folders of orgs/) are then found in one request, or one
// per thousand, instead of by listing every object of every organization.
type FolderLister interface {
	// ListFolders calls fn with the name of every folder directly under prefix (prefix
	// ends with '/'; names have no '/'), in the order of their keys (name+"/": "a-b"
	// before "a"), until fn returns an error, which it returns.
	ListFolders(ctx context.Context, prefix string, fn func(name string) error) error
}

// ListFolders calls fn with the name of each folder directly under prefix, in order. A
// store that is a FolderLister answers it; any other is asked, folder after folder, for
// the first key after the last folder found (one request per folder, each stopped at its
// first key), never for the keys inside a folder. fn may return ErrStopListing; ListFolders
// then returns nil.
func ListFolders(ctx context.Context, s Store, prefix string, fn func(name string) error) error {
	var err error
	if fl, ok := s.(FolderLister); ok {
		err = fl.ListFolders(ctx, prefix, fn)
	} else {
		err = listFoldersAfter(ctx, s, prefix, fn)
	}
	if errors.Is(err, ErrStopListing) {
		return nil
	}
	return err
}

// listFoldersAfter is ListFolders by one ListAfter per folder: past folder f, the next
// key is past prefix+f+"0" ('0' follows '/' in byte order, so every key below f sorts
// before it, and every key of a later folder after it).
func listFoldersAfter(ctx context.Context, s Store, prefix string, fn func(name string) error) error {
	after := prefix
	for {
		next, err := firstKeyAfter(ctx, s, prefix, after)
		if err != nil {
			return err
		}
		if next == "" {
			return nil
		}
		name, _, folder := strings.Cut(next[len(prefix):], "/")
		if !folder {
			after = next // an object right under prefix: no folder
			continue
		}
		if err := fn(name); err != nil {
			return err
		}
		after = prefix + name + "0"
	}
}

// firstKeyAfter returns the first key under prefix past after, "" when there is none: one
// listing, stopped at its first key.
func firstKeyAfter(ctx context.Context, s Store, prefix, after string) (string, error) {
	var first string
	err := ListAfter(ctx, s, prefix, after, func(key string) error {
		first = key
		return ErrStopListing
	})
	if errors.Is(err, ErrStopListing) {
		err = nil
	}
	return first, err
}

// HasFolder reports whether prefix has a folder directly under it (an object right under
// prefix is none): ListFolders, stopped at the first folder, so one listing on a store
// that lists folders and, on any other, one request per object right under prefix before
// the first folder's key.
func HasFolder(ctx context.Context, s Store, prefix string) (bool, error) {
	var found bool
	err := ListFolders(ctx, s, prefix, func(string) error {
		found = true
		return ErrStopListing
	})
	return found, err
}
