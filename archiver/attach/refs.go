package attach

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// Reference is one link of a sealed record to a file: the record (message id, event type
// and event time: an edit is a record of its own) and where in it the URL is.
type Reference struct {
	MessageID      string `json:"messageId"`
	EventType      string `json:"eventType"`
	EventTimestamp int64  `json:"eventTimestamp"`
	// Field is the URL's place in the record: content.attachments[i].url,
	// content.itemUrl or content.fileUrl.
	Field string `json:"field"`
	URL   string `json:"url"`
}

// refRecord is the part of a sealed record that links files (DESIGN.md, "Output"): a
// text's attachments (objects kept verbatim, of which the url is used when it is a
// string), an item's itemUrl, a custom emoji's fileUrl.
type refRecord struct {
	MessageID      string `json:"messageId"`
	EventType      string `json:"eventType"`
	EventTimestamp int64  `json:"eventTimestamp"`
	Content        *struct {
		Attachments []json.RawMessage `json:"attachments"`
		ItemURL     string            `json:"itemUrl"`
		FileURL     string            `json:"fileUrl"`
	} `json:"content"`
}

// maxLine bounds one sealed record as read here. Sealed records were decoded and bounded
// when they were sealed; this only keeps a damaged export from taking unbounded memory.
const maxLine = 64 << 20

// References reads a day's canonical JSONL (gunzipped) and calls fn with every reference
// of every record, in the export's order. A record that does not parse is an error: a
// sealed export is canonical, and verify reports one that is not.
func References(r io.Reader, fn func(Reference) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	line := 0
	for {
		b, err := readLine(br)
		if errors.Is(err, io.EOF) && len(b) == 0 {
			return nil
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("attach: read export: %w", err)
		}
		line++
		var rec refRecord
		if err := json.Unmarshal(b, &rec); err != nil {
			return fmt.Errorf("attach: export line %d: %w", line, err)
		}
		if rec.Content != nil {
			for i, a := range rec.Content.Attachments {
				var obj struct {
					URL any `json:"url"`
				}
				// An attachment is kept verbatim: one that is not an object, or whose url
				// is not a string, links nothing that could be fetched.
				if json.Unmarshal(a, &obj) != nil {
					continue
				}
				if u, ok := obj.URL.(string); ok && u != "" {
					if err := fn(Reference{rec.MessageID, rec.EventType, rec.EventTimestamp, "content.attachments[" + strconv.Itoa(i) + "].url", u}); err != nil {
						return err
					}
				}
			}
			for _, f := range []struct{ field, url string }{{"content.itemUrl", rec.Content.ItemURL}, {"content.fileUrl", rec.Content.FileURL}} {
				if f.url == "" {
					continue
				}
				if err := fn(Reference{rec.MessageID, rec.EventType, rec.EventTimestamp, f.field, f.url}); err != nil {
					return err
				}
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
	}
}

// readLine returns the next line without its '\n'; io.EOF with the last line when it has
// none.
func readLine(br *bufio.Reader) ([]byte, error) {
	var out []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(out)+len(chunk) > maxLine {
			return nil, fmt.Errorf("a line over %d bytes", maxLine)
		}
		out = append(out, chunk...)
		switch {
		case err == nil:
			return out[:len(out)-1], nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		default:
			return out, err
		}
	}
}
