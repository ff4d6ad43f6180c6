package synth

import (
	"math"
	"strconv"

	"github.com/google/uuid"

	"github.com/chatvault/chatvault/model"
)

// Message content types by small code, as kept in the reservoir.
const (
	cText uint8 = iota
	cEmoji
	cItem
	cSnippet
	cMembers
)

var contentTypes = [...]string{model.ContentText, model.ContentEmoji, model.ContentItem, model.ContentTextSnippet, model.ContentMembersChanged}

// pickContentType: text 84%, emoji 6%, item 4%, textSnippet 4%, membersChanged 2%.
func (g *fileGen) pickContentType() uint8 {
	switch x := g.r.IntN(100); {
	case x < 84:
		return cText
	case x < 90:
		return cEmoji
	case x < 94:
		return cItem
	case x < 98:
		return cSnippet
	}
	return cMembers
}

// content fills g.ev.Content with a fresh body of type ct for a message in ch by sender.
func (g *fileGen) content(ct uint8, ch *chat, sender int32) {
	r := g.r
	c := &g.ev.Content
	*c = model.Content{Type: contentTypes[ct]}
	switch ct {
	case cText:
		c.Text, c.MarkdownText = g.text()
		if r.IntN(12) == 0 {
			c.Attachments = g.att[:0]
			for range 1 + r.IntN(3) {
				c.Attachments = append(c.Attachments, g.attachment())
			}
			g.att = c.Attachments
		}
	case cEmoji:
		e := &emojis[r.IntN(len(emojis))]
		c.Text, c.Colons, c.FileURL = e.text, e.colons, e.fileURL
	case cItem:
		b := append(g.tb[:0], "https://app.chat.example/items/"...)
		b = append(b, uuid.UUID(newID(r)).String()...)
		if r.IntN(4) == 0 {
			b = append(b, "?view=board&lang=is#c-"...)
			b = strconv.AppendInt(b, int64(r.IntN(1000)), 10)
		}
		g.tb = b
		c.ItemURL, c.ItemType = string(b), itemTypes[r.IntN(len(itemTypes))]
	case cSnippet:
		s := &snippets[r.IntN(len(snippets))]
		c.Language = s.language
		if r.IntN(2) == 0 {
			c.Text = s.code
		} else {
			b := append(g.tb[:0], s.code...)
			b = append(b, snippetComments[r.IntN(len(snippetComments))]...)
			b = strconv.AppendInt(b, int64(r.IntN(100000)), 10)
			g.tb = b
			c.Text = string(b)
		}
	case cMembers:
		g.membersChanged(c, ch, sender)
	}
}

// membersChanged adds colleagues of the sender (or guests) and sometimes removes members.
func (g *fileGen) membersChanged(c *model.Content, ch *chat, sender int32) {
	r := g.r
	c.Added, c.Removed = g.added[:0], g.removed[:0]
	if org := g.w.partOrg[sender]; org >= 0 && len(g.w.orgUsers[org]) > 0 && r.IntN(4) != 0 {
		us := g.w.orgUsers[org]
		for range 1 + r.IntN(2) {
			c.Added = append(c.Added, g.w.parts[us[r.IntN(len(us))]])
		}
	}
	if len(c.Added) == 0 || r.IntN(3) == 0 {
		c.Removed = append(c.Removed, g.w.parts[ch.senders[r.IntN(len(ch.senders))]])
	}
	g.added, g.removed = c.Added, c.Removed
}

