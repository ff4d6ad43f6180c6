package fsstore

import "strings"

// IsOwnerFile reports whether rel (slash-separated, below the root) is a Store's owner
// file (temps.go): there while its Store is open, not a temporary file left behind.
func IsOwnerFile(rel string) bool {
	_, isOwner, _ := parseTemp(rel)
	return isOwner && !strings.Contains(rel, "/")
}
