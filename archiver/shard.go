package archiver

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unsafe"

	"github.com/cespare/xxhash/v2"

	"github.com/chatvault/chatvault/model"
)

// Sharding (`run --shard i/n`) spreads one day's seal over n processes, typically the pods
// of a Kubernetes Indexed Job: shard i commits the organizations whose id hashes to i
// (ShardOf), and all n read the same partition with the same directory snapshot.
//
// Reading every event in full in every shard would make the day's decoding cost grow with
// n, so a shard first reads only what routing needs of a line (its chatId, and its
// sender's participantType and id: routeFields) and skips, undecoded, the lines that
// belong to other shards. What belongs to a shard:
//
//   - the lines routed to one of its organizations, which it decodes and exports as an
//     unsharded run would (a line routed to organizations of several shards is decoded by
//     each of them, for its own organizations);
//   - the lines it owns, which it validates and counts in the day-level accounting
//     exactly once across shards: a routed line is owned by the shard of its first
//     organization (in id order: the one whose record counts the line as exported, as in an
//     unsharded run), and a line routed to no organization (not entitled, or quarantined
//     with no readable chat or sender) by the shard (first 8 bytes of SHA-256(file name),
//     as a big-endian integer, + line number) mod n.
//
// A line's owner is a function of its bytes, its place and the directory alone, so every
// shard reckons it the same way, and each shard's day-level numbers balance on their own.
// The owner quarantines the line into the day's quarantine object of its shard; each
// organization's own quarantine copy is written by that organization's shard. Each shard
// writes its own accounting object (Accounting.Shard); the day's accounting is complete
// when all n shards of one (n, directory, generator) have theirs, which verify checks.
//
// routeFields may read more organizations than decoding finally routes to (it takes the
// first of fields given twice, which the decoder refuses), never fewer: skipping a line
// is safe because a shard only skips lines whose routed organizations are all another
// shard's. A line it cannot read (not a JSON object) routes to no organization, which is
// what the decoder and the quarantine's attribution (attributable) find for it too.

// Shard names one shard of a sharded run: Index in [0, Count). The zero value (Count 0)
// is an unsharded run.
type Shard struct {
	Index int `json:"index"`
	Count int `json:"count"`
}

// Sharded reports whether s is one shard of several (or the one shard of a 1/1 split).
func (s Shard) Sharded() bool { return s.Count > 0 }

func (s Shard) String() string { return strconv.Itoa(s.Index) + "/" + strconv.Itoa(s.Count) }

// MaxShards bounds n: more shards than that is a typo, not a deployment.
const MaxShards = 4096

// ParseShard parses "i/n", 0 <= i < n <= MaxShards.
func ParseShard(s string) (Shard, error) {
	is, ns, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(is)
	n, err2 := strconv.Atoi(ns)
	if !ok || err1 != nil || err2 != nil || n < 1 || n > MaxShards || i < 0 || i >= n {
		return Shard{}, fmt.Errorf("shard %q: want i/n with 0 <= i < n <= %d, for example 0/4", s, MaxShards)
	}
	return Shard{Index: i, Count: n}, nil
}

// ShardOf returns the shard of n that seals organization org: the first 8 bytes of
// SHA-256(org id), as a big-endian unsigned integer, modulo n. It depends on nothing but
// the id, so an organization stays in its shard whatever the others do.
func ShardOf(org string, n int) int {
	sum := sha256.Sum256([]byte(org))
	return int(binary.BigEndian.Uint64(sum[:8]) % uint64(n))
}

// setShard marks which of the router's organizations are shard's (all when unsharded).
func (r *router) setShard(shard Shard) {
	if !shard.Sharded() {
		r.shardOrgs = nil
		return
	}
	r.shardOrgs = make([]bool, len(r.orgs))
	for i, o := range r.orgs {
		r.shardOrgs[i] = ShardOf(o.ID, shard.Count) == shard.Index
	}
}

// mine reports whether organization o is sealed by this run's shard.
func (r *router) mine(o int32) bool { return r.shardOrgs == nil || r.shardOrgs[o] }

// shardFilter is one decode worker's view of its shard: which lines it skips, and which it
// owns (see above).
type shardFilter struct {
	shard Shard
	rt    *router
	// files[i] is the first 8 bytes of SHA-256 of the partition's i-th file name.
	files []uint64
	// routed is the last line's organizations as routeFields read them.
	routed []int32
}

func newShardFilter(shard Shard, rt *router, files []string) *shardFilter {
	if !shard.Sharded() {
		return nil
	}
	f := &shardFilter{shard: shard, rt: rt, files: make([]uint64, len(files))}
	for i, name := range files {
		sum := sha256.Sum256([]byte(name))
		f.files[i] = binary.BigEndian.Uint64(sum[:8])
	}
	return f
}

