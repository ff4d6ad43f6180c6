package archiver

import "log/slog"

// NewWorkDir creates a folder of the calling run's own in tempDir (os.TempDir() when
// empty), 0700, held by a lock for the process's life, after removing the folders of runs
// that are gone (see newWorkDir): for the staging files of packages beside the seal (the
// attachment capture), so that a run killed mid-file leaves nothing the next run does not
// sweep. release removes it.
func NewWorkDir(tempDir string, log *slog.Logger) (dir string, release func(), err error) {
	return newWorkDir(tempDir, log)
}
