package archiver

import (
	"strconv"
)

// The ledger's readers of layout 3 (layout.go, docs/design/layout.md). A store without a
// layout marker is read as layout 2 alone; one with it, in layout 3 first and, for the days
// before the marker's since, in layout 2 as well (lookIn).

// FailedKeyFor is where a failed attempt of org's day at ms is recorded: in layout 3 in a
// store with a marker, in layout 2 otherwise.
func FailedKeyFor(sl *StoreLayout, org string, day Day, ms int64) string {
	p := FailedPrefix(org, day)
	if sl != nil {
		p = FailedPrefix3(org, day)
	}
	return p + strconv.FormatInt(ms, 10) + ".json"
}

// MembersTime is when the members the chat index names were read (epoch ms), in either
// form.
func (r *ChatIndexRef) MembersTime() int64 {
	if r.Inline != nil {
		return r.Inline.Members.MembersAt
	}
	return r.MembersAt
}
