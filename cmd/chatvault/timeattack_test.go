package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/internal/reliability"
)

// timePartition writes partition day of logDir, closed, with one Acme message (from Ada,
// in chat-acme-team) per eventTimestamp given.
func timePartition(t *testing.T, logDir, day string, ts ...int64) {
	t.Helper()
	dir := filepath.Join(logDir, day)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for i, ms := range ts {
		fmt.Fprintf(&b, `{"eventType":"sent","chatId":"chat-acme-team","timestamp":%d,"eventTimestamp":%d,"messageId":"m-%s-%d","sender":{"participantType":"email","id":"u-ada","displayName":"Ada Lovelace","email":"ada@acme.example"},"contentType":"text","content":{"contentType":"text","text":"hi","markdownText":"hi","attachments":[]}}`+"\n", ms, ms, day, i)
	}
	if err := os.WriteFile(filepath.Join(dir, "part-0001.jsonl"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "_CLOSED"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

func ms(t *testing.T, rfc string) int64 {
	t.Helper()
	at, err := time.Parse(time.RFC3339Nano, rfc)
	if err != nil {
		t.Fatal(err)
	}
	return at.UnixMilli()
}

// TestYearBoundary seals 2026-12-31 and 2027-01-01, then a later revision of 2026-12-31
// (sealed in 2027, after 2027-01-01: a late revision), then 2028-02-29, and reads it all
// back over ranges that span the years: status, export, verify --from/--to and --date.
func TestYearBoundary(t *testing.T) {
	logDir, store, common, run := emptyTimeLog(t)
	// The last instant of 2026 and the first of 2027 (the latter flagged as skew in 2026-12-31).
	timePartition(t, logDir, "2026-12-31", ms(t, "2026-12-31T00:00:00Z"), ms(t, "2026-12-31T23:59:59.999Z"), ms(t, "2027-01-01T00:00:00Z"))
	timePartition(t, logDir, "2027-01-01", ms(t, "2027-01-01T00:00:00Z"), ms(t, "2026-12-31T23:59:59.999Z"))
	setRunClock(t, "2027-01-02T00:00:00Z")
	for _, d := range []string{"2026-12-31", "2027-01-01"} {
		if code, out, errOut := run("run", "--date", d); code != exitOK {
			t.Fatalf("run --date %s: exit %d\n%s%s", d, code, out, errOut)
		}
	}
	// A late event of 2026-12-31 arrives; the rerun in 2027 commits revision 2.
	timePartition(t, logDir, "2026-12-31", ms(t, "2026-12-31T00:00:00Z"), ms(t, "2026-12-31T23:59:59.999Z"), ms(t, "2027-01-01T00:00:00Z"), ms(t, "2026-12-31T12:00:00Z"))
	setRunClock(t, "2027-01-05T10:00:00Z")
	if code, out, errOut := run("run", "--date", "2026-12-31"); code != exitOK {
		t.Fatalf("late rerun of 2026-12-31: exit %d\n%s%s", code, out, errOut)
	}
	// Leap day 2028-02-29 in a chain continued from 2027-01-01: the days between are sealed
	// (empty) by one range run, so the chain has no gap.
	setRunClock(t, "2028-03-02T00:00:01Z")
	timePartition(t, logDir, "2028-02-29", ms(t, "2028-02-29T23:59:59.999Z"))
	for d := time.Date(2027, 1, 2, 0, 0, 0, 0, time.UTC); !d.After(time.Date(2028, 3, 1, 0, 0, 0, 0, time.UTC)); d = d.AddDate(0, 0, 1) {
		if day := d.Format(time.DateOnly); day != "2028-02-29" {
			timePartition(t, logDir, day)
		}
	}
	// The 425 days between are the leap day's chain, sealed by the reference binary (the
	// same code, its clock from CHATVAULT_TEST_NOW): in-process under the race detector this
	// one run took two thirds of the test, and range runs are raced in-process elsewhere
	// (TestVerifyWithPublicKeyOnly, TestVerifyKeyChanges, TestVerifyDeletedOrg). What it
	// sealed is read back below, in-process.
	if res := runBinary(t, []string{"CHATVAULT_TEST_NOW=2028-03-02T00:00:01Z"}, nil,
		append([]string{"run", "--from", "2027-01-02", "--to", "2028-03-01"}, common...)...); res.killed || res.code != exitOK {
		t.Fatalf("run --from 2027-01-02 --to 2028-03-01: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}

	// Members objects: one per year of the days that name them.
	membersYears := map[string]bool{}
	for _, f := range storeFiles(t, store) {
		if _, rest, ok := strings.Cut(filepath.ToSlash(f), "/members/"); ok && strings.HasPrefix(f, "orgs/"+acme) {
			membersYears[strings.Split(rest, "/")[0]] = true
		}
	}
	for _, y := range []string{"2026", "2027", "2028"} {
		if !membersYears[y] {
			t.Errorf("no members object of %s for Acme (years %v)", y, membersYears)
		}
	}

	code, out, errOut := run("status", "--org", acme, "--from", "2026-12-30", "--to", "2028-03-01")
	for _, want := range []string{"2026-12-30  pending", "2026-12-31  sealed", "2027-01-01  sealed", "2027-12-31  empty", "2028-02-29  sealed", "2028-03-01  empty"} {
		if code != exitOK || !strings.Contains(out, want) {
			t.Errorf("status over the years lacks %s (exit %d)\n%s%s", want, code, out, errOut)
		}
	}
	if code, out, errOut := run("export", "--org", acme, "--date", "2026-12-31"); code != exitOK || strings.Count(out, "\n") != 4 {
		t.Errorf("export 2026-12-31: exit %d, %d lines, want revision 2's 4\n%s%s", code, strings.Count(out, "\n"), out, errOut)
	}
	for _, args := range [][]string{
		{"verify"},
		{"verify", "--from", "2026-12-31", "--to", "2027-01-01"},
		{"verify", "--from", "2026-12-30", "--to", "2028-03-01"},
		{"verify", "--date", "2026-12-31"},
		{"verify", "--date", "2028-02-29"},
		{"verify", "--org", acme, "--from", "2027-01-01", "--to", "2028-02-29"},
	} {
		if code, out, errOut := run(args...); code != exitOK {
			t.Errorf("%v: exit %d\n%s%s", args, code, out, errOut)
		}
	}
	reliability.Record(t, "input", "days across a year boundary: 2026-12-31, a late revision of it sealed in 2027, 2027-01-01, 2028-02-29", reliability.Kept,
		"sealed with a members object per year of the day; status, export and verify (--date, ranges spanning years) read them back")
}

// TestAbsurdEventTimestamps seals a day whose events carry eventTimestamps at the day's
// edges and far outside it: the epoch (0), seconds mistaken for milliseconds, the last
// millisecond of the day and the first of the next, year 9999, year 10000 and the largest
// int64. The partition decides the day: every one is archived in it and counted as clock
// skew; the day then verifies, exports, and renders as every task format.
func TestAbsurdEventTimestamps(t *testing.T) {
	logDir, _, _, run := emptyTimeLog(t)
	day := "2026-11-23"
	stamps := []int64{
		0,                                    // 1970-01-01T00:00:00Z
		ms(t, "2026-11-23T12:00:00Z") / 1000, // seconds, not ms: January 1970
		ms(t, "2026-11-23T00:00:00Z") - 1,    // the day before's last ms
		ms(t, "2026-11-23T00:00:00Z"),        // the day's first ms
		ms(t, "2026-11-23T23:59:59.999Z"),    // its last
		ms(t, "2026-11-24T00:00:00Z"),        // the next day's first: outside
		ms(t, "2026-11-23T12:00:00Z") * 1000, // microseconds: year 58000-odd
		253402300799999,                      // 9999-12-31T23:59:59.999Z
		253402300800000,                      // 10000-01-01
		1<<63 - 1,                            // the largest int64
	}
	timePartition(t, logDir, day, stamps...)
	setRunClock(t, "2026-11-24T01:00:00Z")
	code, out, errOut := run("run", "--date", day)
	if code != exitOK {
		t.Fatalf("run: exit %d\n%s%s", code, out, errOut)
	}
	code, exported, errOut := run("export", "--org", acme, "--date", day)
	if code != exitOK || strings.Count(exported, "\n") != len(stamps) {
		t.Fatalf("export: exit %d, %d lines, want %d\n%s%s", code, strings.Count(exported, "\n"), len(stamps), exported, errOut)
	}
	lines := strings.Split(strings.TrimSuffix(exported, "\n"), "\n")
	if !strings.Contains(lines[0], `"eventTimestamp":0,`) || !strings.Contains(lines[len(lines)-1], `"eventTimestamp":9223372036854775807,`) {
		t.Errorf("export is not in eventTimestamp order, 0 first and the largest int64 last:\n%s", exported)
	}
	if !strings.Contains(out, "clock skew: 8 exported events outside the day (3 before, 5 after") {
		t.Errorf("run's summary does not flag the clock skew:\n%s%s", out, errOut)
	}
	if code, out, errOut := run("verify", "--date", day); code != exitOK {
		t.Errorf("verify: exit %d\n%s%s", code, out, errOut)
	}
	for _, format := range []string{"jsonl", "json", "html", "rsmf"} {
		o := filepath.Join(t.TempDir(), "out."+format)
		if code, out, errOut := run("export-task", "--org", acme, "--from", day, "--to", day, "--format", format, "-o", o); code != exitOK {
			t.Errorf("export-task --format %s: exit %d\n%s%s", format, code, out, errOut)
		}
	}
	for _, since := range []string{"0001-01-01T00:00:00Z", "1969-12-31T23:59:59Z", "2026-11-23T23:59:59.999Z"} {
		if code, out, errOut := run("export-task", "--org", acme, "--from", day, "--to", day, "--since", since, "--format", "jsonl"); code != exitOK {
			t.Errorf("export-task --since %s: exit %d\n%s%s", since, code, out, errOut)
		}
	}
	reliability.Record(t, "input", "eventTimestamps at and past the day's edges: 0, seconds or microseconds for ms, the next day's first ms, year 9999, 10000, the largest int64", reliability.Kept,
		"archived in the partition's day in eventTimestamp order (the next day's 00:00:00.000 is outside it), counted as clock skew before/after in the manifest and the summary; the day verifies and renders as jsonl, json, html and rsmf")
}

// TestArchivalStartBeforeEpoch gives Acme an archivalStart before 1970 (0001-01-01 is what
// a producer writes for a zero date). No day before 1970 exists for chatvault (ParseDay
// refuses it: days end up in store keys and epoch-ms windows), so the directory is
// inconsistent: every command that reads it must refuse it, naming the field, rather than
// route Acme's events while the scheduler, the freshness metrics and verify skip Acme.
func TestArchivalStartBeforeEpoch(t *testing.T) {
	for _, start := range []string{"0001-01-01", "1969-12-31"} {
		t.Run(start, func(t *testing.T) {
			cleanEnv(t)
			setRunClock(t, "2026-11-23T01:00:00Z")
			logDir := samplePartition(t)
			path := filepath.Join(logDir, "directory.json")
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(strings.Replace(string(b), `"archivalStart": "2026-01-01"`, `"archivalStart": "`+start+`"`, 1)), 0o644); err != nil {
				t.Fatal(err)
			}
			store := t.TempDir()
			for _, args := range [][]string{{"run", "--date", "2026-11-22"}, {"run"}} {
				code, out, errOut := chatvault(t, append(args, "--eventlog", logDir, "--store", store, "--log-format", "json")...)
				if code != exitFailure || !strings.Contains(errOut, "archivalStart") || !strings.Contains(errOut, start) {
					t.Errorf("%v: exit %d, want %d naming the archivalStart\n%s%s", args, code, exitFailure, out, errOut)
				}
			}
			if files := storeFiles(t, store); len(files) != 0 {
				t.Errorf("the refused runs left %v in the store", files)
			}
		})
	}
	reliability.Record(t, "input", "an organization's archivalStart before 1970 (0001-01-01, a zero date) in directory.json", reliability.Refused,
		"the directory is refused like any inconsistent one, naming the organization and the field: `run` exits 1 and commits nothing (before: the day was sealed for it while the scheduler and the freshness metrics skipped it)")
}

// TestFirstDayEver seals 1970-01-01, the first day there is (and the since of a fresh
// store's layout.json), for an organization archiving from that day, with an event at
// epoch 0; then reads it back. Umbrella's archivalStart (2026-12-01) is in the future:
// it is not due, and nothing is sealed or reported pending for it.
func TestFirstDayEver(t *testing.T) {
	cleanEnv(t)
	logDir := samplePartition(t)
	if err := os.RemoveAll(filepath.Join(logDir, "2026-11-22")); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(logDir, "directory.json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(b), `"archivalStart": "2026-01-01"`, `"archivalStart": "1970-01-01"`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	store := t.TempDir()
	common := []string{"--eventlog", logDir, "--store", store, "--log-format", "json"}
	run := func(args ...string) (int, string, string) {
		t.Helper()
		return chatvault(t, append(args, common...)...)
	}
	timePartition(t, logDir, "1970-01-01", 0, 86_400_000-1)
	timePartition(t, logDir, "1970-01-02")
	setRunClock(t, "1970-01-03T00:00:00Z")
	code, out, errOut := run("run")
	if code != exitOK || !strings.Contains(out, "sealed 1970-01-01") || !strings.Contains(out, "sealed 1970-01-02") {
		t.Fatalf("catch-up on 1970-01-03: exit %d, want both days sealed\n%s%s", code, out, errOut)
	}
	if strings.Contains(out, "2026-") {
		t.Errorf("the catch-up looked at Umbrella's future archivalStart:\n%s%s", out, errOut)
	}
	if code, out, errOut := run("export", "--org", acme, "--date", "1970-01-01"); code != exitOK || strings.Count(out, "\n") != 2 {
		t.Errorf("export 1970-01-01: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := run("status", "--org", acme, "--from", "1970-01-01", "--to", "1970-01-02"); code != exitOK ||
		!strings.Contains(out, "1970-01-01  sealed") || !strings.Contains(out, "1970-01-02  empty") {
		t.Errorf("status: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := run("verify"); code != exitOK {
		t.Errorf("verify: exit %d\n%s%s", code, out, errOut)
	}
	reliability.Record(t, "input", "the first day there is, 1970-01-01 (an event at epoch 0), for an organization archiving from it; another's archivalStart in the future", reliability.Kept,
		"sealed by the catch-up, read back by export, status and verify; the organization starting later is not due and nothing is sealed or pending for it")
}

// TestDayEndEdges runs at the instants around the end of 2026-11-22, whose partition
// has _CLOSED already (a producer done early, or a replica whose clock is behind): a
// clock 10 minutes behind, a run started at 23:59:59.999, and one at 00:00:00.000 of the
// next day. Before the day's end nothing is sealed: the catch-up does not look at it
// (it seals through yesterday) and `run --date` of it, of today or of a later day is
// refused with exit 2. At its end exactly, it is sealed. Dates not spelled YYYY-MM-DD
// (2026-11-2, 2026-02-30, 2026-11-22T00:00:00Z) are refused, exit 2, whatever the clock.
func TestDayEndEdges(t *testing.T) {
	cleanEnv(t)
	logDir := samplePartition(t)
	store := t.TempDir()
	common := []string{"--eventlog", logDir, "--store", store, "--log-format", "json"}
	run := func(args ...string) (int, string, string) {
		t.Helper()
		return chatvault(t, append(args, common...)...)
	}
	for _, now := range []string{"2026-11-22T23:50:00Z", "2026-11-22T23:59:59.999Z"} {
		setRunClock(t, now)
		code, out, errOut := run("run")
		if code != exitOK || strings.Contains(out, "sealed 2026-11-22") {
			t.Errorf("catch-up at %s: exit %d, want 0 and 2026-11-22 left alone\n%s%s", now, code, out, errOut)
		}
		for _, date := range []string{"2026-11-22", "today", "2026-11-23", "9999-12-31"} {
			code, out, errOut := run("run", "--date", date)
			if code != exitUsage || !strings.Contains(errOut, "has not ended") {
				t.Errorf("run --date %s at %s: exit %d, want %d (day has not ended)\n%s%s", date, now, code, exitUsage, out, errOut)
			}
		}
		if files := storeFiles(t, store); slices.ContainsFunc(files, func(f string) bool { return strings.HasPrefix(f, "orgs/") }) {
			t.Fatalf("at %s, before the day ended, the store holds %v", now, files)
		}
	}
	for _, date := range []string{"2026-11-2", "2026-02-30", "2026-11-22T00:00:00Z", " 2026-11-22", "+2026-11-22", "20261122"} {
		if code, out, errOut := run("run", "--date", date); code != exitUsage || !strings.Contains(errOut, "--date") {
			t.Errorf("run --date %q: exit %d, want %d naming --date\n%s%s", date, code, exitUsage, out, errOut)
		}
	}
	setRunClock(t, "2026-11-23T00:00:00Z")
	if code, out, errOut := run("run", "--date", "2026-11-22"); code != exitQuarantined || !strings.Contains(out, "sealed 2026-11-22") {
		t.Fatalf("run --date 2026-11-22 at its end: exit %d, want it sealed (exit %d: quarantined lines)\n%s%s", code, exitQuarantined, out, errOut)
	}
	reliability.Record(t, "input", "a run at 23:50 and at 23:59:59.999 (a clock behind) of a day already marked _CLOSED; `run --date` of today, tomorrow, 9999-12-31; dates such as 2026-11-2 or 2026-02-30", reliability.Refused,
		"the catch-up leaves the day alone and `run --date` of it or a later day exits 2 (day has not ended), committing nothing; the day seals at 00:00:00.000 of the next; a date not spelled YYYY-MM-DD exits 2 naming --date")
}

// TestVerifyRangeBounded asks verify for ranges far beyond any archive: verify --from/--to
// reads each day of the range (its accounting prefix and every organization's day
// prefix), so --to 9999-12-31 meant millions of listings per organization (4 minutes on
// a one-day folder store of two organizations; days at 10,000). Like status, a range
// longer than ten years is refused at once, exit 2, pointing at the whole-store verify.
func TestVerifyRangeBounded(t *testing.T) {
	cleanEnv(t)
	store := t.TempDir()
	common := []string{"--eventlog", "../../testdata/eventlog", "--store", store, "--log-format", "json"}
	if code, out, errOut := chatvault(t, append([]string{"run", "--date", "2026-11-22"}, common...)...); code != exitQuarantined {
		t.Fatalf("run: exit %d\n%s%s", code, out, errOut)
	}
	for _, r := range [][2]string{{"1970-01-01", "1990-01-01"}, {"2026-11-22", "9999-12-31"}} {
		code, out, errOut := chatvault(t, append([]string{"verify", "--from", r[0], "--to", r[1]}, common...)...)
		if code != exitUsage || !strings.Contains(errOut, "range longer than ten years") {
			t.Errorf("verify --from %s --to %s: exit %d, want %d (range longer than ten years)\n%s%s", r[0], r[1], code, exitUsage, out, errOut)
		}
	}
	// audit reads the access log day by day as well (9.8 s for --to 9999-12-31, nothing logged).
	if code, out, errOut := chatvault(t, append([]string{"audit", "--from", "2026-11-22", "--to", "9999-12-31"}, common...)...); code != exitUsage || !strings.Contains(errOut, "range longer than ten years") {
		t.Errorf("audit --to 9999-12-31: exit %d, want %d (range longer than ten years)\n%s%s", code, exitUsage, out, errOut)
	}
	// Ten years exactly is verified, as status shows them.
	if code, out, errOut := chatvault(t, append([]string{"verify", "--from", "2016-11-23", "--to", "2026-11-22"}, common...)...); code != exitOK {
		t.Errorf("verify of ten years: exit %d\n%s%s", code, out, errOut)
	}
	reliability.Record(t, "input", "`verify --from 1970-01-01 --to 9999-12-31` (a range no archive spans)", reliability.Refused,
		"exit 2 at once, range longer than ten years, as status (and `audit` too); before: every day of the range was listed for every organization (minutes for a one-day store)")
}

// TestGraceEdge seals a partition without _CLOSED: at the day's end plus schedule.grace
// (1h) less a millisecond it is left pending, at the instant the grace ends it is sealed.
// A file the producer adds afterwards (with the marker, late) is not sealed by the next
// catch-up, which only seals unsealed days; `run --date` of the day commits it as revision
// 2, the path the README gives for a late partition.
func TestGraceEdge(t *testing.T) {
	logDir, _, _, run := emptyTimeLog(t)
	timePartition(t, logDir, "2026-11-22", ms(t, "2026-11-22T12:00:00Z"))
	if err := os.Remove(filepath.Join(logDir, "2026-11-22", "_CLOSED")); err != nil {
		t.Fatal(err)
	}
	setRunClock(t, "2026-11-23T00:59:59.999Z")
	if code, out, errOut := run("run", "--date", "2026-11-22"); code == exitOK || code == exitQuarantined || !strings.Contains(errOut, "not closed") {
		t.Fatalf("run a millisecond before the grace ends: exit %d, want it refused as not closed\n%s%s", code, out, errOut)
	}
	setRunClock(t, "2026-11-23T01:00:00Z")
	if code, out, errOut := run("run"); code != exitOK || !strings.Contains(out, "sealed 2026-11-22") {
		t.Fatalf("catch-up as the grace ends: exit %d, want the day sealed\n%s%s", code, out, errOut)
	}
	late := `{"eventType":"sent","chatId":"chat-acme-team","timestamp":1795352400000,"eventTimestamp":1795352400000,"messageId":"m-late","sender":{"participantType":"email","id":"u-ada","displayName":"Ada Lovelace","email":"ada@acme.example"},"contentType":"text","content":{"contentType":"text","text":"late","markdownText":"late","attachments":[]}}` + "\n"
	if err := os.WriteFile(filepath.Join(logDir, "2026-11-22", "part-0002.jsonl"), []byte(late), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(logDir, "2026-11-22", "_CLOSED"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	setRunClock(t, "2026-11-23T02:00:00Z")
	if code, out, errOut := run("run"); code != exitOK || strings.Contains(out, "sealed 2026-11-22") {
		t.Fatalf("catch-up after the late file: exit %d, want the sealed day left alone\n%s%s", code, out, errOut)
	}
	if code, out, errOut := run("run", "--date", "2026-11-22"); code != exitOK {
		t.Fatalf("run --date after the late file: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := run("export", "--org", acme, "--date", "2026-11-22"); code != exitOK || !strings.Contains(out, "m-late") || strings.Count(out, "\n") != 2 {
		t.Errorf("export after the rerun: exit %d, want revision 2 with the late event\n%s%s", code, out, errOut)
	}
	reliability.Record(t, "input", "a partition without _CLOSED at the day's end plus schedule.grace, a millisecond before and at the instant; a file added after it was sealed", reliability.Kept,
		"left pending before the grace ends, sealed at its end; the late file is not picked up by the catch-up (the day is sealed) and `run --date` of the day commits it as revision 2")
}

// emptyTimeLog is the sample event log without its partition, for a test to write its own
// (timePartition), a fresh folder store, the flags naming both, and run, which runs
// chatvault with them.
func emptyTimeLog(t *testing.T) (logDir, store string, common []string, run func(args ...string) (int, string, string)) {
	t.Helper()
	cleanEnv(t)
	logDir = samplePartition(t)
	if err := os.RemoveAll(filepath.Join(logDir, "2026-11-22")); err != nil {
		t.Fatal(err)
	}
	store = t.TempDir()
	common = []string{"--eventlog", logDir, "--store", store, "--log-format", "json"}
	run = func(args ...string) (int, string, string) {
		t.Helper()
		return chatvault(t, append(args, common...)...)
	}
	return logDir, store, common, run
}
