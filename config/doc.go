// Package config loads chatvault's settings into a typed, validated Config. It is the only
// package that imports viper; everything else receives plain values from cmd/chatvault.
//
// A setting comes from, highest first: a command-line flag that was actually set, the
// environment (CHATVAULT_ and the key's path upper-cased, dots as underscores, such as
// CHATVAULT_EXPORT_SORTMEMORY), the YAML file, then the default. deploy/chatvault.example.yaml
// lists every key with its default, environment variable and flag.
//
// Load is strict because a compliance archiver must not run on a configuration its operator
// did not mean: an unknown key in the file (a typo such as sortMemmory) is an error, not
// ignored, and every error names the key it is about and wraps ErrInvalid, so the CLI can
// exit with status 2.
package config
