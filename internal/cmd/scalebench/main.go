package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"
)

const dayLayout = "2006-01-02"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "scalebench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	if cfg.bin, err = filepath.Abs(cfg.bin); err != nil {
		return err
	}
	if cfg.dir == "" {
		if cfg.dir, err = os.MkdirTemp("", "chatvault-scalebench."); err != nil {
			return err
		}
	} else if cfg.dir, err = filepath.Abs(cfg.dir); err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.dir, 0o700); err != nil {
		return err
	}
	if !cfg.keep {
		defer os.RemoveAll(cfg.dir)
	}
	b := &bench{cfg: cfg, log: stderr}
	// The children get a clean chatvault environment: no CHATVAULT_ setting of the caller's
	// shell may change what is measured.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CHATVAULT_") && !strings.HasPrefix(kv, "AWS_") {
			b.env = append(b.env, kv)
		}
	}
	b.env = append(b.env, "CHATVAULT_LOG_FORMAT=json")
	if cfg.s3 {
		m, err := startMinIO(ctx, cfg.minio, cfg.dir)
		if err != nil {
			return err
		}
		defer m.stop()
		b.proxy = m.proxy
		b.env = append(b.env, m.env()...)
	}
	version, _ := b.cv(ctx, nil, "version")
	load0 := loadAverage()
	began := time.Now()
	yesterday := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -1)

	var rows []row
	if cfg.only == "" || cfg.only == "fleet" {
		fleetRows, err := b.fleet(ctx, yesterday)
		if err != nil {
			return err
		}
		rows = append(rows, fleetRows...)
	}
	if cfg.only == "" || cfg.only == "history" {
		histRows, err := b.history(ctx, yesterday)
		if err != nil {
			return err
		}
		rows = append(rows, histRows...)
	}
	if cfg.chainDays > 0 && (cfg.only == "" || cfg.only == "chain") {
		chainRows, err := b.chainRow(ctx, yesterday)
		if err != nil {
			return err
		}
		rows = append(rows, chainRows...)
	}
	if !cfg.s3 && (cfg.only == "" || cfg.only == "history") {
		rows = append(rows, row{"export-task janitor", "not measured: it runs only inside `serve`, and is measured by counting S3 requests (needs MinIO)", "-"})
	}

	fmt.Fprintln(stdout, table(rows))
	fmt.Fprintf(stdout, "binary: %s (%s)\n", cfg.bin, strings.TrimSpace(version.stdout))
	fmt.Fprintf(stdout, "machine: %d cores, %s; load average %s at start, %s at end; took %s\n",
		runtime.NumCPU(), runtime.GOOS, load0, loadAverage(), time.Since(began).Round(time.Second))
	if cfg.only == "" || cfg.only == "fleet" {
		fmt.Fprintf(stdout, "sizes: fleet %v orgs × %d events on %s (archivalStart %d days back)\n",
			cfg.fleetOrgs, cfg.fleetEvents, yesterday.Format(dayLayout), cfg.lookback)
	}
	if cfg.only == "" || cfg.only == "history" {
		fmt.Fprintf(stdout, "sizes: history %d orgs × %v days of %d events; audit %d orgs; janitor %v tasks\n",
			cfg.histOrgs, cfg.histDays, cfg.histEvents, cfg.auditOrgs, cfg.tasks)
	}
	if cfg.chainDays > 0 && (cfg.only == "" || cfg.only == "chain") {
		fmt.Fprintf(stdout, "sizes: one chain of %d days\n", cfg.chainDays)
	}
	fmt.Fprintf(stdout, "S3: %s\n", s3Note(cfg))
	fmt.Fprintln(stdout, "each figure is one run (wall time); CPU seconds and RSS from the child's rusage; S3 requests counted by a proxy in front of a loopback MinIO.")
	return nil
}

func s3Note(c config) string {
	if !c.s3 {
		return "skipped (no SCALEBENCH_MINIO, or SCALEBENCH_S3=0)"
	}
	return fmt.Sprintf("on a loopback MinIO, tick at %v orgs", c.s3FleetOrgs)
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// gen writes one day's partition; the first call in a folder also writes directory.json.
func (b *bench) gen(ctx context.Context, log string, day time.Time, events, orgs int) error {
	_, err := b.cv(ctx, nil, "gen", "--date", day.Format(dayLayout), "--events", fmt.Sprint(events),
		"--orgs", fmt.Sprint(orgs), "--out", log, "--seed", "1")
	return err
}

// archiveAll turns archival on for every organization of log's directory, from start, so
// that every generated organization is an archiving one and the look-back is the same
// for all. It returns the organizations' ids.
func archiveAll(log string, start time.Time) ([]string, error) {
	path := filepath.Join(log, "directory.json")
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var d map[string]json.RawMessage
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, err
	}
	var orgs []map[string]any
	if err := json.Unmarshal(d["organizations"], &orgs); err != nil {
		return nil, fmt.Errorf("%s: organizations: %w", path, err)
	}
	ids := make([]string, 0, len(orgs))
	for _, o := range orgs {
		o["archival"] = true
		o["archivalStart"] = start.Format(dayLayout)
		id, _ := o["id"].(string)
		ids = append(ids, id)
	}
	if d["organizations"], err = json.Marshal(orgs); err != nil {
		return nil, err
	}
	if raw, err = json.Marshal(d); err != nil {
		return nil, err
	}
	return ids, os.WriteFile(path, raw, 0o600)
}

// orgDays is what the folder store holds for each organization: files and folders under
// orgs/<org>/, and whether its days hold records (read from the manifests' data.records).
type orgDays struct {
	files, dirs int
	records     int
	days        int
}

func perOrg(store string) (map[string]*orgDays, error) {
	root := filepath.Join(store, "orgs")
	ents, err := os.ReadDir(root)
	if err != nil {
		return nil, err
	}
	out := map[string]*orgDays{}
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		od := &orgDays{dirs: 1}
		out[e.Name()] = od
		err := filepath.WalkDir(filepath.Join(root, e.Name()), func(path string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if path != filepath.Join(root, e.Name()) {
					od.dirs++
				}
				return nil
			}
			od.files++
			if strings.HasSuffix(path, ".json") && isDayObject(filepath.ToSlash(path)) {
				if n, ok := manifestRecords(path); ok {
					od.records += n
					od.days++
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// isDayObject: a path under an organization's days, in either store layout
// (orgs/<org>/days/<date>/… or orgs/<org>/d/<yyyy>/<mm>/<dd>.…), where its manifests are.
func isDayObject(path string) bool {
	return strings.Contains(path, "/days/") || strings.Contains(path, "/d/")
}

// manifestRecords reads data.records of a manifest; ok is false for any other JSON file.
func manifestRecords(path string) (int, bool) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	var m struct {
		Date string `json:"date"`
		Data *struct {
			Records *int `json:"records"`
		} `json:"data"`
	}
	if json.Unmarshal(raw, &m) != nil || m.Date == "" || m.Data == nil || m.Data.Records == nil {
		return 0, false
	}
	return *m.Data.Records, true
}

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

func requestsNote(r result) string {
	if r.requests == nil {
		return ""
	}
	kinds := make([]string, 0, len(r.requests))
	for k := range r.requests {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	parts := make([]string, 0, len(kinds))
	for _, k := range kinds {
		parts = append(parts, fmt.Sprintf("%d %s", r.requests[k], k))
	}
	return fmt.Sprintf("%d requests (%s)", r.totalRequests(), strings.Join(parts, ", "))
}
