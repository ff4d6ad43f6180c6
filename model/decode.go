package model

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// Kinds of decode failure. A *DecodeError wraps exactly one of them, so callers can count
// quarantined records by kind with errors.Is.
var (
	ErrSyntax         = errors.New("invalid JSON")
	ErrMissingField   = errors.New("missing required field")
	ErrWrongType      = errors.New("wrong type")
	ErrNotInteger     = errors.New("not an integer")
	ErrUnknownVariant = errors.New("unknown variant")
	ErrDuplicateField = errors.New("duplicate field")
	ErrInvalidValue   = errors.New("invalid value")
)

// MaxDepth bounds how deeply a line may nest objects and arrays, the record itself
// counting as one level. Deeper input is refused rather than risking the stack on
// hostile data.
const MaxDepth = 64

// DecodeError says what is wrong with a record and where.
type DecodeError struct {
	// Field is the path of the offending field (sender.id, content.attachments[2],
	// content.added[0].email), or empty for the record as a whole. It is always empty
	// for ErrSyntax: a line that is not JSON has no fields, and Detail gives the offset.
	Field string
	// Kind is one of the Err* sentinels.
	Kind error
	// Detail adds what was found.
	Detail string
}

func (e *DecodeError) Error() string {
	msg := e.Kind.Error()
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	if e.Field == "" {
		return msg
	}
	return "field " + e.Field + ": " + msg
}

func (e *DecodeError) Unwrap() error { return e.Kind }

// Reason is a short, stable code for the failure kind, used to count quarantined records.
func (e *DecodeError) Reason() string {
	switch e.Kind {
	case ErrSyntax:
		return "invalid_json"
	case ErrMissingField:
		return "missing_field"
	case ErrWrongType:
		return "wrong_type"
	case ErrNotInteger:
		return "not_integer"
	case ErrUnknownVariant:
		return "unknown_variant"
	case ErrDuplicateField:
		return "duplicate_field"
	}
	return "invalid_value"
}

// Decode parses one event-log line strictly.
//
// It refuses what it cannot represent faithfully: invalid JSON or UTF-8, lone surrogate
// escapes, duplicate fields, a missing required field, a value of the wrong type, a
// timestamp that is not a non-negative integer within int64, an unknown event type or
// participant type. Fields the export format does not define are skipped (after checking
// they are valid JSON): the platform may add some, and they are not part of the record.
//
// A line that is not valid JSON is always reported as ErrSyntax, whatever else is wrong
// with it. Otherwise the first problem in reading order is reported, except that the
// content is judged after the rest of the record: whether it matters depends on the
// record's contentType.
//
// When the only problem is that contentType is not one of the five message variants, the
// returned error wraps ErrUnknownVariant with Field "contentType" and the returned Event
// still holds the envelope (everything but Content), so that a caller can exclude waves
// and room invitations by rule, per organization, instead of quarantining them. After
// any other error the returned Event is unspecified.
//
// The Event does not alias line. Its strings share one allocation about the size of the
// line, so a caller that keeps a few of them for long should copy them (strings.Clone).
func Decode(line []byte) (Event, error) {
	e, _, err := decode(line, nil)
	return e, err
}

// Decoder decodes lines like Decode but reuses one buffer for the strings of every Event
// it returns, so that decoding a stream of lines allocates nothing per line for them (a
// fresh buffer per line was two thirds of the bytes a seal allocated). The price: an
// Event's strings are valid only until the next call of Decode; a caller that keeps any
// of them must copy them. A Decoder is not safe for concurrent use; the zero value is
// ready.
type Decoder struct {
	buf []byte
	// atts, added and removed back the slices of the Events DecodeCanonical returns.
	atts           []RawJSON
	added, removed []Participant
}

// Decode decodes line; see the package's Decode for what it accepts and returns. The
// Event does not alias line, but its strings alias the Decoder's buffer, which the next
// call overwrites.
func (dc *Decoder) Decode(line []byte) (Event, error) {
	e, buf, err := decode(line, dc.buf[:0])
	// A line of many MiB grew the buffer: do not keep that much for every line after it.
	if cap(buf) <= 1<<20 {
		dc.buf = buf
	}
	return e, err
}

func decode(line, buf []byte) (Event, []byte, error) {
	d := decoder{buf: line, arena: arena{b: buf}}
	// Every kept string (unescaped) and attachment (compacted) is no longer than its
	// spelling in the line, so this is the only allocation for all of them; a huge line,
	// mostly fields we skip, grows the arena as needed instead.
	d.arena.grow(min(len(line), 64<<10))
	var e Event
	err := d.event(&e)
	// An error found before the end of the line leaves the rest unread; the rest may not
	// be JSON. (Waves and the like are recognized only after the whole line is read.)
	if err != nil && !d.read && err.(*DecodeError).Kind != ErrSyntax {
		if serr := validate(line); serr != nil {
			return e, d.arena.b, serr
		}
	}
	return e, d.arena.b, err
}

