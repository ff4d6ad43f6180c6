// Command loadbench measures `chatvault serve` on loopback: it generates and seals a day
// of the requested size, starts serve, and has concurrent clients download the day,
// decompressed on the fly and as stored gzip. It prints a Markdown table: throughput,
// p50/p99 latency of a whole download, and the server's peak RSS (VmHWM) during the
// downloads of each day, which must not grow with the size of the day because the server
// streams. The days share one directory snapshot and one serve process.
//
//	go build -o /tmp/chatvault ./cmd/chatvault
//	go run ./scripts/loadbench -chatvault /tmp/chatvault -sizes 10,100 -clients 32
//
// Linux only (it reads /proc). scripts/loadbench.sh does the above.
package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

func main() {
	bin := flag.String("chatvault", "chatvault", "the chatvault binary")
	sizes := flag.String("sizes", "10,100", "day sizes to test, in MB of JSONL (comma-separated)")
	clients := flag.Int("clients", 32, "concurrent clients")
	rounds := flag.Int("rounds", 2, "downloads per client and encoding")
	dir := flag.String("dir", "", "work folder (default a temporary one)")
	flag.Parse()
	if *dir == "" {
		d, err := os.MkdirTemp("", "chatvault-loadbench-")
		if err != nil {
			log.Fatal(err)
		}
		defer os.RemoveAll(d)
		*dir = d
	}
	var mbs []int
	for _, s := range strings.Split(*sizes, ",") {
		mb, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			log.Fatalf("-sizes: %v", err)
		}
		mbs = append(mbs, mb)
	}
	if err := bench(*bin, *dir, mbs, *clients, *rounds); err != nil {
		log.Fatal(err)
	}
}

// bytesPerEvent is what one generated event weighs in the export, on average (measured).
const bytesPerEvent = 513

// bench seals one day per size into one event log that shares one directory snapshot
// (the first gen writes it, the others reuse it), so that the days differ only in size;
// then one serve process answers them all.
func bench(bin, dir string, mbs []int, clients, rounds int) error {
	run := func(args ...string) (string, error) {
		cmd := exec.Command(bin, args...)
		cmd.Env = env(dir)
		out, err := cmd.Output()
		if err != nil {
			if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 3 {
				return string(out), nil // sealed with quarantined records
			}
			return string(out), fmt.Errorf("%s %v: %w", bin, args, err)
		}
		return string(out), nil
	}
	days := make([]string, len(mbs))
	for i, mb := range mbs {
		days[i] = time.Date(2026, 11, 1+i, 0, 0, 0, 0, time.UTC).Format("2006-01-02")
		events := mb << 20 / bytesPerEvent
		if _, err := run("gen", "--date", days[i], "--events", fmt.Sprint(events), "--orgs", "1", "--out", filepath.Join(dir, "eventlog"), "--gzip", "plain"); err != nil {
			return err
		}
		os.WriteFile(filepath.Join(dir, "eventlog", days[i], "_CLOSED"), nil, 0o644)
		if _, err := run("run", "--date", days[i]); err != nil {
			return err
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "eventlog", "directory.json"))
	if err != nil {
		return err
	}
	org := between(string(b), `"id":"`, `"`)
	if org == "" {
		org = between(string(b), `"id": "`, `"`)
	}
	// One token per client, as 32 e-discovery tools would have: the API limits each token.
	toks := make([]string, clients)
	for i := range toks {
		tok, err := run("token", "create", "--org", org, "--scope", "admin:compliance:read", "--name", fmt.Sprint("loadbench-", i))
		if err != nil {
			return err
		}
		toks[i] = strings.TrimSpace(tok)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := exec.CommandContext(ctx, bin, "serve")
	srv.Env = env(dir)
	stdout, _ := srv.StdoutPipe()
	if err := srv.Start(); err != nil {
		return err
	}
	defer srv.Wait()
	defer srv.Process.Signal(os.Interrupt)
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	url := strings.TrimSpace(strings.TrimPrefix(line, "listening on ")) + "/messageevent.export"

	client := &http.Client{Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: clients}}
	// The first request loads the directory's organizations; the peak of that start is
	// reported apart, and reset before each measurement (writing 5 to clear_refs resets
	// VmHWM to the current RSS, Linux 4.0+).
	if _, err := download(client, url, toks[0], days[0], "gzip"); err != nil {
		return err
	}
	startRSS, err := peakRSS(srv.Process.Pid)
	if err != nil {
		return err
	}
	fmt.Printf("serve's peak RSS at start, directory loaded: %d MB\n\n", startRSS>>10)
	fmt.Printf("| day (JSONL) | encoding | clients | downloads | wall | throughput (body) | p50 | p99 | server RSS before | server peak RSS during |\n")
	fmt.Printf("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for i, mb := range mbs {
		for _, enc := range []string{"identity", "gzip"} {
			if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", srv.Process.Pid), []byte("5"), 0); err != nil {
				return fmt.Errorf("reset peak RSS: %w", err)
			}
			before, err := peakRSS(srv.Process.Pid)
			if err != nil {
				return err
			}
			var mu sync.Mutex
			var lat []time.Duration
			var total int64
			var firstErr error
			start := time.Now()
			var wg sync.WaitGroup
			for c := 0; c < clients; c++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for r := 0; r < rounds; r++ {
						t0 := time.Now()
						n, err := download(client, url, toks[c], days[i], enc)
						d := time.Since(t0)
						mu.Lock()
						if err != nil && firstErr == nil {
							firstErr = err
						}
						lat = append(lat, d)
						total += n
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			wall := time.Since(start)
			if firstErr != nil {
				return firstErr
			}
			slices.Sort(lat)
			rss, err := peakRSS(srv.Process.Pid)
			if err != nil {
				return err
			}
			fmt.Printf("| %d MB | %s | %d | %d | %.1fs | %.0f MB/s | %.2fs | %.2fs | %d MB | %d MB |\n", mb, enc, clients, len(lat),
				wall.Seconds(), float64(total)/wall.Seconds()/1e6, pct(lat, 50).Seconds(), pct(lat, 99).Seconds(), before>>10, rss>>10)
		}
	}
	return nil
}

