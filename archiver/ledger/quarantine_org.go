package ledger

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/chatvault/chatvault/archiver"
)

// verifyOrgQuarantine checks an organization's quarantine object against its manifest:
// in the organization's day folder, the stored bytes and the JSONL inside re-hashed, and
// as many lines as the manifest counts, each a quarantine record (a JSON object with a
// reason, file and line).
func (l Ledger) verifyOrgQuarantine(ctx context.Context, org string, day archiver.Day, q *archiver.DataObject) (int64, error) {
	if !strings.HasPrefix(q.Key, archiver.DayPrefix(org, day)+"quarantine-") && !strings.HasPrefix(q.Key, archiver.DayPrefix3(org, day)+"quarantine-") {
		return 0, fmt.Errorf("key is outside the day's folder")
	}
	g, err := l.openHashedGzip(ctx, q, 64<<10)
	if err != nil {
		return g.n(), err
	}
	defer g.Close()
	br := g.Reader
	var lines, size int64
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			size += int64(len(line))
			lines++
			var rec struct {
				Reason *string `json:"reason"`
				File   *string `json:"file"`
				Line   *int64  `json:"line"`
			}
			switch {
			case line[len(line)-1] != '\n':
				return g.n(), fmt.Errorf("line %d has no newline", lines)
			case json.Unmarshal(line, &rec) != nil || rec.Reason == nil || rec.File == nil || rec.Line == nil:
				return g.n(), fmt.Errorf("line %d is not a quarantine record", lines)
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return g.n(), fmt.Errorf("read: %w", err)
		}
	}
	if err := g.check(q, size); err != nil {
		return g.n(), err
	}
	switch {
	case lines != q.Records:
		return g.n(), fmt.Errorf("%d lines, manifest says %d", lines, q.Records)
	}
	return g.n(), nil
}

// OpenQuarantine returns org's latest manifest of day and a reader of its quarantine
// object (gzipped JSONL) in the version the manifest names; the reader is nil when the
// manifest names none. It fails with ErrNotSealed when the day has no manifest.
func (l Ledger) OpenQuarantine(ctx context.Context, org string, day archiver.Day) (*archiver.StoredManifest, io.ReadCloser, error) {
	m, err := l.Latest(ctx, org, day)
	if err != nil {
		return nil, nil, err
	}
	if m == nil {
		return nil, nil, fmt.Errorf("%s %s: %w", org, day, ErrNotSealed)
	}
	q := m.Quarantined
	if q == nil {
		return m, nil, nil
	}
	if !strings.HasPrefix(q.Key, orgQuarantinePrefixOf(m.Version, org, day)) {
		// Latest checked the manifest is the one sealed here; this is a second lock on
		// the one key a manifest could point elsewhere with.
		return nil, nil, fmt.Errorf("%s: %w: its quarantine %s is outside the day's folder", m.Key, ErrUntrustedManifest, q.Key)
	}
	rc, err := l.OpenObject(ctx, q.Key, q.VersionID)
	if err != nil {
		return nil, nil, err
	}
	return m, rc, nil
}