// arena holds the bytes of the strings an Event keeps. Bytes are only ever appended, and
// a string is handed out only once all of its bytes are written, so a string never sees
// its bytes change while the Event is in use: when append moves the buffer, the strings
// already handed out keep the old one.
type arena struct{ b []byte }

func (a *arena) grow(n int)       { a.b = slices.Grow(a.b, n) }
func (a *arena) Len() int         { return len(a.b) }
func (a *arena) Write(p []byte)   { a.b = append(a.b, p...) }
func (a *arena) WriteRune(r rune) { a.b = utf8.AppendRune(a.b, r) }
func (a *arena) stringFrom(n int) string {
	if n == len(a.b) {
		return ""
	}
	return unsafe.String(&a.b[n], len(a.b)-n)
}

// validate reports the first syntax error of line, or nil if it is valid JSON. Unlike
// skip it keeps its own stack of open objects and arrays rather than recursing, so that no
// nesting stops it.
func validate(line []byte) error {
	d := decoder{buf: line}
	var open []byte // '{' or '[' for each object or array open at pos
	for {
		// At a value.
		n := 1 // members or elements read in the innermost open object or array
		if c := d.peek(); c == '{' || c == '[' {
			d.pos++
			open = append(open, c)
			n = 0
		} else if err := d.scalar(); err != nil {
			return err
		}
		// Move to the next value, closing what ends before it.
		for {
			if len(open) == 0 {
				return d.end()
			}
			var more bool
			var err error
			if open[len(open)-1] == '{' {
				more, err = d.member(n)
			} else {
				more, err = d.element(n)
			}
			if err != nil {
				return err
			}
			if more {
				break
			}
			open = open[:len(open)-1]
			n = 1
		}
	}
}

type decoder struct {
	buf   []byte
	pos   int
	depth int  // objects and arrays open at pos
	read  bool // whether the whole line has been read and is valid JSON
	// arena holds the bytes of every string the Event keeps: one buffer per line (or one
	// per Decoder), sliced into strings.
	arena arena
	// rawKey is the key of the member at pos as it appears in the line, quotes excluded;
	// keyEscaped says whether it needs unescaping.
	rawKey     []byte
	keyEscaped bool
}

// Errors are built where they are found with a Field relative to the value being
// decoded, and each enclosing level prefixes its own name on the way out (see in), so
// that decoding pays nothing for paths until something is wrong.

func (d *decoder) syntax(want string) error {
	if d.pos >= len(d.buf) {
		return &DecodeError{Kind: ErrSyntax, Detail: fmt.Sprintf("unexpected end of line at offset %d, want %s", d.pos, want)}
	}
	return &DecodeError{Kind: ErrSyntax, Detail: fmt.Sprintf("unexpected %q at offset %d, want %s", d.buf[d.pos], d.pos, want)}
}

func syntaxAt(off int, what string) error {
	return &DecodeError{Kind: ErrSyntax, Detail: fmt.Sprintf("%s at offset %d", what, off)}
}

func failure(kind error, detail string) error {
	return &DecodeError{Kind: kind, Detail: detail}
}

// in places err, which was found in the value of a field or array element named name,
// inside that value's path. Syntax errors have no path.
func in(name string, err error) error {
	de := err.(*DecodeError)
	switch {
	case de.Kind == ErrSyntax:
	case de.Field == "":
		de.Field = name
	case de.Field[0] == '[':
		de.Field = name + de.Field
	default:
		de.Field = name + "." + de.Field
	}
	return err
}

