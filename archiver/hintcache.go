package archiver

import (
	"container/list"
	"reflect"
	"slices"
	"strings"
	"sync"

	"github.com/chatvault/chatvault/model"
)

// What a process remembers between seals (the chain heads it found: headHints; the members
// objects it stored: storedMembers) is bounded: a serve process lives for months, its
// organizations come and go, and a store reopened is a new key. Each cache keeps at most
// maxHints entries, the least recently used dropped first, and a seal of a whole day
// drops the heads of the store's organizations that no longer archive (forgetNotArchiving).
// A dropped entry costs its next lookup what a new process pays, nothing more: the hints
// say where to start looking, never what is there.

// maxHints bounds each cache: twice the organizations of the largest day measured (50,000
// organizations, 35,653 archiving) fit, at about 250 bytes an entry (a variable for the
// tests).
var maxHints = 1 << 16

// hintCache is a map bounded by maxHints entries, least recently used out first. Safe for
// concurrent use.
type hintCache[K comparable, V any] struct {
	mu sync.Mutex
	ll list.List // of *hintEntry[K, V], most recently used first
	m  map[K]*list.Element
}

type hintEntry[K comparable, V any] struct {
	k K
	v V
}

// Load returns k's value and marks it used.
func (c *hintCache[K, V]) Load(k K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	if !ok {
		var zero V
		return zero, false
	}
	c.ll.MoveToFront(e)
	return e.Value.(*hintEntry[K, V]).v, true
}

// Store sets k's value, dropping the least recently used entries past maxHints.
func (c *hintCache[K, V]) Store(k K, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[K]*list.Element{}
	}
	if e, ok := c.m[k]; ok {
		e.Value.(*hintEntry[K, V]).v = v
		c.ll.MoveToFront(e)
		return
	}
	c.m[k] = c.ll.PushFront(&hintEntry[K, V]{k, v})
	for c.ll.Len() > max(maxHints, 1) {
		old := c.ll.Back()
		c.ll.Remove(old)
		delete(c.m, old.Value.(*hintEntry[K, V]).k)
	}
}

// DeleteFunc drops the entries whose key del says.
func (c *hintCache[K, V]) DeleteFunc(del func(K) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for e := c.ll.Front(); e != nil; {
		next := e.Next()
		if k := e.Value.(*hintEntry[K, V]).k; del(k) {
			c.ll.Remove(e)
			delete(c.m, k)
		}
		e = next
	}
}

// Len is the number of entries.
func (c *hintCache[K, V]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ll.Len()
}

// forgetNotArchiving drops s's remembered heads and members objects of the organizations
// not in orgs (the day's archiving organizations, sorted by id): organizations that
// stopped archiving, or left the directory, are not sealed again.
func forgetNotArchiving(s Store, orgs []model.Organization) {
	archiving := func(org string) bool {
		_, ok := slices.BinarySearchFunc(orgs, org, func(o model.Organization, id string) int { return strings.Compare(o.ID, id) })
		return ok
	}
	HeadHints.DeleteFunc(func(k HeadHintKey) bool { return k.store == s && !archiving(k.org) })
	storedMembers.DeleteFunc(func(k membersHint) bool { return k.store == s && !archiving(k.org) })
}

// HeadHints maps a headHintKey to the headHint of the head Head last found (hintcache.go:
// bounded).
var HeadHints hintCache[HeadHintKey, HeadHint]

// HeadHint is what Head remembers of the head it found: its seq and key and, in layout 3,
// the tip (the last manifest key under d/, "" when there was none) as it was then.
type HeadHint struct {
	Seq     int64
	Key     string
	Tip     string
	Layout3 bool // the hint was made by head3: tip is known
}

// HeadHintKey keys HeadHints: a store (a pointer, see HeadHintKeyOf) and an organization.
type HeadHintKey struct {
	store Store
	org   string
}

// HeadHintKeyOf returns the key of org's hint in s, when s can key a map: a pointer (every
// store this program opens is one), never a value that might not be comparable.
func HeadHintKeyOf(s Store, org string) (HeadHintKey, bool) {
	if s == nil || reflect.TypeOf(s).Kind() != reflect.Pointer {
		return HeadHintKey{}, false
	}
	return HeadHintKey{s, org}, true
}
