package archiver

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
)

// A run keeps its sort runs and staged exports in a folder of its own in
// Options.TempDir, removed when the run ends. A run that is killed (the OOM killer, a
// power cut) cannot remove it, and a large day's runs take gigabytes, so each run also
// removes the folders of runs that are gone: every folder holds a lock file that its run
// holds locked for its whole life, and the kernel releases the lock when the process
// dies. Where file locks are not available, nothing is swept.
const (
	workPrefix = "chatvault-work-"
	workLock   = "lock"
	// guardName serialises sweeping against creating a folder: without it a sweep could
	// find a new folder in the moment before its run locks it, and remove it.
	guardName = "chatvault.lock"
)

// newWorkDir creates the run's folder in tempDir (os.TempDir() when empty), after
// removing those of dead runs. release removes it.
func newWorkDir(tempDir string, log *slog.Logger) (dir string, release func(), err error) {
	if tempDir == "" {
		tempDir = os.TempDir()
	}
	if guard, err := lockFile(filepath.Join(tempDir, guardName), true, true); err == nil {
		defer guard()
		sweepWorkDirs(tempDir, log)
	} else if !errors.Is(err, errNoLocks) && !errors.Is(err, fs.ErrPermission) {
		// A guard another user made and we may not open only costs the sweep; any other
		// failure (the folder is missing, the disk is full) is the run's too.
		return "", nil, fmt.Errorf("create work folder for sort runs in %s: %w", tempDir, err)
	}
	dir, err = os.MkdirTemp(tempDir, workPrefix)
	if err != nil {
		return "", nil, fmt.Errorf("create work folder for sort runs: %w", err)
	}
	unlock, err := lockFile(filepath.Join(dir, workLock), true, false)
	if err != nil && !errors.Is(err, errNoLocks) {
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("lock work folder %s: %w", dir, err)
	}
	return dir, func() {
		os.RemoveAll(dir)
		if unlock != nil {
			unlock()
		}
	}, nil
}

// sweepWorkDirs removes the work folders in tempDir whose run is gone. It is best effort:
// a folder it cannot remove costs disk space, not correctness, so it is logged.
func sweepWorkDirs(tempDir string, log *slog.Logger) {
	entries, err := os.ReadDir(tempDir)
	if err != nil {
		log.Warn("sweep work folders of dead runs", "dir", tempDir, "err", err)
		return
	}
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), workPrefix) {
			continue
		}
		dir := filepath.Join(tempDir, e.Name())
		// Under the guard, a folder without its lock file is one whose run died before
		// making it: dead too.
		unlock, err := lockFile(filepath.Join(dir, workLock), false, false)
		if errors.Is(err, errLocked) {
			continue // a live run
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			log.Warn("sweep work folder of a dead run", "dir", dir, "err", err)
			continue
		}
		if err := os.RemoveAll(dir); err != nil {
			log.Warn("sweep work folder of a dead run", "dir", dir, "err", err)
		} else {
			log.Info("removed the work folder of a run that did not finish", "dir", dir)
		}
		if unlock != nil {
			unlock()
		}
	}
}

var (
	errLocked  = errors.New("locked by another process")
	errNoLocks = errors.New("file locks are not supported here")
)
