// Command scalebench measures how chatvault's cost grows with organizations, with stored
// days and with history, by driving a chatvault binary (SCALEBENCH_BIN) through its CLI on
// generated data, and prints a Markdown table: what | value | growth law. It is what
// `make scalebench` runs, before and after a change, so it never imports chatvault's own
// packages: the binary it measures may be an older or a newer build than this source.
//
// The growth law of a row is fitted from two or three sizes (see fit.go): the cost per
// unit (per organization, per sealed day) from a least-squares line, and the exponent of
// the log-log slope, so "exponent 1.0" reads as linear and "exponent 0.1" as flat.
//
// Sizes come from environment variables (see config.go); the defaults finish in about
// ten minutes on an idle 2-core box. Generated data goes to SCALEBENCH_DIR (a temporary
// folder by default), never into the repository.
package main
