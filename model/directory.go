package model

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// Directory is the platform's snapshot of who belongs where (directory.json).
type Directory struct {
	Organizations []Organization `json:"organizations"`
	Users         []User         `json:"users"`
	Bots          []Bot          `json:"bots"`
	Chats         []Chat         `json:"chats"`
}

// Organization is a customer organization.
type Organization struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Archival is true when the organization has turned archival on.
	Archival bool `json:"archival"`
	// ArchivalStart is the first day (YYYY-MM-DD) to archive; empty means no lower bound.
	ArchivalStart string `json:"archivalStart"`
	// RetentionDays is how long its archive must be kept (Object Lock retain-until on S3).
	RetentionDays int `json:"retentionDays"`
}

// User is an account; it sends as an email participant.
type User struct {
	ID          string `json:"id"`
	OrgID       string `json:"orgId"`
	Email       string `json:"email"`
	DisplayName string `json:"displayName"`
}

// Bot is a bot integration that belongs to an organization.
type Bot struct {
	ID            string `json:"id"`
	OrgID         string `json:"orgId"`
	RoamID        string `json:"roamId"`
	IntegrationID string `json:"integrationId"`
	BotCode       string `json:"botCode"`
}

// Chat lists a chat's current members (participant ids: users, bots, occupants).
type Chat struct {
	ID      string   `json:"id"`
	Members []string `json:"members"`
}

// ParseDirectory decodes and validates a directory snapshot. Unknown fields are ignored
// (the platform may add some); missing ids, duplicate ids, users or bots of unknown
// organizations and malformed archival start days are errors that name the entry.
//
// Chat members that are not users are allowed: they may be bots or occupants, which the
// inclusion rules do not count as members of an organization.
func ParseDirectory(data []byte) (*Directory, error) {
	var d Directory
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("directory: %w", err)
	}
	// More would miss a stray '}' or ']'; only the end of the input will do.
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("directory: trailing data after the top-level object")
	}
	return &d, d.Validate()
}

// Validate checks the snapshot's internal references. Errors name the entry by its index
// and, once it has one, its id.
func (d *Directory) Validate() error {
	orgs := make(map[string]bool, len(d.Organizations))
	for i, o := range d.Organizations {
		switch {
		case o.ID == "":
			return fmt.Errorf("directory: organizations[%d].id: missing", i)
		case orgs[o.ID]:
			return fmt.Errorf("directory: organizations[%d].id: duplicate %q", i, o.ID)
		case o.RetentionDays < 0:
			return fmt.Errorf("directory: organizations[%d] (%q).retentionDays: negative", i, o.ID)
		}
		if o.ArchivalStart != "" {
			if _, err := time.Parse("2006-01-02", o.ArchivalStart); err != nil {
				return fmt.Errorf("directory: organizations[%d] (%q).archivalStart: %q is not YYYY-MM-DD", i, o.ID, o.ArchivalStart)
			}
		}
		orgs[o.ID] = true
	}
	ids := make(map[string]bool, len(d.Users)+len(d.Bots))
	for i, u := range d.Users {
		switch {
		case u.ID == "":
			return fmt.Errorf("directory: users[%d].id: missing", i)
		case ids[u.ID]:
			return fmt.Errorf("directory: users[%d].id: duplicate %q", i, u.ID)
		case !orgs[u.OrgID]:
			return fmt.Errorf("directory: users[%d] (%q).orgId: unknown organization %q", i, u.ID, u.OrgID)
		}
		ids[u.ID] = true
	}
	for i, b := range d.Bots {
		switch {
		case b.ID == "":
			return fmt.Errorf("directory: bots[%d].id: missing", i)
		case ids[b.ID]:
			return fmt.Errorf("directory: bots[%d].id: duplicate %q", i, b.ID)
		case !orgs[b.OrgID]:
			return fmt.Errorf("directory: bots[%d] (%q).orgId: unknown organization %q", i, b.ID, b.OrgID)
		}
		ids[b.ID] = true
	}
	chats := make(map[string]bool, len(d.Chats))
	for i, c := range d.Chats {
		switch {
		case c.ID == "":
			return fmt.Errorf("directory: chats[%d].id: missing", i)
		case chats[c.ID]:
			return fmt.Errorf("directory: chats[%d].id: duplicate %q", i, c.ID)
		}
		chats[c.ID] = true
	}
	return nil
}
