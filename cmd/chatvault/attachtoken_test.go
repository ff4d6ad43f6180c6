package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAttachmentTokenFileReread: the token file is read at each call (a rotated token is
// used without a restart), trimmed of its line break, and refused, naming the file and
// never its contents, once it is open to every user, empty or gone.
func TestAttachmentTokenFileReread(t *testing.T) {
	path := filepath.Join(t.TempDir(), "files.token")
	write := func(s string, mode os.FileMode) {
		t.Helper()
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
	}
	tokens := tokenFile(path)
	write("first-secret\n", 0o600)
	if got, err := tokens(); err != nil || got != "first-secret" {
		t.Fatalf("token = %q, %v; want first-secret", got, err)
	}
	write("second-secret\r\n", 0o640)
	if got, err := tokens(); err != nil || got != "second-secret" {
		t.Fatalf("token after rotation = %q, %v; want second-secret", got, err)
	}
	for _, tt := range []struct {
		name  string
		setup func()
	}{
		{"open to every user", func() { write("third-secret", 0o644) }},
		{"empty", func() { write(" \n", 0o600) }},
		{"gone", func() { os.Remove(path) }},
	} {
		tt.setup()
		got, err := tokens()
		if err == nil || got != "" || !strings.Contains(err.Error(), path) || strings.Contains(err.Error(), "secret") {
			t.Fatalf("%s: token = %q, %v; want an error naming the file, not the token", tt.name, got, err)
		}
	}
}
