package fsstore

import (
	"errors"
	"fmt"
	"strings"
)

// tempPrefix starts the name of every file still being written. Keys may not use it, so a
// temporary file can never be mistaken for an object, nor an object for a temporary file.
const tempPrefix = ".tmp-"

// checkKey refuses keys that are not plain, relative, slash-separated paths. os.Root already
// stops every escape from the root; checking here as well gives a clear error and keeps
// keys portable to S3, where "a//b" or "a/./b" would name a different object than on disk.
func checkKey(key string) error {
	if key == "" {
		return errors.New("invalid key: empty")
	}
	if err := checkPath(key); err != nil {
		return fmt.Errorf("invalid key %q: %w", key, err)
	}
	return nil
}

// checkPath applies the key rules to key or to the folder part of a List prefix.
func checkPath(p string) error {
	if strings.HasPrefix(p, "/") {
		return errors.New("absolute path")
	}
	if strings.ContainsAny(p, "\\\x00") {
		return errors.New("contains a backslash or NUL")
	}
	for seg := range strings.SplitSeq(p, "/") {
		switch {
		case seg == "":
			return errors.New("empty segment")
		case seg == "." || seg == "..":
			return fmt.Errorf("segment %q", seg)
		case strings.HasPrefix(seg, tempPrefix):
			return fmt.Errorf("segment %q starts with the reserved prefix %q", seg, tempPrefix)
		}
	}
	return nil
}