// text returns a message text and its markdown. Lengths are log-normal (median about 25
// bytes, a long tail to 4 KB) with a rare 20-50 KB paste.
func (g *fileGen) text() (text, markdown string) {
	r := g.r
	if r.IntN(3000) == 0 {
		s := string(g.paste())
		return s, "```\n" + s + "\n```"
	}
	target := min(max(int(math.Exp(3.2+1.0*r.NormFloat64())), 1), 4000)
	loc := pickLocale(r.IntN(localeTotal))
	b := g.tb[:0]
	for len(b) < target {
		if len(b) > 0 {
			switch x := r.IntN(100); {
			case x < 3:
				b = append(b, ',', ' ')
			case x < 5:
				b = append(b, '.', ' ')
			case x < 6:
				b = append(b, '\n')
			default:
				b = append(b, ' ')
			}
		}
		switch x := r.IntN(200); {
		case x < 3:
			b = append(b, specials[r.IntN(len(specials))]...)
		case x < 9:
			b = append(b, emojiWords[r.IntN(len(emojiWords))]...)
		case x < 10:
			b = append(b, mentions[r.IntN(len(mentions))]...)
		default:
			b = append(b, loc.words[r.IntN(len(loc.words))]...)
		}
	}
	switch r.IntN(8) {
	case 0:
		b = append(b, '.')
	case 1:
		b = append(b, '?')
	case 2:
		b = append(b, '!')
	}
	g.tb = b
	text = string(b)
	switch r.IntN(14) {
	case 0:
		return text, "**" + text + "**"
	case 1:
		return text, "> " + text
	case 2:
		w := mdWraps[r.IntN(len(mdWraps))]
		return text, w[0] + text + w[1]
	}
	return text, text
}

var localeTotal = func() int {
	n := 0
	for _, l := range locales {
		n += l.weight
	}
	return n
}()

func pickLocale(x int) *locale {
	for i := range locales {
		if x < locales[i].weight {
			return &locales[i]
		}
		x -= locales[i].weight
	}
	return &locales[0]
}

// paste is a large log excerpt somebody pasted into the chat.
func (g *fileGen) paste() []byte {
	r := g.r
	target := 20_000 + r.IntN(30_000)
	b := g.tb[:0]
	for len(b) < target {
		l := &pasteLines[r.IntN(len(pasteLines))]
		b = append(b, l[0]...)
		b = strconv.AppendInt(b, int64(r.IntN(64)), 10)
		b = append(b, l[1]...)
	}
	g.tb = b
	return b
}

// attachment returns one attachment object, compact (as the archiver keeps it).
func (g *fileGen) attachment() model.RawJSON {
	r := g.r
	b := g.ab[:0]
	switch r.IntN(6) {
	case 0, 1:
		i := r.IntN(len(attachmentFileNames))
		id := uuid.UUID(newID(r)).String()
		b = append(b, `{"type":"file","id":"`...)
		b = append(b, id...)
		b = append(b, `","name":`...)
		b = appendStr(b, attachmentFileNames[i])
		b = append(b, `,"size":`...)
		b = strconv.AppendInt(b, int64(1+r.IntN(50_000_000)), 10)
		b = append(b, `,"mimeType":`...)
		b = appendStr(b, attachmentMIME[i])
		b = append(b, `,"url":"https://files.chat.example/f/`...)
		b = append(b, id...)
		b = append(b, `","thumbnail":null,"meta":{"pages":`...)
		b = strconv.AppendInt(b, int64(1+r.IntN(300)), 10)
		b = append(b, `,"scale":1.5e3,"ratio":0.75,"signed":false}}`...)
	case 2:
		n := int64(r.IntN(1_000_000))
		b = append(b, `{"url":"https://news.example.com/a/`...)
		b = strconv.AppendInt(b, n, 10)
		b = append(b, `?utm_source=chat&x=%C3%A9","title":`...)
		b = appendStr(b, linkTitles[r.IntN(len(linkTitles))])
		b = append(b, `,"image":{"width":1200,"height":630,"url":"https://news.example.com/i/`...)
		b = strconv.AppendInt(b, n, 10)
		b = append(b, `.jpg"},"siteName":"Example News","type":"link"}`...)
	default:
		b = append(b, attachmentRaw[r.IntN(len(attachmentRaw))]...)
	}
	g.ab = b
	return model.RawJSON(b)
}
