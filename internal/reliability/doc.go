// Package reliability collects the outcome of every hostile-input, fault and attack test
// into the table of the README's reliability section, so the table is produced by the
// test suite and cannot drift from what the tests actually showed.
//
// A test calls Record after it has asserted the outcome it records. When the environment
// variable CHATVAULT_RELIABILITY_OUT names a folder, each record is appended to a file
// there (one per test binary); `go run ./internal/reliability/cmd/reltable` renders the
// rows into README.md between the reliability markers, or with -check fails when the
// README's table differs from what the tests recorded.
package reliability
