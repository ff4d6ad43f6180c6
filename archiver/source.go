package archiver

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Source is the platform's event log: one partition per UTC day of server commit time.
type Source interface {
	// Stat describes day's partition. A partition that does not exist is not an error:
	// Exists is false (the producer has not delivered, which is not the same as a quiet day).
	Stat(ctx context.Context, day Day) (Partition, error)

	// Scan calls fn with every line of day's partition: files in name order, lines in file
	// order, streaming. Line.Bytes is only valid during the call. Lines that cannot be read
	// as lines arrive with Err set and whatever raw bytes were recovered, so the pipeline
	// can quarantine them: a line over the Source's limit as a *LineTooLongError and its head. A failure that makes the rest of a file
	// unreadable (corrupt gzip, I/O error) stops the scan with an error naming the file.
	//
	// Scan also reads every ignored file (Partition.Ignored) whole and returns each one's
	// size and SHA-256, in name order, so that what the operator chose not to archive is
	// still on record; its check that the partition did not change while it was read
	// covers them too. A partition holding entries it would not read (Partition.Unread)
	// fails the scan with an *UnreadError before any line is delivered.
	Scan(ctx context.Context, day Day, fn func(Line) error) ([]IgnoredFile, error)
}

// ConcurrentSource is a Source that can also read a partition's files on several
// goroutines at once (the folder event log): ScanConcurrent is Scan but fn is called
// concurrently by up to readers goroutines, with the number of the one calling (0 to
// readers-1); each file's lines come in order from one of them, files in any order. The
// seal uses it when it has it (pipeline.go): the order it reads lines in does not change
// what it writes.
type ConcurrentSource interface {
	Source
	ScanConcurrent(ctx context.Context, day Day, readers int, fn func(reader int, l Line) error) ([]IgnoredFile, error)
}

// Partition is what Source.Stat knows about a day's partition.
type Partition struct {
	// Exists is true when the partition folder (or prefix) exists.
	Exists bool
	// Closed is true when the producer wrote the _CLOSED marker.
	Closed bool
	// Clock, on a partition without the marker, is how far the event log's own clock is
	// known to have gone: the latest time its writes show, in this partition and the next
	// day's (the folder event log: the newest modification time of their folders and
	// files). Zero when the Source cannot tell. A partition without the marker counts as
	// closed only once the grace has passed on it as well as on this host's clock
	// (Sealer.partition): a host whose clock runs ahead must not seal a day its producer,
	// by its own clock, may still be writing.
	Clock time.Time
	// Files are the partition's event files (*.jsonl, *.jsonl.gz), in name order.
	Files []string
	// Ignored are the partition's files that the operator's ignore patterns name, in
	// name order (relative to the event log root, like Files). They are not read as
	// events, but Scan hashes them and every manifest of the day records them.
	Ignored []string
	// Unread are the partition's entries that are neither an event file, the _CLOSED
	// marker nor an ignored file, in name order. A day with any cannot be sealed: their
	// lines, if they hold any, would be lost without a word.
	Unread []UnreadEntry
}

// UnreadEntry is an entry of a partition that no reader reads.
type UnreadEntry struct {
	// Name is relative to the event log root; a folder's ends with "/".
	Name string
	// Why says what the entry is and why it is not read, for the operator.
	Why string
}

// ErrUnreadEntries matches (errors.Is) the *UnreadError of a partition holding entries
// that are not read.
var ErrUnreadEntries = errors.New("partition holds entries that are not read")

// UnreadError names every entry of a partition that is not read.
type UnreadError struct {
	Entries []UnreadEntry
}

func (e *UnreadError) Error() string {
	var b strings.Builder
	b.WriteString(ErrUnreadEntries.Error())
	b.WriteString(" (every entry must be an event file, *.jsonl or *.jsonl.gz, the _CLOSED marker or an ignored file):")
	for i, u := range e.Entries {
		if i > 0 {
			b.WriteByte(';')
		}
		// %q: a name with spaces, control characters or bytes that are not UTF-8 must be
		// readable, and findable again, exactly as it is.
		fmt.Fprintf(&b, " %q: %s", u.Name, u.Why)
	}
	return b.String()
}

// Is makes every UnreadError match ErrUnreadEntries.
func (e *UnreadError) Is(target error) bool { return target == ErrUnreadEntries }

// IgnoredFile is a file of a partition that the operator's ignore patterns name: not
// read as events, but recorded in every manifest of the day.
type IgnoredFile struct {
	// Name is relative to the event log root, for example 2026-11-22/_SUCCESS.
	Name string `json:"name"`
	// Size and SHA256 (hex) are of the file's bytes as read.
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Line is one line of a partition file.
type Line struct {
	// File is the file's name relative to the event log root, for example 2026-11-22/part-0.jsonl.gz.
	File string
	// Number is the 1-based line number within File.
	Number int64
	// Bytes is the line without its line ending ("\n" or "\r\n").
	Bytes []byte
	// Err is set when the line could not be read as a line (for example it exceeds the
	// reader's limit); Bytes then holds what was read.
	Err error
}

// ErrLineTooLong matches (errors.Is) the Line.Err of a line longer than the Source's limit.
var ErrLineTooLong = errors.New("line too long")

// LineTooLongError is the Line.Err of a line longer than the Source's limit. Such a line
// is never held whole: Line.Bytes holds only its head, while Size and SHA256 describe the
// whole line, so the quarantine can prove what it was (and an operator can find it again
// in the event log) without the run's memory growing with it.
type LineTooLongError struct {
	// Limit is the Source's longest line in bytes.
	Limit int
	// Size is the whole line's length in bytes, without its line ending.
	Size int64
	// SHA256 is the hash of the whole line, without its line ending.
	SHA256 [sha256.Size]byte
}

func (e *LineTooLongError) Error() string {
	return fmt.Sprintf("line of %d bytes exceeds the %s limit", e.Size, formatSize(e.Limit))
}

// Is makes every LineTooLongError match ErrLineTooLong.
func (e *LineTooLongError) Is(target error) bool { return target == ErrLineTooLong }

func formatSize(n int) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	default:
		return fmt.Sprintf("%d B", n)
	}
}
