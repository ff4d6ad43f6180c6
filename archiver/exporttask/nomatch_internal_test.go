package exporttask

import (
	"strings"
	"testing"

	"github.com/chatvault/chatvault/archiver"
)

// TestNoMatchWritesTermsAsTyped: the "no record matched" message is read by people, in
// the status, the html result's index.html and the rsmf result's export.json. It wrote a
// term "R&D <draft>" as "R\u0026D \u003cdraft\u003e", encoding/json's HTML escaping,
// which no reader recognises as the term they asked for.
func TestNoMatchWritesTermsAsTyped(t *testing.T) {
	day, err := archiver.ParseDay("2026-11-22")
	if err != nil {
		t.Fatal(err)
	}
	got := noMatch(Request{Terms: []string{"R&D <draft>"}, ChatIDs: []string{"a&b"}}, day, day, 12)
	for _, want := range []string{`terms ["R&D <draft>"]`, `chatIds ["a&b"]`} {
		if !strings.Contains(got, want) {
			t.Errorf("noMatch %q does not say %q", got, want)
		}
	}
}
