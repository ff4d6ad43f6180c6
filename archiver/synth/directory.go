package synth

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/model"
)

// Independent random streams, so that changing how one part is generated does not
// reshuffle the others.
const (
	streamDirectory = 0x6469726563746f72
	streamWorld     = 0x776f726c64000000
	streamFile      = 0x66696c6500000000
)

func newRand(seed int64, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed), stream))
}

// newID returns a random version 4 UUID drawn from r.
func newID(r *rand.Rand) [16]byte {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], r.Uint64())
	binary.LittleEndian.PutUint64(b[8:], r.Uint64())
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return b
}

func newIDString(r *rand.Rand) string { return uuid.UUID(newID(r)).String() }

// maxUsers bounds the directory (and so the generator's memory) for very large days.
const maxUsers = 200_000

// GenerateDirectory returns the directory snapshot Generate writes for opt (when the
// folder has none yet): opt.Orgs organizations of Zipf-distributed sizes, about 70% of them
// archiving; their users, bots and chats. Occupants (guests) appear only as chat members.
// It depends on Day, Events, Orgs and Seed only.
func GenerateDirectory(opt Options) *model.Directory {
	opt = opt.withDefaults()
	r := newRand(opt.Seed, streamDirectory)
	g := dirGen{r: r, day: opt.Day, domains: map[string]int{}, emails: map[string]int{}}
	g.orgs(opt.Orgs)
	g.users(opt.Orgs, opt.Events)
	g.bots()
	g.chats()
	return &g.d
}

type dirGen struct {
	r         *rand.Rand
	day       archiver.Day
	d         model.Directory
	domains   map[string]int
	emails    map[string]int
	orgDomain []string
	orgStart  []int // index of the org's first user in d.Users
	orgSize   []int
	orgBots   [][]int // indexes into d.Bots
	archiving []bool
	off       []int // organizations with archival off
	occupants []string
}

func (g *dirGen) dayOffset(days int) string {
	// No day exists before 1970-01-01 (archiver.ParseDay; the directory's validation
	// refuses such an archivalStart): a day near the epoch starts its archives then.
	t := g.day.Start().AddDate(0, 0, days)
	if epoch := time.Unix(0, 0).UTC(); t.Before(epoch) {
		t = epoch
	}
	return t.Format(archiver.DayLayout)
}

func (g *dirGen) orgs(k int) {
	r := g.r
	special := map[int]string{}
	if k >= 3 {
		// Roles that exercise archivalStart: one org starts after the day (gets nothing),
		// one starts on the day itself, one has no lower bound. Smaller orgs play them, so
		// that the big ones, the likeliest to archive, carry most of the traffic.
		lo := 1
		if k-k/2 >= 3 {
			lo = k / 2
		}
		perm := r.Perm(k - lo)
		for i, role := range []string{"future", "today", "unbounded"} {
			if i < len(perm) && (i == 0 || k >= 4+i-1) {
				special[lo+perm[i]] = role
			}
		}
	}
	retention := []int{2557, 2557, 2557, 3650, 1826, 365}
	for i := range k {
		base := orgNames[i%len(orgNames)]
		suf := orgSuffixes[r.IntN(len(orgSuffixes))]
		name, slug := base[0]+suf[0], base[1]+suf[1]
		if i >= len(orgNames) {
			n := strconv.Itoa(i/len(orgNames) + 1)
			name, slug = name+" "+n, slug+"-"+n
		}
		domain := slug
		if c := g.domains[slug]; c > 0 {
			domain += "-" + strconv.Itoa(c+1)
		}
		g.domains[slug]++
		o := model.Organization{ID: newIDString(r), Name: name, RetentionDays: retention[r.IntN(len(retention))]}
		switch {
		case special[i] == "future":
			o.Archival, o.ArchivalStart = true, g.dayOffset(1+r.IntN(30))
		case special[i] == "today":
			o.Archival, o.ArchivalStart = true, g.dayOffset(0)
		case special[i] == "unbounded":
			o.Archival = true
		case i == 0 || r.Float64() < archivingShare(i, k):
			o.Archival, o.ArchivalStart = true, g.dayOffset(-1-r.IntN(700))
		default:
			// Archival off; some had it on once and turned it off.
			if r.IntN(2) == 0 {
				o.ArchivalStart = g.dayOffset(-30 - r.IntN(700))
			}
		}
		g.d.Organizations = append(g.d.Organizations, o)
		g.orgDomain = append(g.orgDomain, domain+".example")
	}
	// Cross-organization chats need someone who does not archive.
	off := 0
	for _, o := range g.d.Organizations {
		if !o.Archival {
			off++
		}
	}
	if off == 0 && k >= 2 {
		for i := k - 1; i > 0; i-- {
			if special[i] == "" {
				g.d.Organizations[i].Archival, g.d.Organizations[i].ArchivalStart = false, ""
				break
			}
		}
	}
	for i, o := range g.d.Organizations {
		g.archiving = append(g.archiving, o.Archival)
		if !o.Archival {
			g.off = append(g.off, i)
		}
	}
}

