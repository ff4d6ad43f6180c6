// Package verify checks a chatvault archive without being able to forge it: it walks
// every organization's manifest chain, re-hashes every object the manifests name, and
// checks the day-level accounting, the access audit chains, the key rotations, the
// coverage of the directory's archiving organizations and a witness's chain heads. It
// needs only public keys.
//
// It consumes the root package archiver (the formats of manifests and objects and the
// checks that know them); archiver never imports it.
package verify
