package htmlexport

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// visible returns s with every code point a page must not hold raw replaced by a visible
// stand-in: a C0 control character other than tab and newline by its control picture
// (U+001B as ␛), DEL by ␡, and a C1 control character or a noncharacter, which have no
// picture, by its escape (\u0085, \U0001fffe). HTML forbids them all in a document (the
// W3C Nu checker reports each), a browser would show some as nothing at all, and a
// reviewer must see that the text held them. The explicit directional formatting
// characters (U+202A–U+202E, U+2066–U+2069) are escaped too: HTML allows them, but an
// override opened in a sender's name runs to the end of its block, drawing the rest of
// the line (the address, the times, the next names) reversed, so that the page would
// show something other than the record ("Trojan Source", CVE-2021-42574). The data keeps them: only the page shows
// stand-ins.
func visible(s string) string {
	i := strings.IndexFunc(s, hidden)
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	b.WriteString(s[:i])
	for _, r := range s[i:] {
		switch {
		case !hidden(r):
			b.WriteRune(r)
		case r < 0x20:
			b.WriteRune(0x2400 + r) // ␀ … ␟
		case r == 0x7f:
			b.WriteRune('␡')
		case r <= 0xffff:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			fmt.Fprintf(&b, `\U%08x`, r)
		}
	}
	return b.String()
}

// hidden reports whether r may not appear raw in a page: C0 controls but tab and newline,
// DEL, C1 controls, the bidi embeddings, overrides and isolates, and the noncharacters (U+FDD0–U+FDEF and the last two code points of
// every plane). Invalid UTF-8 never reaches here: model.Decode refuses it.
func hidden(r rune) bool {
	switch {
	case r < 0x20:
		return r != '\t' && r != '\n'
	case r < 0x7f:
		return false
	case r <= 0x9f:
		return true
	case r >= 0xfdd0 && r <= 0xfdef:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true // bidi embeddings, overrides and isolates
	case r&0xfffe == 0xfffe:
		return r <= utf8.MaxRune
	}
	return false
}
