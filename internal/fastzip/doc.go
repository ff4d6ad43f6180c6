// Package fastzip makes archive/zip deflate with klauspost/compress, several times faster
// than the standard library's compressor at a similar ratio (the output is plain deflate
// any unzip reads), reusing compressors across entries so that archives of many small
// files do not allocate one compressor's state per file.
package fastzip
