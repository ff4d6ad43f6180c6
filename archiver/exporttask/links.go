package exporttask

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Link errors (API: 403 invalid_link, 410 link_expired).
var (
	ErrLinkInvalid = errors.New("download link is not valid")
	ErrLinkExpired = errors.New("download link has expired")
)

// Links makes and checks signed download links:
//
//	<base>/v1/exports/tasks/<id>/download?org=<org>&by=<token id>&expires=<unix s>&nonce=<hex>&sig=<hex HMAC-SHA256>
//
// The link itself is the credential, like a presigned S3 URL: whoever holds it can
// download the result until it expires, and while the API token it was issued to (by: the
// token whose status call made it, or the task's creator for a mailed link) is valid: the
// server checks that token at every download, so that revoking a token ends its links.
// A random nonce makes every link different, so two status calls give two links that both
// work.
type Links struct {
	// Key signs links: exports.linkKeyFile's content, never anything from the store (whoever
	// could read the key could mint links to any result).
	Key []byte
	// Expiry is how long a link works (exports.urlExpiry).
	Expiry time.Duration
}

// LinkClockSkew is how far a link's expiry may lie beyond now plus Expiry and still be
// accepted: replicas sharing a key mint and check links with their own clocks.
const LinkClockSkew = time.Minute

// Make returns a new link to the task's result for the holder by (the API token's id the
// link is issued to, or the task's CreatedBy), valid from now for l.Expiry.
func (l Links) Make(base, org, id, by string, now time.Time) (string, time.Time) {
	// UTC: now is time.Now in serve, in the host's zone, and the expiry is answered as the
	// status's urlExpiresAt, whose every other time is UTC.
	expires := now.Add(l.Expiry).Truncate(time.Second).UTC()
	n := make([]byte, 16)
	rand.Read(n)
	nonce := hex.EncodeToString(n)
	exp := strconv.FormatInt(expires.Unix(), 10)
	q := url.Values{"org": {org}, "by": {by}, "expires": {exp}, "nonce": {nonce}, "sig": {l.sign(org, id, by, exp, nonce)}}
	return base + "/v1/exports/tasks/" + id + "/download?" + q.Encode(), expires
}

// Check verifies a link's query for the task id at now and returns the organization and
// the holder it was issued to (by), whose validity the caller checks. A link made before
// links named their holder does not check: it is refused, and the task's status gives a
// new one.
func (l Links) Check(id string, q url.Values, now time.Time) (org, by string, err error) {
	for _, k := range []string{"org", "by", "expires", "nonce", "sig"} {
		// Each once, as made: q.Get takes the first of two, while a log or a proxy may
		// read the last.
		if len(q[k]) > 1 {
			return "", "", ErrLinkInvalid
		}
	}
	org, by, exp, nonce, sig := q.Get("org"), q.Get("by"), q.Get("expires"), q.Get("nonce"), q.Get("sig")
	for _, f := range []string{org, by, exp, nonce} {
		if f == "" || strings.IndexByte(f, 0) >= 0 {
			return "", "", ErrLinkInvalid
		}
	}
	want := l.sign(org, id, by, exp, nonce)
	got, err := hex.DecodeString(sig)
	if err != nil || !hmac.Equal(got, mustHex(want)) {
		return "", "", ErrLinkInvalid
	}
	secs, err := strconv.ParseInt(exp, 10, 64)
	if err != nil {
		return "", "", ErrLinkInvalid
	}
	expires := time.Unix(secs, 0)
	// A valid signature is not enough: no link works longer than Expiry from now, so a
	// link minted under a longer setting, or by whoever holds the key, is refused.
	if expires.After(now.Add(l.Expiry + LinkClockSkew)) {
		return "", "", ErrLinkInvalid
	}
	if !now.Before(expires) {
		return "", "", ErrLinkExpired
	}
	return org, by, nil
}

func (l Links) sign(org, id, by, exp, nonce string) string {
	m := hmac.New(sha256.New, l.Key)
	// Length-free fields joined by a byte none of them can hold (ids are UUIDs, by a
	// token id or "cli:<user>", exp is digits, nonce is hex; Check refuses a field with
	// one). v2: v1 links named no holder.
	io.WriteString(m, "chatvault-task-link-v2\x00"+org+"\x00"+id+"\x00"+by+"\x00"+exp+"\x00"+nonce)
	return hex.EncodeToString(m.Sum(nil))
}

func mustHex(s string) []byte {
	b, _ := hex.DecodeString(s)
	return b
}

// MinKeySize is the smallest link-signing key accepted (exports.linkKeyFile): 256 bits.
const MinKeySize = 32

// NewKey returns a random key of MinKeySize bytes: the key of one process, for when none
// is configured. Its links stop working when the process ends.
func NewKey() []byte {
	k := make([]byte, MinKeySize)
	rand.Read(k) // never fails (crypto/rand)
	return k
}
