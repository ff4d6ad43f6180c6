package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// auditRows measures `chatvault audit --org X` over the history store's window as the
// number of organizations with access records grows: first only X has records, then
// SCALEBENCH_AUDIT_ORGS organizations do. Records are made the way production makes them:
// `serve` answers GET /v1/exports/{date}/quarantine (audited like an export) for each organization's token, once per
// sealed day, and writes the audit segments (flushed every second, and at SIGTERM).
func (b *bench) auditRows(ctx context.Context, log string, ids []string, first, last time.Time) ([]row, error) {
	c := b.cfg
	stores := []string{filepath.Join(c.dir, "hist", "store")}
	if c.s3 {
		stores = append(stores, fmt.Sprintf("s3://%s/hist", bucket))
	}
	tokensFile := filepath.Join(c.dir, "tokens.json")
	tokens := make([]string, c.auditOrgs)
	env := append(append([]string(nil), b.env...), "CHATVAULT_AUTH_TOKENSFILE="+tokensFile)
	for i := range tokens {
		r, err := b.cvEnv(ctx, env, nil, "token", "create", "--org", ids[i], "--scope", "admin:compliance:read", "--name", "scalebench")
		if err != nil {
			return nil, err
		}
		tokens[i] = strings.TrimSpace(r.stdout)
	}
	var days []string
	for d := first; !d.After(last); d = d.AddDate(0, 0, 1) {
		days = append(days, d.Format(dayLayout))
	}
	today := time.Now().UTC()
	var rows []row
	for si, st := range stores {
		var se series
		for _, upto := range []int{1, c.auditOrgs} {
			from := 0
			if upto > 1 {
				from = 1
			}
			if err := b.fetchThroughServe(ctx, env, st, log, tokens[from:upto], days); err != nil {
				return nil, err
			}
			// The records are dated when the requests were made (today), not by the day
			// asked for: the window is the last 31 days through today.
			r, err := b.cv(ctx, nil, "audit", "--store", st, "--eventlog", log, "--org", ids[0],
				"--from", today.AddDate(0, 0, -30).Format(dayLayout), "--to", today.Format(dayLayout), "--json")
			if err != nil {
				return nil, err
			}
			returned := strings.Count(r.stdout, "\n")
			objects := ""
			if si == 0 {
				if tc, err := countTree(filepath.Join(st, "audit")); err == nil {
					objects = fmt.Sprintf(", %d audit objects in the store", tc.files)
				}
			}
			se.add(float64(upto), r, fmt.Sprintf("%d orgs with records: %s (CPU %s), %d records returned%s%s", upto, dur(r.wall), dur(r.cpu), returned, objects, reqNote(r)))
		}
		rows = append(rows, row{fmt.Sprintf("`chatvault audit --org` of one org over 31 days, %d requests per org with records, %s", len(days), kindName(si)),
			se.value(), se.law("org with records")})
	}
	return rows, nil
}

// cvEnv is cv with another environment.
func (b *bench) cvEnv(ctx context.Context, env []string, ok []int, args ...string) (result, error) {
	saved := b.env
	b.env = env
	defer func() { b.env = saved }()
	return b.cv(ctx, ok, args...)
}

// served is a running `chatvault serve`.
type served struct {
	base string
	stop func() error
	log  string
}

// startServe starts serve on store (no scheduler, audit flushed every second, no rate
// limit per token: the benchmark makes a request per organization per day) and waits
// until /readyz answers 200. stop sends SIGTERM, which writes the audit records that wait,
// and waits for the exit.
func (b *bench) startServe(ctx context.Context, env []string, store, log string) (*served, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cmd := exec.CommandContext(ctx, b.cfg.bin, "serve", "--store", store, "--eventlog", log)
	cmd.Dir = b.cfg.dir
	cmd.Env = append(append([]string(nil), env...), "CHATVAULT_HTTP_ADDR="+addr, "CHATVAULT_SCHEDULE_ENABLED=false",
		"CHATVAULT_AUDIT_FLUSHINTERVAL=1s", "CHATVAULT_HTTP_TOKENRATE=0")
	logf, err := os.Create(filepath.Join(b.cfg.dir, "serve.log"))
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	fmt.Fprintf(b.log, "scalebench: chatvault serve --store %s\n", store)
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait(); logf.Close() }()
	s := &served{base: "http://" + addr, log: logf.Name()}
	s.stop = func() error {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-done:
			return err
		case <-time.After(60 * time.Second):
			_ = cmd.Process.Kill()
			return fmt.Errorf("serve did not stop within 60 s after SIGTERM (see %s)", s.log)
		}
	}
	client := &http.Client{Timeout: 5 * time.Second}
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		resp, err := client.Get(s.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		select {
		case err := <-done:
			return nil, fmt.Errorf("serve exited before it was ready (%v; see %s)", err, s.log)
		default:
		}
	}
	_ = s.stop()
	return nil, fmt.Errorf("serve not ready within 60 s (see %s)", s.log)
}

// fetchThroughServe starts serve on store, fetches every day's quarantined lines (an
// audited request) with each token, and stops it.
func (b *bench) fetchThroughServe(ctx context.Context, env []string, store, log string, tokens, days []string) error {
	s, err := b.startServe(ctx, env, store, log)
	if err != nil {
		return err
	}
	client := &http.Client{Timeout: 30 * time.Second}
	get := func(tok, d string) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.base+"/v1/exports/"+d+"/quarantine", nil)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET /v1/exports/%s/quarantine: %s", d, resp.Status)
		}
		return nil
	}
	for _, tok := range tokens {
		for _, d := range days {
			if err := get(tok, d); err != nil {
				_ = s.stop()
				return err
			}
		}
	}
	if err := s.stop(); err != nil {
		return fmt.Errorf("serve: %v (see %s)", err, s.log)
	}
	return nil
}
