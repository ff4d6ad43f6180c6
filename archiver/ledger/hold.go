package ledger

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/chatvault/chatvault/archiver"
)

// holdTimeFormat names hold events: fixed width, so that keys sort by time.
const holdTimeFormat = "20060102T150405.000000000Z"

// HoldRequest is a `hold --on|--off`.
type HoldRequest struct {
	Org, Matter string
	From, To    archiver.Day
	On          bool
	// At is the event's time (the caller's clock); By who asks.
	At time.Time
	By string
}

// HoldResult is what Hold did.
type HoldResult struct {
	// Event is the recorded event's key.
	Event string
	// Held and Released count the objects whose legal hold Hold set on and off; Kept the
	// objects of the request that another hold keeps held.
	Held, Released, Kept int
	// Missing are objects the covered days name (a members object, a captured file an
	// attachment index names) that the store does not hold: verify reports them.
	Missing []string
}

// CheckMatter refuses matter names that cannot be a key segment or would read badly:
// 1 to 100 letters, digits, '.', '_' and '-', not starting with '.'.
func CheckMatter(m string) error {
	if m == "" || len(m) > 100 || m[0] == '.' {
		return fmt.Errorf("matter %q: 1 to 100 characters, not starting with '.'", m)
	}
	for _, r := range m {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Errorf("matter %q: only letters, digits, '.', '_' and '-'", m)
		}
	}
	return nil
}

func holdKey(org, matter string, at time.Time, on bool) string {
	state := "off"
	if on {
		state = "on"
	}
	return archiver.HoldsPrefix + org + "/" + matter + "/" + at.UTC().Format(holdTimeFormat) + "-" + state + ".json"
}

// HoldEvents returns the recorded hold events, of org only when it is not empty, in the
// order they were recorded.
func (l Ledger) HoldEvents(ctx context.Context, org string) ([]archiver.HoldEvent, error) {
	prefix := archiver.HoldsPrefix
	if org != "" {
		prefix += org + "/"
	}
	var keys []string
	if err := l.Store.List(ctx, prefix, func(key string) error {
		keys = append(keys, key)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("list hold events: %w", err)
	}
	var out []archiver.HoldEvent
	for _, key := range keys {
		b, err := archiver.ReadAll(ctx, l.Store, key)
		if err != nil {
			return nil, err
		}
		var ev archiver.HoldEvent
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&ev); err != nil {
			return nil, fmt.Errorf("hold event %s: %w", key, err)
		}
		if _, _, err := ev.Days(); err != nil {
			return nil, fmt.Errorf("hold event %s: %w", key, err)
		}
		ev.Key = key
		out = append(out, ev)
	}
	// Keys sort by time within a matter; across matters and organizations, the recorded
	// time orders them (and the key breaks ties).
	// As times, not strings: RFC 3339 with nanoseconds drops trailing zeros, so
	// "…:00.5Z" sorts after "…:00.50001Z" as text.
	slices.SortStableFunc(out, func(a, b archiver.HoldEvent) int {
		if c := eventTime(a).Compare(eventTime(b)); c != 0 {
			return c
		}
		if c := strings.Compare(a.At, b.At); c != 0 {
			return c
		}
		return strings.Compare(a.Key, b.Key)
	})
	return out, nil
}

// eventTime is when ev was recorded (zero when its At does not parse).
func eventTime(ev archiver.HoldEvent) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, ev.At)
	return t
}

// ErrNoSuchHold is returned (wrapped) by Hold when asked to lift a matter's hold that was
// never placed.
var ErrNoSuchHold = errors.New("no such hold")

