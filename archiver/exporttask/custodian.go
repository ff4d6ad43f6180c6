package exporttask

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/klauspost/compress/gzip"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/model"
)

// A custodian's record (Request.CustodianIDs) is what they sent and what was said in
// their chats while they were members. Membership is found from two kinds of evidence in
// the range's sealed days, both read from the days' chat indexes (never from the
// records, except for days sealed before chat indexes, whose membership changes are read
// from their records and which have no recorded membership):
//
//   - a change: a sent membersChanged record adding or removing the custodian, at its
//     eventTimestamp;
//   - a seal's recorded membership: for each chat the seal recorded among the
//     organization's chats, whether the custodian was a member, as of the seal
//     (ChatIndexRef.MembersTime: MembersAt, or the inline index's members reference).
//
// Per chat, the evidence is put in time order (a change before a seal at the same
// millisecond). Each piece says what holds after it (an addition or a seal recording them:
// a member; a removal or a seal not recording them: not) and what held just before it (a
// removal or a seal recording them: a member; an addition or a seal not recording them:
// not). The custodian counts as a member:
//   - between two pieces of evidence, when the earlier says so after it or the later says
//     so before it: so from an addition (inclusive) to the next removal (exclusive), and,
//     where two pieces disagree (a seal recording a member the changes say had left, or
//     not recording one they say had joined), over the whole period between them, so
//     that nothing the custodian may have seen is left out;
//   - before the first piece, when it says so before it (a member when the range began);
//   - after the last, when it says so after it.
//
// Events are placed by eventTimestamp (an edit or deletion counts when it happened).

// evidence is one piece of membership evidence for a custodian in a chat.
type evidence struct {
	at     int64
	seal   bool // a seal's recorded membership; else a change
	member bool // the state it says holds from at on
}

// span is a half-open period [from, to) of membership; to is maxInt64 for "still".
type span struct{ from, to int64 }

const forever = int64(^uint64(0) >> 1)

const never = -forever - 1

// memberships are each custodian's membership periods per chat.
type memberships map[string]map[string][]span

// in reports whether custodian k was a member of chat at t.
func (m memberships) in(k, chat string, t int64) bool {
	for _, s := range m[k][chat] {
		if t >= s.from && t < s.to {
			return true
		}
	}
	return false
}

// periods turns time-ordered evidence into membership periods (see above).
func periods(ev []evidence) []span {
	if len(ev) == 0 {
		return nil
	}
	var out []span
	add := func(from, to int64) {
		if from >= to {
			return
		}
		if n := len(out); n > 0 && out[n-1].to >= from {
			out[n-1].to = max(out[n-1].to, to)
			return
		}
		out = append(out, span{from, to})
	}
	// before says whether the evidence e implies membership just before it.
	before := func(e evidence) bool {
		if e.seal {
			return e.member
		}
		return !e.member // a removal: they were a member; an addition: they were not
	}
	cur, prev := before(ev[0]), never
	for _, e := range ev {
		if cur || before(e) {
			add(prev, e.at)
		}
		cur, prev = e.member, e.at
	}
	if cur {
		add(prev, forever)
	}
	return out
}

