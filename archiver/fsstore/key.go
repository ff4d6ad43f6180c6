package fsstore

import (
	"fmt"
	"strings"

	"github.com/chatvault/chatvault/archiver"
)

// tempPrefix starts the name of every file still being written. Keys may not use it, so a
// temporary file can never be mistaken for an object, nor an object for a temporary file.
const tempPrefix = ".tmp-"

// checkKey refuses keys that are not plain, relative, slash-separated paths
// (archiver.CheckKey) or that use the temporary prefix. os.Root already stops every escape
// from the root; checking here as well gives a clear error.
func checkKey(key string) error {
	if err := archiver.CheckKey(key); err != nil {
		return err
	}
	return checkTemp(key)
}

func checkTemp(p string) error {
	for seg := range strings.SplitSeq(p, "/") {
		if strings.HasPrefix(seg, tempPrefix) {
			return fmt.Errorf("%w %q: segment %q starts with the reserved prefix %q", archiver.ErrInvalidKey, p, seg, tempPrefix)
		}
	}
	return nil
}
