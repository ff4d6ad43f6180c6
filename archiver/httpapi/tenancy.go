package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/chatvault/chatvault/archiver"
)

// HeaderRedacted lists the fields left out of a manifest served to its organization.
const HeaderRedacted = "X-Chatvault-Manifest-Redacted"

// orgManifest is the manifest as its organization may see it. Version 2 manifests carry
// only the organization's own numbers and are served as stored. Version 1 manifests also
// carry the whole day's input counts and the key of the quarantine object every
// organization of the day shares: those are left out, and so is the signature, which
// covers the stored form and would not verify on this one. The header names what was
// left out; the stored manifest stays with the operator (chatvault verify checks it).
func orgManifest(w http.ResponseWriter, m *archiver.StoredManifest) ([]byte, error) {
	if m.Input == nil && m.Quarantine == nil {
		return m.Bytes, nil
	}
	cp := *m.Manifest
	var left []string
	if cp.Input != nil {
		cp.Input, left = nil, append(left, "input")
	}
	if cp.Quarantine != nil {
		cp.Quarantine, left = nil, append(left, "quarantine")
	}
	if cp.Signature != nil {
		cp.Signature, left = nil, append(left, "signature")
	}
	b, err := json.MarshalIndent(&cp, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("redact manifest %s: %w", m.Key, err)
	}
	w.Header().Set(HeaderRedacted, strings.Join(left, ", "))
	return append(b, '\n'), nil
}
