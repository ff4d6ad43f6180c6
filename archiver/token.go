package archiver

import (
	"errors"
	"slices"
	"time"
)

// API scopes a token can carry.
const (
	// ScopeComplianceRead lets a token fetch its organization's exports and manifests.
	ScopeComplianceRead = "admin:compliance:read"
	// ScopeAuditRead lets a token read the access audit log.
	ScopeAuditRead = "admin:audit:read"
)

// Scopes lists every scope, for validation.
var Scopes = []string{ScopeComplianceRead, ScopeAuditRead}

// ErrInvalidToken is returned (wrapped) for a token that is unknown, malformed, revoked
// or expired. Callers learn no more than that: which of those it was is not a client's business.
var ErrInvalidToken = errors.New("invalid token")

// Token is an API token as stored: everything about it except the secret, of which only
// the SHA-256 is kept.
type Token struct {
	// ID names the token in listings, audit records and revocation.
	ID string `json:"id"`
	// Name is a free label chosen by the operator (who or what holds the token).
	Name string `json:"name"`
	// Org is the one organization the token reaches.
	Org string `json:"org"`
	// Scopes are what the token may do.
	Scopes []string `json:"scopes"`
	// SHA256 is the hex SHA-256 of the secret.
	SHA256 string `json:"sha256"`
	// Created is when the token was minted.
	Created time.Time `json:"created"`
	// Expires, when not zero, is when the token stops working.
	Expires time.Time `json:"expires,omitzero"`
}

// HasScope reports whether t carries scope.
func (t Token) HasScope(scope string) bool { return slices.Contains(t.Scopes, scope) }

// Expired reports whether t has expired at now.
func (t Token) Expired(now time.Time) bool { return !t.Expires.IsZero() && !now.Before(t.Expires) }
