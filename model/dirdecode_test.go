package model

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/chatvault/chatvault/internal/reliability"
)

// referenceDirectory decodes data as DecodeDirectory did before it decoded by hand: as
// json.Unmarshal does, then Validate.
func referenceDirectory(data []byte) (*Directory, error) {
	var d Directory
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, err
	}
	return &d, d.Validate()
}

// sameDirectory compares two decoded directories, a nil list equal to an empty one.
func sameDirectory(a, b *Directory) bool {
	norm := func(d *Directory) Directory {
		n := *d
		n.Organizations = append([]Organization{}, d.Organizations...)
		n.Users = append([]User{}, d.Users...)
		n.Bots = append([]Bot{}, d.Bots...)
		n.Chats = nil
		for _, c := range d.Chats {
			c.Members = append([]string{}, c.Members...)
			n.Chats = append(n.Chats, c)
		}
		if n.Chats == nil {
			n.Chats = []Chat{}
		}
		return n
	}
	return reflect.DeepEqual(norm(a), norm(b))
}

// checkAgainstReference decodes data both ways, whole and a byte at a time (every token
// split across reads), and fails unless all three agree: the same directory, or all
// failing.
func checkAgainstReference(t *testing.T, data []byte) {
	t.Helper()
	want, werr := referenceDirectory(data)
	for _, tc := range []struct {
		name string
		got  func() (*Directory, error)
	}{
		{"whole", func() (*Directory, error) { return ParseDirectory(data) }},
		{"byte at a time", func() (*Directory, error) {
			return DecodeDirectory(iotest.OneByteReader(strings.NewReader(string(data))))
		}},
	} {
		got, gerr := tc.got()
		switch {
		case (werr == nil) != (gerr == nil):
			t.Fatalf("%s: %.200q: error %v, encoding/json's %v", tc.name, data, gerr, werr)
		case werr == nil && !sameDirectory(got, want):
			t.Fatalf("%s: %.200q:\ngot  %+v\nwant %+v", tc.name, data, got, want)
		case gerr != nil && !strings.HasPrefix(gerr.Error(), "directory: "):
			t.Fatalf("%s: error %q does not begin with \"directory: \"", tc.name, gerr)
		}
	}
}

// directoryCases are inputs where a hand-written decoder most easily parts from
// encoding/json.
var directoryCases = []string{
	validDirectory,
	`{}`, `null`, ` {} `, `[]`, `"x"`, `1`, `true`, `{"organizations":null}`,
	`{"users":[]}`, `{"chats":[{"id":"c","members":[]}]}`, `{"chats":[{"id":"c","members":null}]}`,
	`{"chats":[{"id":"c","members":["a",null,"b"]}]}`,
	`{"chats":[{"id":"c","members":["a"],"members":["b","c"]}]}`,
	`{"chats":[{"id":"c","members":["a"],"members":null}]}`,
	`{"chats":[{"id":"c","members":[1]}]}`, `{"chats":[{"id":"c","members":"a"}]}`,
	`{"ORGANIZATIONS":[{"ID":"o1","Archival":true,"RETENTIONDAYS":3}]}`,
	`{"organizations":[{"id":"o1","id":null}]}`, `{"organizations":[{"id":"o1"},null]}`,
	`{"organizations":[{"id":"o1","retentionDays":1.5}]}`, `{"organizations":[{"id":"o1","retentionDays":1e2}]}`,
	`{"organizations":[{"id":"o1","retentionDays":-0}]}`, `{"organizations":[{"id":"o1","retentionDays":99999999999999999999}]}`,
	`{"organizations":[{"id":"o1","retentionDays":"7"}]}`, `{"organizations":[{"id":"o1","archival":"yes"}]}`,
	`{"organizations":[{"id":"o1","archival":null}]}`, `{"organizations":[{"id":"o1","archival":1}]}`,
	`{"organizations":[{"id":"o\u0031"}],"users":[{"\u0069d":"u\"1","orgId":"o1"}]}`,
	`{"organizations":[{"id":"o1","name":"caf\u00e9 \ud83d\ude00 \ud800"}]}`,
	"{\"organizations\":[{\"id\":\"o1\",\"name\":\"\xff\xfe\"}]}",
	"{\"organizations\":[{\"id\":\"o1\",\"name\":\"a\tb\"}]}",
	`{"organizations":[{"id":"o1","name":"a\qb"}]}`,
	`{"organizations":[{"id":"o1","extra":{"a":[1,{"b":"]}"}],"c":"\\\""}}]}`,
	`{"organizations":[{"id":"o1","extra":[1,2,]}]}`, `{"organizations":[{"id":"o1","extra":tru}]}`,
	`{"organizations":[{"id":"o1","extra":01}]}`, `{"organizations":[{"id":"o1"}],"other":{"x":[null,true,false,-1.5e-3]}}`,
	`{"organizations":[{"id":"o1"}],}`, `{"organizations":[{"id":"o1"},]}`, `{"organizations":[{"id":"o1"}]`,
	`{"organizations":[{"id":"o1"}]}{}`, `{"organizations":[{"id":"o1"}]} x`, `{"organizations":[{"id":"o1"}]}` + "\n\t ",
	`{"organizations":{"id":"o1"}}`, `{"organizations":"o1"}`, `{"organizations":[{"id":"o1"}],"organizations":[{"id":"o2"}]}`,
	`{"organizations":[{"id":"o1"}] "users":[]}`, `{"organizations" [{"id":"o1"}]}`, `{organizations:[]}`,
	`{"ſ":1}`, `{"organizationſ":[{"id":"o1"}]}`, `{"orgId":1}`,
	`{"users":[{"id":"u1","orgId":"o1"}],"organizations":[{"id":"o1"}]}`,
}