// archivingShare is the chance that the i-th largest of k organizations archives: high
// for the largest quarter, lower in the tail, about 70% overall.
func archivingShare(i, k int) float64 {
	if i < k/4 {
		return 0.9
	}
	return 0.65
}

// users gives each organization two users plus a Zipf share (s = 1.1) of the rest: a few
// big organizations, a long tail of small ones.
func (g *dirGen) users(k, events int) {
	total := min(events/40, maxUsers)
	total = max(total, 2*k+8)
	weights := make([]float64, k)
	sum := 0.0
	for i := range weights {
		weights[i] = 1 / math.Pow(float64(i+1), 1.1)
		sum += weights[i]
	}
	rest := float64(total - 2*k)
	for i := range k {
		size := 2 + int(rest*weights[i]/sum)
		g.orgStart = append(g.orgStart, len(g.d.Users))
		g.orgSize = append(g.orgSize, size)
		orgID := g.d.Organizations[i].ID
		for range size {
			display, local := g.personName()
			email := local + "@" + g.orgDomain[i]
			if c := g.emails[email]; c > 0 {
				email = local + strconv.Itoa(c+1) + "@" + g.orgDomain[i]
			}
			g.emails[local+"@"+g.orgDomain[i]]++
			g.d.Users = append(g.d.Users, model.User{ID: newIDString(g.r), OrgID: orgID, Email: email, DisplayName: display})
		}
	}
}

func (g *dirGen) personName() (display, local string) {
	r := g.r
	if r.IntN(12) == 0 {
		n := fullNames[r.IntN(len(fullNames))]
		display, local = n[0], n[1]
	} else {
		f, l := firstNames[r.IntN(len(firstNames))], lastNames[r.IntN(len(lastNames))]
		display, local = f[0]+" "+l[0], f[1]+"."+l[1]
	}
	if r.IntN(30) == 0 {
		display += nameDecorations[r.IntN(len(nameDecorations))]
	}
	return display, local
}

func (g *dirGen) bots() {
	r := g.r
	for i, o := range g.d.Organizations {
		var n int
		switch size := g.orgSize[i]; {
		case size >= 20:
			n = 1 + r.IntN(4)
		case size >= 5:
			n = r.IntN(3)
		default:
			n = r.IntN(2)
		}
		if i == 0 {
			n = max(n, 1)
		}
		var idx []int
		for range n {
			in := integrations[r.IntN(len(integrations))]
			id := newID(r)
			b := model.Bot{
				ID:            uuid.UUID(id).String(),
				OrgID:         o.ID,
				RoamID:        "roam-" + strconv.FormatUint(binary.LittleEndian.Uint64(id[:8])>>16, 36),
				IntegrationID: in[0] + ":" + strconv.Itoa(100000+r.IntN(900000)),
				BotCode:       strings.ToUpper(in[0]) + "-" + strconv.Itoa(1000+r.IntN(9000)),
			}
			idx = append(idx, len(g.d.Bots))
			g.d.Bots = append(g.d.Bots, b)
		}
		g.orgBots = append(g.orgBots, idx)
	}
}

// randomUserOrg picks an organization weighted by its number of users.
func (g *dirGen) randomUserOrg() int {
	u := g.r.IntN(len(g.d.Users))
	i, found := slices.BinarySearch(g.orgStart, u)
	if !found {
		i--
	}
	return i
}

