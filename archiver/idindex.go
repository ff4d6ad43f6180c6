package archiver

import (
	"encoding/binary"
	"math/bits"
	"math/rand/v2"
	"slices"

	"github.com/google/uuid"
)

// idIndex maps ids (of users, bots, chats) to values for routing, which looks up every
// event's chat and sender.
//
// Ids are nearly always lowercase UUIDs. Those are kept as 16-byte keys in a table of
// their own: open addressing with linear probing, the key and the value side by side in
// one slot, so that a lookup on a directory too large for the caches costs one cache miss
// where Go's map took two or three (its control words, then the slot; 0.44 s of a 1M-event
// day's 8.8 CPU seconds). Slots are placed by a mix of the key with a seed drawn for each
// table, so ids chosen to collide (the directory comes from outside) cannot make the probes
// long: without the seed nobody can tell which ids share a slot. Any other spelling
// (uppercase, no hyphens, not a UUID at all) goes to a plain string map, so two different
// ids can never share a key.
type idIndex[V any] struct {
	slots []idSlot[V] // a power of two of them, at most idLoad full
	n     int         // slots in use
	seed  [3]uint64
	other map[string]V
}

type idSlot[V any] struct {
	key  [16]byte
	used bool
	v    V
}

// idLoad is the most of the table in use (3/4) before it doubles: linear probing then
// looks at about 2.5 slots for an id found, and those are mostly in one cache line.
const idLoadNum, idLoadDen = 3, 4

func newIDIndex[V any]() idIndex[V] {
	return idIndex[V]{other: map[string]V{}, seed: [3]uint64{rand.Uint64(), rand.Uint64(), rand.Uint64()}}
}

func (m *idIndex[V]) set(id string, v V) {
	k, ok := uuidKey(id)
	if !ok {
		m.other[id] = v
		return
	}
	m.setKey(&k, v)
}

func (m *idIndex[V]) setKey(k *[16]byte, v V) {
	if (m.n+1)*idLoadDen > len(m.slots)*idLoadNum {
		m.grow()
	}
	if m.insert(k, v) {
		m.n++
	}
}

// insert puts k's value in its slot, and reports whether the slot was empty.
func (m *idIndex[V]) insert(k *[16]byte, v V) bool {
	mask := uint64(len(m.slots) - 1)
	for i := m.hash(k) & mask; ; i = (i + 1) & mask {
		s := &m.slots[i]
		if !s.used {
			*s = idSlot[V]{key: *k, used: true, v: v}
			return true
		}
		if s.key == *k {
			s.v = v
			return false
		}
	}
}

func (m *idIndex[V]) grow() {
	old := m.slots
	m.slots = make([]idSlot[V], max(16, 2*len(old)))
	for i := range old {
		if old[i].used {
			m.insert(&old[i].key, old[i].v)
		}
	}
}

func (m *idIndex[V]) get(id string) (V, bool) {
	k, ok := uuidKey(id)
	if !ok {
		v, ok := m.other[id]
		return v, ok
	}
	if m.n > 0 {
		mask := uint64(len(m.slots) - 1)
		for i := m.hash(&k) & mask; ; i = (i + 1) & mask {
			s := &m.slots[i]
			if !s.used {
				break
			}
			if s.key == k {
				return s.v, true
			}
		}
	}
	var zero V
	return zero, false
}

// hash mixes the key's two halves with the table's seed by multiplying them into 128 bits
// and folding, twice (as wyhash does): every bit of the key and of the seed reaches the
// low bits that choose the slot.
func (m *idIndex[V]) hash(k *[16]byte) uint64 {
	a := binary.LittleEndian.Uint64(k[:8]) ^ m.seed[0]
	b := binary.LittleEndian.Uint64(k[8:]) ^ m.seed[1]
	hi, lo := bits.Mul64(a, b)
	hi, lo = bits.Mul64(hi^lo^m.seed[2], 0x9e3779b97f4a7c15)
	return hi ^ lo
}

// uuidKey parses the canonical lowercase form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx. It
// accepts exactly one spelling of each UUID, which keeps idIndex's keys one-to-one.
func uuidKey[S ~string | ~[]byte](s S) (k [16]byte, ok bool) {
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return k, false
	}
	// One pass without branches; a byte that is not a lowercase hex digit maps to 0xff,
	// which shows in bad's high bits.
	var bad byte
	for j, i := range uuidHexAt {
		hi, lo := hexVal[s[i]], hexVal[s[i+1]]
		bad |= hi | lo
		k[j] = hi<<4 | lo&0xf
	}
	return k, bad < 0x10
}

// uuidHexAt are where the 16 bytes' hex pairs start in a UUID's 36 characters.
var uuidHexAt = [16]uint8{0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34}

// hexVal maps lowercase hex digits to their value and everything else to 0xff.
var hexVal = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = byte(c - '0')
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c] = byte(c - 'a' + 10)
	}
	return t
}()

// idSet is a set of ids kept as an idIndex. The chat index adds two ids (chat, sender) of
// every record an organization exports; with Go's map and the ids as 36-byte string keys
// that was 0.27 of a 1M-event day's 7.5 CPU seconds, mostly hashing and comparing keys.
type idSet struct {
	ix idIndex[struct{}]
}

func newIDSet() *idSet {
	return &idSet{ix: newIDIndex[struct{}]()}
}

func (s *idSet) add(id string) {
	if k, ok := uuidKey(id); ok {
		s.ix.setKey(&k, struct{}{})
	} else {
		s.ix.other[id] = struct{}{}
	}
}

// addBytes is add for an id read straight from a record; it copies the id only when the
// set first holds it, and only when it is not a lowercase UUID.
func (s *idSet) addBytes(id []byte) {
	if k, ok := uuidKey(id); ok {
		s.ix.setKey(&k, struct{}{})
	} else if _, ok := s.ix.other[string(id)]; !ok {
		s.ix.other[string(id)] = struct{}{}
	}
}

func (s *idSet) len() int {
	return s.ix.n + len(s.ix.other)
}

// sorted returns the set's ids in string order. A UUID key is written back in the one
// spelling uuidKey accepts, so each comes back exactly as it was added.
func (s *idSet) sorted() []string {
	out := make([]string, 0, s.len())
	for i := range s.ix.slots {
		if sl := &s.ix.slots[i]; sl.used {
			out = append(out, uuid.UUID(sl.key).String())
		}
	}
	for id := range s.ix.other {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}
