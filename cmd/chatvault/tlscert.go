package main

import (
	"crypto/tls"
	"fmt"
	"os"
	"sync"
	"time"
)

// certificate is serve's TLS certificate, read again on SIGHUP and when either file
// changes: certificates are short-lived now (ACME, cert-manager rotate them every few
// weeks), and a renewal must not need a restart that drops downloads in flight. A pair that
// does not load keeps the previous one in force, as with the tokens file.
type certificate struct {
	certFile, keyFile string

	mu    sync.RWMutex
	cert  *tls.Certificate
	stamp string // modification times and sizes of both files when last loaded
}

func loadCertificate(certFile, keyFile string) (*certificate, error) {
	c := &certificate{certFile: certFile, keyFile: keyFile}
	if err := c.reload(); err != nil {
		return nil, err
	}
	return c, nil
}

// stampOf identifies the files' current versions without reading them.
func (c *certificate) stampOf() string {
	var s string
	for _, p := range []string{c.certFile, c.keyFile} {
		if fi, err := os.Stat(p); err == nil {
			s += fmt.Sprintf("%d/%d;", fi.ModTime().UnixNano(), fi.Size())
		}
	}
	return s
}

func (c *certificate) reload() error {
	stamp := c.stampOf()
	pair, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return fmt.Errorf("http.tls: %w", err)
	}
	c.mu.Lock()
	c.cert, c.stamp = &pair, stamp
	c.mu.Unlock()
	return nil
}

func (c *certificate) changed() bool {
	stamp := c.stampOf()
	c.mu.RLock()
	defer c.mu.RUnlock()
	return stamp != c.stamp
}

// get is tls.Config.GetCertificate: every handshake takes the current pair.
func (c *certificate) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.cert, nil
}

// notAfter is the leaf's expiry, for the log.
func (c *certificate) notAfter() time.Time {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.cert.Leaf == nil {
		return time.Time{}
	}
	return c.cert.Leaf.NotAfter
}

// tlsConfig is serve's TLS configuration: TLS 1.2 at least (1.0 and 1.1 are deprecated,
// RFC 8996) with Go's default cipher suites. It offers HTTP/1.1 only: the API serves a
// few long downloads, which gain nothing from HTTP/2's multiplexing, and the slow-client
// timeouts (http.readHeaderTimeout and the others) are those of HTTP/1.1's server.
func (c *certificate) tlsConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: c.get, NextProtos: []string{"http/1.1"}}
}
