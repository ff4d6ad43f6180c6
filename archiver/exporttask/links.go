package exporttask

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"time"

	"github.com/chatvault/chatvault/archiver"
)

// Link errors (API: 403 invalid_link, 410 link_expired).
var (
	ErrLinkInvalid = errors.New("download link is not valid")
	ErrLinkExpired = errors.New("download link has expired")
)

// Links makes and checks signed download links:
//
//	<base>/v1/exports/tasks/<id>/download?org=<org>&expires=<unix s>&nonce=<hex>&sig=<hex HMAC-SHA256>
//
// The link itself is the credential, like a presigned S3 URL: whoever holds it can
// download the result until it expires. A random nonce makes every link different, so two
// status calls give two links that both work.
type Links struct {
	// Key signs links (see LoadKey).
	Key []byte
	// Expiry is how long a link works (exports.urlExpiry).
	Expiry time.Duration
}

// Make returns a new link to the task's result, valid from now for l.Expiry.
func (l Links) Make(base, org, id string, now time.Time) (string, time.Time) {
	expires := now.Add(l.Expiry).Truncate(time.Second)
	n := make([]byte, 16)
	rand.Read(n)
	nonce := hex.EncodeToString(n)
	exp := strconv.FormatInt(expires.Unix(), 10)
	q := url.Values{"org": {org}, "expires": {exp}, "nonce": {nonce}, "sig": {l.sign(org, id, exp, nonce)}}
	return base + "/v1/exports/tasks/" + id + "/download?" + q.Encode(), expires
}

// Check verifies a link's query for the task id at now and returns the organization.
func (l Links) Check(id string, q url.Values, now time.Time) (string, error) {
	org, exp, nonce, sig := q.Get("org"), q.Get("expires"), q.Get("nonce"), q.Get("sig")
	want := l.sign(org, id, exp, nonce)
	got, err := hex.DecodeString(sig)
	if err != nil || org == "" || nonce == "" || !hmac.Equal(got, mustHex(want)) {
		return "", ErrLinkInvalid
	}
	secs, err := strconv.ParseInt(exp, 10, 64)
	if err != nil {
		return "", ErrLinkInvalid
	}
	if !now.Before(time.Unix(secs, 0)) {
		return "", ErrLinkExpired
	}
	return org, nil
}

func (l Links) sign(org, id, exp, nonce string) string {
	m := hmac.New(sha256.New, l.Key)
	// Length-free fields joined by a byte none of them can hold (ids are UUIDs, exp is
	// digits, nonce is hex; org comes from a token or is checked against the signature).
	io.WriteString(m, "chatvault-task-link-v1\x00"+org+"\x00"+id+"\x00"+exp+"\x00"+nonce)
	return hex.EncodeToString(m.Sum(nil))
}

func mustHex(s string) []byte {
	b, _ := hex.DecodeString(s)
	return b
}

// linkKey is where the link-signing key is kept: in the store, beside what it protects,
// so every replica signs and checks with the same key. It is outside tasks/, so the
// janitor can never delete it.
const linkKey = "keys/export-task-links.key"

// LoadKey returns the store's link-signing key, creating it (32 random bytes) on first
// use. Create is create-only: when two replicas race, one key wins and both read it.
func LoadKey(ctx context.Context, s archiver.Store) ([]byte, error) {
	if b, err := readKey(ctx, s); err == nil || !errors.Is(err, archiver.ErrNotFound) {
		return b, err
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("link key: %w", err)
	}
	err := s.Create(ctx, linkKey, bytes.NewReader(key), int64(len(key)), sha256.Sum256(key), archiver.CreateOptions{})
	if err != nil && !errors.Is(err, archiver.ErrConflict) {
		return nil, fmt.Errorf("link key: %w", err)
	}
	return readKey(ctx, s)
}

func readKey(ctx context.Context, s archiver.Store) ([]byte, error) {
	rc, err := s.Open(ctx, linkKey)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("link key: %w", err)
	}
	if len(b) != 32 {
		return nil, fmt.Errorf("link key %s: %d bytes, want 32", linkKey, len(b))
	}
	return b, nil
}