// quote quotes a value for an error's Detail, cut short: the line that holds it is kept
// with the error anyway, and a detail should stay readable.
func quote(s string) string {
	const max = 64
	if len(s) <= max {
		return strconv.Quote(s)
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strconv.Quote(s[:cut]) + "…"
}

func index(i int) string { return "[" + strconv.Itoa(i) + "]" }

func (d *decoder) ws() {
	for d.pos < len(d.buf) {
		switch d.buf[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

// peek returns the next significant byte, or 0 at the end of the line (a NUL byte is
// never valid there, so callers need not tell the two apart).
func (d *decoder) peek() byte {
	d.ws()
	if d.pos >= len(d.buf) {
		return 0
	}
	return d.buf[d.pos]
}

// end checks that nothing but whitespace follows.
func (d *decoder) end() error {
	if d.ws(); d.pos < len(d.buf) {
		return d.syntax("end of line after the record")
	}
	return nil
}

// kindOf names the JSON type starting with b, for wrong-type errors.
func kindOf(b byte) string {
	switch {
	case b == '{':
		return "object"
	case b == '[':
		return "array"
	case b == '"':
		return "string"
	case b == 't' || b == 'f':
		return "boolean"
	case b == 'n':
		return "null"
	}
	return "number"
}

// wrongType reports that the value at pos is not what the field wants, once it is known
// to be a valid JSON value at all (if not, that is the error).
func (d *decoder) wrongType(want string) error {
	found := kindOf(d.peek())
	if err := d.skip(); err != nil {
		return err
	}
	return failure(ErrWrongType, "want "+want+", found "+found)
}

// Objects and arrays are read with loops rather than callbacks, which keeps the hot path
// free of indirect calls and lets each level add its name to an error on the way out:
//
//	if err := d.open('{'); err != nil { … }
//	for n := 0; ; n++ {
//		more, err := d.member(n)
//		if err != nil || !more { … }
//		switch string(d.key()) { … } // then consume the value
//	}

// open consumes the '{' or '[' at pos.
func (d *decoder) open(c byte) error {
	if d.peek() != c {
		return d.syntax(strconv.QuoteRune(rune(c)))
	}
	d.pos++
	if d.depth++; d.depth > MaxDepth {
		return failure(ErrInvalidValue, fmt.Sprintf("nested deeper than %d levels", MaxDepth))
	}
	return nil
}

// member moves to the value of the next member of the open object, n members in, and
// reports whether there is one; when there is not, it consumes the closing '}'.
func (d *decoder) member(n int) (bool, error) {
	c := d.peek()
	switch {
	case c == '}':
		d.pos++
		d.depth--
		return false, nil
	case n == 0:
	case c == ',':
		d.pos++
		c = d.peek()
	default:
		return false, d.syntax("',' or '}'")
	}
	if c != '"' {
		return false, d.syntax("a field name")
	}
	raw, escaped, err := d.scanString()
	if err != nil {
		return false, err
	}
	d.rawKey, d.keyEscaped = raw, escaped
	if d.peek() != ':' {
		return false, d.syntax("':'")
	}
	d.pos++
	return true, nil
}

// key returns the key of the member that member just moved to. It stays valid while
// the value is decoded: it aliases the line, or is a copy when it had escapes.
func (d *decoder) key() []byte {
	if d.keyEscaped {
		return appendUnescaped(nil, d.rawKey)
	}
	return d.rawKey
}

// element moves to the next element of the open array, n elements in, and reports
// whether there is one; when there is not, it consumes the closing ']'.
func (d *decoder) element(n int) (bool, error) {
	switch c := d.peek(); {
	case c == ']':
		d.pos++
		d.depth--
		return false, nil
	case n == 0:
	case c == ',':
		d.pos++
	default:
		return false, d.syntax("',' or ']'")
	}
	return true, nil
}

// str decodes a string value.
func (d *decoder) str() (string, error) {
	if d.peek() != '"' {
		return "", d.wrongType("string")
	}
	raw, escaped, err := d.scanString()
	if err != nil {
		return "", err
	}
	if len(raw) == 0 {
		return "", nil
	}
	n := d.arena.Len()
	if escaped {
		for len(raw) > 0 {
			i := bytes.IndexByte(raw, '\\')
			if i < 0 {
				break
			}
			d.arena.Write(raw[:i])
			r, size := unescape(raw[i:])
			d.arena.WriteRune(r)
			raw = raw[i+size:]
		}
	}
	d.arena.Write(raw)
	return d.arena.stringFrom(n), nil
}

// isNull consumes a null literal if one is next.
func (d *decoder) isNull() (bool, error) {
	if d.peek() != 'n' {
		return false, nil
	}
	return true, d.literal("null")
}

func (d *decoder) literal(lit string) error {
	if len(d.buf)-d.pos < len(lit) || string(d.buf[d.pos:d.pos+len(lit)]) != lit {
		return d.syntax("a value")
	}
	d.pos += len(lit)
	return nil
}

// scanString consumes the string at pos (which is '"'), checking it: escapes, UTF-8, no
// control characters. It returns the bytes between the quotes as they appear in the
// line, and whether they hold escapes (see appendUnescaped).
func (d *decoder) scanString() (raw []byte, escaped bool, err error) {
	buf := d.buf
	start := d.pos + 1
	var high uint64 // the OR of the bytes scanned a word at a time, for their top bits
	for i := start; i < len(buf); {
		// Most of a line is string bytes that need no attention.
		var h uint64
		i, h = skipPlain(buf, i)
		high |= h
		if i >= len(buf) {
			break
		}
		switch c := buf[i]; {
		case c == '"':
			raw = buf[start:i]
			// Escapes are ASCII, so checking the raw bytes checks the text between them.
			if high&(0x80*lsb) != 0 && !utf8.Valid(raw) {
				return nil, false, syntaxAt(start+invalidUTF8(raw), "invalid UTF-8 in string")
			}
			d.pos = i + 1
			return raw, escaped, nil
		case c == '\\':
			n, err := checkEscape(buf, i)
			if err != nil {
				return nil, false, err
			}
			escaped = true
			i += n
		case c < 0x20:
			return nil, false, syntaxAt(i, "control character in string")
		default:
			high |= uint64(c)
			i++
		}
	}
	return nil, false, syntaxAt(len(buf), "unterminated string")
}

const lsb = 0x0101010101010101 // 0x01 in each byte of a word

// special marks the bytes of w that are a quote, a backslash or a control character (the
// bytes a string's scan must stop at) by setting their top bit. It uses the classic bit
// trick: (x - 0x01…) &^ x has a byte's top bit set where x has a zero byte, and
// (x - n·0x01…) &^ x where x has a byte below n (n ≤ 0x80).
// skipPlain advances from i over string bytes that need no attention (see special), 8 at
// a time, to the first that does or to where fewer than 8 remain. It returns the new
// position and the OR of the bytes skipped, whose top bits tell whether any was non-ASCII.
// The decoder and the encoder both use it, so they stop at the same bytes.
func skipPlain[T string | []byte](s T, i int) (int, uint64) {
	var high uint64
	for i+8 <= len(s) {
		w := load64(s, i)
		if m := special(w); m != 0 {
			// Borrows only carry upwards, so the lowest mark is exact.
			low := m & -m
			high |= w & (low - 1)
			return i + bits.TrailingZeros64(low)/8, high
		}
		high |= w
		i += 8
	}
	return i, high
}

// load64 reads 8 bytes of s at i, little-endian (the compiler makes it one load).
func load64[T string | []byte](s T, i int) uint64 {
	s = s[i : i+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

func special(w uint64) uint64 {
	q := w ^ ('"' * lsb)
	b := w ^ ('\\' * lsb)
	return ((w-0x20*lsb)&^w | (q-lsb)&^q | (b-lsb)&^b) & (0x80 * lsb)
}

// invalidUTF8 returns the offset of the first invalid UTF-8 sequence in b.
func invalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size <= 1 {
			return i
		}
		i += size
	}
	return len(b)
}

// checkEscape checks the escape sequence at buf[i] (a backslash) and returns its length.
// A \u escape of a high surrogate must be followed by one of a low surrogate: a lone
// surrogate has no UTF-8 form, so it is refused rather than replaced.
func checkEscape(buf []byte, i int) (int, error) {
	if i+1 >= len(buf) {
		return 0, syntaxAt(len(buf), "unterminated string")
	}
	switch buf[i+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2, nil
	case 'u':
	default:
		return 0, syntaxAt(i, fmt.Sprintf("invalid escape \\%c in string", buf[i+1]))
	}
	r, ok := hex4(buf, i+2)
	if !ok {
		return 0, syntaxAt(i, "invalid \\u escape in string")
	}
	if !utf16.IsSurrogate(r) {
		return 6, nil
	}
	if r >= 0xDC00 || i+7 >= len(buf) || buf[i+6] != '\\' || buf[i+7] != 'u' {
		return 0, syntaxAt(i, "lone surrogate escape in string")
	}
	if r2, ok := hex4(buf, i+8); !ok || r2 < 0xDC00 || r2 > 0xDFFF {
		return 0, syntaxAt(i, "lone surrogate escape in string")
	}
	return 12, nil
}

// hex4 decodes the four hex digits at buf[i].
func hex4(buf []byte, i int) (rune, bool) {
	if i+4 > len(buf) {
		return 0, false
	}
	var r rune
	for _, c := range buf[i : i+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	return r, true
}

// appendUnescaped appends the text of raw, string contents that scanString has checked.
func appendUnescaped(dst, raw []byte) []byte {
	for len(raw) > 0 {
		i := bytes.IndexByte(raw, '\\')
		if i < 0 {
			break
		}
		dst = append(dst, raw[:i]...)
		r, size := unescape(raw[i:])
		dst = utf8.AppendRune(dst, r)
		raw = raw[i+size:]
	}
	return append(dst, raw...)
}

// unescape decodes the escape sequence at the start of raw, which scanString has
// checked, and returns its character and length.
func unescape(raw []byte) (rune, int) {
	switch c := raw[1]; c {
	case 'b':
		return '\b', 2
	case 'f':
		return '\f', 2
	case 'n':
		return '\n', 2
	case 'r':
		return '\r', 2
	case 't':
		return '\t', 2
	case 'u':
		r, _ := hex4(raw, 2)
		if !utf16.IsSurrogate(r) {
			return r, 6
		}
		r2, _ := hex4(raw, 8)
		return utf16.DecodeRune(r, r2), 12
	default: // '"', '\\', '/'
		return rune(c), 2
	}
}

// timestamp decodes a non-negative integer that fits in int64. Floats, exponents,
// strings and anything beyond int64 are refused: a timestamp that had to be rounded is
// not the timestamp the platform recorded.
func (d *decoder) timestamp() (int64, error) {
	if b := d.peek(); b != '-' && (b < '0' || b > '9') {
		return 0, d.wrongType("integer")
	}
	start := d.pos
	end := numberEnd(d.buf, start)
	if end < 0 {
		return 0, d.syntax("a number")
	}
	lit := d.buf[start:end]
	d.pos = end
	digits, negative := lit, lit[0] == '-'
	if negative {
		digits = lit[1:]
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, failure(ErrNotInteger, quote(string(lit))+" has a fraction or exponent")
		}
	}
	if negative {
		return 0, failure(ErrInvalidValue, quote(string(lit))+" is negative")
	}
	var n int64
	for _, c := range digits {
		if n > (math.MaxInt64-int64(c-'0'))/10 {
			return 0, failure(ErrNotInteger, quote(string(lit))+" does not fit in 64 bits")
		}
		n = n*10 + int64(c-'0')
	}
	return n, nil
}

// numberEnd returns the offset after the JSON number at buf[i], or -1 if there is none.
func numberEnd(buf []byte, i int) int {
	n := len(buf)
	digits := func(i int) int {
		for i < n && buf[i] >= '0' && buf[i] <= '9' {
			i++
		}
		return i
	}
	if i < n && buf[i] == '-' {
		i++
	}
	switch {
	case i < n && buf[i] == '0':
		i++
	case i < n && buf[i] >= '1' && buf[i] <= '9':
		i = digits(i)
	default:
		return -1
	}
	if i < n && buf[i] == '.' {
		if i++; i >= n || buf[i] < '0' || buf[i] > '9' {
			return -1
		}
		i = digits(i)
	}
	if i < n && (buf[i] == 'e' || buf[i] == 'E') {
		if i++; i < n && (buf[i] == '+' || buf[i] == '-') {
			i++
		}
		if i >= n || buf[i] < '0' || buf[i] > '9' {
			return -1
		}
		i = digits(i)
	}
	return i
}

// skip consumes any JSON value, checking that it is well formed and nested at most
// MaxDepth deep.
func (d *decoder) skip() error {
	switch c := d.peek(); {
	case c == '{':
		if err := d.open('{'); err != nil {
			return err
		}
		for n := 0; ; n++ {
			more, err := d.member(n)
			if err != nil || !more {
				return err
			}
			if err := d.skip(); err != nil {
				return err
			}
		}
	case c == '[':
		if err := d.open('['); err != nil {
			return err
		}
		for n := 0; ; n++ {
			more, err := d.element(n)
			if err != nil || !more {
				return err
			}
			if err := d.skip(); err != nil {
				return err
			}
		}
	}
	return d.scalar()
}

// scalar consumes a string, number or literal, checking that it is well formed.
func (d *decoder) scalar() error {
	switch c := d.peek(); {
	case c == '"':
		_, _, err := d.scanString()
		return err
	case c == 't':
		return d.literal("true")
	case c == 'f':
		return d.literal("false")
	case c == 'n':
		return d.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		end := numberEnd(d.buf, d.pos)
		if end < 0 {
			return d.syntax("a number")
		}
		d.pos = end
		return nil
	}
	return d.syntax("a value")
}

// seen tracks which fields of an object were present, to refuse duplicates.
type seen uint32

func mark(s *seen, bit uint32) error {
	if *s&seen(bit) != 0 {
		return failure(ErrDuplicateField, "")
	}
	*s |= seen(bit)
	return nil
}

// field names a required field by its bit in a seen set.
type field struct {
	bit  uint32
	name string
}

// missing returns the first of fields that required asks for and s lacks.
func missing(s seen, required uint32, fields []field) error {
	if uint32(s)&required == required {
		return nil
	}
	for _, f := range fields {
		if required&f.bit != 0 && s&seen(f.bit) == 0 {
			return &DecodeError{Field: f.name, Kind: ErrMissingField}
		}
	}
	return nil
}

const (
	fEventType = 1 << iota
	fChatID
	fThreadTimestamp
	fTimestamp
	fEventTimestamp
	fMessageID
	fSender
	fContentType
	fContent
)

var eventFields = []field{
	{fEventType, "eventType"}, {fChatID, "chatId"}, {fTimestamp, "timestamp"},
	{fEventTimestamp, "eventTimestamp"}, {fMessageID, "messageId"}, {fSender, "sender"},
	{fContentType, "contentType"},
}

func (d *decoder) event(e *Event) error {
	if d.peek() != '{' {
		return d.wrongType("object")
	}
	if err := d.open('{'); err != nil {
		return err
	}
	var s seen
	// contentErr is what is wrong with the content, judged once the rest is known.
	var contentErr error
	for n := 0; ; n++ {
		more, err := d.member(n)
		if err != nil {
			return err
		}
		if !more {
			break
		}
		key := d.key()
		switch string(key) {
		case "eventType":
			if err = mark(&s, fEventType); err == nil {
				e.EventType, err = d.str()
			}
		case "chatId":
			if err = mark(&s, fChatID); err == nil {
				e.ChatID, err = d.str()
			}
		case "threadTimestamp":
			if err = mark(&s, fThreadTimestamp); err == nil {
				var null bool
				if null, err = d.isNull(); err == nil && !null {
					e.ThreadTimestamp, err = d.timestamp()
				}
			}
		case "timestamp":
			if err = mark(&s, fTimestamp); err == nil {
				e.Timestamp, err = d.timestamp()
			}
		case "eventTimestamp":
			if err = mark(&s, fEventTimestamp); err == nil {
				e.EventTimestamp, err = d.timestamp()
			}
		case "messageId":
			if err = mark(&s, fMessageID); err == nil {
				e.MessageID, err = d.str()
			}
		case "sender":
			if err = mark(&s, fSender); err == nil {
				err = d.participant(&e.Sender)
			}
		case "contentType":
			if err = mark(&s, fContentType); err == nil {
				e.ContentType, err = d.str()
			}
		case "content":
			if err = mark(&s, fContent); err == nil {
				e.HasContent, contentErr, err = d.eventContent(e, s&fContentType != 0)
			}
		default:
			err = d.skip()
		}
		if err != nil {
			return in(string(key), err)
		}
	}
	if err := d.end(); err != nil {
		return err
	}
	d.read = true
	if err := missing(s, fEventType|fChatID|fTimestamp|fEventTimestamp|fMessageID|fSender|fContentType, eventFields); err != nil {
		return err
	}
	switch e.EventType {
	case EventSent, EventEdited, EventDeleted:
	default:
		return &DecodeError{Field: "eventType", Kind: ErrUnknownVariant, Detail: quote(e.EventType)}
	}
	if e.ChatID == "" {
		return &DecodeError{Field: "chatId", Kind: ErrInvalidValue, Detail: "empty"}
	}
	if e.MessageID == "" {
		return &DecodeError{Field: "messageId", Kind: ErrInvalidValue, Detail: "empty"}
	}
	if !IsMessageContentType(e.ContentType) {
		e.HasContent, e.Content = false, Content{}
		return &DecodeError{Field: "contentType", Kind: ErrUnknownVariant, Detail: quote(e.ContentType)}
	}
	if !e.HasContent {
		if e.EventType == EventDeleted {
			return nil
		}
		return &DecodeError{Field: "content", Kind: ErrMissingField}
	}
	if e.Content.Type != "" && e.Content.Type != e.ContentType {
		return &DecodeError{Field: "content.contentType", Kind: ErrInvalidValue,
			Detail: quote(e.Content.Type) + " differs from the record's contentType " + quote(e.ContentType)}
	}
	if contentErr != nil {
		return in("content", contentErr)
	}
	return nil
}

// eventContent decodes the value of the record's content field into e.Content in one
// pass. What is wrong with the content itself is returned as contentErr, to be judged
// once the rest of the record is known (a wave's content need not be a message's);
// only errors that stop the reading (invalid JSON, excessive nesting) are returned as
// err. knownType says whether the record's contentType has been read already.
func (d *decoder) eventContent(e *Event, knownType bool) (has bool, contentErr, err error) {
	if null, err := d.isNull(); err != nil || null {
		return false, nil, err
	}
	if d.peek() != '{' {
		return false, nil, d.wrongType("object")
	}
	if knownType && !IsMessageContentType(e.ContentType) {
		return true, nil, d.skip()
	}
	pos, depth := d.pos, d.depth
	cerr := d.content(&e.Content)
	if cerr == nil {
		return true, nil, nil
	}
	// Errors leave depth as it was where they were found, so a depth beyond the limit
	// means the content was nested too deep to read past.
	if de := cerr.(*DecodeError); de.Kind == ErrSyntax || d.depth > MaxDepth {
		return true, nil, cerr
	}
	// Read past the content, which the content decoder left midway.
	d.pos, d.depth = pos, depth
	return true, cerr, d.skip()
}

const (
	pType = 1 << iota
	pID
	pDisplayName
	pEmail
	pRoamID
	pIntegrationID
	pBotCode
)

var participantFields = []field{
	{pType, "participantType"}, {pID, "id"}, {pDisplayName, "displayName"}, {pEmail, "email"},
	{pRoamID, "roamId"}, {pIntegrationID, "integrationId"}, {pBotCode, "botCode"},
}

func (d *decoder) participant(p *Participant) error {
	if d.peek() != '{' {
		return d.wrongType("object")
	}
	if err := d.open('{'); err != nil {
		return err
	}
	var s seen
	for n := 0; ; n++ {
		more, err := d.member(n)
		if err != nil {
			return err
		}
		if !more {
			break
		}
		key := d.key()
		switch string(key) {
		case "participantType":
			if err = mark(&s, pType); err == nil {
				p.Type, err = d.str()
			}
		case "id":
			if err = mark(&s, pID); err == nil {
				p.ID, err = d.str()
			}
		case "displayName":
			if err = mark(&s, pDisplayName); err == nil {
				p.DisplayName, err = d.str()
			}
		case "email":
			if err = mark(&s, pEmail); err == nil {
				p.Email, err = d.str()
			}
		case "roamId":
			if err = mark(&s, pRoamID); err == nil {
				p.RoamID, err = d.str()
			}
		case "integrationId":
			if err = mark(&s, pIntegrationID); err == nil {
				p.IntegrationID, err = d.str()
			}
		case "botCode":
			if err = mark(&s, pBotCode); err == nil {
				p.BotCode, err = d.str()
			}
		default:
			err = d.skip()
		}
		if err != nil {
			return in(string(key), err)
		}
	}
	// Fields of other variants are dropped, like unknown fields, so that the decoded
	// value encodes to exactly its variant.
	required := uint32(pType | pID | pDisplayName)
	switch p.Type {
	case ParticipantEmail:
		required |= pEmail
		p.RoamID, p.IntegrationID, p.BotCode = "", "", ""
	case ParticipantBot:
		required |= pRoamID | pIntegrationID | pBotCode
		p.Email = ""
	case ParticipantOccupant:
		p.Email, p.RoamID, p.IntegrationID, p.BotCode = "", "", "", ""
	default:
		if s&pType == 0 {
			return &DecodeError{Field: "participantType", Kind: ErrMissingField}
		}
		return &DecodeError{Field: "participantType", Kind: ErrUnknownVariant, Detail: quote(p.Type)}
	}
	if err := missing(s, required, participantFields); err != nil {
		return err
	}
	if p.ID == "" {
		return &DecodeError{Field: "id", Kind: ErrInvalidValue, Detail: "empty"}
	}
	return nil
}

func (d *decoder) participants() ([]Participant, error) {
	if d.peek() != '[' {
		return nil, d.wrongType("array")
	}
	if err := d.open('['); err != nil {
		return nil, err
	}
	var stack [4]Participant
	ps := stack[:0]
	for i := 0; ; i++ {
		more, err := d.element(i)
		if err != nil {
			return nil, err
		}
		if !more {
			return exact(ps), nil
		}
		ps = append(ps, Participant{})
		if err := d.participant(&ps[i]); err != nil {
			return nil, in(index(i), err)
		}
	}
}

// exact returns a copy of s that is exactly as long (and not nil): the arrays are
// collected in a buffer on the stack and copied once, in one allocation, when complete.
func exact[T any](s []T) []T {
	if len(s) == 0 {
		return []T{}
	}
	return append(make([]T, 0, len(s)), s...)
}

const (
	cType = 1 << iota
	cText
	cMarkdownText
	cAttachments
	cColons
	cFileURL
	cItemURL
	cItemType
	cLanguage
	cAdded
	cRemoved
)

var contentFields = []field{
	{cType, "contentType"}, {cText, "text"}, {cMarkdownText, "markdownText"}, {cAttachments, "attachments"},
	{cColons, "colons"}, {cItemURL, "itemUrl"}, {cItemType, "itemType"},
	{cLanguage, "language"}, {cAdded, "added"}, {cRemoved, "removed"},
}

func (d *decoder) content(c *Content) error {
	if err := d.open('{'); err != nil {
		return err
	}
	var s seen
	for n := 0; ; n++ {
		more, err := d.member(n)
		if err != nil {
			return err
		}
		if !more {
			break
		}
		key := d.key()
		switch string(key) {
		case "contentType":
			if err = mark(&s, cType); err == nil {
				c.Type, err = d.str()
			}
		case "text":
			if err = mark(&s, cText); err == nil {
				c.Text, err = d.str()
			}
		case "markdownText":
			if err = mark(&s, cMarkdownText); err == nil {
				c.MarkdownText, err = d.str()
			}
		case "attachments":
			if err = mark(&s, cAttachments); err == nil {
				c.Attachments, err = d.attachments()
			}
		case "colons":
			if err = mark(&s, cColons); err == nil {
				c.Colons, err = d.str()
			}
		case "fileUrl":
			if err = mark(&s, cFileURL); err == nil {
				var null bool
				if null, err = d.isNull(); err == nil && !null {
					c.FileURL, err = d.str()
				}
			}
		case "itemUrl":
			if err = mark(&s, cItemURL); err == nil {
				c.ItemURL, err = d.str()
			}
		case "itemType":
			if err = mark(&s, cItemType); err == nil {
				c.ItemType, err = d.str()
			}
		case "language":
			if err = mark(&s, cLanguage); err == nil {
				c.Language, err = d.str()
			}
		case "added":
			if err = mark(&s, cAdded); err == nil {
				c.Added, err = d.participants()
			}
		case "removed":
			if err = mark(&s, cRemoved); err == nil {
				c.Removed, err = d.participants()
			}
		default:
			err = d.skip()
		}
		if err != nil {
			return in(string(key), err)
		}
	}
	var required uint32
	switch c.Type {
	case ContentText:
		required = cText | cMarkdownText | cAttachments
	case ContentEmoji:
		required = cText | cColons
	case ContentItem:
		required = cItemURL | cItemType
	case ContentTextSnippet:
		required = cText | cLanguage
	case ContentMembersChanged:
		required = cAdded | cRemoved
	default:
		if s&cType == 0 {
			return &DecodeError{Field: "contentType", Kind: ErrMissingField}
		}
		return &DecodeError{Field: "contentType", Kind: ErrUnknownVariant, Detail: quote(c.Type)}
	}
	if err := missing(s, required, contentFields); err != nil {
		return err
	}
	// Fields of other variants are dropped, like unknown fields, so that the decoded
	// value encodes to exactly its variant.
	keep := Content{Type: c.Type}
	switch c.Type {
	case ContentText:
		keep.Text, keep.MarkdownText, keep.Attachments = c.Text, c.MarkdownText, c.Attachments
	case ContentEmoji:
		keep.Text, keep.Colons, keep.FileURL = c.Text, c.Colons, c.FileURL
	case ContentItem:
		keep.ItemURL, keep.ItemType = c.ItemURL, c.ItemType
	case ContentTextSnippet:
		keep.Text, keep.Language = c.Text, c.Language
	case ContentMembersChanged:
		keep.Added, keep.Removed = c.Added, c.Removed
	}
	*c = keep
	return nil
}

func (d *decoder) attachments() ([]RawJSON, error) {
	if d.peek() != '[' {
		return nil, d.wrongType("array")
	}
	if err := d.open('['); err != nil {
		return nil, err
	}
	var stack [8]RawJSON
	out := stack[:0]
	for i := 0; ; i++ {
		more, err := d.element(i)
		if err != nil {
			return nil, err
		}
		if !more {
			return exact(out), nil
		}
		if d.peek() != '{' {
			return nil, in(index(i), d.wrongType("object"))
		}
		start := d.pos
		if err := d.skip(); err != nil {
			return nil, in(index(i), err)
		}
		out = append(out, RawJSON(d.keepCompact(d.buf[start:d.pos])))
	}
}

// keepCompact copies raw, a JSON value that skip has checked, to the arena without its
// insignificant whitespace: everything else (escapes, number spellings, key order) stays
// exactly as it was.
func (d *decoder) keepCompact(raw []byte) string {
	n := d.arena.Len()
	run := 0 // start of the bytes not yet copied
	for i := 0; i < len(raw); i++ {
		switch raw[i] {
		case ' ', '\t', '\n', '\r':
			d.arena.Write(raw[run:i])
			run = i + 1
		case '"':
			for i++; raw[i] != '"'; i++ {
				if raw[i] == '\\' {
					i++
				}
			}
		}
	}
	d.arena.Write(raw[run:])
	return d.arena.stringFrom(n)
}
