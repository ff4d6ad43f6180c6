package exporttask

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/internal/exporttest"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/eventlog"
	"github.com/chatvault/chatvault/archiver/fsstore"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/internal/reliability"
)

func TestPeriods(t *testing.T) {
	add := func(at int64) evidence { return evidence{at: at, member: true} }
	remove := func(at int64) evidence { return evidence{at: at} }
	seal := func(at int64, member bool) evidence { return evidence{at: at, seal: true, member: member} }
	for _, tt := range []struct {
		name string
		ev   []evidence
		want []span
	}{
		{"none", nil, nil},
		{"joined and left", []evidence{seal(1, false), add(5), seal(10, true), remove(15), seal(20, false)}, []span{{5, 15}}},
		{"member before the range", []evidence{remove(15), seal(20, false)}, []span{{never, 15}}},
		{"recorded at every seal, no change", []evidence{seal(10, true), seal(20, true)}, []span{{never, forever}}},
		{"never recorded", []evidence{seal(10, false), seal(20, false)}, nil},
		{"still a member", []evidence{seal(1, false), add(5)}, []span{{5, forever}}},
		// A seal records a member the changes say had left: the period between counts.
		{"seal disagrees with a removal", []evidence{add(5), remove(8), seal(10, true), seal(20, false)}, []span{{5, 20}}},
		// A seal does not record one the changes say joined: they count as a member up to
		// it (left unrecorded), and not from it to the next addition.
		{"seal misses an addition", []evidence{seal(1, false), add(5), seal(10, false), add(12)}, []span{{5, 10}, {12, forever}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := periods(tt.ev); !slices.Equal(got, tt.want) {
				t.Fatalf("periods = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestDayMembershipWithoutChatIndex: for a day sealed before chat indexes, the membership
// changes are read from the day's records, and are those its chat index would hold.
func TestDayMembershipWithoutChatIndex(t *testing.T) {
	root := t.TempDir()
	store, err := fsstore.New(root)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	src, err := eventlog.NewDir("../../testdata/eventlog")
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.ReadFile("../../testdata/eventlog/directory.json")
	if err != nil {
		t.Fatal(err)
	}
	day, _ := archiver.ParseDay("2026-11-22")
	s := &archiver.Sealer{Source: src, Store: store, Chain: ledger.Ledger{Store: store}, Options: archiver.Options{TempDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler),
		Now: func() time.Time { return day.End().Add(time.Hour) }}}
	if _, err := s.Seal(context.Background(), day, dir, ""); err != nil {
		t.Fatal(err)
	}
	l := ledger.Ledger{Store: store}
	m, err := l.Latest(context.Background(), "0a1c2e3f-0000-4000-8000-00000000aaaa", day)
	if err != nil {
		t.Fatal(err)
	}
	e := &Engine{Store: store}
	indexed, x, err := e.dayMembership(context.Background(), l, m)
	if err != nil || x == nil || len(indexed) == 0 {
		t.Fatalf("with the chat index: %v, %d changes", err, len(indexed))
	}
	old := *m
	manifest := *m.Manifest
	manifest.ChatIndex = nil
	old.Manifest = &manifest
	read, x, err := e.dayMembership(context.Background(), l, &old)
	if err != nil || x != nil {
		t.Fatalf("without: %v, index %v", err, x)
	}
	if !slices.EqualFunc(read, indexed, func(a, b archiver.MembershipChange) bool {
		return a.ChatID == b.ChatID && a.EventTimestamp == b.EventTimestamp && a.MessageID == b.MessageID && a.EventType == b.EventType &&
			slices.Equal(a.Added, b.Added) && slices.Equal(a.Removed, b.Removed)
	}) {
		t.Fatalf("read from the records %+v, the chat index has %+v", read, indexed)
	}

	// The export changed in the store (a membership change taken out): the records are
	// checked against the manifest as the day's reader checks them, not trusted. Before,
	// the changed records gave the task its custodians' periods, and a day they left out
	// was never read, so nothing noticed.
	path := filepath.Join(root, filepath.FromSlash(m.Data.Key))
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	changed := exporttest.Regzip(t, b, func(plain []byte) []byte {
		var kept []byte
		dropped := false
		for line := range bytes.Lines(plain) {
			if !dropped && bytes.Contains(line, []byte(`"contentType":"membersChanged"`)) {
				dropped = true
				continue
			}
			kept = append(kept, line...)
		}
		return kept
	})
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, changed, 0o600); err != nil {
		t.Fatal(err)
	}
	read, _, err = e.dayMembership(context.Background(), l, &old)
	if err == nil || !strings.Contains(err.Error(), "SHA-256") {
		t.Fatalf("a changed export gave %d changes (%d before), error %v; want an error naming the SHA-256", len(read), len(indexed), err)
	}
	reliability.Record(t, "security", "export task by custodian over a day sealed before chat indexes, its export changed in the store", reliability.CleanFailure,
		"the task fails naming the day and the SHA-256 its manifest gives; before, the membership changes were read from the changed export unchecked and decided which chats the task read")
}
