// Package verify checks a chatvault archive without being able to forge it: it walks
// every organization's manifest chain, re-hashes every object the manifests name, and
// checks the day-level accounting, the access audit chains, the key rotations, the
// coverage of the directory's archiving organizations and a witness's chain heads. It
// needs only public keys.
//
// Its work grows with what is asked, not with the history: a verification of days reads
// those days' objects and the link of each of their manifests to the one before
// (days.go); a full one walks organizations concurrently (parallel.go); signed
// checkpoints let an interrupted full verification resume and a nightly one check only
// what was sealed since, plus a rotating sample of old days (checkpoint.go,
// incremental.go).
//
// It consumes the root package archiver (the formats of manifests and objects and the
// checks that know them); archiver never imports it.
package verify
