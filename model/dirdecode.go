package model

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// dirReader decodes a directory snapshot from a stream by hand, for speed: every run
// decodes the snapshot before it reads a single event, on one core, and encoding/json
// (which scans each value twice and fills the structs by reflection) took 0.2 to 0.4 s
// of a 3 to 4 s run for a platform of 25,000 users and 31,000 chats.
//
// It decodes as json.Unmarshal into a Directory would: member names matched exactly,
// then case-insensitively; a repeated member replacing the earlier value (a repeated list
// decoded into the earlier list's entries); null leaving a
// string, number or bool as it was and a list empty; unknown members skipped, but checked
// to be JSON; the first value of the wrong type an error naming the field. Strings with
// escapes or bytes that are not UTF-8, and numbers, are handed to encoding/json itself,
// so that those decode exactly as it decodes them. FuzzDecodeDirectory compares the two.
//
// It holds the bytes of one token (or one skipped value) at a time, never the input whole.
type dirReader struct {
	r   io.Reader
	buf []byte // buf[pos:] is read and not yet consumed
	pos int
	eof bool
	err error // the reader's error, once it failed
	ids interner
}

const dirReadSize = 64 << 10

// errDirEOF is the input ending where a value was expected: io.ErrUnexpectedEOF, as
// encoding/json's streaming decoder says it.
var errDirEOF = io.ErrUnexpectedEOF

// fill reads more of the input; it reports false at its end (or on a read error, in
// d.err).
func (d *dirReader) fill() bool {
	if d.eof {
		return false
	}
	if d.pos > 0 && d.pos == len(d.buf) {
		d.buf, d.pos = d.buf[:0], 0
	}
	if cap(d.buf)-len(d.buf) < dirReadSize/2 {
		// Keep the unread bytes (a token being read spans them), dropping what was consumed.
		n := len(d.buf) - d.pos
		nb := d.buf[:0]
		if n+dirReadSize > cap(d.buf) {
			nb = make([]byte, 0, max(2*cap(d.buf), n+dirReadSize))
		}
		d.buf = append(nb, d.buf[d.pos:]...)
		d.pos = 0
	}
	for {
		n, err := d.r.Read(d.buf[len(d.buf):cap(d.buf)])
		d.buf = d.buf[:len(d.buf)+n]
		if err == io.EOF {
			d.eof = true
			return n > 0
		}
		if err != nil {
			d.eof, d.err = true, err
			return n > 0
		}
		if n > 0 {
			return true
		}
	}
}

// next skips whitespace and returns the next byte, not consuming it.
func (d *dirReader) next() (byte, error) {
	for {
		for d.pos < len(d.buf) {
			switch c := d.buf[d.pos]; c {
			case ' ', '\t', '\n', '\r':
				d.pos++
			default:
				return c, nil
			}
		}
		if !d.fill() {
			if d.err != nil {
				return 0, d.err
			}
			return 0, errDirEOF
		}
	}
}

// expect consumes c, the next byte after whitespace, or fails.
func (d *dirReader) expect(c byte) error {
	got, err := d.next()
	if err != nil {
		return err
	}
	if got != c {
		return fmt.Errorf("invalid character %q, want %q", got, c)
	}
	d.pos++
	return nil
}

// rawString returns the next value's bytes, a string with its quotes, without consuming
// them (the slice is valid until the next read), and whether it is plain: no escape and
// nothing but UTF-8.
func (d *dirReader) rawString() (raw []byte, plain bool, err error) {
	if _, err := d.next(); err != nil {
		return nil, false, err
	}
	i := d.pos + 1
	plain = true
	for {
		for ; i < len(d.buf); i++ {
			switch c := d.buf[i]; {
			case c == '"':
				raw = d.buf[d.pos : i+1]
				if plain && !utf8.Valid(raw) {
					plain = false
				}
				return raw, plain, nil
			case c == '\\':
				plain = false
				i++ // the escaped byte; a short escape is encoding/json's to refuse
			case c < 0x20:
				return nil, false, fmt.Errorf("invalid character %q in string literal", c)
			}
		}
		off := i - d.pos // fill may move the unread bytes: offsets from d.pos hold
		if !d.fill() {
			if d.err != nil {
				return nil, false, d.err
			}
			return nil, false, errDirEOF
		}
		i = d.pos + off
	}
}

