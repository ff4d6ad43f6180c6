package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/storetest"
	"github.com/chatvault/chatvault/internal/reliability"
)

// failingAfter is a store that fails every request from the first one that names org on:
// the store going away partway through a verification, once the organizations before org
// have been verified.
type failingAfter struct {
	archiver.Store
	org    string
	mu     sync.Mutex
	failed bool
}

var errStoreGone = errors.New("store unreachable (test)")

func (f *failingAfter) check(key string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if strings.HasPrefix(key, "orgs/"+f.org) {
		f.failed = true
	}
	if f.failed {
		return errStoreGone
	}
	return nil
}

func (f *failingAfter) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := f.check(key); err != nil {
		return nil, err
	}
	return f.Store.Open(ctx, key)
}

func (f *failingAfter) List(ctx context.Context, prefix string, fn func(string) error) error {
	if err := f.check(prefix); err != nil {
		return err
	}
	return f.Store.List(ctx, prefix, fn)
}

// TestVerifyStoreFailsPartway: one organization's export is damaged, and the store fails
// once verify reaches the next organization. verify used to print only the store's error,
// dropping the problem it had already found; it now prints the problems found so far,
// then the error, and says the verification is incomplete (a "verify incomplete" record
// with JSON logs), exit 1.
func TestVerifyStoreFailsPartway(t *testing.T) {
	cleanEnv(t)
	store, common := sealDays(t)
	// Damage one of acme's exports (verified before globex: organizations go in key order).
	var damaged string
	if err := filepath.WalkDir(filepath.Join(store, "orgs", acme), func(p string, d fs.DirEntry, err error) error {
		if err == nil && damaged == "" && strings.Contains(d.Name(), "events-") {
			damaged = p
		}
		return err
	}); err != nil || damaged == "" {
		t.Fatalf("no export of %s found: %v", acme, err)
	}
	if err := os.WriteFile(damaged, []byte("not the sealed bytes"), 0o644); err != nil {
		t.Fatal(err)
	}
	wrapStore = func(s archiver.Store) archiver.Store { return &failingAfter{Store: s, org: globex} }
	defer func() { wrapStore = nil }()
	text := []string{"--eventlog", common[1], "--store", store, "--jobs", "1"}

	t.Run("text", func(t *testing.T) {
		code, out, errOut := chatvault(t, append([]string{"verify", "--log-format", "text"}, text...)...)
		all := out + errOut
		if code != exitFailure {
			t.Fatalf("exit %d, want %d\n%s", code, exitFailure, all)
		}
		for _, want := range []string{"PROBLEM: ", filepath.Base(damaged), errStoreGone.Error(), "INCOMPLETE"} {
			if !strings.Contains(all, want) {
				t.Errorf("output lacks %q:\n%s", want, all)
			}
		}
		if p, e := strings.Index(all, "PROBLEM: "), strings.Index(all, errStoreGone.Error()); p < 0 || e < p {
			t.Errorf("the problems found are not printed before the error:\n%s", all)
		}
	})
	t.Run("json", func(t *testing.T) {
		code, out, errOut := chatvault(t, append([]string{"verify", "--log-format", "json"}, text...)...)
		if code != exitFailure {
			t.Fatalf("exit %d, want %d\n%s%s", code, exitFailure, out, errOut)
		}
		var problems, incomplete int
		for line := range strings.SplitSeq(strings.TrimSpace(errOut), "\n") {
			var rec map[string]any
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatalf("not a JSON record: %q", line)
			}
			switch rec["msg"] {
			case "verify problem":
				if strings.Contains(jsonString(rec["problem"]), filepath.Base(damaged)) {
					problems++
				}
			case "verify incomplete":
				if !strings.Contains(jsonString(rec["error"]), errStoreGone.Error()) || rec["problemsSoFar"] == nil {
					t.Errorf("verify incomplete record without the error or the count: %v", rec)
				}
				incomplete++
			}
		}
		if problems == 0 || incomplete != 1 {
			t.Fatalf("%d problem records naming the damaged export, %d \"verify incomplete\" records; want ≥1 and 1:\n%s", problems, incomplete, errOut)
		}
	})
	reliability.Record(t, "fault", "the store fails partway through verify, after problems were found", reliability.CleanFailure,
		"exit 1; the problems found so far are printed, then the error, and the run is marked incomplete (\"verify incomplete\" JSON record); before, only the error")
}

