package main

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver/exporttask"
	"github.com/chatvault/chatvault/archiver/scheduler"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestOrgSeesOnlyItsOwn seals the sample day, which has records of two organizations and a
// quarantine, and fetches everything Acme's token can over the API: the manifest, the
// listing, an export with its headers, an export task's status and result, errors. None of
// it may carry Globex's id, the day's quarantine object, the day-level accounting object or
// the whole day's input counts (DESIGN invariant 5).
func TestOrgSeesOnlyItsOwn(t *testing.T) {
	cleanEnv(t)
	pinLayout2(t)
	t.Setenv("CHATVAULT_AUTH_TOKENSFILE", filepath.Join(t.TempDir(), "tokens.json"))
	t.Setenv("CHATVAULT_HTTP_ADDR", "127.0.0.1:0")
	t.Setenv("CHATVAULT_SCHEDULE_ENABLED", "false")
	t.Setenv("CHATVAULT_EXPORT_TEMPDIR", t.TempDir())
	common := []string{"--eventlog", "../../testdata/eventlog", "--store", t.TempDir(), "--log-format", "json", "--log-level", "error"}
	code, runOut, errOut := chatvault(t, append([]string{"run", "--date", "2026-11-22"}, common...)...)
	if code != exitQuarantined {
		t.Fatalf("run: exit %d\n%s", code, errOut)
	}
	// The operator still sees the day-level numbers in run's summary.
	for _, want := range []string{"29 events read", "9 quarantined", "quarantine object quarantine/2026-11-22/", "accounting object accounting/2026-11-22/",
		"7 quarantined lines attributed to " + acme + " (Acme): orgs/" + acme + "/days/2026-11-22/quarantine-"} {
		if !strings.Contains(runOut, want) {
			t.Errorf("run's summary lacks %q:\n%s", want, runOut)
		}
	}
	code, out, _ := chatvault(t, append([]string{"status", "--org", acme, "--date", "2026-11-22"}, common...)...)
	if lines := strings.Split(strings.TrimSpace(out), "\n"); code != exitOK || len(lines) != 6 ||
		strings.Join(strings.Fields(lines[5])[:6], " ") != "2026-11-22 29 13 5 2 9" {
		t.Errorf("status does not show the day-level accounting: exit %d\n%s", code, out)
	}
	code, out, errOut = chatvault(t, append([]string{"token", "create", "--org", acme, "--scope", "admin:compliance:read", "--scope", "admin:audit:read"}, common...)...)
	if code != exitOK {
		t.Fatalf("token create: %d %s", code, errOut)
	}
	tok := strings.TrimSpace(out)

	type ended struct {
		id    string
		state exporttask.State
	}
	done := make(chan ended, 4)
	serveHooks.taskDone = func(id string, s exporttask.State) { done <- ended{id, s} }
	t.Cleanup(func() { serveHooks.taskDone = nil })
	srv := startServe(t, common...)

	// forbidden are what Acme must never see: Globex's id, the shared day-level objects'
	// keys, and the names of the whole day's counts.
	forbidden := []string{globexID, "quarantine/", "accounting/", `"input"`, `"quarantine"`, `"read"`, `"quarantined"`}
	fetched := 0
	check := func(what string, resp *http.Response, body []byte) {
		t.Helper()
		fetched++
		var all strings.Builder
		all.Write(body)
		for k, vs := range resp.Header {
			all.WriteString("\n" + k + ": " + strings.Join(vs, ","))
		}
		for _, f := range forbidden {
			if strings.Contains(all.String(), f) {
				t.Errorf("%s (%d) carries %s:\n%s", what, resp.StatusCode, f, all.String())
			}
		}
	}
	do := func(method, path, body string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, "http://"+srv.addr+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, b
	}

	resp, body := do("GET", "/v1/exports/2026-11-22/manifest", "")
	if resp.StatusCode != 200 {
		t.Fatalf("manifest: %d %s", resp.StatusCode, body)
	}
	check("manifest", resp, body)
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	if m["org"] != acme || m["counts"] == nil {
		t.Fatalf("manifest is not Acme's: %s", body)
	}
	for _, f := range []string{"input", "quarantine"} {
		if _, ok := m[f]; ok {
			t.Errorf("Acme's manifest has the day-level field %q", f)
		}
	}
	for _, r := range []struct{ what, method, path, body string }{
		{"listing", "GET", "/v1/exports?from=2026-11-20&to=2026-11-23", ""},
		{"export", "POST", "/messageevent.export", `{"date":"2026-11-22"}`},
		{"export by URL (not offered by a folder store)", "POST", "/messageevent.export", `{"date":"2026-11-22","delivery":"url"}`},
		{"pending day", "POST", "/messageevent.export", `{"date":"2026-11-21"}`},
		{"pending manifest", "GET", "/v1/exports/2026-11-21/manifest", ""},
		{"the organization's quarantined lines", "GET", "/v1/exports/2026-11-22/quarantine", ""},
		{"pending quarantine", "GET", "/v1/exports/2026-11-21/quarantine", ""},
		{"before archival start", "GET", "/v1/exports/2025-11-21/manifest", ""},
		{"bad date", "POST", "/messageevent.export", `{"date":"2026-02-30"}`},
		{"audit", "GET", "/v1/audit?from=2026-11-20&to=2026-12-31", ""},
		{"bad task", "POST", "/v1/exports/tasks", `{"from":"2026-11-22","to":"2026-11-22","format":"jsonl","chatIds":["00000000-0000-4000-8000-000000000000"]}`},
	} {
		resp, body := do(r.method, r.path, r.body)
		check(r.what, resp, body)
	}

	// Acme's quarantined lines reach it over serve, and they are its own only (checked above).
	if resp, body := do("GET", "/v1/exports/2026-11-22/quarantine", ""); resp.StatusCode != 200 || strings.Count(string(body), "\n") != 7 {
		t.Errorf("Acme's quarantine: %d, %d lines, want 200 and 7", resp.StatusCode, strings.Count(string(body), "\n"))
	}

	resp, body = do("POST", "/v1/exports/tasks", `{"from":"2026-11-22","to":"2026-11-22","format":"html"}`)
	if resp.StatusCode != 202 {
		t.Fatalf("create task: %d %s", resp.StatusCode, body)
	}
	check("task created", resp, body)
	var created struct{ TaskID string }
	if err := json.Unmarshal(body, &created); err != nil {
		t.Fatal(err)
	}
	for e := range done {
		if e.id != created.TaskID {
			continue
		}
		if e.state != exporttask.StateCompleted {
			t.Fatalf("task ended %s", e.state)
		}
		break
	}
	resp, body = do("GET", "/v1/exports/tasks/"+created.TaskID, "")
	check("task status", resp, body)
	var st exporttask.Status
	if err := json.Unmarshal(body, &st); err != nil || st.URL == "" {
		t.Fatalf("task status: %d %s", resp.StatusCode, body)
	}
	resp, body = do("GET", "/v1/exports/tasks", "")
	check("task list", resp, body)
	resp, body = do("GET", strings.TrimPrefix(st.URL, "http://"+srv.addr), "")
	if resp.StatusCode != 200 {
		t.Fatalf("download %s: %d", st.URL, resp.StatusCode)
	}
	zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
	if err != nil {
		t.Fatalf("the html result is not a ZIP: %v", err)
	}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		check("task result "+f.Name, resp, b)
	}
	reliability.Record(t, "security", "an organization reads its manifest, listing, export, task and errors on a day shared with another",
		reliability.Refused, "no other organization's id, no whole-day counts, no shared quarantine or accounting key")
}

