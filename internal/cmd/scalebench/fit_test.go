package main

import (
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestFit(t *testing.T) {
	tests := []struct {
		name                  string
		pts                   []point
		slope, intercept, exp float64
		ok                    bool
	}{
		{"linear through the origin", []point{{10, 0.02}, {1000, 2}}, 0.002, 0, 1, true},
		{"fixed cost", []point{{10, 3}, {100, 3}, {1000, 3}}, 0, 3, 0, true},
		{"line with an intercept", []point{{1, 3}, {2, 5}, {3, 7}}, 2, 1, math.Log(7.0/3) / math.Log(3), true},
		{"quadratic exponent", []point{{10, 100}, {100, 10000}}, 110, -1000, 2, true},
		{"one size", []point{{10, 1}}, 0, 0, 0, false},
		{"the same size twice", []point{{10, 1}, {10, 2}}, 0, 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			slope, intercept, exp, ok := fit(tt.pts)
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v", ok, tt.ok)
			}
			if !ok {
				return
			}
			for _, c := range []struct {
				what      string
				got, want float64
			}{{"slope", slope, tt.slope}, {"intercept", intercept, tt.intercept}, {"exponent", exp, tt.exp}} {
				if math.Abs(c.got-c.want) > 1e-9*math.Max(1, math.Abs(c.want)) {
					t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
				}
			}
		})
	}
}

