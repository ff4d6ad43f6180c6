package archiver

import (
	"fmt"
	"regexp"
	"slices"

	"github.com/chatvault/chatvault/model"
)

// router answers, for one day, which archiving organizations an event goes to.
//
// It is built once per run from the directory snapshot; lookups are map reads, so routing
// costs the same for ten organizations as for ten thousand.
type router struct {
	// orgs are the organizations archiving on the day, sorted by id; an org's index in
	// this slice is how the rest of the pipeline names it.
	orgs     []model.Organization
	userOrg  idIndex[int32]
	botOrg   idIndex[int32]
	chatOrgs idIndex[orgSet]
	// bigSets holds the sets of chats in more than len(orgSet.inline) organizations.
	bigSets [][]int32
	// chats are the directory's chats and orgChats[org] the indices of the organization's
	// (those chatOrgs routes to it), for the chat index's members at the seal.
	chats    []model.Chat
	orgChats [][]int32
	// shardOrgs[i] says whether orgs[i] is the run's shard's; nil when unsharded (shard.go).
	shardOrgs []bool
}

// safeID is what an organization id must look like to become a store key segment.
var safeID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// newRouter indexes dir for day. Organizations with archival off, or whose archivalStart
// is after day, are not routed to: their events are excluded unless another organization
// is entitled to them.
func newRouter(dir *model.Directory, day Day) (*router, error) {
	r := &router{
		userOrg:  newIDIndex[int32](),
		botOrg:   newIDIndex[int32](),
		chatOrgs: newIDIndex[orgSet](),
	}
	for _, o := range dir.Organizations {
		if !o.Archival || (o.ArchivalStart != "" && o.ArchivalStart > day.String()) {
			continue
		}
		if !safeID.MatchString(o.ID) {
			return nil, fmt.Errorf("directory: organization id %q cannot name a store folder", o.ID)
		}
		r.orgs = append(r.orgs, o)
	}
	slices.SortFunc(r.orgs, func(a, b model.Organization) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	index := make(map[string]int32, len(r.orgs))
	for i, o := range r.orgs {
		index[o.ID] = int32(i)
	}
	for _, u := range dir.Users {
		if i, ok := index[u.OrgID]; ok {
			r.userOrg.set(u.ID, i)
		}
	}
	for _, b := range dir.Bots {
		if i, ok := index[b.OrgID]; ok {
			r.botOrg.set(b.ID, i)
		}
	}
	r.chats, r.orgChats = dir.Chats, make([][]int32, len(r.orgs))
	for ci, c := range dir.Chats {
		var set []int32
		for _, m := range c.Members {
			// Only users are members of an organization; a bot or an occupant in a chat
			// does not bring the chat into its organization's archive.
			if i, ok := r.userOrg.get(m); ok && !slices.Contains(set, i) {
				set = append(set, i)
			}
		}
		if len(set) > 0 {
			slices.Sort(set)
			r.chatOrgs.set(c.ID, r.newOrgSet(set))
			for _, o := range set {
				r.orgChats[o] = append(r.orgChats[o], int32(ci))
			}
		}
	}
	return r, nil
}

// route appends to dst the indices of the organizations e goes to, sorted and unique.
func (r *router) route(dst []int32, e *model.Event) []int32 {
	chat, _ := r.chatOrgs.get(e.ChatID)
	dst = r.appendSet(dst, chat)
	switch e.Sender.Type {
	case model.ParticipantEmail:
		if i, ok := r.userOrg.get(e.Sender.ID); ok {
			dst = append(dst, i)
		}
	case model.ParticipantBot:
		if i, ok := r.botOrg.get(e.Sender.ID); ok {
			dst = append(dst, i)
		}
	}
	if len(dst) > 1 {
		slices.Sort(dst)
		dst = slices.Compact(dst)
	}
	return dst
}

// orgSet is a chat's archiving organizations, sorted, as its idIndex slot holds them: a
// chat is nearly always in one to three organizations, which then cost routing no second
// cache miss (a slice's elements are elsewhere in memory; 0.1 s of a 1M-event day).
type orgSet struct {
	n int32 // how many; when more than len(inline), the set is bigSets[inline[0]]
	// inline holds the set when it fits.
	inline [3]int32
}

func (r *router) newOrgSet(set []int32) orgSet {
	s := orgSet{n: int32(len(set))}
	if len(set) <= len(s.inline) {
		copy(s.inline[:], set)
		return s
	}
	s.inline[0] = int32(len(r.bigSets))
	r.bigSets = append(r.bigSets, set)
	return s
}

// appendSet appends s's organizations to dst.
func (r *router) appendSet(dst []int32, s orgSet) []int32 {
	if int(s.n) <= len(s.inline) {
		return append(dst, s.inline[:s.n]...)
	}
	return append(dst, r.bigSets[s.inline[0]]...)
}

// SealTargets returns the ids of the organizations a seal of day with dir commits (as the
// seal's router picks them): those archiving on that day, of shard's when sharded, only
// only when it is set. A caller whose seal failed as a whole records the failure for each
// (RecordFailure), as the writer does for one organization whose commit failed.
func SealTargets(dir *Directory, day Day, only string, shard Shard) []string {
	var ids []string
	for _, o := range dir.Organizations {
		if !o.Archival || (o.ArchivalStart != "" && o.ArchivalStart > day.String()) || !safeID.MatchString(o.ID) {
			continue
		}
		if (only != "" && o.ID != only) || (shard.Sharded() && ShardOf(o.ID, shard.Count) != shard.Index) {
			continue
		}
		ids = append(ids, o.ID)
	}
	return ids
}
