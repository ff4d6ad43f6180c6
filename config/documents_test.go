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
