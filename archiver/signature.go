package archiver

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
)

// Every signed object of the store (manifests, accounting objects, audit segments, key
// rotations, witnesses) is signed the same way: an Ed25519 signature over the object's own
// encoding without its signature, carrying the signer's public key and its key id. One
// signer and one checker serve them all, so that a rule (the key id must name the key, the
// key must be trusted) cannot hold for one kind of object and be forgotten for another.

// ErrBadSignature is returned (wrapped) when a signature does not verify.
var ErrBadSignature = errors.New("signature does not verify")

// NewSignature signs body, an object's encoding without its signature, with key.
func NewSignature(key ed25519.PrivateKey, body []byte) *Signature {
	pub := key.Public().(ed25519.PublicKey)
	return &Signature{
		Algorithm: "ed25519",
		PublicKey: base64.StdEncoding.EncodeToString(pub),
		Value:     base64.StdEncoding.EncodeToString(ed25519.Sign(key, body)),
		KeyID:     KeyID(pub),
	}
}

// signatureKey returns the public key sig carries and its key id, checking that a keyId
// the signature names is that key's (signatures made before key ids have none).
func signatureKey(sig *Signature) (ed25519.PublicKey, string, error) {
	if sig.Algorithm != "ed25519" {
		return nil, "", fmt.Errorf("%w: unknown algorithm %q", ErrBadSignature, sig.Algorithm)
	}
	pub, err := base64.StdEncoding.DecodeString(sig.PublicKey)
	if err != nil || len(pub) != ed25519.PublicKeySize {
		return nil, "", fmt.Errorf("%w: malformed public key", ErrBadSignature)
	}
	id := KeyID(pub)
	if sig.KeyID != "" && sig.KeyID != id {
		return nil, "", fmt.Errorf("%w: keyId %s does not name the signature's public key (%s)", ErrBadSignature, sig.KeyID, id)
	}
	return pub, id, nil
}

// checkSignature verifies sig over body, the encoding of the object (what names it, for
// errors) without its signature. With trusted keys, the signer must be one of them and an
// unsigned object (sig nil) fails: anyone could have written it. Without, the key the
// signature carries is used, which proves integrity, not origin.
func checkSignature(what string, sig *Signature, body []byte, trusted []ed25519.PublicKey) error {
	if sig == nil {
		if len(trusted) > 0 {
			return fmt.Errorf("%w: %s is not signed", ErrBadSignature, what)
		}
		return nil
	}
	pub, id, err := signatureKey(sig)
	if err != nil {
		return err
	}
	if len(trusted) > 0 && !slices.ContainsFunc(trusted, func(k ed25519.PublicKey) bool { return bytes.Equal(k, pub) }) {
		return fmt.Errorf("%w: %s signed by untrusted key %s (not among the trusted public keys)", ErrBadSignature, what, id)
	}
	value, err := base64.StdEncoding.DecodeString(sig.Value)
	if err != nil {
		return fmt.Errorf("%w: %s: malformed signature", ErrBadSignature, what)
	}
	if !ed25519.Verify(pub, body, value) {
		return fmt.Errorf("%w: %s", ErrBadSignature, what)
	}
	return nil
}

// SignBody signs body, an object's encoding without its signature, with key: the scheme
// of every signed object, for the objects sub-packages keep (export task completions).
func SignBody(key ed25519.PrivateKey, body []byte) *Signature { return NewSignature(key, body) }

// CheckSignature verifies sig over body (see checkSignature): with trusted keys, an
// unsigned object or one signed by another key fails with ErrBadSignature.
func CheckSignature(what string, sig *Signature, body []byte, trusted []ed25519.PublicKey) error {
	return checkSignature(what, sig, body, trusted)
}

// SignerID returns the key id of the key sig carries ("" when sig is nil: unsigned),
// checking that a keyId it names is that key's.
func SignerID(sig *Signature) (string, error) {
	if sig == nil {
		return "", nil
	}
	_, id, err := signatureKey(sig)
	return id, err
}

// UnsignedBody returns stored, an object's stored encoding (one JSON object), without its
// top-level "signature" member and compacted: what its writer signed under SignBody's
// scheme. Every
// other member is kept as stored and in order, so that a field this version does not
// know (the object of a newer chatvault: a rolling upgrade's other replica, or before a
// roll-back) stays covered. Decoding the object and encoding it again drops such a field
// and fails the signature of a good object.
func UnsignedBody(stored []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(stored))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, errors.New("not a JSON object")
	}
	out := []byte{'{'}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		name, _ := tok.(string) // a member's name: Token returns nothing else here
		if name == "signature" {
			continue
		}
		if len(out) > 1 {
			out = append(out, ',')
		}
		k, err := json.Marshal(name)
		if err != nil {
			return nil, err
		}
		out = append(append(append(out, k...), ':'), v...)
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("data after the JSON object")
	}
	// A writer signs the compact encoding and may store it indented (export tasks'
	// records): compacting undoes the indent alone, strings untouched.
	var c bytes.Buffer
	if err := json.Compact(&c, append(out, '}')); err != nil {
		return nil, err
	}
	return c.Bytes(), nil
}
