package config

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/internal/reliability"
)

// TestAttachmentOperatorMistakes loads attachments.* as an operator might get them wrong,
// from the environment: each is refused with the key and its source named, or read as
// meant (spaces around list entries).
func TestAttachmentOperatorMistakes(t *testing.T) {
	tests := []struct {
		name, env, value string
		want             string   // "" loads
		hosts            []string // what loads, when want is ""
	}{
		{"entries with spaces", "CHATVAULT_ATTACHMENTS_ALLOWEDHOSTS", " files.example ,  cdn.example:8443 ", "", []string{"files.example", "cdn.example:8443"}},
		{"entry with a scheme", "CHATVAULT_ATTACHMENTS_ALLOWEDHOSTS", "https://files.example", "not an exact host[:port]", nil},
		{"entry with a path", "CHATVAULT_ATTACHMENTS_ALLOWEDHOSTS", "files.example/files", "not an exact host[:port]", nil},
		{"entry with a trailing dot", "CHATVAULT_ATTACHMENTS_ALLOWEDHOSTS", "files.example.", "not a host name", nil},
		{"entry with user information", "CHATVAULT_ATTACHMENTS_ALLOWEDHOSTS", "bot@files.example", "not an exact host[:port]", nil},
		{"entry in Unicode", "CHATVAULT_ATTACHMENTS_ALLOWEDHOSTS", "bücher.example", "not a host name", nil},
		{"entries separated by spaces only", "CHATVAULT_ATTACHMENTS_ALLOWEDHOSTS", "files.example cdn.example", "not an exact host[:port]", nil},
		{"max size 0", "CHATVAULT_ATTACHMENTS_MAXSIZE", "0", "not positive", nil},
		{"negative max size", "CHATVAULT_ATTACHMENTS_MAXSIZE", "-1MiB", "is not a size", nil},
		{"concurrency 0", "CHATVAULT_ATTACHMENTS_CONCURRENCY", "0", "not between 1 and 64", nil},
		{"negative concurrency", "CHATVAULT_ATTACHMENTS_CONCURRENCY", "-4", "not between 1 and 64", nil},
		{"negative retry", "CHATVAULT_ATTACHMENTS_RETRYFOR", "-1h", "negative", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			t.Setenv("CHATVAULT_EVENTLOG", "./events")
			t.Setenv("CHATVAULT_STORE", "./archive")
			t.Setenv("CHATVAULT_ATTACHMENTS_ENABLED", "true")
			if tt.env != "CHATVAULT_ATTACHMENTS_ALLOWEDHOSTS" {
				t.Setenv("CHATVAULT_ATTACHMENTS_ALLOWEDHOSTS", "files.example")
			}
			t.Setenv(tt.env, tt.value)
			c, err := Load("", flagSet(t))
			if tt.want == "" {
				if err != nil || !slices.Equal(c.Attachments.AllowedHosts, tt.hosts) {
					t.Fatalf("Load() = %v, %v; want hosts %q", c, err, tt.hosts)
				}
				return
			}
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), tt.env) {
				t.Fatalf("Load() error = %v, want ErrInvalid naming %s with %q", err, tt.env, tt.want)
			}
		})
	}
	reliability.Record(t, "operations", "attachments.* misconfigured (host with a scheme, path or trailing dot, size or concurrency 0 or negative)", reliability.Refused,
		"the command stops (exit 2) naming the key and where it came from")
}
