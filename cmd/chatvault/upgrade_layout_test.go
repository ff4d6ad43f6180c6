package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/fsstore"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestUpgradeToDefaultLayout: a store sealed in layout 2 (store.layout: 2, as every store
// was before layout 3 became the default) is upgraded by running the binary with the
// default: nothing is migrated, the first seal writes layout.json and continues each
// organization's chain in layout 3 from its old head, and verify passes over both layouts.
// From then on a seal with store.layout 2 is refused and writes no day.
func TestUpgradeToDefaultLayout(t *testing.T) {
	cleanEnv(t)
	logDir := t.TempDir()
	for _, d := range []string{"2026-11-22", "2026-11-23", "2026-11-24"} {
		if err := os.CopyFS(filepath.Join(logDir, d), os.DirFS("../../testdata/eventlog/2026-11-22")); err != nil {
			t.Fatal(err)
		}
	}
	dir, err := os.ReadFile("../../testdata/eventlog/directory.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(logDir, "directory.json"), dir, 0o644); err != nil {
		t.Fatal(err)
	}
	storeDir := t.TempDir()
	common := []string{"--eventlog", logDir, "--store", storeDir, "--log-format", "json"}
	run := func(layout, date string) (int, string) {
		t.Helper()
		t.Setenv("CHATVAULT_STORE_LAYOUT", layout)
		code, out, errOut := chatvault(t, append([]string{"run", "--date", date}, common...)...)
		return code, out + errOut
	}
	store, err := fsstore.Open(storeDir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	lg := ledger.Ledger{Store: store}
	latest := func(date string) *archiver.StoredManifest {
		t.Helper()
		day, _ := archiver.ParseDay(date)
		m, err := lg.Latest(ctx, acme, day)
		if err != nil {
			t.Fatalf("latest %s: %v", date, err)
		}
		return m
	}

	// Before the upgrade: layout 2, no marker.
	if code, out := run("2", "2026-11-22"); code != exitQuarantined {
		t.Fatalf("run in layout 2: exit %d\n%s", code, out)
	}
	if sl, err := archiver.ReadStoreLayout(ctx, store); sl != nil || err != nil {
		t.Fatalf("layout marker after a layout-2 seal: %+v, %v", sl, err)
	}
	old := latest("2026-11-22")
	if old == nil || archiver.KeyLayout(old.Key) != archiver.Layout2 || old.Seq != 1 {
		t.Fatalf("the layout-2 day: %+v", old)
	}

	// The upgraded binary, store.layout unset: the default, 3. The irreversible move is
	// logged when it happens (it was silent: an operator learnt it at the roll-back).
	if code, out := run("", "2026-11-23"); code != exitQuarantined || !strings.Contains(out, "the store moves to layout 3 with this seal") {
		t.Fatalf("run with the default layout: exit %d, want the move to layout 3 logged\n%s", code, out)
	}
	// This test's store remembered the marker's absence: read it again, as serve's
	// scheduler does under the seal lease.
	sl, err := lg.RefreshStoreLayout(ctx)
	if err != nil || sl == nil || sl.Version != archiver.Layout3 {
		t.Fatalf("layout marker after the upgraded binary's seal: %+v, %v", sl, err)
	}
	m := latest("2026-11-23")
	if m == nil || archiver.KeyLayout(m.Key) != archiver.Layout3 || m.Seq != 2 || m.PreviousKey != archiver.ChainKey(acme, 1) {
		t.Fatalf("the first day sealed after the upgrade: %+v; want layout 3, seq 2, previousKey %s", m, archiver.ChainKey(acme, 1))
	}
	if again := latest("2026-11-22"); again == nil || again.Key != old.Key {
		t.Fatalf("the old day after the upgrade: %+v; want it read where it was, %s", again, old.Key)
	}
	if code, out, errOut := chatvault(t, append([]string{"verify"}, common...)...); code != exitOK {
		t.Fatalf("verify of the upgraded store: exit %d\n%s%s", code, out, errOut)
	}
	if code, out := run("", "2026-11-23"); code != exitOK || strings.Contains(out, "moves to layout 3") {
		t.Fatalf("a rerun once the store is in layout 3: exit %d, want the move not logged again\n%s", code, out)
	}

	// Back to layout 2 (a downgrade attempted after the upgrade's first seal): refused.
	code, out := run("2", "2026-11-24")
	if code == exitOK || code == exitQuarantined || !strings.Contains(out, "set store.layout to 3") {
		t.Fatalf("run in layout 2 of a store in layout 3: exit %d\n%s; want refused", code, out)
	}
	if m := latest("2026-11-24"); m != nil {
		t.Fatalf("the refused layout-2 run sealed %s", m.Key)
	}
	head, err := lg.Head(ctx, acme)
	if err != nil || head == nil || head.Seq != 2 {
		t.Fatalf("head after the refused run: %+v, %v; want seq 2", head, err)
	}
	reliability.Record(t, "operations", "a layout-2 store run by the binary whose default is layout 3", reliability.Kept,
		"nothing migrated: the first seal writes layout.json, logs the move (once) and continues each chain in layout 3; verify passes over both layouts; a later store.layout 2 run is refused and seals nothing")
}
