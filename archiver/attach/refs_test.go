package attach

import (
	"slices"
	"strings"
	"testing"
)

func TestReferences(t *testing.T) {
	tests := []struct {
		name string
		line string
		want []Reference
	}{
		{"text attachments", `{"eventType":"sent","eventTimestamp":5,"messageId":"m1","contentType":"text","content":{"contentType":"text","text":"a","markdownText":"a","attachments":[{"name":"a.pdf","url":"https://f.example/a"},{"url":"https://f.example/b","size":1.5}]}}`,
			[]Reference{{"m1", "sent", 5, "content.attachments[0].url", "https://f.example/a"}, {"m1", "sent", 5, "content.attachments[1].url", "https://f.example/b"}}},
		{"attachment without a string url", `{"eventType":"edited","eventTimestamp":6,"messageId":"m2","contentType":"text","content":{"contentType":"text","text":"a","markdownText":"a","attachments":[{"url":7},"text",{"name":"x"},{"url":""},{"url":"https://f.example/c"}]}}`,
			[]Reference{{"m2", "edited", 6, "content.attachments[4].url", "https://f.example/c"}}},
		{"item", `{"eventType":"sent","eventTimestamp":7,"messageId":"m3","contentType":"item","content":{"contentType":"item","itemUrl":"https://tracker.example/items/42","itemType":"task"}}`,
			[]Reference{{"m3", "sent", 7, "content.itemUrl", "https://tracker.example/items/42"}}},
		{"custom emoji", `{"eventType":"sent","eventTimestamp":8,"messageId":"m4","contentType":"emoji","content":{"contentType":"emoji","text":"party","colons":":party:","fileUrl":"https://cdn.example/party.gif"}}`,
			[]Reference{{"m4", "sent", 8, "content.fileUrl", "https://cdn.example/party.gif"}}},
		{"emoji without file", `{"eventType":"sent","eventTimestamp":9,"messageId":"m5","contentType":"emoji","content":{"contentType":"emoji","text":"+1","colons":":+1:"}}`, nil},
		{"deleted without content", `{"eventType":"deleted","eventTimestamp":10,"messageId":"m6","contentType":"text"}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []Reference
			if err := References(strings.NewReader(tt.line+"\n"), func(r Reference) error { got = append(got, r); return nil }); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("References = %+v\nwant %+v", got, tt.want)
			}
		})
	}
	if err := References(strings.NewReader("{not json\n"), func(Reference) error { return nil }); err == nil {
		t.Fatal("References of a broken line succeeded")
	}
}
