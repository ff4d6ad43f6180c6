package model

import (
	"bytes"
	"fmt"
	"io"
	"strings"
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

// ParseDirectory decodes and validates a directory snapshot held in memory; see
// DecodeDirectory.
func ParseDirectory(data []byte) (*Directory, error) {
	return DecodeDirectory(bytes.NewReader(data))
}

// DecodeDirectory decodes and validates a directory snapshot read from r. Unknown fields
// are ignored (the platform may add some); missing ids, duplicate ids, users or bots of
// unknown organizations and malformed archival start days are errors that name the entry.
//
// Chat members that are not users are allowed: they may be bots or occupants, which the
// inclusion rules do not count as members of an organization.
//
// It streams: the four lists are decoded one entry at a time, so it holds the entry being
// read and what it keeps of the others, never the input whole. A platform's snapshot runs
// to tens of megabytes; decoding the top-level object in one call would buffer all of it
// first (encoding/json reads a whole value before it decodes it), and a caller that reads
// the file into memory keeps it as long as it keeps the slice. It decodes as
// json.Unmarshal would, faster (dirdecode.go).
func DecodeDirectory(r io.Reader) (*Directory, error) {
	var d Directory
	dr := &dirReader{r: r, buf: make([]byte, 0, dirReadSize), ids: interner{}} // dirdecode.go
	err := dr.directory(&d)
	if err == nil {
		err = dr.end()
	}
	if err != nil {
		return nil, fmt.Errorf("directory: %w", err)
	}
	return &d, d.Validate()
}

// interner keeps one string per id while a directory is decoded. Ids repeat: every user
// and bot names its organization, every chat its members, who are the users and bots
// listed. Keeping one string per id (the first seen) saves 48 bytes a repetition, tens of
// megabytes on a platform of 50,000 organizations, for as long as the directory is held.
type interner map[string]string

func (in interner) of(s string) string {
	if v, ok := in[s]; ok {
		return v
	}
	in[s] = s
	return s
}

// MaxRetentionDays is the longest retentionDays a directory may give an organization:
// 100 years, longer than any retention rule, and a lock date S3 can represent.
const MaxRetentionDays = 36525

// Validate checks the snapshot's internal references. Errors name the entry by its index
// and, once it has one, its id.
//
// Two organization ids that differ only in case are refused too: an organization's id
// names its store folder (orgs/<id>/), and on a case-insensitive file system (macOS,
// Windows, some SMB and NFS shares) the two would be one folder, their chains and exports
// mixed and each readable with the other's token. Ids are UUIDs, in which case does not
// matter, so such a pair is one organization spelled twice or a platform bug; either way
// nothing is sealed until the snapshot says which it is.
func (d *Directory) Validate() error {
	orgs := make(map[string]bool, len(d.Organizations))
	folded := make(map[string]int, len(d.Organizations)) // lower-case id → index
	for i, o := range d.Organizations {
		j, clash := folded[strings.ToLower(o.ID)]
		switch {
		case o.ID == "":
			return fmt.Errorf("directory: organizations[%d].id: missing", i)
		case orgs[o.ID]:
			return fmt.Errorf("directory: organizations[%d].id: duplicate %q", i, o.ID)
		case clash:
			return fmt.Errorf("directory: organizations[%d].id: %q differs from organizations[%d].id %q only in case: "+
				"their store folders would be one on a case-insensitive file system (one organization spelled twice: keep one spelling; two organizations: give them ids that differ in more than case)", i, o.ID, j, d.Organizations[j].ID)
		case o.RetentionDays < 0:
			return fmt.Errorf("directory: organizations[%d] (%q).retentionDays: negative", i, o.ID)
		case o.RetentionDays > MaxRetentionDays:
			// It becomes an Object Lock retain-until date, the day's end plus this many
			// days: past the year 9999 S3 refuses the date, and a huge value wraps
			// time.AddDate around to the day itself, so every seal of the organization
			// failed on a locking bucket with a date error.
			return fmt.Errorf("directory: organizations[%d] (%q).retentionDays: %d is more than %d (100 years)", i, o.ID, o.RetentionDays, MaxRetentionDays)
		}
		if o.ArchivalStart != "" {
			start, err := time.Parse("2006-01-02", o.ArchivalStart)
			if err != nil {
				return fmt.Errorf("directory: organizations[%d] (%q).archivalStart: %q is not YYYY-MM-DD", i, o.ID, o.ArchivalStart)
			}
			// No day before 1970 exists for the archive (archiver.ParseDay refuses it: days
			// end up in store keys and epoch-ms windows). Accepted here, such a start (a
			// producer's zero date, 0001-01-01) would route the organization's events
			// while the scheduler, the freshness metrics and verify, which parse it as a
			// day, skipped the organization.
			if start.Year() < 1970 {
				return fmt.Errorf("directory: organizations[%d] (%q).archivalStart: %q is before 1970-01-01", i, o.ID, o.ArchivalStart)
			}
		}
		orgs[o.ID] = true
		folded[strings.ToLower(o.ID)] = i
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