// Hold records a hold event for req's organization and matter, then sets the legal hold
// of every object of the organization's days req.From..req.To, and of the days' shared
// objects, to what all the recorded events say: on while some hold remains.
//
// A failure after the event is recorded leaves some objects as they were; running the
// same request again records another event and sets them all (the state does not change).
func (l Ledger) Hold(ctx context.Context, req HoldRequest) (HoldResult, error) {
	var res HoldResult
	lk, ok := l.Store.(archiver.Locker)
	if !ok || !lk.Locking() {
		return res, fmt.Errorf("hold: %w", archiver.ErrNoLocking)
	}
	if err := CheckMatter(req.Matter); err != nil {
		return res, fmt.Errorf("hold: %w", err)
	}
	if req.Org == "" || strings.Contains(req.Org, "/") || archiver.CheckKey(req.Org) != nil {
		return res, fmt.Errorf("hold: organization %q is not an id", req.Org)
	}
	if req.To.Before(req.From) {
		return res, fmt.Errorf("hold: %s is before %s", req.To, req.From)
	}
	events, err := l.HoldEvents(ctx, "")
	if err != nil {
		return res, fmt.Errorf("hold: %w", err)
	}
	if !req.On && !slices.ContainsFunc(events, func(ev archiver.HoldEvent) bool { return ev.Org == req.Org && ev.Matter == req.Matter }) {
		return res, fmt.Errorf("hold: %w: organization %s has no hold for matter %q", ErrNoSuchHold, req.Org, req.Matter)
	}

	// Events replay in their recorded time. An operator whose clock is behind the one who
	// recorded an event this command read (and so acts after) must not have the new event
	// replayed before it: it is recorded just after the latest event read.
	for _, e := range events {
		if t := eventTime(e); !req.At.After(t) {
			req.At = t.Add(time.Microsecond)
		}
	}

	// What the request covers, found before the event is recorded so that the event is
	// kept as long as the longest-kept of them (the objects are listed again below).
	_, keep, err := l.holdCovered(ctx, req)
	if err != nil {
		return res, err
	}
	// Days of the range not sealed yet cover nothing, but the event is what makes their
	// seal place the hold: it is kept at least until the last day's end plus the
	// organization's retention (its chain head's; the longest of the archive's chains
	// when it has none yet), or it could be deleted before then, lifting the hold unseen.
	if floor, err := l.holdFloor(ctx, req); err != nil {
		return res, err
	} else if floor.After(keep.RetainUntil) {
		keep.RetainUntil = floor
	}

	ev := archiver.HoldEvent{Org: req.Org, Matter: req.Matter, On: req.On, From: req.From.String(), To: req.To.String(),
		At: req.At.UTC().Format(time.RFC3339Nano), By: req.By}
	b, err := json.MarshalIndent(ev, "", "  ")
	if err != nil {
		return res, err
	}
	b = append(b, '\n')
	ev.Key = holdKey(req.Org, req.Matter, req.At, req.On)
	if err := l.Store.Create(ctx, ev.Key, bytes.NewReader(b), int64(len(b)), sha256.Sum256(b), keep); err != nil {
		return res, fmt.Errorf("hold: record %s: %w", ev.Key, err)
	}
	res.Event = ev.Key

	// Another `hold` may record its event between this one's listing of the events and
	// its setting of the legal holds, and a run may seal the day between the listing of
	// its objects above and the recording of the event. So the objects are listed again
	// now that the event is recorded (a seal that commits later reads the events after
	// its commit, and sees this one), and the events are read again after the legal holds
	// are set: while they changed, the holds are set again from the new events. The
	// last command to set an object's hold has then seen every event recorded before.
	for attempt := 0; ; attempt++ {
		if events, err = l.HoldEvents(ctx, ""); err != nil {
			return res, fmt.Errorf("hold: %w", err)
		}
		if !slices.ContainsFunc(events, func(e archiver.HoldEvent) bool { return e.Key == ev.Key }) {
			events = append(events, ev) // a store whose listing lags its writes
		}
		covered, _, err := l.holdCovered(ctx, req)
		if err != nil {
			return res, err
		}
		res, err = l.applyHold(ctx, lk, req, covered, archiver.ReplayHolds(events))
		res.Event = ev.Key
		if err != nil {
			return res, err
		}
		after, err := l.HoldEvents(ctx, "")
		if err != nil {
			return res, fmt.Errorf("hold: %w", err)
		}
		if sameHoldEvents(events, after) {
			return res, nil
		}
		if attempt == 9 {
			return res, fmt.Errorf("hold: event %s recorded, but other hold events kept being recorded while the legal holds were set: run the same request again", ev.Key)
		}
	}
}

