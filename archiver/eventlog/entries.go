package eventlog

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
	"unicode/utf8"

	"github.com/chatvault/chatvault/archiver"
)

// Kind is what an entry of a partition is to the readers.
type Kind int

// The kinds of entries. Every entry of a partition is one of these, and a partition with
// an Unread entry cannot be sealed.
const (
	// Event is an event file, read line by line.
	Event Kind = iota
	// Closed is the _CLOSED marker.
	Closed
	// Ignored is a file the operator's ignore patterns name: hashed and recorded, not read.
	Ignored
	// Unread is anything else.
	Unread
)

// CheckIgnorePatterns returns an error for the first pattern that path.Match rejects, or
// that cannot match an entry's name within a partition (empty, or holding a "/").
func CheckIgnorePatterns(patterns []string) error {
	for _, p := range patterns {
		if err := checkPattern(p); err != nil {
			return err
		}
	}
	return nil
}

func checkPattern(p string) error {
	switch {
	case p == "":
		return fmt.Errorf("ignore pattern %q: empty", p)
	case strings.Contains(p, "/"):
		return fmt.Errorf("ignore pattern %q: holds a /, but patterns match a name within the partition", p)
	}
	if _, err := path.Match(p, ""); err != nil {
		return fmt.Errorf("ignore pattern %q: %w", p, err)
	}
	return nil
}

// Classify says what the entry name of a partition is (its name within the partition,
// no "/"), given its type (fs.FileMode type bits, after following a symlink: 0 for a
// regular file or an S3 object, fs.ModeDir for a folder or an S3 "subfolder") and the
// operator's ignore patterns. For Unread, why says what the entry is, for the operator.
//
// The rules, in order:
//   - _CLOSED is the marker; it must be a regular file.
//   - A name starting with "." (a producer's temporary file, .DS_Store) is never an
//     event file, even when it ends in .jsonl.
//   - A name ending in ".jsonl" or ".jsonl.gz", exactly these lowercase suffixes, is an
//     event file; it must be a regular file whose name is valid UTF-8 (a quarantined
//     line names its file, in JSON). Event files are always read: no pattern hides one.
//   - A name an ignore pattern matches (path.Match) is ignored when it is a regular file
//     whose name is valid UTF-8 (so that a manifest can record it exactly). A folder
//     never is: it has no one content whose hash could be recorded, and ignoring it by
//     name alone would let anything be put in it unrecorded.
//   - Anything else is unread.
func Classify(name string, mode fs.FileMode, ignore []string) (kind Kind, why string) {
	regular := mode.Type() == 0
	what := describeType(mode)
	switch {
	case name == closedMarker:
		if regular {
			return Closed, ""
		}
		return Unread, "named like the _CLOSED marker but " + what + "; the marker must be a file"
	case !strings.HasPrefix(name, ".") && isEventFile(name):
		switch {
		case !regular:
			return Unread, "named like an event file but " + what
		case !utf8.ValidString(name):
			// Every record keeps where it came from (a quarantined line names its file and
			// line), in JSON, which cannot carry these bytes exactly.
			return Unread, "named like an event file but its name is not valid UTF-8, which the quarantine and manifests cannot record exactly: rename it"
		}
		return Event, ""
	}
	for _, p := range ignore {
		if ok, _ := path.Match(p, name); !ok {
			continue
		}
		switch {
		case !regular:
			return Unread, fmt.Sprintf("matches ignore pattern %q but %s; only files can be ignored, since a manifest records an ignored file by its SHA-256", p, what)
		case !utf8.ValidString(name):
			return Unread, fmt.Sprintf("matches ignore pattern %q but its name is not valid UTF-8, which a manifest cannot record exactly", p)
		}
		return Ignored, ""
	}
	switch {
	case !regular:
		return Unread, what + "; events in a subfolder, or in anything but a file, are not read"
	case strings.EqualFold(name, closedMarker):
		return Unread, "not the _CLOSED marker: names are case-sensitive"
	case strings.HasPrefix(name, "."):
		return Unread, "a hidden file (a producer's temporary file?); hidden files are never event files"
	case isEventFile(strings.ToLower(name)):
		return Unread, "not an event file: event files end in lowercase .jsonl or .jsonl.gz"
	}
	return Unread, "not an event file (*.jsonl, *.jsonl.gz) nor the _CLOSED marker"
}

// describeType says what kind of entry mode is, in words.
func describeType(mode fs.FileMode) string {
	switch t := mode.Type(); {
	case t == 0:
		return "a file"
	case t&fs.ModeDir != 0:
		return "a folder"
	case t&fs.ModeNamedPipe != 0:
		return "not a regular file (a named pipe)"
	case t&fs.ModeSocket != 0:
		return "not a regular file (a socket)"
	case t&fs.ModeDevice != 0:
		return "not a regular file (a device)"
	default:
		return fmt.Sprintf("not a regular file (%s)", t)
	}
}

// entryName is how an entry is named to the operator: relative to the root, with a
// trailing "/" for a folder.
func entryName(rel string, mode fs.FileMode) string {
	if mode.IsDir() {
		return rel + "/"
	}
	return rel
}

// HashIgnored reads an ignored file whole from r and describes it.
func HashIgnored(name string, r io.Reader) (archiver.IgnoredFile, error) {
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err != nil {
		return archiver.IgnoredFile{}, fmt.Errorf("read ignored file %s: %w", name, err)
	}
	return archiver.IgnoredFile{Name: name, Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}
