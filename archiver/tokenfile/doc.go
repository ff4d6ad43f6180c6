// Package tokenfile keeps API tokens in a local JSON file (auth.tokensFile): it mints
// them, stores only their SHA-256, and looks presented tokens up for the HTTP API.
//
// The file is rewritten whole, atomically (temporary file, fsync, rename) with mode 0600,
// so a reader never sees half a file and a crash never loses the previous one.
package tokenfile
