// Package exporttest feeds the export format packages' tests and benchmarks: the
// hand-made sealed days of testdata/formats and streams of synthetic days.
package exporttest
