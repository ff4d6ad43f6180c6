package archiver

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"

	"github.com/chatvault/chatvault/model"
)

// Per-organization quarantine (issue 12): a quarantined line whose chat or sender can
// still be read is routed like an event, by the same router, and kept, beside the day's
// quarantine object, in a quarantine object of each organization it routes to, which that
// organization's manifest names and the API serves to it. Lines nothing can be read from
// stay in the day's quarantine only, for the operators.
//
// In the external sort an organization's quarantined lines use org -2-i (i the
// organization's index), so they sort before the day's quarantine (-1) and before every
// organization's records, each organization's together and in (file, line) order.

// orgQuarantineID is the sort key of organization org's quarantined lines.
func orgQuarantineID(org int32) int32 { return -2 - org }

// quarantinedOrg returns the organization whose quarantined line a record with sort key
// id is, and whether it is one.
func quarantinedOrg(id int32) (int32, bool) { return -2 - id, id <= -2 }

// attributable extracts what routing needs of a quarantined line: its chatId and its
// sender's participantType and id, each only when it reads unambiguously. The line must be
// valid UTF-8 and one syntactically valid JSON object: the bytes of a line that is not
// (cut short, not JSON, not UTF-8) may say anything, so nothing is read from them. A field
// given twice (duplicate keys, which the decoder refuses) is not read either: which of the
// two values is right cannot be told, and a guess could show one organization another's
// line. ok is false when neither the chat nor the sender could be read.
func attributable(raw []byte) (ev model.Event, ok bool) {
	raw = bytes.TrimSpace(raw)
	if !utf8.Valid(raw) || !json.Valid(raw) || len(raw) == 0 || raw[0] != '{' {
		return ev, false
	}
	var chat, sender []json.RawMessage
	if !eachMember(raw, func(key string, v json.RawMessage) {
		switch key {
		case "chatId":
			chat = append(chat, v)
		case "sender":
			sender = append(sender, v)
		}
	}) {
		return ev, false
	}
	if len(chat) == 1 {
		var s string
		if json.Unmarshal(chat[0], &s) == nil && s != "" {
			ev.ChatID, ok = s, true
		}
	}
	if len(sender) == 1 && len(sender[0]) > 0 && sender[0][0] == '{' {
		var typ, id []string
		eachMember(sender[0], func(key string, v json.RawMessage) {
			var s string
			if json.Unmarshal(v, &s) != nil {
				s = ""
			}
			switch key {
			case "participantType":
				typ = append(typ, s)
			case "id":
				id = append(id, s)
			}
		})
		if len(typ) == 1 && len(id) == 1 && typ[0] != "" && id[0] != "" {
			ev.Sender.Type, ev.Sender.ID, ok = typ[0], id[0], true
		}
	}
	return ev, ok
}

// eachMember calls fn with each member of the JSON object obj, in order, duplicates
// included; false when obj is not an object.
func eachMember(obj []byte, fn func(key string, v json.RawMessage)) bool {
	dec := json.NewDecoder(bytes.NewReader(obj))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return false
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return false
		}
		key, _ := t.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return false
		}
		fn(key, v)
	}
	return true
}

// routeQuarantined appends to dst the organizations a quarantined line goes to: none when
// nothing can be read from it, else those the router sends an event with its chat and
// sender to.
func (r *router) routeQuarantined(dst []int32, raw []byte) []int32 {
	ev, ok := attributable(raw)
	if !ok {
		return dst
	}
	return r.route(dst, &ev)
}