// sameHoldEvents reports whether b holds no event that a does not.
func sameHoldEvents(a, b []archiver.HoldEvent) bool {
	have := make(map[string]bool, len(a))
	for _, e := range a {
		have[e.Key] = true
	}
	for _, e := range b {
		if !have[e.Key] {
			return false
		}
	}
	return true
}

// holdFloor is how long a hold event of req is kept at least (zero when the archive has
// no chain with a retention yet).
func (l Ledger) holdFloor(ctx context.Context, req HoldRequest) (time.Time, error) {
	days := 0
	head, err := l.Head(ctx, req.Org)
	if err != nil {
		return time.Time{}, fmt.Errorf("hold: %w", err)
	}
	if head != nil {
		days = head.RetentionDays
	}
	if days <= 0 {
		heads, err := l.chainHeads(ctx)
		if err != nil {
			return time.Time{}, fmt.Errorf("hold: %w", err)
		}
		for _, m := range heads {
			days = max(days, m.RetentionDays)
		}
	}
	if days <= 0 {
		return time.Time{}, nil
	}
	return req.To.End().AddDate(0, 0, days), nil
}

// holdDay is what a hold request covers on one day: the organization's own objects and
// the day's shared ones.
type holdDay struct {
	day    archiver.Day
	own    []string
	shared []string
	// orgShared are the organization's objects this day names that its other days may
	// name too (DayHoldings.Shared, captured files and URL records); fileOf the captured
	// files the day names for each URL record.
	orgShared []string
	fileOf    map[string][]string
}

// holdCovered lists what req covers, and how long its event is to be kept: as long as the
// longest-kept of the covered manifests.
func (l Ledger) holdCovered(ctx context.Context, req HoldRequest) ([]holdDay, archiver.CreateOptions, error) {
	var covered []holdDay
	var keep archiver.CreateOptions
	seen := map[string]bool{}
	for day := req.From; !day.After(req.To); day = day.Next() {
		do := holdDay{day: day}
		addShared := func(key string) {
			if !seen[key] {
				seen[key] = true
				do.shared = append(do.shared, key)
			}
		}
		if err := l.Accountings(ctx, day, func(a *archiver.StoredAccounting) error {
			addShared(a.Key)
			if a.Quarantine != nil {
				addShared(a.Quarantine.Key)
			}
			return nil
		}); err != nil {
			return nil, keep, fmt.Errorf("hold: %w", err)
		}
		objs, err := l.Holdings(ctx, req.Org, day)
		if err != nil {
			return nil, keep, fmt.Errorf("hold: %w", err)
		}
		do.own = objs.Keys
		do.orgShared = objs.Shared
		do.fileOf = objs.FileOf
		for _, m := range objs.Manifests {
			if m.Quarantine != nil { // version 1 manifests name the day's quarantine
				addShared(m.Quarantine.Key)
			}
			if m.RetentionDays > 0 {
				if until := day.End().AddDate(0, 0, m.RetentionDays); until.After(keep.RetainUntil) {
					keep.RetainUntil = until
				}
			}
		}
		covered = append(covered, do)
	}
	return covered, keep, nil
}

