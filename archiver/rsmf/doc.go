// Package rsmf encodes an export as Relativity Short Message Format 2.0, the format
// e-discovery review platforms load chat data from.
//
// The output is one ZIP archive. It holds one .rsmf file per chat per sealed day
// (<YYYY-MM-DD>/<DocID>.rsmf), each an RFC 5322 message with the X-RSMF-* headers, a
// plain-text transcript as its body and an rsmf.zip attachment holding rsmf_manifest.json,
// and at its root loadfile.csv (one row per .rsmf: DocID, custodian, conversation,
// participants, first and last date, SHA-256, path, and the sealed day and manifest hash it
// came from) and export.json (the organization, task and source days).
//
// How chat events map to RSMF: every participant seen (senders, members added or
// removed) is a participant; the chat is a "channel" conversation; a sent message is a
// "message" event whose id is the messageId; its edits become the event's "edits" (previous
// and new body, so the original text is kept) and its body the latest text; a deletion
// sets "deleted"; a thread reply's "parent" is the message its threadTimestamp points at
// when that message is in the same file (otherwise a custom property names the parent's
// time); membersChanged becomes one "join" or "leave" event per member. An edit or deletion
// of a message sent on an earlier day is an event of its own, marked so.
//
// Memory is bounded by the size of one .rsmf, not by the range: a day's records are
// regrouped by chat with an external sort (internal/spillsort), and a chat-day larger
// than MaxFileEvents events or MaxFileBytes bytes is split into several .rsmf files that
// share an X-RSMF-EventCollectionID.
package rsmf
