package synth

import (
	"context"
	"math/rand/v2"
	"slices"
	"sort"

	"github.com/google/uuid"

	"github.com/chatvault/chatvault/model"
)

const (
	dayMs      = 86_400_000
	ringSize   = 6   // earlier messages kept per chat for edits, deletes and replies
	maxPending = 256 // late lines held back at once
)

// msgRef is what the reservoir remembers of a sent message.
type msgRef struct {
	id     [16]byte
	ts     int64
	thread int64
	sender int32
	ct     uint8
}

type ring struct {
	n, next uint8
	e       [ringSize]msgRef
}

func (r *ring) add(m msgRef) {
	if r.n < ringSize {
		r.e[r.n] = m
		r.n++
		return
	}
	r.e[r.next] = m
	r.next = (r.next + 1) % ringSize
}

func (r *ring) remove(i int) {
	r.n--
	r.e[i] = r.e[r.n]
	r.next = 0
}

type pendingLine struct {
	due int // written count at which the line is let out
	buf []byte
}

// fileStats counts one file's lines.
type fileStats struct {
	lines, messages, duplicates, waves, invitations, bad, late int
	badKinds                                                   [numBadKinds]int
}

// fileGen writes one partition file. Its state depends only on the world, the seed and the
// file's index, so files can be written in any order or in parallel.
type fileGen struct {
	w        *world
	r        *rand.Rand
	out      *pipeWriter
	n        int // lines the file holds
	badLeft  int
	badNext  int // global index of the next bad line, which selects its kind
	dayStart int64

	chats []int32   // chats this file carries (its partition of the chat space)
	cum   []float64 // cumulative traffic weights of chats
	rings []*ring   // by position in chats, allocated on first message

	written  int
	pending  []pendingLine
	minDue   int
	free     [][]byte
	lastT    int64
	haveT    bool
	lateSpan int

	ev             model.Event
	line, line2    []byte
	tb, ab         []byte
	att            []model.RawJSON
	added, removed []model.Participant
	v              variantEncoder
	st             fileStats
}

func newFileGen(w *world, seed int64, index, files int, dayStart int64, n, badStart, badCount int, out *pipeWriter) *fileGen {
	r := newRand(seed, streamFile+uint64(index))
	g := &fileGen{w: w, r: r, out: out, n: n, badLeft: badCount, badNext: badStart, dayStart: dayStart,
		minDue: int(^uint(0) >> 1), lateSpan: min(20_000, n/4+1)}
	g.v.rng = r
	// Like a log partitioned by chat: each file carries its own share of the chats, so an
	// edit always follows its message in the same file. Tiny worlds share all chats.
	pick := func(c int) bool { return c%files == index }
	if len(w.chats) < files {
		pick = func(int) bool { return true }
	}
	total := 0.0
	for i := range w.chats {
		if pick(i) && len(w.chats[i].senders) > 0 && w.chats[i].weight > 0 {
			total += w.chats[i].weight
			g.chats = append(g.chats, int32(i))
			g.cum = append(g.cum, total)
		}
	}
	if len(g.chats) == 0 { // every chat of this share is empty
		for i := range w.chats {
			if len(w.chats[i].senders) > 0 {
				total += max(w.chats[i].weight, 1e-9)
				g.chats = append(g.chats, int32(i))
				g.cum = append(g.cum, total)
			}
		}
	}
	g.rings = make([]*ring, len(g.chats))
	return g
}

func (g *fileGen) produced() int { return g.written + len(g.pending) }

// run writes the file's n lines. progress, if set, is told how many lines were written
// since its last call.
func (g *fileGen) run(ctx context.Context, progress func(int)) error {
	reported := 0
	for iter := 0; g.written < g.n; iter++ {
		if iter&0x3fff == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			if g.out.Failed() {
				return nil // Close reports the error
			}
			if progress != nil && g.written > reported {
				progress(g.written - reported)
				reported = g.written
			}
		}
		if len(g.pending) > 0 && (g.written >= g.minDue || g.produced() >= g.n) {
			g.release()
			continue
		}
		slots := g.n - g.produced()
		t := g.nextTime()
		if g.badLeft > 0 && g.r.IntN(slots) < g.badLeft {
			g.emit(g.bad(t), false)
			continue
		}
		switch x := g.r.IntN(1000); {
		case x < 30:
			g.st.waves++
			g.emit(g.wave(t), g.late())
		case x < 40:
			g.st.invitations++
			g.emit(g.invitation(t), g.late())
		default:
			g.message(t)
			g.line = g.encode(g.line[:0])
			g.st.messages++
			g.emit(g.line, g.late())
			if slots-2 < g.badLeft {
				break
			}
			switch y := g.r.IntN(1000); {
			case y < 5: // the producer redelivers the line
				g.st.messages++
				g.st.duplicates++
				line := g.line
				if g.r.IntN(7) == 0 { // re-encoded differently: same record, other bytes
					g.line2 = g.v.encode(g.line2[:0], &g.ev)
					line = g.line2
				}
				g.emit(line, g.r.IntN(3) == 0)
			case y < 10 && g.ev.EventType == model.EventEdited:
				// Edited, then deleted within the same millisecond.
				g.ev.EventType = model.EventDeleted
				g.ev.HasContent = g.r.IntN(2) == 0
				g.st.messages++
				g.line = model.AppendJSON(g.line[:0], &g.ev)
				g.emit(g.line, false)
			}
		}
	}
	if progress != nil && g.written > reported {
		progress(g.written - reported)
	}
	return nil
}

