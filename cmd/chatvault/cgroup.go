package main

import (
	"bufio"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/chatvault/chatvault/archiver/s3"
	"github.com/chatvault/chatvault/config"
)

// Where the cgroup file systems and this process's cgroups are read (tests set them).
var (
	cgroupFS       = "/sys/fs/cgroup"
	procSelfCgroup = "/proc/self/cgroup"
)

// binaryMemory is the process's own share beside the budget: the binary, its goroutines'
// stacks, the runtime (the memory row of the README counts 20 MiB).
const binaryMemory = 20 << 20

// memoryLimit returns the memory limit of this process's cgroup, the smallest of its own
// and its ancestors' (cgroup v2 memory.max, or v1 memory.limit_in_bytes), and false when
// there is none or it cannot be read: a container's limits.memory, a unit's MemoryMax=.
func memoryLimit() (int64, bool) {
	f, err := os.Open(procSelfCgroup)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	limit, found := int64(0), false
	take := func(file string) {
		b, err := os.ReadFile(file)
		if err != nil {
			return
		}
		v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err != nil || v <= 0 || v >= 1<<62 { // "max", or v1's "no limit" near 2^63
			return
		}
		if !found || v < limit {
			limit, found = v, true
		}
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// hierarchy-ID:controllers:path; v2 is "0::/path", v1's memory controller "N:memory:/path".
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		var dir, file string
		switch {
		case parts[0] == "0" && parts[1] == "":
			dir, file = cgroupFS, "memory.max"
		case hasController(parts[1], "memory"):
			dir, file = filepath.Join(cgroupFS, "memory"), "memory.limit_in_bytes"
		default:
			continue
		}
		// The path and each ancestor; inside a cgroup namespace the path may not exist
		// under the mount, whose root is then the process's own cgroup.
		for p := path.Clean("/" + parts[2]); ; p = path.Dir(p) {
			take(filepath.Join(dir, filepath.FromSlash(p), file))
			if p == "/" {
				break
			}
		}
	}
	return limit, found
}

func hasController(list, want string) bool {
	for _, c := range strings.Split(list, ",") {
		if c == want {
			return true
		}
	}
	return false
}

// checkMemoryLimit refuses a memory budget the cgroup's limit cannot hold: the sort's
// export.sortMemory, the S3 upload buffers, serve's verify-first memory (serve) and the
// binary's share. The kernel would kill the process partway through a seal, every
// attempt alike, instead of the budget keeping it in bounds. Exit 2: lower
// export.sortMemory or raise the limit.
func checkMemoryLimit(e *env, serve bool) error {
	limit, ok := memoryLimit()
	if !ok {
		return nil
	}
	need := e.cfg.Export.SortMemory + binaryMemory
	what := "export.sortMemory " + config.FormatSize(e.cfg.Export.SortMemory)
	if strings.HasPrefix(e.cfg.Store, "s3://") {
		need += e.cfg.S3.PartSize * s3.DefaultConcurrency
		what += fmt.Sprintf(", the S3 upload buffers %s (s3.partSize x %d)", config.FormatSize(e.cfg.S3.PartSize*s3.DefaultConcurrency), s3.DefaultConcurrency)
	}
	if serve {
		need += e.cfg.HTTP.VerifyFirstMemory
		what += ", http.verifyFirstMemory " + config.FormatSize(e.cfg.HTTP.VerifyFirstMemory)
	}
	if need <= limit {
		return nil
	}
	return usagef("export.sortMemory: the memory budget (%s and %s for the process) is %s, above this container's or unit's memory limit of %s (cgroup): the kernel would kill the run partway through; lower export.sortMemory or raise the limit",
		what, config.FormatSize(binaryMemory), config.FormatSize(need), config.FormatSize(limit))
}