// custodianMemberships finds the custodians' membership periods over the range's sealed
// days (manifests, oldest first). It reads each day's chat index twice: first for the
// changes and the chats where a custodian is recorded, then for the seals' evidence on
// those chats only, so that memory holds the custodians' chats, not the organization's.
func (e *Engine) custodianMemberships(ctx context.Context, custodians []string, days []*archiver.StoredManifest) (memberships, error) {
	want := set(custodians)
	type pair struct{ k, chat string }
	ev := map[pair][]evidence{}
	lg := e.lg()
	for _, m := range days {
		changes, x, err := e.dayMembership(ctx, lg, m)
		if err != nil {
			return nil, err
		}
		for _, c := range changes {
			if c.EventType != model.EventSent {
				continue
			}
			for _, id := range c.Added {
				if want[id] {
					p := pair{id, c.ChatID}
					ev[p] = append(ev[p], evidence{at: c.EventTimestamp, member: true})
				}
			}
			for _, id := range c.Removed {
				if want[id] {
					p := pair{id, c.ChatID}
					ev[p] = append(ev[p], evidence{at: c.EventTimestamp, member: false})
				}
			}
		}
		if x == nil {
			continue
		}
		for _, c := range x.Members {
			for _, id := range c.Members {
				if want[id] {
					if p := (pair{id, c.ChatID}); ev[p] == nil {
						ev[p] = []evidence{} // relevant: the second pass records its seals
					}
				}
			}
		}
	}
	// Second pass: every seal's evidence on the relevant chats.
	for _, m := range days {
		x, err := lg.ReadChatIndex(ctx, m)
		if err != nil {
			return nil, err
		}
		if x == nil {
			continue
		}
		for _, c := range x.Members {
			for _, k := range custodians {
				p := pair{k, c.ChatID}
				if _, ok := ev[p]; ok {
					_, member := slices.BinarySearch(c.Members, k)
					ev[p] = append(ev[p], evidence{at: m.ChatIndex.MembersTime(), seal: true, member: member})
				}
			}
		}
	}
	out := memberships{}
	for p, list := range ev {
		// Changes before seals at the same instant; otherwise in time order, as read.
		slices.SortStableFunc(list, func(a, b evidence) int {
			switch {
			case a.at != b.at:
				return cmpInt(a.at, b.at)
			case a.seal == b.seal:
				return 0
			case !a.seal:
				return -1
			}
			return 1
		})
		if s := periods(list); len(s) > 0 {
			if out[p.k] == nil {
				out[p.k] = map[string][]span{}
			}
			out[p.k][p.chat] = s
		}
	}
	return out, nil
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// dayMembership returns a day's membership changes and its chat index: from the index,
// or, for a day sealed before chat indexes, read from the day's records (its index nil).
func (e *Engine) dayMembership(ctx context.Context, l ledger.Ledger, m *archiver.StoredManifest) ([]archiver.MembershipChange, *archiver.ChatIndex, error) {
	x, err := l.ReadChatIndex(ctx, m)
	if err != nil || x != nil {
		if x != nil {
			return x.MembershipChanges, x, nil
		}
		return nil, nil, err
	}
	rc, err := openData(ctx, l, m)
	if err != nil {
		return nil, nil, err
	}
	defer rc.Close()
	zr, err := gzip.NewReader(rc)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", m.Data.Key, err)
	}
	defer zr.Close()
	// Checked as the day's reader checks (Engine.day): the changes decide which chats a
	// task reads, and a day whose changed records left a custodian out would never be
	// read, so its check would never run.
	sc := bufio.NewScanner(archiver.CheckedRecords(zr, m))
	sc.Buffer(nil, 64<<20)
	var out []archiver.MembershipChange
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.Contains(line, []byte(`"contentType":"membersChanged"`)) {
			continue
		}
		ev, err := model.Decode(line)
		if err != nil {
			return nil, nil, taskErrorf("%s: a sealed record does not decode: %v (run chatvault verify)", m.Date, err)
		}
		if ev.ContentType != model.ContentMembersChanged || !ev.HasContent {
			continue
		}
		c := archiver.MembershipChange{ChatID: ev.ChatID, EventTimestamp: ev.EventTimestamp, MessageID: ev.MessageID, EventType: ev.EventType}
		for _, p := range ev.Content.Added {
			c.Added = append(c.Added, p.ID)
		}
		for _, p := range ev.Content.Removed {
			c.Removed = append(c.Removed, p.ID)
		}
		out = append(out, c)
	}
	if err := sc.Err(); err != nil {
		if mm := (*archiver.RecordsMismatchError)(nil); errors.As(err, &mm) {
			return nil, nil, taskErrorf("%s: %v", m.Date, mm)
		}
		return nil, nil, fmt.Errorf("%s: %w", m.Data.Key, err)
	}
	return out, nil, nil
}