// encode writes g.ev canonically, or (one line in twenty) the way the producer sometimes
// does: other key order, extra fields, whitespace, escapes.
func (g *fileGen) encode(dst []byte) []byte {
	if g.r.IntN(20) == 0 {
		return g.v.encode(dst, &g.ev)
	}
	return model.AppendJSON(dst, &g.ev)
}

// late says whether to hold the next line back: it then arrives after lines committed
// later than it, as happens when a producer retries.
func (g *fileGen) late() bool {
	return g.r.IntN(300) == 0 && len(g.pending) < maxPending
}

func (g *fileGen) emit(line []byte, late bool) {
	if !late {
		g.write(line)
		return
	}
	var buf []byte
	if n := len(g.free); n > 0 {
		buf, g.free = g.free[n-1], g.free[:n-1]
	}
	due := g.written + 20 + g.r.IntN(g.lateSpan)
	g.pending = append(g.pending, pendingLine{due: due, buf: append(buf, line...)})
	g.minDue = min(g.minDue, due)
	g.st.late++
}

func (g *fileGen) write(line []byte) {
	g.out.writeLine(line) // a failure stops run and surfaces at Close
	g.written++
}

// release writes the first pending line that is due, or the first one at all when only
// pending lines are left to fill the file.
func (g *fileGen) release() {
	force := g.produced() >= g.n
	for i, p := range g.pending {
		if force || p.due <= g.written {
			g.write(p.buf)
			g.free = append(g.free, p.buf[:0])
			g.pending = slices.Delete(g.pending, i, i+1)
			break
		}
	}
	g.minDue = int(^uint(0) >> 1)
	for _, p := range g.pending {
		g.minDue = min(g.minDue, p.due)
	}
}

// hourWeights shape the day's traffic (UTC): quiet nights, busy office hours.
var hourWeights = [24]float64{3, 2, 2, 2, 2, 3, 5, 8, 11, 13, 13, 12, 11, 12, 13, 13, 12, 10, 8, 6, 5, 4, 4, 3}

var hourCum = func() (c [25]float64) {
	for h, w := range hourWeights {
		c[h+1] = c[h] + w
	}
	return c
}()

// dayOffset maps p in [0,1) to a millisecond of the day through the traffic curve.
func dayOffset(p float64) int64 {
	target := p * hourCum[24]
	h := 0
	for h < 23 && hourCum[h+1] <= target {
		h++
	}
	ms := int64((float64(h) + (target-hourCum[h])/hourWeights[h]) * 3_600_000)
	return min(max(ms, 0), dayMs-1)
}

// nextTime returns the commit time of the next line: the file's lines follow the day's
// traffic curve in order, and about one in forty shares the previous line's millisecond.
func (g *fileGen) nextTime() int64 {
	if g.haveT && g.r.IntN(40) == 0 {
		return g.lastT
	}
	p := (float64(g.produced()) + g.r.Float64()) / float64(g.n)
	t := max(g.dayStart+dayOffset(p), g.lastT)
	g.lastT, g.haveT = t, true
	return t
}

func (g *fileGen) pickChat() int {
	x := g.r.Float64() * g.cum[len(g.cum)-1]
	return min(sort.SearchFloat64s(g.cum, x), len(g.cum)-1)
}

// pickSender favors the first members: in most chats a few people do most of the talking.
func (g *fileGen) pickSender(ch *chat) int32 {
	u := g.r.Float64()
	return ch.senders[int(u*u*float64(len(ch.senders)))]
}

// message fills g.ev with a message event committed at t: 80% sent, 12% edited, 8% deleted.
func (g *fileGen) message(t int64) {
	ci := g.pickChat()
	switch x := g.r.IntN(100); {
	case x < 12:
		if g.change(ci, t, model.EventEdited) {
			return
		}
	case x < 20:
		if g.change(ci, t, model.EventDeleted) {
			return
		}
	}
	g.sent(ci, t, g.pickContentType(), true)
}

