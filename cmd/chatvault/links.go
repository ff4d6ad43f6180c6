package main

import (
	"github.com/chatvault/chatvault/archiver/exporttask"
)

// linkKey returns the key of exports.linkKeyFile that signs export task download links,
// or nil when none is configured. A file that is missing, unreadable or shorter than
// exporttask.MinKeySize is a configuration error: serving with a weak or absent key the
// operator meant to set would be worse than not starting.
func (e *env) linkKey() ([]byte, error) {
	name := e.cfg.Exports.LinkKeyFile
	if name == "" {
		return nil, nil
	}
	b, err := readSecret(name)
	if err != nil {
		return nil, usagef("exports.linkKeyFile: %v", err)
	}
	if len(b) < exporttask.MinKeySize {
		return nil, usagef("exports.linkKeyFile %s: %d bytes, want at least %d (make one with head -c 32 /dev/urandom > %s)",
			name, len(b), exporttask.MinKeySize, name)
	}
	return b, nil
}

// checkServeLinks refuses, before serve starts, a configuration whose links could not
// work: e-mail delivery needs absolute links, and without exports.baseURL links are
// relative (never built from a request's Host header, which the client chooses). It
// warns when links are signed by a key of this process only.
func (e *env) checkServeLinks() error {
	if e.cfg.SMTP.Host != "" && e.cfg.Exports.BaseURL == "" {
		return usagef("exports.baseURL is required with smtp.host: mailed download links must be absolute, and are never built from a request's Host header")
	}
	key, err := e.linkKey()
	if err != nil {
		return err
	}
	if key == nil {
		e.log.Warn("exports.linkKeyFile is not set: export task download links are signed with a key of this process; " +
			"they stop working when it restarts, and other replicas refuse them")
	}
	return nil
}

// newLinks returns the export task links of the configuration: exports.linkKeyFile's key,
// or a key of this process when none is set.
func (e *env) newLinks() (exporttask.Links, error) {
	key, err := e.linkKey()
	if err != nil {
		return exporttask.Links{}, err
	}
	if key == nil {
		key = exporttask.NewKey()
	}
	return exporttask.Links{Key: key, Expiry: e.cfg.Exports.URLExpiry}, nil
}
