package archiver

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// AccessRecord is one line of the access audit: who asked for which export, and what
// they got. A compliance archive must show who read it.
type AccessRecord struct {
	// Time is when the request finished (UTC).
	Time time.Time `json:"time"`
	// TokenID and TokenName identify the caller; empty when no valid token was presented.
	TokenID   string `json:"tokenId"`
	TokenName string `json:"tokenName"`
	// Org is the token's organization (the only one it can reach).
	Org string `json:"org"`
	// Date is the day asked for, as sent (it may be invalid).
	Date string `json:"date"`
	// Status is the HTTP status; Error the API error code when it was not 200.
	Status int    `json:"status"`
	Error  string `json:"error,omitempty"`
	// Revision is the revision served.
	Revision int `json:"revision,omitempty"`
	// Bytes is how many body bytes were sent, Encoding their content coding ("gzip" or
	// "identity"), and SHA256 the hex SHA-256 of exactly those bytes.
	Bytes    int64  `json:"bytes"`
	Encoding string `json:"encoding,omitempty"`
	SHA256   string `json:"sha256,omitempty"`
	// Complete is false when the transfer stopped early (client gone, read error).
	Complete bool `json:"complete"`
	// Client is the client's address as the server saw it.
	Client string `json:"client"`
	// Action is empty for a day's export (POST /messageevent.export); for export tasks it
	// is task.create, task.status, task.list or task.download, with the task's id in TaskID
	// and its range (from..to) in Date.
	Action string `json:"action,omitempty"`
	TaskID string `json:"taskId,omitempty"`
}

// Audit actions of export tasks.
const (
	ActionTaskCreate   = "task.create"
	ActionTaskStatus   = "task.status"
	ActionTaskList     = "task.list"
	ActionTaskDownload = "task.download"
)

// AuditLog appends access records to the store and reads them back.
//
// The store is create-only, so the log is one small object per request, under
// audit/<day of access>/<time>-<uuid>.json: keys sort by time within a day, the uuid
// keeps two requests of one nanosecond apart, and nothing is ever rewritten. Append
// returns once the store has the object: a request is answered only after it is audited.
type AuditLog struct {
	Store Store
}

func auditPrefix(day Day) string { return "audit/" + day.String() + "/" }

// Append stores r.
func (a AuditLog) Append(ctx context.Context, r AccessRecord) error {
	r.Time = r.Time.UTC()
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	b = append(b, '\n')
	key := auditPrefix(DayOf(r.Time)) + r.Time.Format("150405.000000000") + "-" + uuid.NewString() + ".json"
	if err := a.Store.Create(ctx, key, bytes.NewReader(b), int64(len(b)), sha256.Sum256(b), CreateOptions{}); err != nil {
		return fmt.Errorf("audit: create %s: %w", key, err)
	}
	return nil
}

// List calls fn with every record of the days from..to (inclusive) in time order
// (records of the same nanosecond in no particular order).
func (a AuditLog) List(ctx context.Context, from, to Day, fn func(AccessRecord) error) error {
	for d := from; !d.After(to); d = d.Next() {
		err := a.Store.List(ctx, auditPrefix(d), func(key string) error {
			b, err := readAll(ctx, a.Store, key)
			if err != nil {
				return err
			}
			var r AccessRecord
			if err := json.Unmarshal(b, &r); err != nil {
				return fmt.Errorf("audit: %s: %w", key, err)
			}
			return fn(r)
		})
		if err != nil {
			return err
		}
	}
	return nil
}