// TestServeMetricsAddr runs serve with its scheduler, which seals the sample day at
// start-up and so sets per-organization series, once without and once with
// http.metricsAddr: the API's /metrics never shows an organization's id; the metrics
// address, when set, shows them and the API's address serves no /metrics at all.
func TestServeMetricsAddr(t *testing.T) {
	for _, private := range []bool{false, true} {
		t.Run(map[bool]string{false: "no metricsAddr", true: "metricsAddr"}[private], func(t *testing.T) {
			cleanEnv(t)
			t.Setenv("CHATVAULT_AUTH_TOKENSFILE", filepath.Join(t.TempDir(), "tokens.json"))
			t.Setenv("CHATVAULT_HTTP_ADDR", "127.0.0.1:0")
			t.Setenv("CHATVAULT_EXPORT_TEMPDIR", t.TempDir())
			if private {
				t.Setenv("CHATVAULT_HTTP_METRICSADDR", "127.0.0.1:0")
			}
			common := []string{"--eventlog", "../../testdata/eventlog", "--store", t.TempDir(), "--log-format", "json", "--log-level", "error"}
			if code, _, errOut := chatvault(t, append([]string{"token", "create", "--org", acme, "--scope", "admin:compliance:read"}, common...)...); code != exitOK {
				t.Fatalf("token create: %d %s", code, errOut)
			}
			ticks := make(chan scheduler.Report, 1)
			metricsAt := make(chan string, 1)
			serveHooks.clock = scheduler.NewFakeClock(time.Date(2026, 11, 23, 1, 0, 0, 0, time.UTC))
			serveHooks.onTick = func(r scheduler.Report) { ticks <- r }
			serveHooks.metricsListening = func(a string) { metricsAt <- a }
			t.Cleanup(func() { serveHooks.clock, serveHooks.onTick, serveHooks.metricsListening = nil, nil, nil })
			srv := startServe(t, common...)
			if r := <-ticks; len(r.Sealed) != 2 {
				t.Fatalf("start-up tick: %+v", r)
			}
			get := func(url string) (int, string) {
				t.Helper()
				resp, err := http.Get(url)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				return resp.StatusCode, string(b)
			}
			code, body := get("http://" + srv.addr + "/metrics")
			for _, id := range []string{acme, globexID} {
				if strings.Contains(body, id) {
					t.Errorf("the API's /metrics (%d) shows %s", code, id)
				}
			}
			perOrg := `chatvault_last_sealed_day_timestamp_seconds{org="` + acme + `"}`
			if !private {
				if code != 200 || !strings.Contains(body, "go_goroutines ") || strings.Contains(body, "chatvault_") {
					t.Errorf("the API's /metrics: %d, want the runtime's series and no chatvault_ series:\n%s", code, body)
				}
				reliability.Record(t, "security", "unauthenticated GET /metrics on the API's address, after a seal", reliability.Refused,
					"only the Go runtime's and the process's series; every chatvault_ series is on http.metricsAddr")
				return
			}
			if code != 404 {
				t.Errorf("the API's /metrics with http.metricsAddr set: %d, want 404", code)
			}
			code, body = get("http://" + <-metricsAt + "/metrics")
			if code != 200 || !strings.Contains(body, perOrg) {
				t.Errorf("http.metricsAddr's /metrics: %d, lacks %s", code, perOrg)
			}
		})
	}
}
