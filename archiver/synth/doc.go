// Package synth writes realistic synthetic event logs: a directory snapshot and one closed
// day partition in the layout the archiver reads, for demos, tests and benchmarks
// (`chatvault gen`).
//
// The output looks like what the platform produces on a busy day, including what makes an
// archiver's life hard: organizations of very different sizes, some archiving and some not
// (one whose archival starts after the day), chats across organizations, chats nobody
// archiving is entitled to, chats missing from the directory, guests, bots, edits and
// deletes of earlier messages (some sent the day before), threads, attachments kept verbatim,
// escaping-heavy Unicode text, rare 20-50 KB pastes, identical timestamps, files interleaved
// in time, late-arriving lines, redelivered duplicates, non-message events (waves, room
// invitations), lines encoded with other key orders, escapes, whitespace and unknown fields,
// and, on request, deliberately bad lines of every kind the archiver must quarantine.
//
// Output is a pure function of the Options and the folder's prior directory.json: the same
// options and seed give byte-identical files, whatever the degree of parallelism. Memory is
// bounded by the directory's size, not the number of events: only a small reservoir of recent
// messages per chat is kept, for edits, deletes and thread replies to point at.
package synth