// str consumes a string value into s, interning it when intern is set. A null leaves s
// as it was.
func (d *dirReader) str(s *string, field, typ string, intern bool) error {
	c, err := d.next()
	if err != nil {
		return err
	}
	if c != '"' {
		kind, err := d.skipOther()
		if err != nil || kind == "null" {
			return err
		}
		return &dirTypeError{field: field, value: kind, typ: typ}
	}
	raw, plain, err := d.rawString()
	if err != nil {
		return err
	}
	var v string
	if plain {
		if intern {
			v = d.ids.ofBytes(raw[1 : len(raw)-1])
		} else {
			v = string(raw[1 : len(raw)-1])
		}
	} else {
		if err := json.Unmarshal(raw, &v); err != nil {
			return err
		}
		if intern {
			v = d.ids.of(v)
		}
	}
	d.pos += len(raw)
	*s = v
	return nil
}

// token returns the bytes of the literal or number that starts at the next byte, not
// consuming them.
func (d *dirReader) token() ([]byte, error) {
	if _, err := d.next(); err != nil {
		return nil, err
	}
	i := d.pos
	for {
		for ; i < len(d.buf); i++ {
			switch c := d.buf[i]; {
			case c >= '0' && c <= '9', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '-', c == '+', c == '.':
				continue
			}
			return d.buf[d.pos:i], nil
		}
		off := i - d.pos
		if !d.fill() {
			if d.err != nil {
				return nil, d.err
			}
			return d.buf[d.pos:], nil
		}
		i = d.pos + off
	}
}

// literal consumes a true, false, null or number and says which kind it was: "bool",
// "null" or "number", with the number's bytes (valid until the next read).
func (d *dirReader) literal() (kind string, num []byte, err error) {
	tok, err := d.token()
	if err != nil {
		return "", nil, err
	}
	switch string(tok) {
	case "true", "false":
		kind = "bool"
	case "null":
		kind = "null"
	default:
		if len(tok) == 0 {
			c, _ := d.next()
			return "", nil, fmt.Errorf("invalid character %q looking for beginning of value", c)
		}
		if !json.Valid(tok) {
			// encoding/json's own words for it ("invalid character 'o' looking for
			// beginning of value", "invalid character 'x' in literal true").
			var v any
			return "", nil, json.Unmarshal(tok, &v)
		}
		kind = "number"
	}
	d.pos += len(tok)
	return kind, tok, nil
}

// skipOther consumes the next value, which is not a string, and names its kind as
// encoding/json's type errors do: "number", "bool", "array", "object" or "null".
func (d *dirReader) skipOther() (string, error) {
	c, err := d.next()
	if err != nil {
		return "", err
	}
	switch c {
	case '[':
		return "array", d.skip()
	case '{':
		return "object", d.skip()
	case '"':
		return "string", d.skip()
	}
	kind, _, err := d.literal()
	return kind, err
}

// skip consumes the next value whatever it is, checking that it is JSON.
func (d *dirReader) skip() error {
	c, err := d.next()
	if err != nil {
		return err
	}
	if c != '[' && c != '{' {
		if c == '"' {
			raw, plain, err := d.rawString()
			if err != nil {
				return err
			}
			if !plain && !json.Valid(raw) {
				return fmt.Errorf("invalid string literal %s", raw)
			}
			d.pos += len(raw)
			return nil
		}
		_, _, err := d.literal()
		return err
	}
	// An array or object: find its end (brackets outside strings), then let encoding/json
	// check its syntax.
	depth := 0
	i := d.pos
	inString := false
	for {
		for ; i < len(d.buf); i++ {
			c := d.buf[i]
			if inString {
				switch c {
				case '\\':
					i++
				case '"':
					inString = false
				}
				continue
			}
			switch c {
			case '"':
				inString = true
			case '[', '{':
				depth++
			case ']', '}':
				depth--
				if depth == 0 {
					raw := d.buf[d.pos : i+1]
					if !json.Valid(raw) {
						return fmt.Errorf("invalid JSON value %.40q", raw)
					}
					d.pos = i + 1
					return nil
				}
			}
		}
		off := i - d.pos
		if !d.fill() {
			if d.err != nil {
				return d.err
			}
			return errDirEOF
		}
		i = d.pos + off
	}
}