func TestLawAndSeconds(t *testing.T) {
	tests := []struct {
		got, want string
	}{
		{law([]point{{10, 0.02}, {1000, 2}}, "org"), "+2 ms per org (fixed 0 s), exponent 1.00"},
		{law([]point{{10, 1.5}}, "org"), "one size only: no law"},
		{countLaw([]point{{10, 21}, {50, 101}}, "org"), "+2 per org (fixed 1), exponent 0.98"},
		{seconds(12.345), "12.3 s"},
		{seconds(1.234), "1.23 s"},
		{seconds(0.0456), "45.6 ms"},
		{seconds(0.0000123), "12.3 µs"},
		{signedSeconds(-0.002), "-2 ms"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

func TestTableEscapesCells(t *testing.T) {
	got := table([]row{{"`jq | gzip`", "1 s\n2 s", "flat"}})
	want := "| what | value | growth law |\n| --- | --- | --- |\n| `jq \\| gzip` | 1 s 2 s | flat |\n"
	if got != want {
		t.Errorf("table:\n%s\nwant:\n%s", got, want)
	}
}

func TestLoadConfig(t *testing.T) {
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	c, err := loadConfig(env("SCALEBENCH_BIN", "/x/chatvault"))
	if err != nil {
		t.Fatal(err)
	}
	if c.s3 || len(c.fleetOrgs) != 3 || c.fleetOrgs[2] != 2000 || c.histDays[1] != 90 {
		t.Errorf("defaults: %+v", c)
	}
	c, err = loadConfig(env("SCALEBENCH_BIN", "cv", "SCALEBENCH_MINIO", "/m", "SCALEBENCH_FLEET_ORGS", "5, 7"))
	if err != nil || !c.s3 || len(c.fleetOrgs) != 2 || c.fleetOrgs[1] != 7 {
		t.Errorf("with MinIO and sizes: %+v, %v", c, err)
	}
	for _, bad := range [][]string{
		{},
		{"SCALEBENCH_BIN", "cv", "SCALEBENCH_FLEET_ORGS", "ten"},
		{"SCALEBENCH_BIN", "cv", "SCALEBENCH_HIST_DAYS", "90,30"},
		{"SCALEBENCH_BIN", "cv", "SCALEBENCH_HIST_DAYS", "30,400"},
		{"SCALEBENCH_BIN", "cv", "SCALEBENCH_FLEET_EVENTS", "1,2"},
		{"SCALEBENCH_BIN", "cv", "SCALEBENCH_ONLY", "verify"},
		{"SCALEBENCH_BIN", "cv", "SCALEBENCH_ONLY", "chain"},
	} {
		if _, err := loadConfig(env(bad...)); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
}

func TestRequestKind(t *testing.T) {
	tests := []struct{ method, url, want string }{
		{"GET", "/scalebench?list-type=2&prefix=orgs%2F", "LIST"},
		{"GET", "/scalebench/", "LIST"},
		{"GET", "/scalebench?object-lock=", "GET"},
		{"GET", "/scalebench/orgs/a/manifests/000000000001.json", "GET"},
		{"HEAD", "/scalebench/orgs/a/x", "HEAD"},
		{"PUT", "/scalebench/orgs/a/x", "PUT"},
	}
	for _, tt := range tests {
		u, err := url.Parse(tt.url)
		if err != nil {
			t.Fatal(err)
		}
		if got := requestKind(tt.method, u); got != tt.want {
			t.Errorf("%s %s = %s, want %s", tt.method, tt.url, got, tt.want)
		}
	}
}

func TestArchiveAllAndManifestRecords(t *testing.T) {
	dir := t.TempDir()
	dirJSON := `{"organizations":[{"id":"a","archival":false},{"id":"b","archival":true,"archivalStart":"2030-01-01"}],"users":[{"id":"u"}]}`
	if err := os.WriteFile(filepath.Join(dir, "directory.json"), []byte(dirJSON), 0o600); err != nil {
		t.Fatal(err)
	}
	ids, err := archiveAll(dir, mustDay(t, "2026-01-01"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(ids, ",") != "a,b" {
		t.Errorf("ids = %v", ids)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "directory.json"))
	if strings.Count(string(raw), `"archivalStart":"2026-01-01"`) != 2 || strings.Contains(string(raw), `"archival":false`) || !strings.Contains(string(raw), `"users":[{"id":"u"}]`) {
		t.Errorf("directory after archiveAll: %s", raw)
	}

	m := filepath.Join(dir, "r0001.json")
	if err := os.WriteFile(m, []byte(`{"date":"2026-11-22","data":{"records":0}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if n, ok := manifestRecords(m); !ok || n != 0 {
		t.Errorf("manifest with 0 records: %d, %v", n, ok)
	}
	if err := os.WriteFile(m, []byte(`{"date":"2026-11-22","chats":[]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, ok := manifestRecords(m); ok {
		t.Error("a JSON file without data.records counted as a manifest")
	}
}

func mustDay(t *testing.T, s string) (d time.Time) {
	t.Helper()
	d, err := time.Parse(dayLayout, s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestCountingProxyCountsByKindAndKey(t *testing.T) {
	p := &countingProxy{next: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), n: map[string]int{}}
	for _, u := range []string{"/b?list-type=2&prefix=hist%2Ftasks%2F", "/b/hist/tasks/o/t/request.json", "/b/hist/orgs/o/days/x"} {
		p.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, u, nil))
	}
	if got := p.countMatching("tasks/"); got != 2 {
		t.Errorf("requests under tasks/ = %d, want 2", got)
	}
	if c := p.counts(); c["LIST"] != 1 || c["GET"] != 2 {
		t.Errorf("counts = %v", c)
	}
	p.reset()
	if got := p.countMatching(""); got != 0 {
		t.Errorf("after reset: %d requests", got)
	}
}

func TestSeriesLaw(t *testing.T) {
	var folder, s3 series
	folder.add(10, result{wall: 20 * time.Millisecond, cpu: 10 * time.Millisecond}, "10 orgs")
	folder.add(1000, result{wall: 2 * time.Second, cpu: time.Second}, "1000 orgs")
	if got, want := folder.law("org"), "wall +2 ms per org (fixed 0 s), exponent 1.00; CPU +1 ms per org (fixed 0 s), exponent 1.00"; got != want {
		t.Errorf("folder law = %q, want %q", got, want)
	}
	if got := folder.value(); got != "10 orgs; 1000 orgs" {
		t.Errorf("value = %q", got)
	}
	s3.add(10, result{wall: time.Second, requests: map[string]int{"LIST": 10, "GET": 1}}, "")
	s3.add(50, result{wall: time.Second, requests: map[string]int{"LIST": 50, "GET": 1}}, "")
	if got, want := s3.law("org"), "+1 per org (fixed 1), exponent 0.95 requests; wall +0 s per org (fixed 1.00 s), exponent 0.00"; got != want {
		t.Errorf("S3 law = %q, want %q", got, want)
	}
}
