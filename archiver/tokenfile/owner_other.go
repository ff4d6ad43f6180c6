//go:build !unix

package tokenfile

import "os"

// keepOwner: without Unix ownership there is nothing to keep.
func keepOwner(*os.File, string) error { return nil }