// TestVerifyOversizedManifest (verify reads the key twice: each read stops at the cap): someone with write access to the store puts a 1 GiB object
// under a manifest's key. verify used to read it whole (a crash on a small machine);
// it now reports the key, its kind and the cap as a problem and verifies the rest: the
// other organization's chain still counts, and the process allocates far less than
// the object's size.
func TestVerifyOversizedManifest(t *testing.T) {
	cleanEnv(t)
	store, common := sealDays(t)
	var manifest string
	if err := filepath.WalkDir(filepath.Join(store, "orgs", acme), func(p string, d fs.DirEntry, err error) error {
		if err == nil && manifest == "" && strings.HasSuffix(d.Name(), ".r0001.json") {
			manifest = p
		}
		return err
	}); err != nil || manifest == "" {
		t.Fatalf("no manifest of %s found: %v", acme, err)
	}
	rel, _ := filepath.Rel(store, manifest)
	key := filepath.ToSlash(rel)
	const size = 1 << 30
	over := &storetest.Oversized{Sizes: map[string]int64{key: size}}
	wrapStore = func(s archiver.Store) archiver.Store { over.Store = s; return over }
	defer func() { wrapStore = nil }()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	code, out, errOut := chatvault(t, append([]string{"verify", "--jobs", "1"}, common...)...)
	runtime.ReadMemStats(&after)
	kind, max := archiver.ObjectKind(key)
	if code != exitFailure || !strings.Contains(errOut, key+": "+kind+" larger than its cap") || strings.Contains(errOut, "verify incomplete") {
		t.Fatalf("exit %d, want %d with a problem naming %s as a %s over its cap, verification complete\n%s%s", code, exitFailure, key, kind, out, errOut)
	}
	if !strings.Contains(out, "verified 2 organizations") {
		t.Errorf("verify did not go on with the other organization:\n%s", out)
	}
	if served, alloc := over.Served(), after.TotalAlloc-before.TotalAlloc; served > 4*(max+1) || alloc > size/4 {
		t.Errorf("read %d bytes of the %d-byte object and allocated %d (cap %d)", served, int64(size), alloc, max)
	}
	reliability.Record(t, "security", "a 1 GiB object put under a manifest's key, then verify", reliability.CleanFailure,
		"verify exit 1 with a problem naming the key, its kind (manifest) and its cap (16 MiB), and verifies the rest; reads at most the cap each time it reads the key, not the object")
}

// TestSealOversizedHead: a 1 GiB object under an organization's newest manifest (its
// head, which the next seal reads to chain onto). The seal used to read it whole; it now
// fails that organization naming the key, its kind and the cap, and seals the others.
func TestSealOversizedHead(t *testing.T) {
	cleanEnv(t)
	log := multiDayLog(t, "2026-11-21", "2026-11-22")
	store := t.TempDir()
	common := []string{"--eventlog", log, "--store", store, "--log-format", "text"}
	mustRun(t, sealed, append([]string{"run", "--date", "2026-11-21"}, common...)...)
	var head string
	if err := filepath.WalkDir(filepath.Join(store, "orgs", acme), func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(d.Name(), ".r0001.json") {
			head = p
		}
		return err
	}); err != nil || head == "" {
		t.Fatalf("no manifest of %s found: %v", acme, err)
	}
	rel, _ := filepath.Rel(store, head)
	key := filepath.ToSlash(rel)
	over := &storetest.Oversized{Sizes: map[string]int64{key: 1 << 30}}
	wrapStore = func(s archiver.Store) archiver.Store { over.Store = s; return over }
	defer func() { wrapStore = nil }()
	code, out, errOut := chatvault(t, append([]string{"run", "--date", "2026-11-22"}, common...)...)
	kind, max := archiver.ObjectKind(key)
	if code != exitFailure || !strings.Contains(out+errOut, key+": "+kind+" larger than its cap") {
		t.Fatalf("exit %d, want %d naming %s as a %s over its cap\n%s%s", code, exitFailure, key, kind, out, errOut)
	}
	if served := over.Served(); served > 4*(max+1) {
		t.Errorf("read %d bytes of the oversized head (cap %d)", served, max)
	}
	wrapStore = nil
	var globexSealed bool
	_ = filepath.WalkDir(filepath.Join(store, "orgs", globex), func(p string, d fs.DirEntry, err error) error {
		globexSealed = globexSealed || (err == nil && strings.Contains(p, "22.r0001.json"))
		return err
	})
	if !globexSealed {
		t.Errorf("the other organization was not sealed:\n%s%s", out, errOut)
	}
	reliability.Record(t, "security", "a 1 GiB object put under an organization's head manifest, then the next seal", reliability.CleanFailure,
		"run exit 1: that organization fails naming the key, its kind (manifest) and cap; the others are sealed; reads at most the cap")
}
