// Package eventlog reads the platform's event log from a local folder: it is the
// archiver.Source that chatvault seals days from.
//
// The layout is one folder per UTC day of server commit time:
//
//	<root>/directory.json             the directory snapshot (see Dir.ReadFile)
//	<root>/2026-11-22/part-0001.jsonl  events, one JSON object a line
//	<root>/2026-11-22/part-0002.jsonl.gz
//	<root>/2026-11-22/_CLOSED          written by the producer when the day is complete
//
// A partition's event files are the names ending in ".jsonl" or ".jsonl.gz" (case
// sensitive) that do not start with a dot, read in byte-wise name order, so producers
// must zero-pad sequence numbers (part-0010 sorts before part-9). Every other entry must
// be the _CLOSED marker or a file the operator's ignore patterns (Dir.Ignore, from
// export.ignoreFiles) name, which Scan hashes and returns so that the manifests record
// it; anything else (part-0002.JSONL, a dotfile, a subfolder, _closed, an event-named
// FIFO, a symlink that cannot be followed) is listed in Partition.Unread, and Scan fails
// with an *archiver.UnreadError naming them all before it delivers a line, because
// skipping an entry would lose whatever events it holds silently. Classify holds these
// rules, which archiver/s3 shares.
//
// Every access goes through os.Root, so nothing outside root is ever read: a symlink that
// resolves outside root, or any absolute symlink, is refused with an error naming it.
// Symlinks that stay inside root are followed.
//
// # Lines
//
// Scan streams; it never holds a whole file. A line ends with "\n"; one trailing "\r" is
// stripped too, so CRLF files read like LF files, and a final line without a newline is
// still a line. A UTF-8 byte-order mark at the start of a file (after gunzip) is dropped.
// Lines that are empty or hold only JSON whitespace are not delivered, since they are not
// records, but they are counted, so Line.Number always matches `sed -n Np` on the
// (decompressed) file. A line longer than Dir.MaxLineBytes arrives with Err set to an
// *archiver.LineTooLongError (it matches ErrLineTooLong under errors.Is) holding the whole
// line's size and SHA-256, and with only its first TooLongHeadBytes (64 KiB) in Bytes, so
// the pipeline can quarantine the evidence without the line; the rest of it is hashed as
// it streams past, never buffered, and reading resumes at the next line.
//
// What these rules mean for a compliance archive: a line ending is not part of the record
// ("\r\n" and "\n" end the same JSON value, and a raw CR cannot occur inside a JSON
// string), nor is a byte-order mark, which marks the file's encoding; dropping them keeps
// every record byte for byte. A BOM anywhere else, a lone CR inside a string, and NUL
// bytes (a file padded with zeros by a crash, say) are bytes of a line: such lines are not
// JSON, and the pipeline quarantines them with their raw bytes. Blank lines hold no value.
//
// A ".jsonl.gz" file may hold several gzip members (multistream). A corrupt or truncated
// gzip stream stops Scan with an error naming the file and the last complete line read.
// gzip's checksum is only verified at the end of a member, so lines before a checksum
// failure have already been delivered: a Scan error means the whole scan failed, and the
// caller must not commit anything it derived from it.
//
// A gzipped file is inflated on a goroutine of its own, a little ahead of the lines, and
// the next gzipped file starts inflating while the file before it is read, so that
// inflating (most of the cost of reading a gzipped file) runs beside the caller's work on
// the lines. The lines and errors are the same as when inflating in turn.
//
// # A partition that changes
//
// A closed partition should not change, but a producer may still be writing, or rewrite a
// file. Scan lists the partition and stats its event and ignored files before reading and
// again after, and fails with ErrPartitionChanged when an entry was added or removed, or
// a file replaced (another file under the name), or changed size or modification time: the lines read may then be half
// of a file or two versions mixed, a day that never existed. The next scan reads the
// partition as it then is.
package eventlog
