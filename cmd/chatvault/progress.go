package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/internal/panics"
)

// startProgress shows a run's progress until the returned stop is called: a bar redrawn
// in place on a terminal, or a log line every 10 seconds otherwise (cron, CI, files).
func startProgress(ctx context.Context, e *env, day archiver.Day, p *archiver.Progress) (stop func()) {
	interval := 10 * time.Second
	if e.tty {
		interval = 200 * time.Millisecond
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer panics.Log(e.log, "progress display stopped by a bug") // the seal goes on
		t := time.NewTicker(interval)
		defer t.Stop()
		start := time.Now()
		for {
			select {
			case <-ctx.Done():
				if e.tty {
					fmt.Fprint(e.stderr, "\r\033[K")
				}
				return
			case <-t.C:
				phase, _ := p.Phase.Load().(string)
				read, routed, written := p.Read.Load(), p.Routed.Load(), p.Written.Load()
				rate := float64(read) / time.Since(start).Seconds()
				if !e.tty {
					e.log.Info("progress", "day", day.String(), "phase", phase, "read", read, "written", written, "routed", routed)
					continue
				}
				line := fmt.Sprintf("%s %-8s %d events read (%.0f/s)", day, phase, read, rate)
				if phase == "writing" && routed > 0 {
					line = fmt.Sprintf("%s writing  %s %3.0f%% %d/%d records", day, bar(written, routed, 30), 100*float64(written)/float64(routed), written, routed)
				}
				fmt.Fprintf(e.stderr, "\r\033[K%s", line)
			}
		}
	}()
	return func() {
		cancel()
		wg.Wait()
	}
}

func bar(n, total int64, width int) string {
	filled := int(float64(width) * float64(n) / float64(total))
	filled = max(0, min(width, filled))
	return "[" + strings.Repeat("#", filled) + strings.Repeat(".", width-filled) + "]"
}
