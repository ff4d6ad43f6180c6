package archiver

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/chatvault/chatvault/internal/reliability"
	"github.com/klauspost/compress/gzip"
)

const layoutOrg = "0a1c2e3f-0000-4000-8000-00000000aaaa"

func mustParseDay(t *testing.T, s string) Day {
	t.Helper()
	d, err := ParseDay(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestLayout3Keys: the keys of layout 3 are spelled as docs/design/layout.md says.
func TestLayout3Keys(t *testing.T) {
	day := mustParseDay(t, "2027-01-05")
	var sum [sha256.Size]byte
	sum[0] = 0x9f
	sha := HexSum(sum)
	p := "orgs/" + layoutOrg + "/"
	for _, tt := range []struct{ got, want string }{
		{DayRoot3(layoutOrg), p + "d/"},
		{YearPrefix3(layoutOrg, 2027), p + "d/2027/"},
		{monthPrefix3(layoutOrg, day), p + "d/2027/01/"},
		{DayPrefix3(layoutOrg, day), p + "d/2027/01/05."},
		{DayStart3(layoutOrg, day), p + "d/2027/01/05"},
		{DayKey3(layoutOrg, day, 1), p + "d/2027/01/05.r0001.json"},
		{DayKey3(layoutOrg, day, 12345), p + "d/2027/01/05.r12345.json"},
		{dataKey3(layoutOrg, day, sum), p + "d/2027/01/05.events-" + sha + ".jsonl.gz"},
		{orgQuarantineKey3(layoutOrg, day, sum), p + "d/2027/01/05.quarantine-" + sha + ".jsonl.gz"},
		{chatIndexKey3(layoutOrg, day, sum), p + "d/2027/01/05.chatindex-" + sha + ".json"},
		{FailedPrefix3(layoutOrg, day), p + "d/2027/01/05.failed-"},
		{LatePrefix(layoutOrg), p + "late/"},
		{LateKey(layoutOrg, 741), p + "late/000000000741.json"},
		{MembersPrefix(layoutOrg), p + "members/"},
		{membersKey(layoutOrg, 2027, sum), p + "members/2027/" + sha + ".json"},
		{ManifestKey(Layout3, layoutOrg, day, 2), p + "d/2027/01/05.r0002.json"},
		{ManifestKey(Layout2, layoutOrg, day, 2), p + "days/2027-01-05/r0002.json"},
	} {
		if tt.got != tt.want {
			t.Errorf("key %q, want %q", tt.got, tt.want)
		}
		if err := CheckPrefix(tt.got); err != nil {
			t.Errorf("%q: %v", tt.got, err)
		}
	}
	// Parsing gives back what made the keys.
	if d, name, ok := ParseDayKey3(layoutOrg, DayKey3(layoutOrg, day, 7)); !ok || d != day || name != "r0007.json" {
		t.Errorf("parseDayKey3 = %v %q %v", d, name, ok)
	}
	if rev, ok := ParseRevisionName("r0007.json"); !ok || rev != 7 {
		t.Errorf("parseRevisionName = %d %v", rev, ok)
	}
	if seq, ok := ParseLateKey(layoutOrg, LateKey(layoutOrg, 741)); !ok || seq != 741 {
		t.Errorf("parseLateKey = %d %v", seq, ok)
	}
	for _, bad := range []string{
		p + "d/2027/01/05r0001.json", p + "d/2027/1/05.r0001.json", p + "d/2027/02/30.r0001.json",
		p + "d/2027/01/05.x/r0001.json", p + "days/2027-01-05/r0001.json", "orgs/other/d/2027/01/05.r0001.json",
	} {
		if _, _, ok := ParseDayKey3(layoutOrg, bad); ok {
			t.Errorf("parseDayKey3(%q) took it for a day key", bad)
		}
	}
	for _, bad := range []string{"r1.json", "r0001.jsonx", "events-00.jsonl.gz", "r-001.json", "failed-1.json"} {
		if _, ok := ParseRevisionName(bad); ok {
			t.Errorf("parseRevisionName(%q) took it for a manifest", bad)
		}
	}
	for _, bad := range []string{p + "late/741.json", p + "late/00000000074x.json", p + "late/000000000000.json"} {
		if _, ok := ParseLateKey(layoutOrg, bad); ok {
			t.Errorf("parseLateKey(%q) took it for a late copy", bad)
		}
	}
}

// TestLayout3SortOrder: the orders the readers rely on. Within a day the manifests sort
// after every other object and revisions in order, so a listing of a day ends with its
// latest revision and one of a month with its last day's; a day's start key sorts after
// every key of the day before and before every key of the day; late copies by seq.
func TestLayout3SortOrder(t *testing.T) {
	var sum [sha256.Size]byte
	for i := range sum {
		sum[i] = 0xff // the greatest hash: it still sorts before the manifests
	}
	d5, d6 := mustParseDay(t, "2027-01-05"), mustParseDay(t, "2027-01-06")
	want := []string{
		chatIndexKey3(layoutOrg, d5, sum),
		dataKey3(layoutOrg, d5, sum),
		FailedPrefix3(layoutOrg, d5) + "1798000000000.json",
		orgQuarantineKey3(layoutOrg, d5, sum),
		DayKey3(layoutOrg, d5, 1),
		DayKey3(layoutOrg, d5, 2),
		DayKey3(layoutOrg, d5, 10),
		dataKey3(layoutOrg, d6, [sha256.Size]byte{}),
		DayKey3(layoutOrg, d6, 1),
	}
	got := slices.Clone(want)
	slices.Reverse(got)
	sort.Strings(got)
	if !slices.Equal(got, want) {
		t.Errorf("sorted keys:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, k := range want[:7] {
		if k <= DayStart3(layoutOrg, d5) || k >= DayStart3(layoutOrg, d6) {
			t.Errorf("%s is not between the start keys of its day and the next", k)
		}
	}
	// A month's and a year's keys sort together, months and years in order.
	dec, feb, y28 := mustParseDay(t, "2026-12-31"), mustParseDay(t, "2027-02-01"), mustParseDay(t, "2028-01-01")
	chain := []string{DayKey3(layoutOrg, dec, 1), DayKey3(layoutOrg, d5, 1), DayKey3(layoutOrg, d6, 3), DayKey3(layoutOrg, feb, 1), DayKey3(layoutOrg, y28, 1)}
	if !slices.IsSorted(chain) {
		t.Errorf("day keys across months and years out of order: %q", chain)
	}
	if LateKey(layoutOrg, 9) >= LateKey(layoutOrg, 10) || LateKey(layoutOrg, 999) >= LateKey(layoutOrg, 1000) {
		t.Error("late copies do not sort by seq")
	}
	// The organization's other prefixes do not hold its day keys.
	for _, k := range []string{LatePrefix(layoutOrg), MembersPrefix(layoutOrg), ChainPrefix(layoutOrg), "orgs/" + layoutOrg + "/days/"} {
		if strings.HasPrefix(k, DayRoot3(layoutOrg)) {
			t.Errorf("%s is under %s", k, DayRoot3(layoutOrg))
		}
	}
	reliability.Record(t, "operations", "layout 3 keys sort as the readers list them", reliability.Kept,
		"within a day the manifests sort after the export, quarantine, chat index and failures, revisions in order; a day's start key lies between days; months and years in order; late copies by seq")
}

// TestKeyLayout: the layout is told from the key alone.
func TestKeyLayout(t *testing.T) {
	day := mustParseDay(t, "2027-01-05")
	for _, tt := range []struct {
		key  string
		want int
	}{
		{DayKey3(layoutOrg, day, 1), Layout3},
		{dataKey3(layoutOrg, day, [32]byte{}), Layout3},
		{LateKey(layoutOrg, 1), Layout3},
		{membersKey(layoutOrg, 2027, [32]byte{}), Layout3},
		{ChainKey(layoutOrg, 1), Layout2},
		{RevisionKey(layoutOrg, day, 1), Layout2},
		{dataKey(layoutOrg, day, [32]byte{}), Layout2},
		{LayoutKey, 0},
		{"quarantine/2027-01-05/quarantine-00.jsonl.gz", 0},
		{"orgs/" + layoutOrg, 0},
		{"orgs/" + layoutOrg + "/d", 0},
		{"orgs/" + layoutOrg + "/dx/2027/01/05.r0001.json", 0},
		{"orgs/" + layoutOrg + "/daysx/2027-01-05/r0001.json", 0},
		{"accounting/2027-01-05/000001-00.json", 0},
	} {
		if got := KeyLayout(tt.key); got != tt.want {
			t.Errorf("KeyLayout(%q) = %d, want %d", tt.key, got, tt.want)
		}
	}
}

// createOnlyStore is a Store over a map that keeps the create-only rule.
type createOnlyStore struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (s *createOnlyStore) Create(_ context.Context, key string, body io.Reader, _ int64, sum [sha256.Size]byte, _ CreateOptions) error {
	b, err := io.ReadAll(body)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string][]byte{}
	}
	if old, ok := s.m[key]; ok {
		if sha256.Sum256(old) == sum {
			return nil
		}
		return ErrConflict
	}
	s.m[key] = b
	return nil
}

func (s *createOnlyStore) Open(_ context.Context, key string) (io.ReadCloser, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.m[key]
	if !ok {
		return nil, ErrNotFound
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

func (s *createOnlyStore) List(_ context.Context, prefix string, fn func(string) error) error {
	s.mu.Lock()
	var keys []string
	for k := range s.m {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	s.mu.Unlock()
	slices.Sort(keys)
	for _, k := range keys {
		if err := fn(k); err != nil {
			return err
		}
	}
	return nil
}

// TestStoreLayoutMarker: layout.json is written once, by the first writer of layout 3,
// and kept; a marker of a layout this build does not know is refused.
func TestStoreLayoutMarker(t *testing.T) {
	ctx := t.Context()
	s := &createOnlyStore{}
	if sl, err := ReadStoreLayout(ctx, s); sl != nil || err != nil {
		t.Fatalf("marker of an empty store = %v, %v; want none", sl, err)
	}
	first := mustParseDay(t, "2027-01-05")
	sl, err := WriteStoreLayout(ctx, s, first)
	if err != nil || sl == nil || sl.Version != Layout3 || sl.Since != "2027-01-05" || sl.SinceDay() != first {
		t.Fatalf("WriteStoreLayout = %+v, %v", sl, err)
	}
	if got := string(s.m[LayoutKey]); got != `{"version":3,"since":"2027-01-05"}`+"\n" {
		t.Errorf("layout.json = %q", got)
	}
	// A later writer keeps the first one's day.
	if sl, err := WriteStoreLayout(ctx, s, mustParseDay(t, "2027-03-01")); err != nil || sl.Since != "2027-01-05" {
		t.Errorf("second WriteStoreLayout = %+v, %v; want the first day kept", sl, err)
	}
	if sl, err := ReadStoreLayout(ctx, s); err != nil || sl == nil || sl.Since != "2027-01-05" {
		t.Errorf("ReadStoreLayout = %+v, %v", sl, err)
	}
	for _, body := range []string{`{"version":4,"since":"2027-01-05"}`, `{"version":3,"since":"soon"}`, `{"version":3,"since":"2027-01-05","x":1}`} {
		bad := &createOnlyStore{m: map[string][]byte{LayoutKey: []byte(body)}}
		if _, err := ReadStoreLayout(ctx, bad); err == nil {
			t.Errorf("marker %s was accepted", body)
		} else if strings.Contains(body, `"version":4`) && !errors.Is(err, ErrUnknownLayout) {
			t.Errorf("marker %s: %v; want ErrUnknownLayout", body, err)
		}
		if _, err := WriteStoreLayout(ctx, bad, first); err == nil {
			t.Errorf("WriteStoreLayout over marker %s succeeded", body)
		}
	}
	reliability.Record(t, "operations", "the store's layout marker (layout.json)", reliability.Kept,
		"created once by the first layout-3 writer and kept, whatever day a later writer gives; a marker of an unknown layout version is refused, so this build never writes beside a newer layout")
}

// v3Manifest is a version 3 manifest of a day without records, with an inline chat index.
func v3Manifest() *Manifest {
	return &Manifest{
		Version: ManifestVersion3, Org: layoutOrg, OrgName: "Acme", Date: "2027-01-06", Revision: 2,
		Seq: 742, Previous: strings.Repeat("ab", 32), PreviousKey: LateKey(layoutOrg, 741), Late: true,
		Window: Window{Start: 1, End: 2},
		Counts: OrgCounts{ByEventType: map[string]int64{}, ByContentType: map[string]int64{}, Excluded: map[string]int64{}},
		Data:   DataObject{JSONLSHA256: EmptySHA256},
		ChatIndex: &ChatIndexRef{Inline: &InlineChatIndex{Version: InlineChatIndexVersion,
			Members: MembersRef{Key: membersKey(layoutOrg, 2027, [32]byte{1}), Size: 40, SHA256: strings.Repeat("cd", 32), MembersAt: 1798000000000}}},
		DirectorySHA256: strings.Repeat("ef", 32), RetentionDays: 30, Generator: "chatvault test", SealedAt: "2027-01-07T00:10:00Z",
	}
}

// TestManifestV3RoundTrip: a version 3 manifest encodes its new fields, names no object
// for a day without records, carries its chat index inline or by key (overflow), and
// decodes to what was encoded, re-encoding to the same bytes (the signature is over
// them).
func TestManifestV3RoundTrip(t *testing.T) {
	empty := v3Manifest()
	withRecords := v3Manifest()
	withRecords.Late, withRecords.PreviousKey = false, DayKey3(layoutOrg, mustParseDay(t, "2027-01-05"), 1)
	withRecords.Data = DataObject{Key: dataKey3(layoutOrg, mustParseDay(t, "2027-01-06"), [32]byte{2}), Size: 30, SHA256: strings.Repeat("12", 32),
		JSONLSize: 100, JSONLSHA256: strings.Repeat("34", 32), Records: 3}
	withRecords.ChatIndex.Inline = &InlineChatIndex{Version: InlineChatIndexVersion, Chats: []string{"c1"}, Participants: []string{"u1", "u2"},
		MembershipChanges: []MembershipChange{{ChatID: "c1", EventTimestamp: 5, MessageID: "m", EventType: "sent", Added: []string{"u2"}, Removed: []string{}}},
		Members:           empty.ChatIndex.Inline.Members}
	overflow := v3Manifest()
	overflow.ChatIndex = &ChatIndexRef{Key: chatIndexKey3(layoutOrg, mustParseDay(t, "2027-01-06"), [32]byte{3}), Size: 70000, SHA256: strings.Repeat("56", 32), MembersAt: 9}
	for _, tt := range []struct {
		name     string
		m        *Manifest
		contains []string
		lacks    []string
	}{
		{"empty day, late", empty,
			[]string{`"previousKey": "orgs/` + layoutOrg + `/late/000000000741.json"`, `"late": true`,
				`"data": {` + "\n" + `    "jsonlSize": 0,` + "\n" + `    "jsonlSha256": "` + EmptySHA256 + `",` + "\n" + `    "records": 0` + "\n  }",
				`"chatIndex": {` + "\n" + `    "version": 2,` + "\n" + `    "chats": [],` + "\n" + `    "participants": [],` + "\n" + `    "membershipChanges": [],`,
				`"key": "orgs/` + layoutOrg + `/members/2027/`},
			[]string{`"key": ""`, `"sha256": ""`, `"size": 0`}},
		{"records", withRecords,
			[]string{`"key": "orgs/` + layoutOrg + `/d/2027/01/06.events-`, `"chats": [` + "\n" + `      "c1"`},
			[]string{`"late"`}},
		{"chat index overflow", overflow,
			[]string{`"chatIndex": {` + "\n" + `    "key": "orgs/` + layoutOrg + `/d/2027/01/06.chatindex-`},
			[]string{`"chats"`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b, err := encodeManifest(tt.m)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range tt.contains {
				if !bytes.Contains(b, []byte(s)) {
					t.Errorf("encoding lacks %q:\n%s", s, b)
				}
			}
			for _, s := range tt.lacks {
				if bytes.Contains(b, []byte(s)) {
					t.Errorf("encoding has %q:\n%s", s, b)
				}
			}
			m, err := DecodeManifest(b)
			if err != nil {
				t.Fatal(err)
			}
			again, err := encodeManifest(m)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again, b) {
				t.Errorf("re-encoded:\n%s\nwant:\n%s", again, b)
			}
			if m.PreviousKey != tt.m.PreviousKey || m.Late != tt.m.Late || m.Data.Keyless() != tt.m.Data.Keyless() ||
				(m.ChatIndex.Inline == nil) != (tt.m.ChatIndex.Inline == nil) {
				t.Errorf("decoded %+v, want %+v", m, tt.m)
			}
		})
	}
	// Unknown fields stay refused, in the inline index too.
	b, _ := encodeManifest(empty)
	for _, bad := range [][]byte{
		bytes.Replace(b, []byte(`"chats": []`), []byte(`"chats": [], "x": 1`), 1),
		bytes.Replace(b, []byte(`"membersAt"`), []byte(`"x": 1, "membersAt"`), 1),
		bytes.Replace(b, []byte(`"version": 2`), []byte(`"version": 3`), 1),
		bytes.Replace(b, []byte(`"version": 3,`), []byte(`"version": 4,`), 1),
	} {
		if _, err := DecodeManifest(bad); err == nil {
			t.Errorf("decoded a bad manifest:\n%s", bad)
		}
	}
	reliability.Record(t, "input", "version 3 manifests: previousKey, late, keyless empty data, inline chat index", reliability.Kept,
		"encoded and decoded to the same bytes (the signature is over them); a day without records names no object; the chat index rides inline with a members reference or, over 64 KiB, is named by key; unknown fields and versions are refused")
}

// TestManifestV1V2Unchanged: manifests of versions 1 and 2 decode and re-encode to their
// stored bytes as before version 3 existed.
func TestManifestV1V2Unchanged(t *testing.T) {
	for _, f := range []string{"testdata/manifest-v1.json", "../testdata/golden/acme.manifest.json", "../testdata/golden/globex.manifest.json"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m, err := DecodeManifest(b)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		again, err := encodeManifest(m)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again, b) {
			t.Errorf("%s re-encoded differently:\n%s", f, again)
		}
		if m.ChatIndex != nil && m.ChatIndex.Inline != nil {
			t.Errorf("%s: chat index decoded as inline", f)
		}
	}
}

// TestEmptyExport: the constant served for a day without an export object is a gzip of
// nothing.
func TestEmptyExport(t *testing.T) {
	b := EmptyExport()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(zr)
	if err != nil || len(body) != 0 {
		t.Fatalf("EmptyExport decompresses to %q, %v", body, err)
	}
	b[0] = 0
	if EmptyExport()[0] == 0 {
		t.Error("EmptyExport shares its bytes with callers")
	}
}
