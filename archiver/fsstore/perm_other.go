//go:build !unix

package fsstore

import "io/fs"

// Without Unix ownership the root is left as it is; the modes set on creation still apply
// as far as the platform honours them.
func ownedByMe(fs.FileInfo) bool { return false }

func groupOf(fs.FileInfo) int { return -1 }

func rootOnForeignStore(fs.FileInfo) (int, bool) { return 0, false }
