// Package attach captures the files that sealed records link to (issue 14): a text's
// attachments[].url, an item's itemUrl, a custom emoji's fileUrl. After a day is sealed, a
// Capturer reads the day's sealed export, fetches every linked file from the hosts the
// operator allows (Fetcher: nothing else is ever contacted, not by redirect, not by a name
// that resolves to a private address), stores each file once per organization under its
// SHA-256, create-only, and appends a signed revision of the day's attachment index that
// gives every link's outcome: captured (SHA-256, size, content type) or failed and why.
//
// Sealing never waits on the network: capture reads what was sealed, and a failed capture
// is retried by later runs for a configurable period, each attempt a new revision of the
// index. A file fetched once for an organization is never fetched again, and a rerun
// that changes nothing fetches and writes nothing. See index.go for the keys.
//
// A Reader serves them back (the HTTP API's attachment endpoints): a day's latest index,
// and a file only when one of the organization's indexes names it as captured, found
// through the named records capture writes before each index (named.go).
package attach
