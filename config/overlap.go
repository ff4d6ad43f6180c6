package config

import (
	"os"
	"path/filepath"
	"strings"
)

// overlaps reports the locations that nest in one another. chatvault writes into its store
// and its spill folder only, never into the event log, which belongs to the platform: a
// spill folder inside a partition left its lock file there, and from then on every run of
// that day failed on an entry that is not an event file, with a correct export.tempDir too;
// a store inside the event log lives under the producer's clean-up or the bucket's
// lifecycle rules, which would delete the archive with the old partitions. Nor does the
// archive hold anything but its own objects: not the producer's files, not the sort's runs
// and lock file.
func (c *Config) overlaps(add func(key, format string, args ...any)) {
	if c.EventLog == "" || c.Store == "" || checkLocation(c.EventLog) != nil || checkLocation(c.Store) != nil {
		return // reported as such
	}
	switch {
	case sameLocation(c.Store, c.EventLog):
		add("store", "%q is the event log (eventlog %q): the archive must not be written into the producer's event log", c.Store, c.EventLog)
	case within(c.Store, c.EventLog):
		add("store", "%q is inside the event log %q: chatvault never writes into the producer's event log, whose clean-up or lifecycle rules would delete the archive with the old partitions", c.Store, c.EventLog)
	case within(c.EventLog, c.Store):
		add("eventlog", "%q is inside the store %q: the archive holds chatvault's objects only", c.EventLog, c.Store)
	}
	// A secret in the archive goes wherever the archive goes (an auditor's copy, a
	// backup, a vendor's read access), and one in the event log to the producer: the
	// signing key forges manifests, the link key download links, and whoever may write a
	// tokens file there mints API tokens.
	for _, f := range []struct{ key, path string }{
		{"signing.keyFile", c.Signing.KeyFile},
		{"exports.linkKeyFile", c.Exports.LinkKeyFile},
		{"auth.tokensFile", c.Auth.TokensFile},
		{"http.tls.keyFile", c.HTTP.TLS.KeyFile},
		{"smtp.passwordFile", c.SMTP.PasswordFile},
		{"attachments.tokenFile", c.Attachments.TokenFile},
	} {
		switch {
		case f.path == "":
		case within(f.path, c.Store):
			add(f.key, "%q is inside the store %q: whoever reads or copies the archive would hold it; keep secrets outside (as /etc/chatvault)", f.path, c.Store)
		case within(f.path, c.EventLog):
			add(f.key, "%q is inside the event log %q: the producer would hold it; keep secrets outside (as /etc/chatvault)", f.path, c.EventLog)
		}
	}
	temp := c.Export.TempDir
	if temp == "" {
		temp = os.TempDir()
	}
	switch {
	case within(temp, c.EventLog) || sameLocation(temp, c.EventLog):
		add("export.tempDir", "%q is inside the event log %q: the sort's runs and lock file would be written into the producer's partitions, and a partition holding them can no longer be sealed", temp, c.EventLog)
	case within(temp, c.Store) || sameLocation(temp, c.Store):
		add("export.tempDir", "%q is inside the store %q: the sort's runs and lock file are not archive objects", temp, c.Store)
	}
}

// within reports whether location inner lies strictly inside location outer: two folders,
// made absolute with symbolic links resolved, or two s3:// locations of one bucket whose
// prefixes nest at a "/". A folder and an s3:// location never nest.
func within(inner, outer string) bool {
	i, o, ok := comparable(inner, outer)
	return ok && i != o && strings.HasPrefix(i, o)
}

// sameLocation reports whether a and b name the same folder or the same S3 prefix.
func sameLocation(a, b string) bool {
	x, y, ok := comparable(a, b)
	return ok && x == y
}

// comparable returns a and b in a form where one is inside the other exactly when its form
// starts with the other's: ending with a separator, so that /data/events-archive is not
// taken for a part of /data/events. ok is false when one is on S3 and the other is not.
func comparable(a, b string) (string, string, bool) {
	sa, sb := strings.HasPrefix(a, "s3://"), strings.HasPrefix(b, "s3://")
	switch {
	case sa != sb:
		return "", "", false
	case sa:
		return s3Form(a), s3Form(b), true
	}
	return folderForm(a), folderForm(b), true
}

// s3Form is "bucket/prefix/" with empty segments dropped, as S3 keys joined by the
// stores would be.
func s3Form(loc string) string {
	var parts []string
	for _, p := range strings.Split(strings.TrimPrefix(loc, "s3://"), "/") {
		if p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, "/") + "/"
}

// folderForm is the folder's absolute path with symbolic links resolved in the part of it
// that exists (a store or spill folder is made at the first run), ending with a separator.
func folderForm(p string) string {
	abs, err := filepath.Abs(p)
	if err != nil {
		abs = filepath.Clean(p)
	}
	cur, rest := abs, ""
	for {
		if r, err := filepath.EvalSymlinks(cur); err == nil {
			abs = filepath.Join(r, rest)
			break
		}
		parent := filepath.Dir(cur)
		if parent == cur {
			break
		}
		rest = filepath.Join(filepath.Base(cur), rest)
		cur = parent
	}
	if !strings.HasSuffix(abs, string(filepath.Separator)) {
		abs += string(filepath.Separator)
	}
	return abs
}
