//go:build crashpoints

package crashpoint

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

type action int

const (
	crash action = iota
	pause
	full
	panicking
)

// plan is one NAME:N of the environment.
type plan struct {
	name string
	n    int64
}

var (
	once    sync.Once
	plans   [4]*plan
	mu      sync.Mutex
	hits    = map[string]int64{}
	resumed = bufio.NewReader(os.Stdin)
)

func load() {
	for a, env := range [...]string{"CHATVAULT_CRASH_AT", "CHATVAULT_PAUSE_AT", "CHATVAULT_FULL_AT", "CHATVAULT_PANIC_AT"} {
		v := os.Getenv(env)
		if v == "" {
			continue
		}
		name, count, ok := strings.Cut(v, ":")
		n, err := strconv.ParseInt(count, 10, 64)
		if _, known := Points[name]; !ok || err != nil || n < 1 || !known {
			fmt.Fprintf(os.Stderr, "crashpoint: %s=%q: want NAME:N with a known NAME and N >= 1\n", env, v)
			os.Exit(2)
		}
		plans[a] = &plan{name: name, n: n}
	}
}

// hit counts a hit of name and returns what to do about it, if anything.
func hit(name string) (act action, n int64, ok bool) {
	once.Do(load)
	mu.Lock()
	defer mu.Unlock()
	hits[name]++
	n = hits[name]
	for a, p := range plans {
		if p == nil || p.name != name {
			continue
		}
		if n == p.n || (action(a) == full && n > p.n) {
			return action(a), n, true
		}
	}
	return 0, n, false
}

// Hit marks the named point: see the package documentation for what it may do.
func Hit(name string) {
	if act, n, ok := hit(name); ok {
		do(act, name, n)
	}
}

func do(act action, name string, n int64) {
	switch act {
	case crash:
		kill()
	case pause:
		// The lock is not held: other goroutines go on until they hit a point or block.
		fmt.Fprintf(os.Stderr, "crashpoint: paused at %s:%d\n", name, n)
		_, _ = resumed.ReadString('\n')
	case panicking:
		panic(fmt.Sprintf("crashpoint: %s:%d", name, n))
	}
}

// kill ends the process as a power cut or the OOM killer would: no deferred calls, no
// flushing, no clean-up.
func kill() {
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {} // the signal is on its way; let nothing else happen in this goroutine
}

// Writer returns a writer whose every Write is a hit of the named point.
func Writer(name string, w io.Writer) io.Writer { return &writer{name: name, w: w} }

type writer struct {
	name string
	w    io.Writer
}

func (w *writer) Write(p []byte) (int, error) {
	act, n, ok := hit(w.name)
	if !ok {
		return w.w.Write(p)
	}
	switch act {
	case crash:
		_, _ = w.w.Write(p[:len(p)/2]) // a torn write: part of the bytes reach the file
		kill()
	case full:
		return 0, syscall.ENOSPC
	default:
		do(act, w.name, n)
	}
	return w.w.Write(p)
}
