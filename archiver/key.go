package archiver

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalidKey is wrapped by every error of CheckKey and CheckPrefix.
var ErrInvalidKey = errors.New("invalid key")

// CheckKey refuses keys that are not plain, relative, slash-separated paths: empty, absolute,
// with an empty, "." or ".." segment, a backslash or a NUL. The ledger only makes keys from
// parsed days and organization ids, so a refused key is a bug or an attack; stores check
// all the same, so that neither can name an object outside their key space (a folder
// store's root, an S3 store's prefix), and so that a key names the same object on disk
// and on S3, where "a/./b" and "a/b" differ.
func CheckKey(key string) error {
	if key == "" {
		return fmt.Errorf("%w: empty", ErrInvalidKey)
	}
	if reason := keyProblem(key); reason != "" {
		return fmt.Errorf("%w %q: %s", ErrInvalidKey, key, reason)
	}
	return nil
}

// CheckPrefix is CheckKey for a List prefix: the part up to its last slash must be a valid
// key (when there is one), and the partial segment after it has no backslash or NUL.
func CheckPrefix(prefix string) error {
	if strings.ContainsAny(prefix, "\\\x00") {
		return fmt.Errorf("%w prefix %q: contains a backslash or NUL", ErrInvalidKey, prefix)
	}
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		if reason := keyProblem(prefix[:i]); reason != "" {
			return fmt.Errorf("%w prefix %q: %s", ErrInvalidKey, prefix, reason)
		}
	}
	if tail := prefix[strings.LastIndexByte(prefix, '/')+1:]; tail == "." || tail == ".." {
		return fmt.Errorf("%w prefix %q: segment %q", ErrInvalidKey, prefix, tail)
	}
	return nil
}

func keyProblem(p string) string {
	if strings.HasPrefix(p, "/") {
		return "absolute path"
	}
	if strings.ContainsAny(p, "\\\x00") {
		return "contains a backslash or NUL"
	}
	for seg := range strings.SplitSeq(p, "/") {
		switch seg {
		case "":
			return "empty segment"
		case ".", "..":
			return fmt.Sprintf("segment %q", seg)
		}
	}
	return ""
}
