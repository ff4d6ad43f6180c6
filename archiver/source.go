package archiver

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
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
	Scan(ctx context.Context, day Day, fn func(Line) error) error
}

// Partition is what Source.Stat knows about a day's partition.
type Partition struct {
	// Exists is true when the partition folder (or prefix) exists.
	Exists bool
	// Closed is true when the producer wrote the _CLOSED marker.
	Closed bool
	// Files are the partition's event files (*.jsonl, *.jsonl.gz), in name order.
	Files []string
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
