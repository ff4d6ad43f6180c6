package config

import (
	"errors"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/internal/reliability"
)

// TestLoadRefusesSecondDocument: viper reads the first YAML document of a file and drops
// the rest without a word, so a file made by appending an override after "---" (or two
// files concatenated) kept the first document's store. A file with more than one
// document that holds anything is refused (exit 2), naming it; a leading or trailing
// "---" alone is fine.
func TestLoadRefusesSecondDocument(t *testing.T) {
	for _, tt := range []struct {
		name, file string
		ok         bool
	}{
		{"one document", "eventlog: ./ev\nstore: ./x\n", true},
		{"leading and trailing markers", "---\neventlog: ./ev\nstore: ./x\n---\n", true},
		{"a second document", "eventlog: ./ev\nstore: ./x\n---\nstore: ./y\n", false},
		{"a second document after comments", "eventlog: ./ev\nstore: ./x\n--- # production\n# the real store\nstore: s3://b/p\n", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			path := writeFile(t, tt.file)
			c, err := Load(path, nil)
			if tt.ok {
				if err != nil || c.Store != "./x" {
					t.Fatalf("Load: %v (store %v)", err, c)
				}
				return
			}
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "document") || !strings.Contains(err.Error(), path) {
				t.Fatalf("Load of a file with two documents: %v (store %v), want an error naming the documents and the file", err, c)
			}
		})
	}
	reliability.Record(t, "operations", "a configuration file with a second YAML document (an override appended after ---)", reliability.Refused,
		"exit 2 naming the file and the documents; viper read the first document and dropped the rest without a word, so the appended store was ignored")
}

// TestLoadRefusesKeysDifferingOnlyInCase: viper folds the case of keys, so a file setting
// both eventlog and EventLog (or sections http and HTTP) loaded whichever the map
// iteration kept, without a word, while YAML itself refuses the same key written twice.
// Such a file is refused (exit 2), naming both spellings and the file.
func TestLoadRefusesKeysDifferingOnlyInCase(t *testing.T) {
	for _, tt := range []struct {
		name, file, want string
	}{
		{"top-level key", "eventlog: ./ev\nstore: ./x\nStore: ./y\n", "Store"},
		{"key in a section", "eventlog: ./ev\nstore: ./x\nhttp: {addr: \":8080\", Addr: \":9090\"}\n", "http.Addr"},
		{"two sections", "eventlog: ./ev\nstore: ./x\nexport:\n  sortMemory: 1MiB\nEXPORT:\n  sortMemory: 2MiB\n", "EXPORT"},
		{"camel and lower", "eventlog: ./ev\nstore: ./x\nexport: {sortMemory: 1MiB, sortmemory: 2MiB}\n", "export.sortmemory"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			path := writeFile(t, tt.file)
			c, err := Load(path, nil)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), path) {
				t.Fatalf("Load: %v (config %+v), want an error naming %s and the file", err, c, tt.want)
			}
		})
	}
	// One spelling, in any case, still loads: keys are matched regardless of case.
	clearEnv(t)
	if c, err := Load(writeFile(t, "eventlog: ./ev\nStore: ./x\nexport: {sortmemory: 1MiB}\n"), nil); err != nil || c.Store != "./x" {
		t.Fatalf("Load: %v (%v)", err, c)
	}
	reliability.Record(t, "operations", "a configuration file setting one key twice in different case (store and Store)", reliability.Refused,
		"exit 2 naming both spellings and the file; viper folds case, so one of the two values was used without a word")
}
