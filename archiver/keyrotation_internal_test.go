package archiver

import "testing"

// TestRetiredBy: where a retired key may still sign an organization's chain, from the
// chain heads its rotation statements fixed.
func TestRetiredBy(t *testing.T) {
	stmt := func(from, to, at string, version int, heads map[string]int64) *KeyRotation {
		r := &KeyRotation{Version: version, From: RotatingKey{KeyID: from}, To: RotatingKey{KeyID: to}, RotatedAt: at,
			StoredKey: RotationsPrefix + from + "-" + to + ".json", HeadIndex: map[string]RotationHead{}}
		for org, seq := range heads {
			r.HeadIndex[org] = RotationHead{Org: org, Seq: seq}
		}
		return r
	}
	ab := stmt("A", "B", "2026-11-02T00:00:00Z", 2, map[string]int64{"acme": 5})
	baLater := stmt("B", "A", "2026-11-03T00:00:00Z", 2, map[string]int64{"acme": 7, "new": 1})
	baSame := stmt("B", "A", "2026-11-03T00:00:00Z", 2, map[string]int64{"acme": 5})
	baEarlier := stmt("B", "A", "2026-11-01T00:00:00Z", 2, map[string]int64{"acme": 5})
	abV1 := stmt("A", "B", "2026-11-02T00:00:00Z", 1, nil)
	for _, tc := range []struct {
		name    string
		stmts   []*KeyRotation
		id, org string
		seq     int64
		retired bool
	}{
		{"before the rotation's head", []*KeyRotation{ab}, "A", "acme", 4, false},
		{"at the rotation's head", []*KeyRotation{ab}, "A", "acme", 5, false},
		{"after the rotation's head", []*KeyRotation{ab}, "A", "acme", 6, true},
		{"an organization with no chain then", []*KeyRotation{ab}, "A", "other", 1, true},
		{"the new key", []*KeyRotation{ab}, "B", "acme", 9, false},
		{"rotated back to, after the statement back", []*KeyRotation{ab, baLater}, "A", "acme", 8, false},
		{"rotated back to, between the two statements", []*KeyRotation{ab, baLater}, "A", "acme", 6, true},
		{"rotated back to, an organization started in between", []*KeyRotation{ab, baLater}, "A", "new", 2, false},
		{"rotated back with nothing sealed between", []*KeyRotation{ab, baSame}, "A", "acme", 6, false},
		{"a statement back made before the rotation", []*KeyRotation{ab, baEarlier}, "A", "acme", 6, true},
		{"version 1 bounds nothing", []*KeyRotation{abV1}, "A", "acme", 60, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := RetiredBy(tc.stmts, tc.id, tc.org, tc.seq) != nil; got != tc.retired {
				t.Fatalf("RetiredBy(%s, %s, %d) retired = %v, want %v", tc.id, tc.org, tc.seq, got, tc.retired)
			}
		})
	}
}
