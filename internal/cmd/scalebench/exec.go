package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// result is what one chatvault command cost: wall time, CPU time, peak RSS, and the S3
// requests it made when it ran against the counting proxy.
type result struct {
	wall     time.Duration
	cpu      time.Duration
	maxRSS   int64 // bytes
	stdout   string
	requests map[string]int // by kind (GET, PUT, LIST, HEAD, DELETE, POST); nil on the folder store
}

func (r result) totalRequests() int {
	n := 0
	for _, v := range r.requests {
		n += v
	}
	return n
}

// bench holds what every step shares.
type bench struct {
	cfg   config
	env   []string // the children's environment
	log   io.Writer
	proxy *countingProxy // nil without S3
}

// cv runs the measured binary with args in the work folder and returns its cost. A
// non-zero exit other than those listed in ok fails the benchmark with the command's
// stderr: a measurement of a command that failed would be a wrong figure.
func (b *bench) cv(ctx context.Context, ok []int, args ...string) (result, error) {
	cmd := exec.CommandContext(ctx, b.cfg.bin, args...)
	cmd.Dir = b.cfg.dir
	cmd.Env = b.env
	var out, errb bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &errb
	if b.proxy != nil {
		b.proxy.reset()
	}
	fmt.Fprintf(b.log, "scalebench: chatvault %s\n", strings.Join(args, " "))
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	res := result{wall: wall, stdout: out.String()}
	if b.proxy != nil && usesS3(args) {
		res.requests = b.proxy.counts()
	}
	if st := cmd.ProcessState; st != nil {
		if ru, isRU := st.SysUsage().(*syscall.Rusage); isRU {
			res.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
			res.maxRSS = ru.Maxrss * 1024 // kilobytes on Linux
		}
	}
	if err != nil {
		code := -1
		if ee, isExit := err.(*exec.ExitError); isExit {
			code = ee.ExitCode()
		}
		for _, c := range ok {
			if c == code {
				return res, nil
			}
		}
		return res, fmt.Errorf("chatvault %s: %v\n%s", strings.Join(args, " "), err, tail(errb.String(), 2000))
	}
	return res, nil
}

// usesS3 tells whether a command's store is the bucket, so that its requests are counted;
// a folder-store command's row shows none.
func usesS3(args []string) bool {
	for _, a := range args {
		if strings.HasPrefix(a, "s3://") {
			return true
		}
	}
	return false
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// treeCount is what a folder holds: files, folders and bytes.
type treeCount struct {
	files, dirs int
	bytes       int64
}

func countTree(root string) (treeCount, error) {
	var c treeCount
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path == root {
			return nil
		}
		if d.IsDir() {
			c.dirs++
			return nil
		}
		c.files++
		info, err := d.Info()
		if err != nil {
			return err
		}
		c.bytes += info.Size()
		return nil
	})
	return c, err
}
