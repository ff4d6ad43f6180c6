package config

import (
	"net"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Attachments configures the capture of the files records link to (issue 14, package
// archiver/attach): after a day is sealed, every URL of its records (a text's
// attachments[].url, an item's itemUrl, a custom emoji's fileUrl) whose host is on
// AllowedHosts is fetched once and stored per organization by its SHA-256.
type Attachments struct {
	// Enabled (attachments.enabled) turns capture on; off by default.
	Enabled bool
	// AllowedHosts (attachments.allowedHosts) are the only hosts ever contacted, exact
	// host or host:port entries (no scheme, path or wildcard); an entry without a port
	// allows the scheme's default port. A name must resolve to public addresses; a server
	// on a private, loopback or link-local address is listed by that address. From the
	// environment, a comma-separated list.
	AllowedHosts []string
	// TokenFile (attachments.tokenFile) holds a bearer token sent to the allowed hosts
	// over https only, never logged; empty sends none.
	TokenFile string
	// TokenHosts (attachments.tokenHosts), when set, are the only allowed hosts the token
	// is sent to (entries of allowedHosts): an allowed host may be shared (a cloud storage
	// or CDN domain where anyone hosts files), and a chat user's link to a file of their
	// own there must not collect the token. Empty: every allowed host. From the
	// environment, a comma-separated list.
	TokenHosts []string
	// Concurrency (attachments.concurrency) is how many files are fetched at once.
	Concurrency int
	// MaxSize (attachments.maxSize) is the largest file captured; a larger one is
	// recorded as failed (too large) without being stored.
	MaxSize int64
	// ConnectTimeout (attachments.connectTimeout) bounds a connection's set-up (TCP and
	// TLS).
	ConnectTimeout time.Duration
	// HeaderTimeout (attachments.headerTimeout) bounds the wait for a response's headers
	// once the request is sent.
	HeaderTimeout time.Duration
	// Timeout (attachments.timeout) bounds one file's whole fetch, body included.
	Timeout time.Duration
	// RetryFor (attachments.retryFor) is how long after a day's end its failed captures
	// are retried by later runs (each attempt a new revision of the day's attachment
	// index); 0 never retries.
	RetryFor time.Duration
	// RetryEvery (attachments.retryEvery) spaces the retries of a day's failed captures:
	// the retry pass after each scheduler tick tries them again at most once per
	// retryEvery (each attempt appends an index revision); 0 tries at every pass.
	RetryEvery time.Duration
}

// defaultAttachments are Attachments' defaults: off, nothing allowed.
func defaultAttachments() Attachments {
	return Attachments{AllowedHosts: []string{}, TokenHosts: []string{}, Concurrency: 4, MaxSize: 100 << 20,
		ConnectTimeout: 10 * time.Second, HeaderTimeout: 30 * time.Second, Timeout: 10 * time.Minute,
		RetryFor: 7 * 24 * time.Hour, RetryEvery: time.Hour}
}

// attachmentKeys are the attachments.* keys, appended to keys.
var attachmentKeys = []key{
	{"attachments.enabled", "", "", setBool(func(c *Config) *bool { return &c.Attachments.Enabled })},
	{"attachments.allowedHosts", "", "", setStrings(func(c *Config) *[]string { return &c.Attachments.AllowedHosts })},
	{"attachments.tokenFile", "", "", setString(func(c *Config) *string { return &c.Attachments.TokenFile })},
	{"attachments.tokenHosts", "", "", setStrings(func(c *Config) *[]string { return &c.Attachments.TokenHosts })},
	{"attachments.concurrency", "", "", setInt(func(c *Config) *int { return &c.Attachments.Concurrency })},
	{"attachments.maxSize", "", "", setSize(func(c *Config) *int64 { return &c.Attachments.MaxSize })},
	{"attachments.connectTimeout", "", "", setDuration(func(c *Config) *time.Duration { return &c.Attachments.ConnectTimeout })},
	{"attachments.headerTimeout", "", "", setDuration(func(c *Config) *time.Duration { return &c.Attachments.HeaderTimeout })},
	{"attachments.timeout", "", "", setDuration(func(c *Config) *time.Duration { return &c.Attachments.Timeout })},
	{"attachments.retryFor", "", "", setDuration(func(c *Config) *time.Duration { return &c.Attachments.RetryFor })},
	{"attachments.retryEvery", "", "", setDuration(func(c *Config) *time.Duration { return &c.Attachments.RetryEvery })},
}

// init adds the attachments keys to the table here rather than in load.go, so that this
// feature's keys stay in one file.
func init() { keys = append(keys, attachmentKeys...) }

// attachmentProblems validates c.Attachments.
func (c *Config) attachmentProblems(add func(key, format string, args ...any)) {
	a := c.Attachments
	for _, h := range a.AllowedHosts {
		if err := CheckAllowedHost(h); err != "" {
			add("attachments.allowedHosts", "%q: %s", h, err)
		}
	}
	for _, h := range a.TokenHosts {
		if err := CheckAllowedHost(h); err != "" {
			add("attachments.tokenHosts", "%q: %s", h, err)
		} else if !slices.ContainsFunc(a.AllowedHosts, func(x string) bool { return strings.EqualFold(x, h) }) {
			add("attachments.tokenHosts", "%q is not on attachments.allowedHosts: the token only goes to hosts contacted", h)
		}
	}
	if a.Enabled && len(a.AllowedHosts) == 0 {
		add("attachments.allowedHosts", "is empty but attachments.enabled is set: no file could be captured")
	}
	if a.Concurrency < 1 || a.Concurrency > 64 {
		add("attachments.concurrency", "%d is not between 1 and 64", a.Concurrency)
	}
	if a.MaxSize < 1 {
		add("attachments.maxSize", "%s is not positive", FormatSize(a.MaxSize))
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{
		{"attachments.connectTimeout", a.ConnectTimeout}, {"attachments.headerTimeout", a.HeaderTimeout},
		{"attachments.timeout", a.Timeout},
	} {
		if d.v <= 0 {
			add(d.key, "%s is not positive", d.v)
		}
	}
	if a.RetryFor < 0 {
		add("attachments.retryFor", "%s is negative (0 never retries)", a.RetryFor)
	}
	if a.RetryEvery < 0 {
		add("attachments.retryEvery", "%s is negative (0 tries at every pass)", a.RetryEvery)
	}
}

// CheckAllowedHost returns what is wrong with an attachments.allowedHosts entry, or "":
// a host name or IP address, optionally with a port, nothing else.
func CheckAllowedHost(h string) string {
	if h == "" {
		return "empty entry"
	}
	if strings.ContainsAny(h, "/?#@*\\ ") || strings.Contains(h, "://") {
		return "not an exact host[:port] (no scheme, path, user or wildcard)"
	}
	host, port := h, ""
	if hh, p, err := net.SplitHostPort(h); err == nil {
		host, port = hh, p
	} else if strings.Count(h, ":") == 1 || strings.HasPrefix(h, "[") {
		return "malformed host:port"
	}
	if port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return "port " + port + " is not between 1 and 65535"
		}
	}
	if net.ParseIP(host) != nil {
		return ""
	}
	if host == "" || len(host) > 253 || strings.HasPrefix(host, ".") || strings.HasSuffix(host, ".") || strings.Contains(host, "..") {
		return "not a host name"
	}
	for _, r := range host {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.') {
			return "not a host name"
		}
	}
	return ""
}
