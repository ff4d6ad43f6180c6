//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package archiver

// lockFile: no flock here, so work folders of dead runs are not swept.
func lockFile(string, bool, bool) (func(), error) { return nil, errNoLocks }