// claim reads a line's routing fields and reports whether this shard owns it (counts and
// validates it for the day) and whether it needs it at all (owns it or routes it to one of
// its organizations); a line it does not need is skipped undecoded.
func (f *shardFilter) claim(bl *batchLine, raw []byte) (own, need bool) {
	ev := routeFields(raw)
	f.routed = f.rt.route(f.routed[:0], &ev)
	if len(f.routed) > 0 {
		own = f.rt.mine(f.routed[0])
	} else {
		own = int((f.files[bl.file]+uint64(bl.number))%uint64(f.shard.Count)) == f.shard.Index
	}
	if own {
		return true, true
	}
	for _, o := range f.routed {
		if f.rt.mine(o) {
			return false, true
		}
	}
	return false, false
}

// partitionDigest hashes a sharded run's partition as it is read, for its accounting
// object's join key (Accounting.PartitionDigest): the shards of a split must have read the
// same partition, and its line count misses a file edited in place (a message's text
// changed, a line replaced by another). Every shard reads every line anyway, to skip the
// other shards' (claim), so hashing them costs no second read; the reader hashes each
// line as it hands it on, per file, since a file's lines come in order from one reader
// while files may be read at once (ConcurrentSource). An unsharded run hashes nothing.
//
// The hash is XXH64, not SHA-256: it tells apart partitions that changed, which is all a
// join key needs (what the archive holds is proven by the manifests' SHA-256 of their
// exports; a partition forged to hash alike would only keep the records sealed before the
// forgery). On a shard's reader SHA-256 took as long as the rest of its work (0.41 of 0.57
// CPU seconds for 200,000 lines: BenchmarkSealShard's profile); XXH64 hashes at about
// the speed the reader copies the lines into batches (6 GB/s here, SHA-256 0.65).
type partitionDigest struct {
	files []*xxhash.Digest // by file index; each written only by the reader of its file
}

// partitionDigestPrefix names the hash of Accounting.PartitionDigest.
const partitionDigestPrefix = "xxh64:"

func newPartitionDigest(shard Shard, files int) *partitionDigest {
	if !shard.Sharded() {
		return nil
	}
	return &partitionDigest{files: make([]*xxhash.Digest, files)}
}

var lineEnd = []byte{'\n'}

// line adds line l of the file with index fi: its bytes and a line end. Of a line over the
// Source's limit only the head is held; its whole line's SHA-256 (after a NUL, which no
// JSON line holds) stands for it.
func (d *partitionDigest) line(fi int32, l Line) {
	h := d.files[fi]
	if h == nil {
		h = xxhash.New()
		d.files[fi] = h
	}
	var tl *LineTooLongError
	if l.Err != nil && errors.As(l.Err, &tl) {
		h.Write([]byte{0})
		h.Write(tl.SHA256[:])
	} else {
		h.Write(l.Bytes)
	}
	h.Write(lineEnd)
}

// sum returns the partition's digest: "xxh64:" and the hex XXH64 of each file's name, a
// line end and the XXH64 of its lines (as line wrote them, big-endian), in the partition's
// file order.
func (d *partitionDigest) sum(files []string) string {
	all := xxhash.New()
	for i, name := range files {
		var sum uint64
		if h := d.files[i]; h != nil {
			sum = h.Sum64()
		} else {
			sum = xxhash.Sum64(nil) // a file without lines
		}
		all.WriteString(name)
		all.Write(lineEnd)
		all.Write(binary.BigEndian.AppendUint64(nil, sum))
	}
	return partitionDigestPrefix + hex.EncodeToString(binary.BigEndian.AppendUint64(nil, all.Sum64()))
}

// routeFields reads a line's chatId and its sender's participantType and id, as far as
// routing needs them, without decoding the rest: it walks the top-level object until it
// has both fields (the platform writes them first) and skips every other value by its
// brackets and quotes alone. Of a field given twice it takes the first. Strings with
// escapes are unescaped as encoding/json does, which is what attributable reads. A line
// that is not a JSON object, as far as it was read, gives an empty event: it routes to no
// organization (and the decoder quarantines it, unattributed).
//
// Its strings alias raw: the event must not outlive the call that routes it.
func routeFields(raw []byte) model.Event {
	s := fieldScan{b: raw}
	var ev model.Event
	if s.ws(); !s.at('{') {
		return model.Event{}
	}
	s.i++
	var chat, sender bool
	for n := 0; ; n++ {
		if chat && sender {
			return ev
		}
		s.ws()
		if s.at('}') {
			return ev
		}
		if n > 0 {
			if !s.at(',') {
				return model.Event{}
			}
			s.i++
			s.ws()
		}
		key, ok := s.key()
		if !ok {
			return model.Event{}
		}
		switch {
		case key == "chatId" && !chat:
			chat = true
			v, _, ok := s.text()
			if !ok {
				return model.Event{}
			}
			ev.ChatID = v
		case key == "sender" && !sender:
			sender = true
			if s.ws(); s.at('{') {
				typ, id, ok := s.participant()
				if !ok {
					return model.Event{}
				}
				if typ != "" && id != "" {
					ev.Sender.Type, ev.Sender.ID = typ, id
				}
			} else if !s.skip() {
				return model.Event{}
			}
		default:
			if !s.skip() {
				return model.Event{}
			}
		}
	}
}

