package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/fsstore"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestLayout3KilledAfterLateCopy: in store layout 3, a revision of a day before the newest
// sealed one is late: its copy under late/ is written first (the commit) and then its day
// key. A run killed between the two (SIGKILL at commit.late) leaves the copy without its
// day key; the rerun finds the copy as the chain's head, restores the day key from it (the
// same bytes) and commits nothing twice.
func TestLayout3KilledAfterLateCopy(t *testing.T) {
	cleanEnv(t)
	logDir := twoDayLog(t)
	storeDir := t.TempDir()
	env := []string{"CHATVAULT_STORE_LAYOUT=3"}
	common := []string{"--eventlog", logDir, "--store", storeDir}
	for _, day := range []string{"2026-11-22", "2026-11-23"} {
		if res := runBinary(t, env, nil, append([]string{"run", "--date", day}, common...)...); res.code != exitQuarantined {
			t.Fatalf("run %s: exit %d\n%s", day, res.code, res.stderr)
		}
	}
	// A record more on 2026-11-22, in an Acme chat: Acme's revision 2 of a day before its tip.
	b, err := os.ReadFile(filepath.Join(logDir, "2026-11-22", "part-0001.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	var ev map[string]any
	if err := json.Unmarshal(line, &ev); err != nil {
		t.Fatal(err)
	}
	ev["messageId"] = "m-late"
	line, _ = json.Marshal(ev)
	if err := os.WriteFile(filepath.Join(logDir, "2026-11-22", "part-0009.jsonl"), append(line, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	day := mustParseDay(t, "2026-11-22")
	args := append([]string{"run", "--date", "2026-11-22"}, common...)
	killed := runBinary(t, append(env, "CHATVAULT_CRASH_AT=commit.late:1"), nil, args...)
	if !killed.killed {
		t.Fatalf("not killed: exit %d\n%s", killed.code, killed.stderr)
	}
	late := listStoreKeys(t, storeDir, archiver.LatePrefix(acme))
	if len(late) != 1 || len(listStoreKeys(t, storeDir, archiver.DayKey3(acme, day, 2))) != 0 {
		t.Fatalf("after the kill: late copies %q, day key of revision 2 %q; want the copy without its day key", late, listStoreKeys(t, storeDir, archiver.DayKey3(acme, day, 2)))
	}
	if res := runBinary(t, env, nil, args...); res.code != exitQuarantined && res.code != exitOK {
		t.Fatalf("rerun: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	st, err := fsstore.New(storeDir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	copyBytes, err := archiver.ReadAll(ctx, st, late[0])
	if err != nil {
		t.Fatal(err)
	}
	m, err := ledger.Ledger{Store: st}.Latest(ctx, acme, day)
	if err != nil || m == nil || m.Revision != 2 || !m.Late || !bytes.Equal(m.Bytes, copyBytes) {
		t.Fatalf("latest revision of %s after the rerun: %+v, %v; want revision 2, late, the copy's bytes", day, m, err)
	}
	if n := len(listStoreKeys(t, storeDir, archiver.LatePrefix(acme))); n != 1 {
		t.Errorf("%d late copies after the rerun, want 1 (nothing committed twice)", n)
	}
	if keys := listStoreKeys(t, storeDir, archiver.DayPrefix3(acme, day)+"r0003"); len(keys) != 0 {
		t.Errorf("the rerun committed another revision: %q", keys)
	}
	reliability.Record(t, "crash", "layout 3: SIGKILL between a late revision's copy and its day key (commit.late)", reliability.Recovered,
		"the copy under late/ is the commit; the rerun finds it as the chain's head and restores the day key from it (same bytes); no revision is committed twice")
}