// dirTypeError is a value of the wrong type, worded as the decoder's errors were
// (encoding/json's UnmarshalTypeError: the field, the value's kind, the Go type wanted).
type dirTypeError struct {
	field, value, typ string
}

func (e *dirTypeError) Error() string { return e.field + ": " + e.value + ", want " + e.typ }

// object consumes an object, calling member with each member's name (unescaped) for it to
// consume the value. A null object calls nothing.
func (d *dirReader) object(member func(name []byte) error) (null bool, err error) {
	c, err := d.next()
	if err != nil {
		return false, err
	}
	if c != '{' {
		return false, fmt.Errorf("invalid character %q, want an object", c)
	}
	d.pos++
	first := true
	var name []byte
	for {
		c, err := d.next()
		if err != nil {
			return false, err
		}
		if c == '}' {
			d.pos++
			return false, nil
		}
		if !first {
			if c != ',' {
				return false, fmt.Errorf("invalid character %q after object key:value pair", c)
			}
			d.pos++
			if c, err = d.next(); err != nil {
				return false, err
			}
		}
		first = false
		if c != '"' {
			return false, fmt.Errorf("invalid character %q looking for beginning of object key string", c)
		}
		raw, plain, err := d.rawString()
		if err != nil {
			return false, err
		}
		if plain {
			name = append(name[:0], raw[1:len(raw)-1]...)
		} else {
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return false, err
			}
			name = append(name[:0], s...)
		}
		d.pos += len(raw)
		if err := d.expect(':'); err != nil {
			return false, err
		}
		if err := member(name); err != nil {
			return false, err
		}
	}
}

// array consumes an array, calling elem with each element's index for it to consume the
// element. It reports null for a null.
func (d *dirReader) array(elem func(i int) error) (null bool, err error) {
	c, err := d.next()
	if err != nil {
		return false, err
	}
	if c == 'n' {
		kind, _, err := d.literal()
		if err == nil && kind != "null" {
			err = fmt.Errorf("invalid literal where an array was expected")
		}
		return true, err
	}
	if c != '[' {
		return false, fmt.Errorf("invalid character %q, want an array", c)
	}
	d.pos++
	for i := 0; ; i++ {
		c, err := d.next()
		if err != nil {
			return false, err
		}
		if c == ']' {
			d.pos++
			return false, nil
		}
		if i > 0 {
			if c != ',' {
				return false, fmt.Errorf("invalid character %q after array element", c)
			}
			d.pos++
		}
		if err := elem(i); err != nil {
			return false, err
		}
	}
}

// is reports whether name is the member want, as encoding/json matches it: exactly, or
// else case-insensitively.
func is(name []byte, want string) bool {
	return string(name) == want || strings.EqualFold(string(name), want)
}

// directory consumes the top-level value into dir.
func (d *dirReader) directory(dir *Directory) error {
	c, err := d.next()
	if err != nil {
		return err
	}
	switch c {
	case '{':
	case '[':
		return fmt.Errorf("the top level is an array, want an object")
	case '"':
		return fmt.Errorf("the top level is a string, want an object")
	default:
		kind, _, err := d.literal()
		if err != nil || kind == "null" {
			return err
		}
		return fmt.Errorf("the top level is a %s, want an object", kind)
	}
	_, err = d.object(func(name []byte) error {
		switch {
		case is(name, "organizations"):
			return list(d, "organizations", &dir.Organizations, "model.Organization", d.organization)
		case is(name, "users"):
			return list(d, "users", &dir.Users, "model.User", d.user)
		case is(name, "bots"):
			return list(d, "bots", &dir.Bots, "model.Bot", d.bot)
		case is(name, "chats"):
			return list(d, "chats", &dir.Chats, "model.Chat", d.chat)
		}
		return d.skip()
	})
	return err
}

