package tokenfile

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/google/uuid"
)

// Prefix starts every token, so that a leaked one is recognisable (secret scanners, logs).
const Prefix = "cvt_"

// secretBytes is the token's entropy: 256 bits.
const secretBytes = 32

// File is the tokens file's content.
type File struct {
	Tokens []archiver.Token `json:"tokens"`
}

// Read reads the tokens file at path; a missing file is an empty one, so that the first
// `token create` needs no setup.
func Read(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &File{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("tokenfile: %w", err)
	}
	var f File
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("tokenfile: %s: %w", path, err)
	}
	return &f, nil
}

// Write replaces the file at path atomically with mode 0600: the secrets' hashes are not
// secrets, but the organizations and names are nobody else's business either. Written by
// root, the file keeps its owner and group (serve's user must go on reading it).
func (f *File) Write(path string) error {
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("tokenfile: %w", err)
	}
	b = append(b, '\n')
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("tokenfile: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename this fails harmlessly
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("tokenfile: %w", err)
	}
	if err := keepOwner(tmp, path); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("tokenfile: write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("tokenfile: sync: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("tokenfile: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("tokenfile: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync() // the rename is durable once the directory is; best effort where unsupported
		d.Close()
	}
	return nil
}

// LockSuffix names the lock file beside the tokens file (tokens.json.lock). It is never
// removed: removing it while another writer waits on it would let two writers in at once.
const LockSuffix = ".lock"

// Update changes the tokens file at path: under an exclusive lock on its sibling lock
// file, it reads the file, lets fn change it, and writes it back (Write: a rename into
// place, so readers such as serve never see half a file). Writers in any process take the
// lock, so a `token create` and a `token revoke` running at once can no longer both read
// the old file and lose one write. When fn fails, nothing is written.
func Update(path string, fn func(f *File) error) error {
	unlock, err := lock(path + LockSuffix)
	if err != nil {
		return err
	}
	defer unlock()
	f, err := Read(path)
	if err != nil {
		return err
	}
	if err := fn(f); err != nil {
		return err
	}
	return f.Write(path)
}

// RevokeFile revokes the token id (see File.Revoke) in the file at path, then reads the
// file again and confirms the token is gone: a revocation that reports success must be
// one, whatever else edits the file (a hand edit, a writer on a host without flock).
func RevokeFile(path, id string) (archiver.Token, error) {
	var t archiver.Token
	err := Update(path, func(f *File) error {
		var err error
		t, err = f.Revoke(id)
		return err
	})
	if err != nil {
		return archiver.Token{}, err
	}
	if afterRevokeWrite != nil {
		afterRevokeWrite(path)
	}
	f, err := Read(path)
	if err != nil {
		return t, fmt.Errorf("tokenfile: confirm revocation of %s: %w", t.ID, err)
	}
	for _, u := range f.Tokens {
		if u.ID == t.ID || u.SHA256 == t.SHA256 {
			return t, fmt.Errorf("tokenfile: token %s is still in %s after its revocation was written; it was NOT revoked", t.ID, path)
		}
	}
	return t, nil
}

// afterRevokeWrite, set by tests only, runs between RevokeFile's write and its check.
var afterRevokeWrite func(path string)

// CheckOrg refuses an organization id a token cannot reach: anything but a UUID in its
// canonical form (lower case, hyphenated), the spelling the directory and the seal use
// for the organization's key space (orgs/<org>/). uuid.Validate alone also takes upper
// case, braces, a urn:uuid: prefix and no hyphens: such a token was minted and every
// request with it found "no archive for this organization".
func CheckOrg(org string) error {
	u, err := uuid.Parse(org)
	switch {
	case err != nil:
		return fmt.Errorf("organization %q is not a UUID", org)
	case u.String() != org:
		return fmt.Errorf("organization %q is not a UUID in its canonical form (lower case, with hyphens): did you mean %s?", org, u)
	}
	return nil
}

// Mint creates a token for org with scopes, adds it to f and returns the secret, which
// exists nowhere else: the caller prints it once.
func (f *File) Mint(rnd io.Reader, org, name string, scopes []string, now time.Time, ttl time.Duration) (string, archiver.Token, error) {
	if err := CheckOrg(org); err != nil {
		return "", archiver.Token{}, err
	}
	if len(scopes) == 0 {
		return "", archiver.Token{}, errors.New("at least one scope is required")
	}
	for _, s := range scopes {
		if !slices.Contains(archiver.Scopes, s) {
			return "", archiver.Token{}, fmt.Errorf("unknown scope %q (known: %s)", s, strings.Join(archiver.Scopes, ", "))
		}
	}
	if ttl < 0 {
		return "", archiver.Token{}, errors.New("expiry must be positive")
	}
	buf := make([]byte, secretBytes)
	if _, err := io.ReadFull(rnd, buf); err != nil {
		return "", archiver.Token{}, fmt.Errorf("tokenfile: random: %w", err)
	}
	secret := Prefix + base64.RawURLEncoding.EncodeToString(buf)
	id, err := uuid.NewRandomFromReader(rnd)
	if err != nil {
		return "", archiver.Token{}, fmt.Errorf("tokenfile: random: %w", err)
	}
	t := archiver.Token{
		ID: id.String(), Name: name, Org: org, Scopes: slices.Clone(scopes),
		SHA256: Hash(secret), Created: now.UTC().Truncate(time.Second),
	}
	if ttl > 0 {
		t.Expires = t.Created.Add(ttl)
	}
	f.Tokens = append(f.Tokens, t)
	return secret, t, nil
}

