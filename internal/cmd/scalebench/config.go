package main

import (
	"fmt"
	"strconv"
	"strings"
)

// config is what the environment asks for. Every size has a default that, all rows
// together, finishes in about ten minutes on an idle 2-core box.
type config struct {
	bin   string // SCALEBENCH_BIN: the chatvault binary measured (required)
	dir   string // SCALEBENCH_DIR: where generated data goes (default: a new temporary folder)
	keep  bool   // SCALEBENCH_KEEP=1: keep the data afterwards
	minio string // SCALEBENCH_MINIO: MinIO server binary; empty skips the S3 rows
	s3    bool   // SCALEBENCH_S3=0 skips the S3 rows even with a MinIO binary
	only  string // SCALEBENCH_ONLY: "fleet", "history" or "chain" runs that part alone; empty all

	fleetOrgs   []int // SCALEBENCH_FLEET_ORGS: organizations of the one-large-day and tick rows
	fleetEvents int   // SCALEBENCH_FLEET_EVENTS: events of that day
	s3FleetOrgs []int // SCALEBENCH_S3_FLEET_ORGS: the sizes the S3 tick row repeats
	lookback    int   // SCALEBENCH_LOOKBACK: days from archivalStart to yesterday

	histOrgs   int   // SCALEBENCH_HIST_ORGS: organizations of the history store
	histDays   []int // SCALEBENCH_HIST_DAYS: sealed days at which the history rows are measured
	histEvents int   // SCALEBENCH_HIST_EVENTS: events per day of the history store

	chainDays int   // SCALEBENCH_CHAIN_DAYS: days of the one-organization long chain (0, the default, skips it)
	tasks     []int // SCALEBENCH_TASKS: stored export tasks at which the janitor is measured (S3 only)
	auditOrgs int   // SCALEBENCH_AUDIT_ORGS: organizations whose exports are fetched through serve (0 skips)
}

func loadConfig(getenv func(string) string) (config, error) {
	c := config{
		bin:   getenv("SCALEBENCH_BIN"),
		dir:   getenv("SCALEBENCH_DIR"),
		keep:  getenv("SCALEBENCH_KEEP") == "1",
		minio: getenv("SCALEBENCH_MINIO"),
		s3:    getenv("SCALEBENCH_S3") != "0",
		only:  getenv("SCALEBENCH_ONLY"),
	}
	if c.only != "" && c.only != "fleet" && c.only != "history" && c.only != "chain" {
		return c, fmt.Errorf("SCALEBENCH_ONLY: %q is not fleet, history or chain", c.only)
	}
	if c.bin == "" {
		return c, fmt.Errorf("SCALEBENCH_BIN is not set: the chatvault binary to measure")
	}
	var err error
	ints := func(name, def string) []int {
		v := getenv(name)
		if v == "" {
			v = def
		}
		var out []int
		for _, f := range strings.Split(v, ",") {
			n, e := strconv.Atoi(strings.TrimSpace(f))
			if e != nil || n < 0 {
				err = fmt.Errorf("%s: %q is not a list of counts", name, v)
				return nil
			}
			out = append(out, n)
		}
		return out
	}
	one := func(name, def string) int {
		l := ints(name, def)
		if len(l) != 1 {
			if err == nil {
				err = fmt.Errorf("%s: want one count", name)
			}
			return 0
		}
		return l[0]
	}
	c.fleetOrgs = ints("SCALEBENCH_FLEET_ORGS", "10,1000,2000")
	c.fleetEvents = one("SCALEBENCH_FLEET_EVENTS", "200000")
	c.s3FleetOrgs = ints("SCALEBENCH_S3_FLEET_ORGS", "10,1000")
	c.lookback = one("SCALEBENCH_LOOKBACK", "365")
	c.histOrgs = one("SCALEBENCH_HIST_ORGS", "20")
	c.histDays = ints("SCALEBENCH_HIST_DAYS", "30,90")
	c.histEvents = one("SCALEBENCH_HIST_EVENTS", "2000")
	c.chainDays = one("SCALEBENCH_CHAIN_DAYS", "0")
	c.tasks = ints("SCALEBENCH_TASKS", "10,40")
	c.auditOrgs = one("SCALEBENCH_AUDIT_ORGS", "20")
	if err != nil {
		return c, err
	}
	for i := 1; i < len(c.histDays); i++ {
		if c.histDays[i] <= c.histDays[i-1] {
			return c, fmt.Errorf("SCALEBENCH_HIST_DAYS must grow: %v", c.histDays)
		}
	}
	if len(c.histDays) == 0 || c.histDays[0] < 2 {
		return c, fmt.Errorf("SCALEBENCH_HIST_DAYS: at least 2 days")
	}
	if last := c.histDays[len(c.histDays)-1]; last >= c.lookback {
		return c, fmt.Errorf("SCALEBENCH_HIST_DAYS (%d) must stay below SCALEBENCH_LOOKBACK (%d)", last, c.lookback)
	}
	if c.chainDays == 1 || (c.only == "chain" && c.chainDays == 0) {
		return c, fmt.Errorf("SCALEBENCH_CHAIN_DAYS: at least 2 days (SCALEBENCH_ONLY=chain needs it)")
	}
	if c.auditOrgs > c.histOrgs {
		return c, fmt.Errorf("SCALEBENCH_AUDIT_ORGS (%d) must not exceed SCALEBENCH_HIST_ORGS (%d)", c.auditOrgs, c.histOrgs)
	}
	if c.minio == "" {
		c.s3 = false
	}
	return c, nil
}
