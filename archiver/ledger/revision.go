package ledger

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/klauspost/compress/gzip"
)

// diffStored compares two stored revisions' exports.
func (l Ledger) diffStored(ctx context.Context, old, new *archiver.StoredManifest) (archiver.RevisionDiff, error) {
	open := func(m *archiver.StoredManifest) (io.Reader, func(), error) {
		if m.Data.Keyless() {
			return bytes.NewReader(nil), func() {}, nil // a version 3 day without records
		}
		rc, err := l.Store.Open(ctx, m.Data.Key)
		if err != nil {
			return nil, nil, err
		}
		zr, err := gzip.NewReader(rc)
		if err != nil {
			rc.Close()
			return nil, nil, fmt.Errorf("%s: not gzip: %w", m.Data.Key, err)
		}
		return zr, func() { rc.Close() }, nil
	}
	a, closeA, err := open(old)
	if err != nil {
		return archiver.RevisionDiff{}, err
	}
	defer closeA()
	b, closeB, err := open(new)
	if err != nil {
		return archiver.RevisionDiff{}, err
	}
	defer closeB()
	return archiver.DiffRevisions(a, b)
}

// Supersessions calls fn with every committed supersession in the store: those whose
// revision's manifest records the same supersession.
func (l Ledger) Supersessions(ctx context.Context, fn func(archiver.SupersessionRecord) error) error {
	return l.Store.List(ctx, archiver.SupersededPrefix, func(key string) error {
		r, ok, err := l.Supersession(ctx, key)
		if err != nil || !ok {
			return err
		}
		return fn(r)
	})
}

// SupersessionKeys calls fn with the key of every supersession record, committed or not
// (see Supersession), in key order.
func (l Ledger) SupersessionKeys(ctx context.Context, fn func(key string) error) error {
	return l.Store.List(ctx, archiver.SupersededPrefix, fn)
}

// Supersession reads the supersession record at key and reports whether it was
// committed: whether its revision's manifest records the same supersession. A record
// whose revision has no manifest yet is not committed (yet).
func (l Ledger) Supersession(ctx context.Context, key string) (archiver.SupersessionRecord, bool, error) {
	var r archiver.SupersessionRecord
	b, err := archiver.ReadAll(ctx, l.Store, key)
	if err != nil {
		return r, false, err
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, false, fmt.Errorf("%s: %w", key, err)
	}
	day, err := archiver.ParseDay(r.Date)
	if err != nil {
		return r, false, fmt.Errorf("%s: %w", key, err)
	}
	m, err := l.ManifestAt(ctx, r.Org, day, r.Revision)
	if m == nil && err == nil {
		return r, false, nil
	}
	if err != nil {
		return r, false, err
	}
	if m.Supersedes == nil || *m.Supersedes != r.Supersedes {
		return r, false, nil
	}
	r.SealedAt, _ = time.Parse(time.RFC3339Nano, m.SealedAt)
	return r, true, nil
}

// RefusedRevisions calls fn with the time of every refused shrinking revision recorded in
// the store.
func (l Ledger) RefusedRevisions(ctx context.Context, fn func(at time.Time) error) error {
	return l.Store.List(ctx, archiver.RefusedPrefix, func(key string) error {
		name := key[strings.LastIndexByte(key, '/')+1:]
		ns, err := strconv.ParseInt(strings.TrimSuffix(name, ".json"), 10, 64)
		if err != nil {
			return nil // not one of ours; verify does not look here, nor do the metrics
		}
		return fn(time.Unix(0, ns))
	})
}

// FailedSince returns the message of the latest failed attempt at org's day when it came
// after m, the day's latest revision, was sealed: a sealed day whose rerun was refused
// (for example because it would drop records) still serves m, and status says why the
// rerun did not commit. It returns "" when there is none.
func (l Ledger) FailedSince(ctx context.Context, org string, day archiver.Day, m *archiver.StoredManifest) (string, error) {
	key, err := l.lastFailedKey(ctx, org, day)
	if err != nil || key == "" {
		return "", err
	}
	return l.failedAfter(ctx, org, day, key, m)
}

// failedAfter is FailedSince for key, the day's latest failed attempt: it reads the
// failure only when its time (in its name) comes after m was sealed.
func (l Ledger) failedAfter(ctx context.Context, org string, day archiver.Day, key string, m *archiver.StoredManifest) (string, error) {
	ms, err := parseFailedMs(key)
	if err != nil {
		return "", nil // not a failure record of ours
	}
	sealed, err := time.Parse(time.RFC3339Nano, m.SealedAt)
	if err != nil || !time.UnixMilli(ms).After(sealed) {
		return "", nil
	}
	b, err := archiver.ReadAll(ctx, l.Store, key)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}
