//go:build !unix

package main

// openFileLimit cannot tell here: http.maxConnections applies as configured.
func openFileLimit() (uint64, bool) { return 0, false }
