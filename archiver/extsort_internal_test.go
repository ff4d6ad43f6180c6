package archiver

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/chatvault/chatvault/model"
)

// TestIDOffsetAliasedAndSearched checks that a canonical line's message id, which the
// decoder hands over as a slice of the line, gets the offset a search of the line finds,
// for every golden record; and that an id that is a copy (escaped in the line, or a line
// encoded again) is still found by the search.
func TestIDOffsetAliasedAndSearched(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "model", "testdata", "decode", "*.golden"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden records: %v", err)
	}
	var dc model.Decoder
	aliased := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range bytes.Split(data, []byte("\n")) {
			if len(line) == 0 {
				continue
			}
			ev, _, err := dc.DecodeCanonical(line)
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			id := stringBytes(ev.MessageID)
			got := idOffset(line, id)
			want := idOffset(line, bytes.Clone(id)) // a copy: found by searching
			if got != want {
				t.Fatalf("%s: id %q at %d as decoded, %d searched", f, id, got, want)
			}
			if got >= 0 && len(id) > 0 {
				if !bytes.Equal(line[got:got+len(id)], id) {
					t.Fatalf("%s: offset %d holds %q, not the id %q", f, got, line[got:got+len(id)], id)
				}
				aliased++
			}
		}
	}
	if aliased == 0 {
		t.Fatal("no golden record's id was found in its line")
	}
}
