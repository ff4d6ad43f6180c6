package verify

import (
	"context"
	"encoding/base64"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/attach"
	"github.com/chatvault/chatvault/archiver/ledger"
)

// CheckpointAttachments records an organization's attachment indexes (issue 14) as a
// verification found them sound: which days had an index, and each one's latest revision.
// It is what tells a deleted index apart from one never written. The indexes chain per
// organization-day only (a retry appends a revision of an old day; sealing never waits on
// capture), so nothing stored names the newest revision of a day, nor a day's whole index:
// deleting either leaves a chain that checks. The signed checkpoint does name them: a later
// verification that finds a day's latest revision below the one recorded, or no index of a
// recorded day, reports the missing key. Days are a bitmap from First (a bit per day, 320
// bytes for seven years), so the record does not grow with an organization's revisions.
type CheckpointAttachments struct {
	// First is the first day with an index; Days, base64, has bit i (of byte i/8, least
	// significant first) set when First+i days has one.
	First string `json:"first,omitempty"`
	Days  string `json:"days,omitempty"`
	// Revisions are the latest revisions above 1, by day (yyyy-mm-dd).
	Revisions map[string]int `json:"revisions,omitempty"`
	// Tip is the greatest index key verified: the indexes of later days sort after it.
	Tip string `json:"tip,omitempty"`
}

const day24 = 24 * time.Hour

func dayIndex(first, d archiver.Day) int {
	return int(d.Start().Sub(first.Start()).Round(time.Hour) / day24)
}

// encodeAttachments records days (each day's latest revision; 0 or absent: no index) and
// the tip.
func encodeAttachments(days map[archiver.Day]int, tip string) *CheckpointAttachments {
	rec := &CheckpointAttachments{Tip: tip}
	var first, last archiver.Day
	for d, r := range days {
		if r < 1 {
			continue
		}
		if first.IsZero() || d.Before(first) {
			first = d
		}
		if d.After(last) {
			last = d
		}
	}
	if first.IsZero() {
		return rec
	}
	bits := make([]byte, dayIndex(first, last)/8+1)
	for d, r := range days {
		if r < 1 {
			continue
		}
		i := dayIndex(first, d)
		bits[i/8] |= 1 << (i % 8)
		if r > 1 {
			if rec.Revisions == nil {
				rec.Revisions = map[string]int{}
			}
			rec.Revisions[d.String()] = r
		}
	}
	rec.First, rec.Days = first.String(), base64.StdEncoding.EncodeToString(bits)
	return rec
}

// decode returns the recorded days with their latest revisions.
func (c *CheckpointAttachments) decode() (map[archiver.Day]int, error) {
	days := map[archiver.Day]int{}
	if c == nil || c.First == "" {
		if c != nil && (c.Days != "" || len(c.Revisions) > 0) {
			return nil, fmt.Errorf("attachment days without a first day")
		}
		return days, nil
	}
	first, err := archiver.ParseDay(c.First)
	if err != nil {
		return nil, err
	}
	bits, err := base64.StdEncoding.DecodeString(c.Days)
	if err != nil {
		return nil, err
	}
	for i := range len(bits) * 8 {
		if bits[i/8]&(1<<(i%8)) != 0 {
			d := archiver.DayOf(first.Start().Add(time.Duration(i) * day24))
			days[d] = max(1, c.Revisions[d.String()])
		}
	}
	for s, r := range c.Revisions {
		d, err := archiver.ParseDay(s)
		if err != nil || days[d] != r || r < 2 {
			return nil, fmt.Errorf("attachment revision %d of %q: not a day of the bitmap", r, s)
		}
	}
	return days, nil
}

// check validates the record of org (ReadCheckpoint).
func (c *CheckpointAttachments) check(org string) error {
	if c == nil {
		return nil
	}
	if c.Tip != "" {
		if _, _, ok := attach.ParseIndexKey(org, c.Tip); !ok {
			return fmt.Errorf("attachment tip %q: not an index key of %s", c.Tip, org)
		}
	}
	_, err := c.decode()
	return err
}

// lookup is the latest revision recorded of day's index, 0 for none.
func (c *CheckpointAttachments) lookup(day archiver.Day) int {
	if c == nil || c.First == "" {
		return 0
	}
	first, err := archiver.ParseDay(c.First)
	if err != nil || day.Before(first) {
		return 0
	}
	bits, err := base64.StdEncoding.DecodeString(c.Days)
	i := dayIndex(first, day)
	if err != nil || i/8 >= len(bits) || bits[i/8]&(1<<(i%8)) == 0 {
		return 0
	}
	return max(1, c.Revisions[day.String()])
}

// attachments is org's record in c, nil when it has none.
func (c *Checkpoint) attachments(org string) *CheckpointAttachments {
	if c == nil {
		return nil
	}
	i, ok := slices.BinarySearchFunc(c.Orgs, org, func(o CheckpointOrg, org string) int { return strings.Compare(o.Org, org) })
	if !ok {
		return nil
	}
	return c.Orgs[i].Attachments
}

// attachmentAnchor is the newest checkpoint a verification that writes none checks the
// attachment indexes against (nil without trusted keys, or when there is none). Checkpoints
// it refuses are reported by the verifications that use them to skip work (--resume,
// --incremental), not here.
func attachmentAnchor(ctx context.Context, l ledger.Ledger, opt Options, rep *Report) (*Checkpoint, error) {
	trusted := opt.trustedKeys()
	if len(trusted) == 0 {
		return nil, nil
	}
	return latestCheckpoint(ctx, l.Store, trusted, &Report{state: rep.state})
}

