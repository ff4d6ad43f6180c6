// Package spillsort sorts byte records by a byte key within a memory budget: records
// accumulate in memory, sorted runs spill to temporary files, and a k-way merge with a
// bounded fan-in reads them back. The export formats use it to regroup a range's records
// by chat without holding the range in memory.
//
// The sort is stable: records with equal keys come back in the order they were added.
package spillsort
