package verifyloop

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/chatvault/chatvault/archiver"
)

// Prefix starts the keys of the verification records: one object per run, created once,
// under the UTC day the run finished: verifications/<yyyy-mm-dd>/<hhmmss.nnnnnnnnn>-<kind>-<random>.json.
// The time first makes a day's folder list in the order the runs finished.
const Prefix = "verifications/"

// Kinds of verification run.
const (
	// KindSealed verifies days just sealed: by this process's scheduler, or noticed in
	// the store (sealed by another process) one interval after they appeared.
	KindSealed = "sealed"
	// KindSlice verifies the next slice of the whole store's organization-days.
	KindSlice = "slice"
)

// MaxDetails bounds the problems (and warnings) a record lists and the log lines a run
// writes: a store broken everywhere must not make records, logs or memory grow without
// bound. Record.Problems still counts them all.
const MaxDetails = 1000

// Range is one organization's days a run verified, From to To inclusive.
type Range struct {
	Org  string `json:"org"`
	From string `json:"from"`
	To   string `json:"to"`
	// Days counts the sealed days in the range (days in between without a seal are
	// not days of the archive).
	Days int `json:"days"`
}

// Position is an organization-day: where a slice ended.
type Position struct {
	Org string `json:"org"`
	Day string `json:"day"`
}

