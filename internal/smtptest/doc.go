// Package smtptest runs a real SMTP server (github.com/emersion/go-smtp) on a loopback
// port for tests: STARTTLS with a certificate made for the test, optional PLAIN
// authentication, and every accepted message kept for the test to read.
package smtptest