// applyHold sets the legal hold of every covered object to what st says.
func (l Ledger) applyHold(ctx context.Context, lk archiver.Locker, req HoldRequest, covered []holdDay, st archiver.HoldState) (HoldResult, error) {
	var res HoldResult
	set := func(key string, on bool) error {
		found, err := archiver.SetLegalHoldFound(ctx, lk, key, on)
		if err != nil {
			return fmt.Errorf("hold: %s: %w", key, err)
		}
		switch {
		case !found:
			res.Missing = append(res.Missing, key)
		case on && !req.On:
			res.Kept++
		case on:
			res.Held++
		default:
			res.Released++
		}
		return nil
	}
	for _, do := range covered {
		own, shared := st.OrgHolds(req.Org, do.day), st.AnyHolds(do.day)
		for _, key := range do.own {
			if err := set(key, own); err != nil {
				return res, err
			}
		}
		for _, key := range do.shared {
			if err := set(key, shared); err != nil {
				return res, err
			}
		}
	}
	// The organization's objects shared by its days (members objects) are held while any
	// of its held days names one, like the accounting objects are while any
	// organization holds their day: lifting one day's hold never releases what another
	// held day still needs.
	named, err := l.namedByHeldDays(ctx, req.Org, covered, st)
	if err != nil {
		return res, err
	}
	done := map[string]bool{}
	for _, do := range covered {
		for _, key := range do.orgShared {
			if done[key] {
				continue
			}
			done[key] = true
			if err := set(key, named[key]); err != nil {
				return res, err
			}
		}
	}
	return res, nil
}

// namedByHeldDays returns which of the covered days' organization-shared objects a day
// of org that st holds names: the covered days' own lists first, then, only while some
// such object is not yet known to be named, the other held days' objects (DayHoldings of
// each, so only when lifting a hold off a day that shares an object).
func (l Ledger) namedByHeldDays(ctx context.Context, org string, covered []holdDay, st archiver.HoldState) (map[string]bool, error) {
	named := map[string]bool{}
	pending := map[string]bool{}
	seen := map[string]bool{}
	for _, do := range covered {
		seen[do.day.String()] = true
		held := st.OrgHolds(org, do.day)
		for _, key := range do.orgShared {
			if held {
				named[key] = true
			}
		}
	}
	for _, do := range covered {
		for _, key := range do.orgShared {
			if !named[key] {
				pending[key] = true
			}
		}
	}
	if len(pending) == 0 {
		return named, nil
	}
	// Captured files (and their URL records) from their named records: not by reading
	// every held day, which a hold of years would make thousands of requests.
	fileOf := map[string][]string{}
	for _, do := range covered {
		for u, files := range do.fileOf {
			fileOf[u] = append(fileOf[u], files...)
		}
	}
	if err := l.heldFiles(ctx, org, st, pending, named, fileOf); err != nil {
		return nil, err
	}
	if len(pending) == 0 {
		return named, nil
	}
	// What is left are members objects, which only days of their year name (their key
	// says which; DayHoldings finds them): the held days of other years are not read.
	years, onlyMembers := map[string]bool{}, true
	for key := range pending {
		rest, ok := strings.CutPrefix(key, archiver.MembersPrefix(org))
		if !ok || len(rest) < 5 || rest[4] != '/' {
			onlyMembers = false
			break
		}
		years[rest[:4]] = true
	}
	var held []string
	for _, days := range st[org] {
		for d := range days {
			if !seen[d] {
				seen[d] = true
				held = append(held, d)
			}
		}
	}
	slices.Sort(held)
	for _, d := range held {
		if len(pending) == 0 {
			break
		}
		day, err := archiver.ParseDay(d)
		if err != nil {
			continue // replayHolds keys days by their spelling
		}
		var shared []string
		if onlyMembers {
			if !years[d[:4]] {
				continue
			}
			objs, err := l.DayHoldings(ctx, org, day)
			if err != nil {
				return nil, fmt.Errorf("hold: %w", err)
			}
			shared = objs.Shared
		} else {
			objs, err := l.Holdings(ctx, org, day)
			if err != nil {
				return nil, fmt.Errorf("hold: %w", err)
			}
			shared = objs.Shared
		}
		for _, key := range shared {
			if pending[key] {
				named[key] = true
				delete(pending, key)
			}
		}
	}
	return named, nil
}
