package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/eventlog"
)

// loadDirectory loads the directory snapshot once for a run that seals with it: decoded
// as the file is read, never held whole (an S3 snapshot's bytes are dropped once decoded),
// with the SHA-256 the manifests record. Errors in the snapshot name the file.
func (e *env) loadDirectory() (*archiver.Directory, error) {
	if strings.HasPrefix(e.cfg.Directory, "s3://") {
		b, err := e.readDirectory()
		if err != nil {
			return nil, err
		}
		d, err := archiver.ParseDirectory(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", e.cfg.Directory, err)
		}
		return d, nil
	}
	f, err := eventlog.OpenSnapshot(e.cfg.Directory, e.cfg.DirectoryMaxSize)
	if err != nil {
		return nil, directoryError(err)
	}
	defer f.Close()
	d, err := archiver.LoadDirectory(f)
	if errors.Is(err, archiver.ErrObjectTooLarge) {
		return nil, directoryError(err)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", e.cfg.Directory, err)
	}
	return d, nil
}