// list consumes the list named name into *out, one entry at a time, each decoded by entry.
func list[T any](d *dirReader, name string, out *[]T, typ string, entry func(*T) error) error {
	c, err := d.next()
	if err != nil {
		return err
	}
	if c != '[' && c != 'n' {
		kind, err := d.skipOther()
		if err != nil {
			return err
		}
		return fmt.Errorf("%s: %s, want an array", name, kind)
	}
	// A repeated list (the name twice in the object) decodes into the earlier list's
	// entries, as encoding/json decodes into a slice: an entry keeps the members the new
	// one lacks. Only the first list starts from nothing, and only it is sized to fit at
	// its end (a smaller capacity would drop entries a later repeat decodes into).
	first := cap(*out) == 0
	s := *out
	n := 0
	null, err := d.array(func(i int) error {
		if i < cap(s) {
			s = s[:i+1]
		} else {
			var zero T
			s = append(s[:i], zero)
		}
		v := &s[i]
		n = i + 1
		c, err := d.next()
		if err != nil {
			return err
		}
		switch c {
		case '{':
			err = entry(v)
		case 'n':
			var kind string
			if kind, _, err = d.literal(); err == nil && kind != "null" {
				err = &dirTypeError{value: kind, typ: typ}
			}
		default:
			var kind string
			if kind, err = d.skipOther(); err == nil {
				err = &dirTypeError{value: kind, typ: typ}
			}
		}
		if err != nil {
			var te *dirTypeError
			if errors.As(err, &te) {
				return fmt.Errorf("%s[%d].%w", name, i, te)
			}
			return fmt.Errorf("%s[%d]: %w", name, i, err)
		}
		return nil
	})
	if null {
		*out = nil
		return err
	}
	switch {
	case n == 0:
		s = []T{} // encoding/json: a new empty slice, the earlier entries gone
	case first && cap(s)-n > n/8:
		// The list grew by doubling: up to half of it can be room never used, kept as long
		// as the directory is.
		s = append(make([]T, 0, n), s[:n]...)
	default:
		s = s[:n]
	}
	*out = s
	return err
}

// scalar consumes the value of a field of Go type typ that takes a literal: it returns
// the literal's kind ("bool", "number" or "null") and bytes, or a type error for a
// string, an array or an object.
func (d *dirReader) scalar(field, typ string) (kind string, tok []byte, err error) {
	c, err := d.next()
	if err != nil {
		return "", nil, err
	}
	if c == '"' || c == '[' || c == '{' {
		if kind, err = d.skipOther(); err == nil {
			err = &dirTypeError{field: field, value: kind, typ: typ}
		}
		return "", nil, err
	}
	return d.literal()
}

// integer consumes a number into n, as encoding/json decodes one into an int.
func (d *dirReader) integer(n *int, field string) error {
	kind, num, err := d.scalar(field, "int")
	switch {
	case err != nil || kind == "null":
		return err
	case kind != "number":
		return &dirTypeError{field: field, value: kind, typ: "int"}
	}
	v, perr := strconv.ParseInt(string(num), 10, strconv.IntSize)
	if perr != nil {
		return &dirTypeError{field: field, value: "number " + string(num), typ: "int"}
	}
	*n = int(v)
	return nil
}

// boolean consumes a bool into b.
func (d *dirReader) boolean(b *bool, field string) error {
	kind, tok, err := d.scalar(field, "bool")
	switch {
	case err != nil || kind == "null":
		return err
	case kind != "bool":
		return &dirTypeError{field: field, value: kind, typ: "bool"}
	}
	*b = string(tok) == "true"
	return nil
}