// checkDeleted reports each day recorded (within scope, nil: all) whose latest revision
// found is below the recorded one, and returns how many.
func checkDeleted(org string, recorded, found map[archiver.Day]int, cpKey string, scope func(archiver.Day) bool, rep *Report) int {
	n := 0
	for _, d := range slices.SortedFunc(maps.Keys(recorded), func(a, b archiver.Day) int { return a.Start().Compare(b.Start()) }) {
		r := recorded[d]
		if (scope != nil && !scope(d)) || found[d] >= r {
			continue
		}
		n++
		key := fmt.Sprintf("%s%04d", attach.IndexPrefix(org, d), r)
		if found[d] == 0 {
			rep.problem("%s…: the attachment index of %s %s is missing (checkpoint %s verified its revision %d): its revisions were deleted", key, org, d, cpKey, r)
		} else {
			rep.problem("%s…: revision %d of the attachment index of %s %s is missing (checkpoint %s verified it; the store's latest is revision %d): it was deleted",
				key, r, org, d, cpKey, found[d])
		}
	}
	return n
}

// verifyAttachmentDay verifies org's attachment index of day and the files it names
// (verify --date, the sample): one listing of the day's revisions, a read of each, of the
// sealed manifest they name and of each file; rec, org's record in the checkpoint cpKey
// (nil: none), must not name a revision the store no longer has.
func verifyAttachmentDay(ctx context.Context, l ledger.Ledger, org string, day archiver.Day, rec *CheckpointAttachments, cpKey string, rep *Report) error {
	keys, err := attach.DayIndexKeys(ctx, l.Store, org, day)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	found := map[archiver.Day]int{}
	if len(keys) > 0 {
		st, err := attach.VerifyDays(ctx, l.Store, org, keys, rep.state.trusted, rep)
		if err != nil {
			return fmt.Errorf("verify: attachments of %s %s: %w", org, day, err)
		}
		found = st.Days
	}
	if r := rec.lookup(day); r > 0 {
		checkDeleted(org, map[archiver.Day]int{day: r}, found, cpKey, nil, rep)
	}
	return nil
}

// verifyAttachmentsAfter verifies org's attachment indexes added since the checkpoint cp,
// whose record of them is rec (nil: none, and every index of org is verified), and returns
// the record the next checkpoint keeps: rec updated, or rec as it was when something is
// wrong (so that the next verification checks it again). The revisions since are found by
// one listing of org's index keys from the day of rec's tip (the later days' sort after
// it), or from the start of the retry window before the checkpoint (Options.
// AttachmentWindow) when that is earlier (a retry appends a revision of a recent day; a day
// sealed before the checkpoint may be captured after it), and by one listing of each day
// with a sealed manifest since (newDays: a capture follows a new revision of an old day).
// Only days with a revision not recorded are read, each whole, with the files they name:
// the work grows with what was captured since, not with the history.
func verifyAttachmentsAfter(ctx context.Context, l ledger.Ledger, opt Options, cp *Checkpoint, org string, rec *CheckpointAttachments, newDays []archiver.Day, rep *Report) (*CheckpointAttachments, error) {
	trusted := rep.state.trusted
	p0 := len(rep.Problems)
	if cp == nil || rec == nil {
		st, err := attach.VerifyOrg(ctx, l.Store, org, trusted, rep)
		if err != nil {
			return nil, fmt.Errorf("verify: attachments of %s: %w", org, err)
		}
		if st.Problems > 0 {
			return nil, nil
		}
		return encodeAttachments(st.Days, st.Tip), nil
	}
	recorded, err := rec.decode()
	if err != nil {
		return nil, nil // ReadCheckpoint refused it already
	}
	var start archiver.Day
	if d, _, ok := attach.ParseIndexKey(org, rec.Tip); ok {
		start = d
		if w := archiver.DayOf(cp.Created.Add(-opt.AttachmentWindow)); opt.AttachmentWindow > 0 && w.Before(start) {
			start = w
		}
	}
	after := ""
	if !start.IsZero() {
		after = attach.IndexStartAfter(org, start)
	}
	byDay := map[archiver.Day][]string{}
	tip := rec.Tip
	err = archiver.ListAfter(ctx, l.Store, attach.IndexRoot(org), after, func(k string) error {
		d, _, ok := attach.ParseIndexKey(org, k)
		if !ok {
			rep.problem("%s: not an attachment index key", k)
			return nil
		}
		byDay[d] = append(byDay[d], k)
		tip = max(tip, k)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("verify: list %s: %w", attach.IndexRoot(org), err)
	}
	listed := func(d archiver.Day) bool { return start.IsZero() || !d.Before(start) }
	for _, d := range newDays {
		if _, ok := byDay[d]; ok || listed(d) {
			continue
		}
		keys, err := attach.DayIndexKeys(ctx, l.Store, org, d)
		if err != nil {
			return nil, fmt.Errorf("verify: %w", err)
		}
		byDay[d] = keys
	}
	found := map[archiver.Day]int{}
	var keys []string
	for d, ks := range byDay {
		for _, k := range ks {
			if _, r, ok := attach.ParseIndexKey(org, k); ok {
				found[d] = max(found[d], r)
			}
		}
		if found[d] > recorded[d] {
			keys = append(keys, ks...)
		}
	}
	slices.Sort(keys)
	if len(keys) > 0 {
		if _, err := attach.VerifyDays(ctx, l.Store, org, keys, trusted, rep); err != nil {
			return nil, fmt.Errorf("verify: attachments of %s: %w", org, err)
		}
	}
	checkDeleted(org, recorded, found, cp.Key, func(d archiver.Day) bool {
		_, ok := byDay[d]
		return ok || listed(d)
	}, rep)
	if len(rep.Problems) > p0 {
		return rec, nil
	}
	for d, r := range found {
		recorded[d] = r
	}
	return encodeAttachments(recorded, tip), nil
}
