package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/internal/reliability"
)

// TestConfigFileDevice: --config /dev/stdin with standard input closed or from /dev/null
// (Go opens /dev/null on a closed descriptor) read as an empty file, and the command ran
// on the sample's defaults; --config /dev/zero read until memory ran out. A device is
// refused before it is read; a pipe or a file is read.
func TestConfigFileDevice(t *testing.T) {
	for _, dev := range []string{os.DevNull, "/dev/zero"} {
		clearEnv(t)
		_, err := Load(dev, flagSet(t))
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "a device, not a configuration file") || !strings.Contains(err.Error(), dev) {
			t.Fatalf("Load(%s) error = %v, want ErrInvalid naming the device", dev, err)
		}
	}
	clearEnv(t)
	file := filepath.Join(t.TempDir(), "chatvault.yaml")
	if err := os.WriteFile(file, []byte("store: ./elsewhere\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if c, err := Load(file, flagSet(t)); err != nil || c.Store != "./elsewhere" {
		t.Fatalf("Load(file) = %v, %v", c, err)
	}
	reliability.Record(t, "input", "--config /dev/stdin with standard input closed or /dev/null; --config /dev/zero", reliability.Refused,
		"exit 2, config: FILE: a device, not a configuration file; before, read as empty (the sample's defaults, a warning) or, /dev/zero, until memory ran out")
}