func (d *dirReader) organization(o *Organization) error {
	_, err := d.object(func(name []byte) error {
		switch {
		case is(name, "id"):
			return d.str(&o.ID, "id", "string", true)
		case is(name, "name"):
			return d.str(&o.Name, "name", "string", false)
		case is(name, "archival"):
			return d.boolean(&o.Archival, "archival")
		case is(name, "archivalStart"):
			return d.str(&o.ArchivalStart, "archivalStart", "string", false)
		case is(name, "retentionDays"):
			return d.integer(&o.RetentionDays, "retentionDays")
		}
		return d.skip()
	})
	return err
}

// strField is a string member of a list entry: its name, where its value goes, and
// whether the value is an id to intern.
type strField struct {
	name   string
	dst    *string
	intern bool
}

// stringsOnly consumes an entry whose members are all strings (users, bots).
func (d *dirReader) stringsOnly(fields ...strField) error {
	_, err := d.object(func(name []byte) error {
		for _, f := range fields {
			if is(name, f.name) {
				return d.str(f.dst, f.name, "string", f.intern)
			}
		}
		return d.skip()
	})
	return err
}

func (d *dirReader) user(u *User) error {
	return d.stringsOnly(strField{"id", &u.ID, true}, strField{"orgId", &u.OrgID, true},
		strField{"email", &u.Email, false}, strField{"displayName", &u.DisplayName, false})
}

func (d *dirReader) bot(b *Bot) error {
	return d.stringsOnly(strField{"id", &b.ID, true}, strField{"orgId", &b.OrgID, true},
		strField{"roamId", &b.RoamID, false}, strField{"integrationId", &b.IntegrationID, false},
		strField{"botCode", &b.BotCode, false})
}

func (d *dirReader) chat(c *Chat) error {
	var members []string // reused for each "members" of this chat
	_, err := d.object(func(name []byte) error {
		switch {
		case is(name, "id"):
			return d.str(&c.ID, "id", "string", false)
		case is(name, "members"):
			c0, err := d.next()
			if err != nil {
				return err
			}
			if c0 != '[' && c0 != 'n' {
				kind, err := d.skipOther()
				if err != nil {
					return err
				}
				return &dirTypeError{field: "members", value: kind, typ: "[]string"}
			}
			// The first members list is read into members and then copied sized to fit (a
			// chat's members are kept as long as the directory is). A repeated one (or a
			// chat entry decoded again, a list repeated) decodes into the earlier list, as
			// encoding/json does: a null keeps the earlier member at its place.
			first := cap(c.Members) == 0
			s := members[:0]
			if !first {
				s = c.Members
			}
			n := 0
			null, err := d.array(func(i int) error {
				if i < cap(s) {
					s = s[:i+1]
					if first {
						s[i] = "" // members holds an earlier chat's
					}
				} else {
					s = append(s[:i], "")
				}
				n = i + 1
				return d.str(&s[i], "members", "string", true)
			})
			if err != nil {
				return err
			}
			switch {
			case null:
				c.Members = nil
			case n == 0:
				c.Members = []string{}
			case first:
				members = s
				c.Members = append(make([]string, 0, n), s[:n]...)
			default:
				c.Members = s[:n]
			}
			return nil
		}
		return d.skip()
	})
	return err
}

// ofBytes is of for a name still in the input's buffer: it allocates only the first
// time an id is seen.
func (in interner) ofBytes(b []byte) string {
	if v, ok := in[string(b)]; ok { // no allocation: the compiler looks up without a copy
		return v
	}
	s := string(b)
	in[s] = s
	return s
}

// end checks that nothing but whitespace follows the top-level value.
func (d *dirReader) end() error {
	_, err := d.next()
	switch {
	case errors.Is(err, errDirEOF):
		return nil
	case err != nil:
		return err
	}
	return errors.New("trailing data after the top-level object")
}
