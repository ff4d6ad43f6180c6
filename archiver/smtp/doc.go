// Package smtp delivers the mail chatvault sends: the download link of a finished export
// task, never the data itself. It speaks plain SMTP (net/smtp) to a relay, upgrading the
// connection with STARTTLS before any credential or address is sent unless configured
// otherwise, and refuses anything that could inject a header.
package smtp
