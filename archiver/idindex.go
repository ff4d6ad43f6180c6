package archiver

// idIndex maps ids (of users, bots, chats) to values for routing, which looks up every
// event's chat and sender.
//
// Ids are nearly always lowercase UUIDs. Those are kept as 16-byte keys, compared inside
// the map's own memory; a string key would make each lookup follow a pointer to the key's
// bytes, a cache miss per event on a large directory. Any other spelling (uppercase, no
// hyphens, not a UUID at all) goes to a plain string map, so two different ids can never
// share a key.
type idIndex[V any] struct {
	uuids map[[16]byte]V
	other map[string]V
}

func newIDIndex[V any]() idIndex[V] {
	return idIndex[V]{uuids: map[[16]byte]V{}, other: map[string]V{}}
}

func (m idIndex[V]) set(id string, v V) {
	if k, ok := uuidKey(id); ok {
		m.uuids[k] = v
		return
	}
	m.other[id] = v
}

func (m idIndex[V]) get(id string) (V, bool) {
	if k, ok := uuidKey(id); ok {
		v, ok := m.uuids[k]
		return v, ok
	}
	v, ok := m.other[id]
	return v, ok
}

// uuidKey parses the canonical lowercase form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx. It
// accepts exactly one spelling of each UUID, which keeps idIndex's keys one-to-one.
func uuidKey(s string) (k [16]byte, ok bool) {
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return k, false
	}
	j := 0
	for i := 0; i < 36; {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			i++
			continue
		}
		hi, lo := hexVal[s[i]], hexVal[s[i+1]]
		if hi|lo == 0xff {
			return k, false
		}
		k[j] = hi<<4 | lo
		j++
		i += 2
	}
	return k, true
}

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
