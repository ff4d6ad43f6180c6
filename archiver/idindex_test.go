package archiver

import "testing"

func TestIDIndex(t *testing.T) {
	m := newIDIndex[int]()
	ids := []string{
		"0a1c2e3f-0000-4000-8000-00000000aaaa", // canonical: a 16-byte key
		"0A1C2E3F-0000-4000-8000-00000000AAAA", // the same UUID spelled otherwise: another id
		"0a1c2e3f000040008000000000000aaaa",
		"u-ada",
		"",
		"0a1c2e3f-0000-4000-8000-00000000aaag", // not hex
		"0a1c2e3f-0000-4000-8000-00000000aaa",  // short
	}
	for i, id := range ids {
		m.set(id, i)
	}
	if n := len(m.uuids) + len(m.other); n != len(ids) {
		t.Fatalf("%d entries, want %d: distinct ids must not share a key", n, len(ids))
	}
	for i, id := range ids {
		if v, ok := m.get(id); !ok || v != i {
			t.Errorf("get(%q) = %d, %v; want %d", id, v, ok, i)
		}
	}
	if _, ok := m.get("0a1c2e3f-0000-4000-8000-00000000aaab"); ok {
		t.Error("found an id that was never set")
	}
	if _, ok := m.uuids[[16]byte{0x0a, 0x1c, 0x2e, 0x3f, 0, 0, 0x40, 0, 0x80, 0, 0, 0, 0, 0, 0xaa, 0xaa}]; !ok {
		t.Error("the canonical UUID is not stored as its 16 bytes")
	}
}