func (g *fileGen) sent(ci int, t int64, ct uint8, remember bool) {
	r := g.r
	ch := &g.w.chats[g.chats[ci]]
	s := g.pickSender(ch)
	id := newID(r)
	ts := t
	if r.IntN(7) == 0 { // the client's clock, a little before the commit
		ts -= int64(1 + r.IntN(1500))
	}
	var thread int64
	if rg := g.rings[ci]; rg != nil && rg.n > 0 && r.IntN(5) == 0 {
		p := &rg.e[r.IntN(int(rg.n))]
		thread = p.thread
		if thread == 0 {
			thread = p.ts
		}
		ts = max(ts, thread)
	}
	g.ev = model.Event{
		EventType: model.EventSent, ChatID: ch.id, ThreadTimestamp: thread, Timestamp: ts,
		EventTimestamp: t, MessageID: uuid.UUID(id).String(), Sender: g.w.parts[s],
		ContentType: contentTypes[ct], HasContent: true,
	}
	g.content(ct, ch, s)
	if remember {
		if g.rings[ci] == nil {
			g.rings[ci] = new(ring)
		}
		g.rings[ci].add(msgRef{id: id, ts: ts, thread: thread, sender: s, ct: ct})
	}
}

// change fills g.ev with an edit or delete of an earlier message of chat ci (now and then
// one sent the day before). It reports false when there is nothing to change.
func (g *fileGen) change(ci int, t int64, eventType string) bool {
	r := g.r
	ch := &g.w.chats[g.chats[ci]]
	rg := g.rings[ci]
	pos := -1
	var m msgRef
	if r.IntN(40) == 0 {
		m = msgRef{id: newID(r), ts: g.dayStart - int64(60_000+r.IntN(3*dayMs)), sender: g.pickSender(ch), ct: cText}
	} else {
		if rg == nil || rg.n == 0 {
			return false
		}
		pos = r.IntN(int(rg.n))
		m = rg.e[pos]
		if m.ct == cMembers {
			return false
		}
	}
	if t <= m.ts {
		t = m.ts + 1 + int64(r.IntN(1000))
		if t >= g.dayStart+dayMs {
			return false
		}
	}
	g.ev = model.Event{
		EventType: eventType, ChatID: ch.id, ThreadTimestamp: m.thread, Timestamp: m.ts,
		EventTimestamp: t, MessageID: uuid.UUID(m.id).String(), Sender: g.w.parts[m.sender],
		ContentType: contentTypes[m.ct], HasContent: true,
	}
	if eventType == model.EventDeleted {
		if pos >= 0 {
			rg.remove(pos)
		}
		if r.IntN(3) == 0 {
			g.ev.HasContent = false
			g.ev.Content = model.Content{}
			return true
		}
	}
	g.content(m.ct, ch, m.sender)
	return true
}

// wave is a non-message event: somebody waves at a chat member.
func (g *fileGen) wave(t int64) []byte {
	r := g.r
	ci := g.pickChat()
	ch := &g.w.chats[g.chats[ci]]
	s := g.pickSender(ch)
	g.ev = model.Event{EventType: model.EventSent, ChatID: ch.id, Timestamp: t, EventTimestamp: t,
		MessageID: uuid.UUID(newID(r)).String(), Sender: g.w.parts[s], ContentType: "wave"}
	b := appendEnvelope(g.line[:0], &g.ev)
	b = append(b, `,"content":{"contentType":"wave","waveId":`...)
	b = appendStr(b, uuid.UUID(newID(r)).String())
	b = append(b, `,"to":`...)
	b = appendParticipant(b, &g.w.parts[ch.senders[r.IntN(len(ch.senders))]])
	b = append(b, `,"message":`...)
	b = appendStr(b, waveMessages[r.IntN(len(waveMessages))])
	b = append(b, `,"emoji":"👋","seen":false}}`...)
	g.line = b
	return b
}

// invitation is a non-message event: an invitation to a meeting room.
func (g *fileGen) invitation(t int64) []byte {
	r := g.r
	ci := g.pickChat()
	ch := &g.w.chats[g.chats[ci]]
	s := g.pickSender(ch)
	g.ev = model.Event{EventType: model.EventSent, ChatID: ch.id, Timestamp: t, EventTimestamp: t,
		MessageID: uuid.UUID(newID(r)).String(), Sender: g.w.parts[s], ContentType: "roomInvitation"}
	b := appendEnvelope(g.line[:0], &g.ev)
	b = append(b, `,"content":{"contentType":"roomInvitation","roomId":`...)
	b = appendStr(b, uuid.UUID(newID(r)).String())
	b = append(b, `,"roomName":`...)
	b = appendStr(b, roomNames[r.IntN(len(roomNames))])
	b = append(b, `,"invitees":[`...)
	for i := range 1 + r.IntN(3) {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendParticipant(b, &g.w.parts[ch.senders[r.IntN(len(ch.senders))]])
	}
	b = append(b, `],"expiresAt":`...)
	b = appendInt(b, t+3_600_000)
	b = append(b, `,"settings":{"video":true,"recording":false,"maxParticipants":1.2e1}}}`...)
	g.line = b
	return b
}
