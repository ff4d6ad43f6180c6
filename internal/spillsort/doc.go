// Package spillsort is the module's one external sort: it sorts records (a key and a
// value) within a memory budget. Records accumulate in memory, sorted runs spill to
// temporary files, and a k-way merge with a bounded fan-in reads them back.
//
// Two kinds of callers use it. The export formats (rsmf, htmlexport) regroup a range's
// records by chat with New: a byte key, the sort stable (records with equal keys come back
// in the order they were added), memory from the Go heap. The seal (archiver) sorts each
// day's records with NewSorter: one Sorter per worker over memory it allocated outside
// the Go heap (Options.Memory), a Compare of its own behind a key prefix that decides
// most comparisons (Options.Prefix), and one Merge of every worker's Sorter.
//
// Spilled runs are not compressed: measured on a 4M-event day, compressing them (s2,
// zstd) made the seal 6% to 27% slower.
package spillsort
