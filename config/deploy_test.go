package config

import (
	"path/filepath"
	"testing"
)

// TestDeployExamples loads every example config in deploy/, so none of them rots into
// a file the binary refuses.
func TestDeployExamples(t *testing.T) {
	files, err := filepath.Glob("../deploy/chatvault.*.yaml")
	if err != nil || len(files) < 3 {
		t.Fatalf("found %q (%v), want the default, S3 and MinIO examples", files, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			clearEnv(t)
			if _, err := Load(f, nil); err != nil {
				t.Errorf("Load: %v", err)
			}
		})
	}
}