// sampleUsers appends n distinct users of org (all of them when it has no more).
func (g *dirGen) sampleUsers(members []string, org, n int) []string {
	start, size := g.orgStart[org], g.orgSize[org]
	if n >= size {
		for _, u := range g.d.Users[start : start+size] {
			members = append(members, u.ID)
		}
		return members
	}
	first := len(members)
	for tries := 0; len(members)-first < n && tries < 4*n; tries++ {
		id := g.d.Users[start+g.r.IntN(size)].ID
		if !slices.Contains(members[first:], id) {
			members = append(members, id)
		}
	}
	return members
}

func (g *dirGen) occupant() string {
	if len(g.occupants) > 0 && g.r.IntN(10) < 3 {
		return g.occupants[g.r.IntN(len(g.occupants))] // guests come back
	}
	id := newIDString(g.r)
	g.occupants = append(g.occupants, id)
	return id
}

func (g *dirGen) bot(org int) (string, bool) {
	if b := g.orgBots[org]; len(b) > 0 {
		return g.d.Bots[b[g.r.IntN(len(b))]].ID, true
	}
	return "", false
}

// groupSize is 3 plus a log-normal tail: most groups are small, a few have dozens.
func (g *dirGen) groupSize() int {
	return min(3+int(math.Exp(g.r.NormFloat64()*0.9)*2), 60)
}

// chats builds DMs and groups, mostly within one organization, about 12% across
// organizations (often with one that does not archive), about 5% that no archiving
// organization is entitled to, and guest support chats.
func (g *dirGen) chats() {
	r := g.r
	n := max(4, len(g.d.Users)+len(g.d.Users)/4)
	for range n {
		var m []string
		x := r.Float64()
		switch {
		case x < 0.45: // direct message within an organization
			m = g.sampleUsers(m, g.randomUserOrg(), 2)
		case x < 0.78: // group within an organization
			org := g.randomUserOrg()
			m = g.sampleUsers(m, org, g.groupSize())
			if r.IntN(4) == 0 {
				if b, ok := g.bot(org); ok {
					m = append(m, b)
				}
			}
			if r.IntN(10) == 0 {
				m = append(m, g.occupant())
			}
		case x < 0.90: // across 2-3 organizations, often one that does not archive
			orgs := []int{g.randomUserOrg()}
			k := 2 + r.IntN(2)
			for tries := 0; len(orgs) < k && tries < 10; tries++ {
				o := g.randomUserOrg()
				if len(g.off) > 0 && r.IntN(2) == 0 {
					o = g.off[r.IntN(len(g.off))]
				}
				if !slices.Contains(orgs, o) {
					orgs = append(orgs, o)
				}
			}
			dm := r.IntN(5) == 0 && len(orgs) >= 2
			for i, o := range orgs {
				if dm {
					if i < 2 {
						m = g.sampleUsers(m, o, 1)
					}
					continue
				}
				m = g.sampleUsers(m, o, 1+r.IntN(4))
				if r.IntN(8) == 0 {
					if b, ok := g.bot(o); ok {
						m = append(m, b)
					}
				}
			}
		case x < 0.95: // nobody archiving is entitled: non-archiving users, their bots, guests
			if len(g.off) > 0 {
				o := g.off[r.IntN(len(g.off))]
				m = g.sampleUsers(m, o, 1+r.IntN(4))
				if r.IntN(3) == 0 {
					if b, ok := g.bot(o); ok {
						m = append(m, b)
					}
				}
			}
			if len(m) < 2 || r.IntN(2) == 0 {
				m = append(m, g.occupant())
			}
			if len(m) < 2 {
				m = append(m, g.occupant())
			}
		default: // guest support chat: one or two users and guests
			m = g.sampleUsers(m, g.randomUserOrg(), 1+r.IntN(2))
			for range 1 + r.IntN(3) {
				m = append(m, g.occupant())
			}
		}
		m = dedupe(m) // a returning guest may have been picked twice
		g.d.Chats = append(g.d.Chats, model.Chat{ID: newIDString(r), Members: m})
	}
}

// dedupe removes repeated ids, keeping the first of each, in order.
func dedupe(ids []string) []string {
	out := ids[:0]
	for _, id := range ids {
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}