// repeatedListCases repeat a list or a chat's members: encoding/json decodes the repeat
// into the earlier list's entries (an entry keeps the members the repeat lacks, a null
// keeps the entry), within the capacity the earlier list left.
var repeatedListCases = []string{
	`{"organizations":[{"id":"o1","archival":true}],"organizations":[{"id":"o2"}]}`,
	`{"organizations":[{"id":"o1","name":"a"},{"id":"o2","name":"b"}],"organizations":[{"id":"o3"}],"organizations":[{"id":"o4"},{"id":"o5"}]}`,
	`{"organizations":[{"id":"o1","name":"a"}],"organizations":[null]}`,
	`{"organizations":[{"id":"o1","name":"a"}],"organizations":[],"organizations":[{"id":"o2"}]}`,
	`{"chats":[{"id":"c","members":["a","b"]}],"chats":[{"id":"d","members":[null]}]}`,
	`{"chats":[{"id":"c","members":["a","b"],"members":["x"],"members":[null,null]}]}`,
	`{"chats":[{"id":"c","members":["a","b","c"],"members":[],"members":[null]}]}`,
}

// TestDecodeDirectoryMatchesEncodingJSON decodes every case, the golden directories and
// the event log's snapshot as encoding/json does (referenceDirectory), and reads the
// large generated snapshot through readers that split every token.
func TestDecodeDirectoryMatchesEncodingJSON(t *testing.T) {
	for i, c := range directoryCases {
		t.Run(fmt.Sprint(i), func(t *testing.T) { checkAgainstReference(t, []byte(c)) })
	}
	files, _ := filepath.Glob(filepath.Join("..", "testdata", "*", "directory.json"))
	more, _ := filepath.Glob(filepath.Join("..", "testdata", "*", "*", "directory.json"))
	files = append(files, more...)
	if len(files) == 0 {
		t.Fatal("no directory.json under testdata")
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		checkAgainstReference(t, data)
	}
	reliability.Record(t, "input", "directory snapshot with escapes, nulls, repeated or case-folded names, unknown members, numbers out of an int's range",
		reliability.Kept, "TestDecodeDirectoryMatchesEncodingJSON, FuzzDecodeDirectory: the hand-written decoder (faster) decodes and refuses exactly what encoding/json does")
}

// TestDecodeDirectoryRepeatedList decodes repeated lists as encoding/json does: the
// hand-written decoder started each repeat from nothing, and sized the first list to fit
// (dropping entries a later, longer repeat decodes into), so that an organization lost
// its archival flag or a chat its members where encoding/json kept them.
func TestDecodeDirectoryRepeatedList(t *testing.T) {
	for i, c := range repeatedListCases {
		t.Run(fmt.Sprint(i), func(t *testing.T) { checkAgainstReference(t, []byte(c)) })
	}
	reliability.Record(t, "input", "directory snapshot repeating a list (organizations, chats) or a chat's members",
		reliability.Kept, "TestDecodeDirectoryRepeatedList: the repeat decodes into the earlier list's entries, as encoding/json does")
}

// FuzzDecodeDirectory compares DecodeDirectory with encoding/json on arbitrary input.
func FuzzDecodeDirectory(f *testing.F) {
	for _, c := range append(directoryCases, repeatedListCases...) {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkAgainstReference(t, data)
	})
}
