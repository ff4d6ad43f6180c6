// Package htmlexport renders an export as readable HTML transcripts for people (a lawyer,
// a reviewer) rather than machines.
//
// The output is a ZIP archive: index.html (organization, range, export task, every
// source day with its manifest's SHA-256, and a table of contents) and one page per chat,
// chats/NNNNN.html (participants, then every event in order with its time in UTC; thread
// replies grouped under their parent and marked as replies; an edit shown as an edit of
// the message above it, whose original text stays; deletions shown as such; attachments,
// emoji, items, snippets and membership changes). Pages are self-contained: inline CSS,
// no JavaScript, no external fetches (a Content-Security-Policy forbids both), links only
// for http and https URLs, and every text from the data escaped by html/template.
//
// Memory is bounded whatever the range: records are regrouped by chat with an external
// sort (internal/spillsort) that spills to Options.TempDir, a chat's rendered events go to
// one temporary file until its participants are known, and the table of contents to
// another. Only one chat's participants are held in memory.
package htmlexport
