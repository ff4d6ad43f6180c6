package exporttask

import (
	"testing"

	"github.com/chatvault/chatvault/internal/reliability"

	"github.com/chatvault/chatvault/model"
)

func TestTermMatching(t *testing.T) {
	text := func(s string, attachments ...model.RawJSON) model.Event {
		return model.Event{EventType: model.EventSent, ChatID: "c", Sender: model.Participant{ID: "u"}, ContentType: model.ContentText, HasContent: true,
			Content: model.Content{Type: model.ContentText, Text: s, MarkdownText: s, Attachments: attachments}}
	}
	for _, tt := range []struct {
		name, term string
		event      model.Event
		want       bool
	}{
		{"word, other case", "CONTRACT", text("the contract's terms"), true},
		{"not a prefix", "contract", text("contracts"), false},
		{"not a suffix", "contract", text("subcontract"), false},
		{"phrase over punctuation", `"draft v3"`, text("see Draft-v3.pdf"), true},
		{"phrase out of order", "v3 draft", text("draft v3"), false},
		{"phrase not adjacent", "draft v3", text("draft of v3"), false},
		{"phrase not across fields", "v3 final", text("draft v3", `{"name":"final.pdf"}`), false},
		{"attachment name", "merger", text("see attached", `{"name":"Merger plan.pdf","url":"https://x.example/1"}`), true},
		{"attachment url", "files example", text("x", `{"name":"a","url":"https://files.example/1"}`), true},
		{"attachment not an object", "merger", text("x", `"merger"`), false},
		{"unicode letter inside a word", "projekt", text("Großprojekt"), false},
		{"unicode case", "überprüfung", text("ÜBERPRÜFUNG"), true},
		{"decomposed and composed", "Nguye\u0302\u0303n", text("Ivy Nguyễn"), true},
		{"combining mark is part of the word", "Nguye", text("Nguye\u0302\u0303n"), false},
		{"item url", "tracker", model.Event{HasContent: true, ContentType: model.ContentItem,
			Content: model.Content{Type: model.ContentItem, ItemURL: "https://tracker.example/items/42", ItemType: "task"}}, true},
		{"snippet", "fmt", model.Event{HasContent: true, ContentType: model.ContentTextSnippet,
			Content: model.Content{Type: model.ContentTextSnippet, Text: "fmt.Println(1)", Language: "go"}}, true},
		{"deletion without content", "x", model.Event{EventType: model.EventDeleted}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := newTermMatcher([]string{tt.term})
			if got := m.match(&tt.event); got != tt.want {
				t.Fatalf("%q in %+v: %v, want %v", tt.term, tt.event.Content, got, tt.want)
			}
		})
	}
}

// A record must not escape a search by how its text is spelled rather than what it says:
// a file name percent-encoded in a URL, a soft hyphen or a zero-width character inside a
// word, full-width or ligature letters, or a Greek final sigma all read as the same word.
func TestTermMatchingResistsSpellingTricks(t *testing.T) {
	text := func(s string, attachments ...model.RawJSON) model.Event {
		return model.Event{EventType: model.EventSent, ChatID: "c", Sender: model.Participant{ID: "u"}, ContentType: model.ContentText, HasContent: true,
			Content: model.Content{Type: model.ContentText, Text: s, MarkdownText: s, Attachments: attachments}}
	}
	for _, tt := range []struct {
		name, term string
		event      model.Event
		want       bool
	}{
		{"percent-encoded url", "board minutes", text("x", `{"name":"a","url":"https://files.example/d/Board%20Minutes.pdf"}`), true},
		{"percent-encoded url, one word", "minutes", text("x", `{"name":"a","url":"https://files.example/d/Board%20Minutes.pdf"}`), true},
		{"percent-encoded utf-8 in an item url", "nguyễn", model.Event{HasContent: true, ContentType: model.ContentItem,
			Content: model.Content{Type: model.ContentItem, ItemURL: "https://crm.example/people/Nguy%E1%BB%85n", ItemType: "task"}}, true},
		{"bad percent-encoding stays as written", "zz", text("x", `{"name":"a","url":"https://x.example/%zz"}`), true},
		{"soft hyphen", "contract", text("the con\u00adtract"), true},
		{"zero-width space", "contract", text("the con\u200btract"), true},
		{"zero-width joiner", "contract", text("the con\u200dtract"), true},
		{"full-width", "contract", text("the ｃｏｎｔｒａｃｔ"), true},
		{"ligature", "final", text("the ﬁnal draft"), true},
		{"variation selector", "contract", text("the contract\ufe0f"), true},
		{"final sigma", "ΟΔΟΣ", text("η οδος"), true},
		{"still not a prefix", "contract", text("con\u00adtracts"), false},
		// The html export shows an attachment's name from name, title, fileName or
		// filename and its link from url, fileUrl, downloadUrl or href: what a reviewer
		// sees as its name must be found by a search.
		{"attachment title", "merger", text("x", `{"title":"Merger Plan.pdf","href":"https://files.example/1"}`), true},
		{"attachment fileName", "merger", text("x", `{"fileName":"Merger Plan.pdf"}`), true},
		{"attachment filename", "merger", text("x", `{"filename":"Merger Plan.pdf"}`), true},
		{"attachment href", "minutes", text("x", `{"title":"a","href":"https://files.example/Board%20Minutes"}`), true},
		{"attachment downloadUrl", "minutes", text("x", `{"downloadUrl":"https://files.example/minutes"}`), true},
		{"attachment fileUrl", "minutes", text("x", `{"fileUrl":"https://files.example/minutes"}`), true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := newTermMatcher([]string{tt.term})
			if got := m.match(&tt.event); got != tt.want {
				t.Fatalf("%q in %+v: %v, want %v", tt.term, tt.event.Content, got, tt.want)
			}
		})
	}
	reliability.Record(t, "input", "export task search terms against spelling tricks (percent-encoded URL, soft hyphen, zero-width, full-width, ligature, final sigma, attachment title/href)", reliability.Kept,
		"text is matched after dropping ignorable characters, NFKC and case folding, URLs percent-decoded, attachment names and links under every key the html export shows: the record is found")
}

func BenchmarkTermMatch(b *testing.B) {
	e := model.Event{EventType: model.EventSent, ChatID: "c", Sender: model.Participant{ID: "u"}, ContentType: model.ContentText, HasContent: true,
		Content: model.Content{Type: model.ContentText, Text: "Please review the Contract draft before Friday, see https://files.example/d/7",
			MarkdownText: "Please review the **Contract draft** before Friday", Attachments: []model.RawJSON{`{"name":"Überprüfung des Vertrags.pdf","url":"https://files.example/d/Board%20Minutes.pdf"}`}}}
	m := newTermMatcher([]string{"contract draft", "merger", "überprüfung"})
	for b.Loop() {
		m.match(&e)
	}
}