// fieldScan walks a JSON text without checking more of it than it must; for valid JSON it
// finds exactly the values a decoder would.
type fieldScan struct {
	b []byte
	i int
}

func (s *fieldScan) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *fieldScan) at(c byte) bool { return s.i < len(s.b) && s.b[s.i] == c }

// str consumes the string at s.i (a quote) and returns its bytes between the quotes and
// whether they hold escapes; ok is false when it does not end.
func (s *fieldScan) str() (raw []byte, escaped, ok bool) {
	start := s.i + 1
	for j := start; j < len(s.b); j++ {
		switch s.b[j] {
		case '"':
			s.i = j + 1
			return s.b[start:j], escaped, true
		case '\\':
			escaped = true
			j++
		}
	}
	return nil, false, false
}

// text consumes a value and returns it when it is a string (isString); ok is false when
// the line cannot be JSON.
func (s *fieldScan) text() (v string, isString, ok bool) {
	if s.ws(); !s.at('"') {
		return "", false, s.skip()
	}
	start := s.i
	raw, escaped, ok := s.str()
	if !ok {
		return "", false, false
	}
	if !escaped {
		return unsafe.String(unsafe.SliceData(raw), len(raw)), true, true
	}
	if json.Unmarshal(s.b[start:s.i], &v) != nil {
		return "", false, false // a bad escape: not JSON
	}
	return v, true, true
}

// key consumes a member's key and its colon.
func (s *fieldScan) key() (string, bool) {
	k, isString, ok := s.text()
	if !ok || !isString {
		return "", false
	}
	if s.ws(); !s.at(':') {
		return "", false
	}
	s.i++
	return k, true
}

// skip consumes any value: strings by their quotes, objects and arrays by their brackets.
func (s *fieldScan) skip() bool {
	s.ws()
	if s.i >= len(s.b) {
		return false
	}
	switch s.b[s.i] {
	case '"':
		_, _, ok := s.str()
		return ok
	case '{', '[':
		depth := 0
		for s.i < len(s.b) {
			switch s.b[s.i] {
			case '"':
				if _, _, ok := s.str(); !ok {
					return false
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					s.i++
					return true
				}
			}
			s.i++
		}
		return false
	}
	start := s.i // a number or a literal
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return s.i > start
		}
		s.i++
	}
	return s.i > start
}

// participant consumes the sender object and returns the first participantType and id
// that are strings ("" otherwise).
func (s *fieldScan) participant() (typ, id string, ok bool) {
	s.i++ // '{'
	var haveType, haveID bool
	for n := 0; ; n++ {
		s.ws()
		if s.at('}') {
			s.i++
			return typ, id, true
		}
		if n > 0 {
			if !s.at(',') {
				return "", "", false
			}
			s.i++
			s.ws()
		}
		key, ok := s.key()
		if !ok {
			return "", "", false
		}
		switch {
		case key == "participantType" && !haveType:
			haveType = true
			v, isString, ok := s.text()
			if !ok {
				return "", "", false
			}
			if isString {
				typ = v
			}
		case key == "id" && !haveID:
			haveID = true
			v, isString, ok := s.text()
			if !ok {
				return "", "", false
			}
			if isString {
				id = v
			}
		default:
			if !s.skip() {
				return "", "", false
			}
		}
	}
}

// sameRoute checks, in a sharded run, that decoding routed the line to the organizations
// routeFields read (it must, for a line that decodes): a shard that skipped the line on
// that reading would otherwise miss it. A difference is a bug, and fails the run rather
// than lose a record.
func (w *decodeWorker) sameRoute(bl *batchLine) error {
	if w.shard == nil || slices.Equal(w.orgs, w.shard.routed) {
		return nil
	}
	return fmt.Errorf("shard %s: %s line %d: routing read from the line's fields differs from its decoded event's; this is a bug: run without --shard",
		w.shard.shard, w.files[bl.file], bl.number)
}
