package exporttask

import (
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"

	"github.com/chatvault/chatvault/model"
)

// Search terms. A term is a word or a phrase (several words; surrounding double quotes are
// allowed and dropped). Text is cut into words at every character that is not a letter, a
// digit or a combining mark (Unicode classes L, N, M), after removing the characters
// Unicode says to ignore (format characters such as the soft hyphen and the zero-width
// space, variation selectors), NFKC normalization and Unicode case folding; a term matches
// a field when its words occur there, in order and next to each other. So "Contract"
// matches "contract." and "the CONTRACT's", never "contracts" or "subcontract"; "draft v3"
// matches "Draft-v3.pdf"; "Nguyễn" matches whether the field spells ễ as one code point or
// as e and two combining marks. Spelling tricks that look like the word do not hide it:
// "con<soft hyphen>tract", full-width "ｃｏｎｔｒａｃｔ" and the ligature in "ﬁnal" read as
// contract and final. A URL is matched as its percent-decoded text, so "board minutes"
// matches ".../Board%20Minutes.pdf".

// termWords returns the words of s, normalized for matching.
func termWords(s string) []string {
	if isASCII(s) {
		// Most text: no ignorable characters, NFKC leaves it as it is and folding is
		// lower-casing, so skip the Unicode passes (half the cost of a match).
		return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
			return !('a' <= r && r <= 'z' || '0' <= r && r <= '9')
		})
	}
	s = strings.Map(func(r rune) rune {
		if unicode.In(r, unicode.Cf, unicode.Variation_Selector, unicode.Other_Default_Ignorable_Code_Point) {
			return -1
		}
		return r
	}, s)
	// Folding may leave text that is not normalized (and NFKC may make text folding
	// changes): the order of Unicode's NFKC_Casefold.
	s = norm.NFKC.String(cases.Fold().String(norm.NFKC.String(s)))
	return strings.FieldsFunc(s, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.IsMark(r)
	})
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// unescapeURL returns u percent-decoded, for matching what it names rather than how it
// is encoded; u as it is when it does not decode.
func unescapeURL(u string) string {
	if d, err := url.PathUnescape(u); err == nil {
		return d
	}
	return u
}

// TermCount is a search term report's line: what one term found among the records the
// other filters kept.
type TermCount struct {
	Term string `json:"term"`
	// Records is how many records the term matched; Chats and Custodians how many
	// distinct chats and senders those records have.
	Records    int64 `json:"records"`
	Chats      int   `json:"chats"`
	Custodians int   `json:"custodians"`
	// Unique is how many records this term matched and no other term did.
	Unique int64 `json:"unique"`
}

// termMatcher matches records against terms and counts what each term found.
type termMatcher struct {
	terms  [][]string
	counts []TermCount
	chats  []map[string]bool
	people []map[string]bool
	fields [][]string // scratch: the current record's fields, cut into words
}

func newTermMatcher(terms []string) *termMatcher {
	if len(terms) == 0 {
		return nil
	}
	m := &termMatcher{}
	for _, t := range terms {
		m.terms = append(m.terms, termWords(t))
		m.counts = append(m.counts, TermCount{Term: t})
		m.chats = append(m.chats, map[string]bool{})
		m.people = append(m.people, map[string]bool{})
	}
	return m
}

// match reports whether any term matches e, and counts e for each term that does. Call it
// only for records every other filter kept, so the report counts what the result holds.
func (m *termMatcher) match(e *model.Event) bool {
	m.fields = m.fields[:0]
	for _, s := range searchable(e) {
		if s != "" {
			m.fields = append(m.fields, termWords(s))
		}
	}
	hits, last := 0, -1
	for i, t := range m.terms {
		if !slices.ContainsFunc(m.fields, func(f []string) bool { return containsRun(f, t) }) {
			continue
		}
		hits, last = hits+1, i
		m.counts[i].Records++
		m.chats[i][e.ChatID] = true
		m.people[i][e.Sender.ID] = true
	}
	if hits == 1 {
		m.counts[last].Unique++
	}
	return hits > 0
}

// report returns the term report, in the request's order of terms.
func (m *termMatcher) report() []TermCount {
	if m == nil {
		return nil
	}
	out := slices.Clone(m.counts)
	for i := range out {
		out[i].Chats, out[i].Custodians = len(m.chats[i]), len(m.people[i])
	}
	return out
}

// containsRun reports whether words holds run, in order and adjacent.
func containsRun(words, run []string) bool {
	for i := 0; i+len(run) <= len(words); i++ {
		if slices.Equal(words[i:i+len(run)], run) {
			return true
		}
	}
	return false
}

// searchable returns the fields terms are matched against: the message's text and
// markdown (a snippet's and an emoji's text too), attachments' names and URLs (under any
// of the keys below), an item's URL and an emoji's file URL.
func searchable(e *model.Event) []string {
	if !e.HasContent {
		return nil
	}
	c := &e.Content
	out := []string{c.Text, c.MarkdownText, unescapeURL(c.ItemURL), unescapeURL(c.FileURL)}
	for _, a := range c.Attachments {
		// An attachment is kept as it arrived; one without these fields (or not an
		// object) has nothing to search. Read as the html export reads it (a map, so a
		// key given twice is its last value there and here).
		var v map[string]any
		if json.Unmarshal([]byte(a), &v) != nil {
			continue
		}
		for _, k := range attachmentNames {
			if s, ok := v[k].(string); ok {
				out = append(out, s)
			}
		}
		for _, k := range attachmentURLs {
			if s, ok := v[k].(string); ok {
				out = append(out, unescapeURL(s))
			}
		}
	}
	return out
}

// The keys an attachment's name and link are read from: every key the html export
// (htmlexport's attachment) shows a name or a link from, so that what a reviewer reads as
// an attachment's name is what a search finds.
var (
	attachmentNames = []string{"name", "title", "fileName", "filename"}
	attachmentURLs  = []string{"url", "fileUrl", "downloadUrl", "href"}
)
