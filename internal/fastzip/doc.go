// Package fastzip writes ZIP archives that deflate with klauspost/compress, several times
// faster than the standard library's compressor at a similar ratio (the output is plain
// deflate any unzip reads), reusing compressors across entries so that archives of many
// small files do not allocate one compressor's state per file.
//
// Writer is a streaming ZIP writer for archives of any number of entries: where
// archive/zip keeps every entry's header in memory until Close, it spills the central
// directory to a temporary file, so its memory does not grow with the entries. For the
// headers it supports it writes the same bytes as archive/zip, ZIP64 records included.
// Register gives an archive/zip.Writer the same pooled compressor, for small archives.
package fastzip