// download fetches the day and checks the body against X-Chatvault-Sha256 (identity)
// or Repr-Digest's length (gzip: the stored bytes).
func download(c *http.Client, url, tok, day, enc string) (int64, error) {
	req, _ := http.NewRequest("POST", url, strings.NewReader(`{"date":"`+day+`"}`))
	req.Header.Set("Authorization", "Bearer "+tok)
	if enc == "gzip" {
		req.Header.Set("Accept-Encoding", "gzip")
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		return 0, fmt.Errorf("status %d: %s", resp.StatusCode, b)
	}
	h := sha256.New()
	n, err := io.Copy(h, resp.Body)
	if err != nil {
		return n, err
	}
	if enc == "identity" && hex.EncodeToString(h.Sum(nil)) != resp.Header.Get("X-Chatvault-Sha256") {
		return n, fmt.Errorf("body does not match X-Chatvault-Sha256")
	}
	if n != resp.ContentLength {
		return n, fmt.Errorf("short body: %d of %d", n, resp.ContentLength)
	}
	return n, nil
}

func pct(s []time.Duration, p int) time.Duration {
	i := (len(s)*p+99)/100 - 1
	return s[max(0, min(i, len(s)-1))]
}

// peakRSS is the process's VmHWM in KiB.
func peakRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			return strconv.ParseInt(strings.Fields(v)[0], 10, 64)
		}
	}
	return 0, fmt.Errorf("no VmHWM")
}

func between(s, a, b string) string {
	_, rest, ok := strings.Cut(s, a)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, b)
	return v
}

func env(dir string) []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CHATVAULT_") {
			out = append(out, kv)
		}
	}
	return append(out,
		"CHATVAULT_EVENTLOG="+filepath.Join(dir, "eventlog"),
		"CHATVAULT_STORE="+filepath.Join(dir, "archive"),
		"CHATVAULT_AUTH_TOKENSFILE="+filepath.Join(dir, "tokens.json"),
		"CHATVAULT_EXPORT_TEMPDIR="+dir,
		"CHATVAULT_HTTP_ADDR=127.0.0.1:0",
		"CHATVAULT_SCHEDULE_ENABLED=false",
		// Every client is 127.0.0.1 here; the per-address limit would measure itself.
		"CHATVAULT_HTTP_CLIENTRATE=0",
		"CHATVAULT_LOG_LEVEL=error",
		"CHATVAULT_LOG_FORMAT=json",
	)
}
