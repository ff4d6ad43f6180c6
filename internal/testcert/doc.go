// Package testcert makes the self-signed certificates of tests that need TLS on loopback:
// serve's https, an SMTP relay's STARTTLS, an S3 endpoint behind an HTTPS proxy.
package testcert