// ErrTokenID is wrapped by Revoke's errors about the id itself (unknown, ambiguous): the
// caller's mistake, not the file's.
var ErrTokenID = errors.New("bad token id")

// Revoke removes the token with id (or, for convenience, the unique token whose id starts
// with it); it reports which one it removed.
func (f *File) Revoke(id string) (archiver.Token, error) {
	match := -1
	for i, t := range f.Tokens {
		if t.ID == id || (len(id) >= 8 && strings.HasPrefix(t.ID, id)) {
			if match >= 0 {
				return archiver.Token{}, fmt.Errorf("%w: token id %q is ambiguous", ErrTokenID, id)
			}
			match = i
		}
	}
	if match < 0 {
		return archiver.Token{}, fmt.Errorf("%w: no token with id %q", ErrTokenID, id)
	}
	t := f.Tokens[match]
	f.Tokens = slices.Delete(f.Tokens, match, match+1)
	return t, nil
}

// Hash returns the hex SHA-256 of a secret, as stored.
func Hash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// Set is the tokens the API accepts, safe for concurrent use and reloadable.
//
// Lookup hashes the presented secret and looks the hash up in a map. That leaks no useful
// timing: how long the map takes depends on the hash, and an attacker who cannot invert
// SHA-256 cannot steer the hash towards a stored one byte by byte, as they could with a
// plain string comparison of secrets.
type Set struct {
	path string

	mu      sync.RWMutex
	byHash  map[[sha256.Size]byte]archiver.Token
	byID    map[string]archiver.Token
	modTime time.Time
	size    int64
}

// Open loads the tokens file at path.
func Open(path string) (*Set, error) {
	s := &Set{path: path}
	if err := s.Reload(); err != nil {
		return nil, err
	}
	return s, nil
}

// Reload re-reads the file. On error the previous tokens stay in force: a half-edited
// file must not lock everybody out, nor let anybody in.
func (s *Set) Reload() error {
	var mod time.Time
	var size int64
	if fi, err := os.Stat(s.path); err == nil {
		mod, size = fi.ModTime(), fi.Size()
	}
	f, err := Read(s.path)
	if err != nil {
		return err
	}
	m := make(map[[sha256.Size]byte]archiver.Token, len(f.Tokens))
	ids := make(map[string]archiver.Token, len(f.Tokens))
	for _, t := range f.Tokens {
		b, err := hex.DecodeString(t.SHA256)
		if err != nil || len(b) != sha256.Size {
			return fmt.Errorf("tokenfile: %s: token %s: bad sha256", s.path, t.ID)
		}
		// The organization becomes part of store keys (orgs/<org>/…): a hand-edited
		// file must not be able to point a token at "../" or at another key space.
		if err := uuid.Validate(t.Org); err != nil {
			return fmt.Errorf("tokenfile: %s: token %s: organization is not a UUID", s.path, t.ID)
		}
		m[[sha256.Size]byte(b)] = t
		ids[t.ID] = t
	}
	s.mu.Lock()
	s.byHash, s.byID, s.modTime, s.size = m, ids, mod, size
	s.mu.Unlock()
	return nil
}

// Changed reports whether the file's modification time or size differ from what was last
// loaded; a poller calls Reload when it does.
func (s *Set) Changed() bool {
	var mod time.Time
	var size int64
	if fi, err := os.Stat(s.path); err == nil {
		mod, size = fi.ModTime(), fi.Size()
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return !mod.Equal(s.modTime) || size != s.size
}

// Len is the number of tokens loaded.
func (s *Set) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.byHash)
}

// Lookup returns the token whose secret is presented, or an error wrapping
// archiver.ErrInvalidToken when it is malformed, unknown (including revoked) or expired.
func (s *Set) Lookup(secret string, now time.Time) (archiver.Token, error) {
	if !strings.HasPrefix(secret, Prefix) || len(secret) > 256 {
		return archiver.Token{}, fmt.Errorf("malformed: %w", archiver.ErrInvalidToken)
	}
	sum := sha256.Sum256([]byte(secret))
	s.mu.RLock()
	t, ok := s.byHash[sum]
	s.mu.RUnlock()
	if !ok {
		return archiver.Token{}, fmt.Errorf("unknown: %w", archiver.ErrInvalidToken)
	}
	if t.Expired(now) {
		return archiver.Token{}, fmt.Errorf("expired: %w", archiver.ErrInvalidToken)
	}
	return t, nil
}

// ByID returns the token with id, or an error wrapping archiver.ErrInvalidToken when
// there is none (including a revoked one) or it has expired: the check of the token a
// download link was issued to (httpapi), which holds its id, never its secret.
func (s *Set) ByID(id string, now time.Time) (archiver.Token, error) {
	s.mu.RLock()
	t, ok := s.byID[id]
	s.mu.RUnlock()
	if !ok || id == "" {
		return archiver.Token{}, fmt.Errorf("unknown: %w", archiver.ErrInvalidToken)
	}
	if t.Expired(now) {
		return archiver.Token{}, fmt.Errorf("expired: %w", archiver.ErrInvalidToken)
	}
	return t, nil
}

// DefaultRandom is the source of secrets.
var DefaultRandom io.Reader = rand.Reader
