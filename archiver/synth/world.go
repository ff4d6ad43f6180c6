package synth

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"github.com/chatvault/chatvault/model"
)

// world is what events are drawn from: every participant as it appears as a sender, and
// every chat with who may speak in it. It is built from a directory (generated or read
// from the folder) and never changes while files are written, so workers share it.
type world struct {
	parts     []model.Participant
	partOrg   []int32   // organization index; -1 for occupants
	orgUsers  [][]int32 // participant indexes of each organization's users
	chats     []chat    // the directory's chats, then the unlisted ones
	listed    int       // chats[:listed] are in the directory
	occupants int
}

type chat struct {
	id string
	// senders are the members, plus now and then a former member the directory no
	// longer lists (who still sent messages that day).
	senders []int32
	// weight is the chat's share of the traffic (log-normal: a few chats are very busy).
	weight float64
}

func buildWorld(d *model.Directory, seed int64) (*world, error) {
	if len(d.Users) == 0 {
		return nil, errors.New("directory has no users to send messages")
	}
	r := newRand(seed, streamWorld)
	w := &world{orgUsers: make([][]int32, len(d.Organizations))}
	orgIdx := make(map[string]int32, len(d.Organizations))
	for i, o := range d.Organizations {
		orgIdx[o.ID] = int32(i)
	}
	byID := make(map[string]int32, len(d.Users)+len(d.Bots))
	add := func(p model.Participant, org int32) int32 {
		i := int32(len(w.parts))
		w.parts = append(w.parts, p)
		w.partOrg = append(w.partOrg, org)
		byID[p.ID] = i
		return i
	}
	for _, u := range d.Users {
		org := orgIdx[u.OrgID]
		i := add(model.Participant{Type: model.ParticipantEmail, ID: u.ID, DisplayName: u.DisplayName, Email: u.Email}, org)
		w.orgUsers[org] = append(w.orgUsers[org], i)
	}
	for _, b := range d.Bots {
		add(model.Participant{Type: model.ParticipantBot, ID: b.ID, DisplayName: botName(b), RoamID: b.RoamID,
			IntegrationID: b.IntegrationID, BotCode: b.BotCode}, orgIdx[b.OrgID])
	}
	occupant := func(id string) int32 {
		w.occupants++
		return add(model.Participant{Type: model.ParticipantOccupant, ID: id, DisplayName: guestName(r)}, -1)
	}

	w.chats = make([]chat, 0, len(d.Chats)+len(d.Chats)/50+1)
	for _, c := range d.Chats {
		ch := chat{id: c.ID, weight: math.Exp(1.2 * r.NormFloat64())}
		firstOrg := int32(-1)
		for _, m := range c.Members {
			i, ok := byID[m]
			if !ok {
				i = occupant(m) // members that are neither users nor bots are guests
			}
			if firstOrg < 0 && w.parts[i].Type == model.ParticipantEmail {
				firstOrg = w.partOrg[i]
			}
			ch.senders = append(ch.senders, i)
		}
		if len(ch.senders) >= 3 && firstOrg >= 0 && r.IntN(12) == 0 {
			us := w.orgUsers[firstOrg]
			if u := us[r.IntN(len(us))]; !slices.Contains(ch.senders, u) {
				ch.senders = append(ch.senders, u) // left the chat after writing in it
			}
		}
		if len(ch.senders) == 0 {
			ch.weight = 0
		}
		w.chats = append(w.chats, ch)
	}
	w.listed = len(w.chats)

	// Chats the directory does not know (created after the snapshot, or already gone):
	// only the senders' own organizations can claim their events.
	for range max(1, len(d.Chats)/50) {
		ch := chat{id: newIDString(r), weight: math.Exp(1.2 * r.NormFloat64())}
		for range 2 + r.IntN(3) {
			u := int32(r.IntN(len(d.Users)))
			if !slices.Contains(ch.senders, u) {
				ch.senders = append(ch.senders, u)
			}
		}
		if r.IntN(5) == 0 {
			ch.senders = append(ch.senders, occupant(newIDString(r)))
		}
		w.chats = append(w.chats, ch)
	}
	return w, nil
}

func botName(b model.Bot) string {
	kind, _, _ := strings.Cut(b.IntegrationID, ":")
	for _, in := range integrations {
		if in[0] == kind {
			return in[1]
		}
	}
	if b.BotCode != "" {
		return b.BotCode
	}
	return "Bot"
}

func guestName(r *rand.Rand) string {
	switch r.IntN(4) {
	case 0:
		return "Visitor " + strconv.Itoa(1000+r.IntN(9000))
	case 1:
		n := fullNames[r.IntN(len(fullNames))]
		return n[0] + guestSuffixes[r.IntN(len(guestSuffixes))]
	}
	return guestPrefixes[r.IntN(len(guestPrefixes))] + firstNames[r.IntN(len(firstNames))][0] +
		guestSuffixes[r.IntN(len(guestSuffixes))]
}