// Record is one verification run as stored: when, what, and what was found.
type Record struct {
	Version  int       `json:"version"`
	Kind     string    `json:"kind"`
	Holder   string    `json:"holder,omitempty"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	// Ranges are the organization-days verified: every object their manifests name was
	// re-hashed and each of their manifests checked against the one before it in its
	// chain (verify.Run of the days).
	Ranges    []Range `json:"ranges"`
	OrgDays   int     `json:"orgDays"`
	Manifests int     `json:"manifests"`
	Objects   int     `json:"objects"`
	Bytes     int64   `json:"bytes"`
	// Problems counts the integrity problems found; ProblemDetails lists the first
	// MaxDetails of them, each as verify prints it.
	Problems       int      `json:"problems"`
	ProblemDetails []string `json:"problemDetails,omitempty"`
	Warnings       []string `json:"warnings,omitempty"`
	// Error is why the run could not complete (the store could not be read): the
	// ranges are then not all verified, and a slice is taken again.
	Error string `json:"error,omitempty"`

	// Slices only. Cursor is the last organization-day of the pass verified so far;
	// CycleStarted is when the pass over the whole store began; StoreOrgDays is the number
	// of sealed organization-days the store held when the slice was chosen.
	Cursor       *Position `json:"cursor,omitempty"`
	CycleStarted time.Time `json:"cycleStarted,omitzero"`
	StoreOrgDays int       `json:"storeOrgDays,omitempty"`
	// StoreOrgDaysMost is the most sealed organization-days a slice of the store found,
	// carried from each slice's record to the next: chatvault never deletes a sealed day,
	// so a store holding fewer lost some (Slice reports it).
	StoreOrgDaysMost int `json:"storeOrgDaysMost,omitempty"`

	// Signature, when serve has a signing key, is over this record's encoding without it
	// (archiver.SignBody), like every signed object of the store.
	Signature *archiver.Signature `json:"signature,omitempty"`

	// Key is where the record is stored (not stored itself).
	Key string `json:"-"`
}

// OK reports whether the run completed and found nothing.
func (r *Record) OK() bool { return r.Problems == 0 && r.Error == "" }

// Result is the run's outcome as the metrics label it: ok, problems or error.
func (r *Record) Result() string {
	switch {
	case r.Error != "":
		return "error"
	case r.Problems > 0:
		return "problems"
	}
	return "ok"
}

func (r Record) signingBody() ([]byte, error) {
	r.Signature, r.Key = nil, ""
	return json.Marshal(r)
}

// recordKey names a record of kind finished at t.
func recordKey(t time.Time, kind string) string {
	b := make([]byte, 4)
	rand.Read(b)
	return recordStem(t, kind) + hex.EncodeToString(b) + ".json"
}

// recordStem is how the key of a record of kind finished at t begins: its day's folder,
// the time and the kind.
func recordStem(t time.Time, kind string) string {
	t = t.UTC()
	return Prefix + t.Format(archiver.DayLayout) + "/" + t.Format("150405.000000000") + "-" + kind + "-"
}

// dayPrefix is the folder of the records finished on day.
func dayPrefix(day archiver.Day) string { return Prefix + day.String() + "/" }

// write signs r with key (none: unsigned) and creates it in the store.
func write(ctx context.Context, s archiver.Store, r *Record, key ed25519.PrivateKey) error {
	if key != nil {
		body, err := r.signingBody()
		if err != nil {
			return err
		}
		r.Signature = archiver.SignBody(key, body)
	}
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	r.Key = recordKey(r.Finished, r.Kind)
	if err := s.Create(ctx, r.Key, bytes.NewReader(b), int64(len(b)), sha256.Sum256(b), archiver.CreateOptions{}); err != nil {
		return fmt.Errorf("write verification record %s: %w", r.Key, err)
	}
	return nil
}

// Read reads the record at key and checks its signature against trusted (none: a
// signature is checked against the key it carries, and an unsigned record passes).
func Read(ctx context.Context, s archiver.Store, key string, trusted []ed25519.PublicKey) (*Record, error) {
	rc, err := s.Open(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	var r Record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	// The signature is checked over the stored bytes less the signature, not over r
	// encoded again: a record written by a newer chatvault (a replica of a rolling
	// upgrade, or before a roll-back) carries fields this version does not know, which
	// decoding drops, so the re-encoded record failed the signature and was taken for a
	// forged one (skipped by the loop, failing `chatvault verifications`).
	body, err := archiver.UnsignedBody(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	if err := archiver.CheckSignature(key, r.Signature, body, trusted); err != nil {
		return nil, err
	}
	// The newest record is found by key, and the key is not signed: an old record copied
	// under a later time (a create, which Object Lock does not prevent) would move the
	// slices' position back to wherever its cursor was. Finished and Kind are signed.
	if !strings.HasPrefix(key, recordStem(r.Finished, r.Kind)) {
		return nil, fmt.Errorf("%s: a %s record finished at %s, which its key does not name: a copy of another record",
			key, r.Kind, r.Finished.UTC().Format(time.RFC3339Nano))
	}
	r.Key = key
	return &r, nil
}

// isRecordKey reports whether key names a record (of kind, when not empty).
func isRecordKey(key, kind string) bool {
	if !strings.HasPrefix(key, Prefix) || !strings.HasSuffix(key, ".json") {
		return false
	}
	// Records are under a day's folder; verify's checkpoints share the prefix
	// (verifications/checkpoints/) and are no records.
	if day, _, _ := strings.Cut(strings.TrimPrefix(key, Prefix), "/"); len(day) != len(archiver.DayLayout) {
		return false
	}
	return kind == "" || strings.Contains(key[strings.LastIndexByte(key, '/'):], "-"+kind+"-")
}

// History returns the records of the runs that finished on since or later (zero: every
// one), oldest first, each checked like Read. A record that does not read or whose
// signature fails stops it with an error naming the record: an examiner must not be shown
// a history with a forged or damaged entry quietly left out.
func History(ctx context.Context, s archiver.Store, since archiver.Day, trusted []ed25519.PublicKey) ([]*Record, error) {
	var keys []string
	err := s.List(ctx, Prefix, func(key string) error {
		if !isRecordKey(key, "") {
			return nil
		}
		day, _, _ := strings.Cut(strings.TrimPrefix(key, Prefix), "/")
		if !since.IsZero() && day < since.String() {
			return nil
		}
		keys = append(keys, key)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", Prefix, err)
	}
	out := make([]*Record, 0, len(keys))
	for _, k := range keys {
		r, err := Read(ctx, s, k, trusted)
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
	return out, nil
}
