package htmlexport

import (
	"archive/zip"
	"context"
	"encoding/json"
	"fmt"
	"github.com/chatvault/chatvault/archiver/exporttask"
	"io"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/chatvault/chatvault/model"
)

// fmtMS is how a page shows an epoch-ms time: RFC 3339 in UTC with milliseconds, the
// records' precision (exporttask.RFC3339Millis). It is clamped to the last time RFC 3339 writes, 9999-12-31T23:59:59.999Z, as every
// format's times are (exporttask.FormatMillis); the epoch value beside it is the record's.
func fmtMS(ms int64) string { return exporttask.FormatMillis(ms) }

// instant is an event's time as a page shows it: RFC 3339, and beside it the record's
// epoch milliseconds, so that a reader can find the record the line came from.
type instant struct {
	RFC3339 string
	MS      int64
}

func at(ms int64) instant { return instant{RFC3339: fmtMS(ms), MS: ms} }

// renderer turns the sorted records into pages, one chat at a time.
type renderer struct {
	w    *Writer
	body *tempFile // the current chat's rendered events
	toc  *tempFile // the table of contents' rows
	// files are the captured files the pages link to, by their name under files/.
	files map[string]linkOutcome
	names map[string]string // a file's SHA-256 → its name in files

	chats int
	chat  *chatState
}

type chatState struct {
	rawID       string // as the records hold it
	id          string // as the pages show it
	file        string
	events      int
	first, last int64
	people      []personView
	seen        map[string]bool
	days        []bool // which source days contributed

	root       int64 // the current thread's timestamp
	rootSent   bool  // the thread's parent is in the export
	msgTS      int64 // the current message
	msgID      string
	msgSent    bool
	anchorLast int64
}

func newRenderer(w *Writer) (*renderer, error) {
	body, err := newTempFile(w.opt.TempDir, "chatvault-html-chat-*")
	if err != nil {
		return nil, fmt.Errorf("create temporary file: %w", err)
	}
	toc, err := newTempFile(w.opt.TempDir, "chatvault-html-toc-*")
	if err != nil {
		body.f.Close()
		return nil, fmt.Errorf("create temporary file: %w", err)
	}
	return &renderer{w: w, body: body, toc: toc, files: map[string]linkOutcome{}, names: map[string]string{}}, nil
}

func (r *renderer) cleanup() {
	r.body.f.Close()
	r.toc.f.Close()
}

func (r *renderer) event(day int, e *model.Event, outs []linkOutcome) error {
	if r.chat == nil || r.chat.rawID != e.ChatID {
		if err := r.finishChat(); err != nil {
			return err
		}
		r.chats++
		r.chat = &chatState{rawID: e.ChatID, id: visible(e.ChatID), file: fmt.Sprintf("chats/%05d.html", r.chats), first: e.Timestamp,
			seen: map[string]bool{}, days: make([]bool, len(r.w.days)), root: -1, anchorLast: -1}
		if err := r.body.reset(); err != nil {
			return err
		}
	}
	c := r.chat
	c.events++
	if day < len(c.days) {
		c.days[day] = true
	}
	c.first = min(c.first, e.Timestamp)
	c.last = max(c.last, e.Timestamp, e.EventTimestamp)

	root := e.Timestamp
	if e.ThreadTimestamp != 0 {
		root = e.ThreadTimestamp
	}
	if root != c.root {
		c.root, c.rootSent = root, false
	}
	if e.Timestamp != c.msgTS || e.MessageID != c.msgID {
		c.msgTS, c.msgID, c.msgSent = e.Timestamp, e.MessageID, false
	}

	v := eventView{
		Time:       at(e.Timestamp),
		EventTime:  at(e.EventTimestamp),
		Sender:     r.person(&e.Sender),
		Reply:      e.ThreadTimestamp != 0 && e.ThreadTimestamp != e.Timestamp,
		ParentTime: at(e.ThreadTimestamp),
		Content:    contentOf(e),
	}
	r.localize(&v.Content, e, outs)
	if e.HasContent && e.Content.Type == model.ContentMembersChanged {
		for i := range e.Content.Added {
			r.person(&e.Content.Added[i])
		}
		for i := range e.Content.Removed {
			r.person(&e.Content.Removed[i])
		}
	}
	if v.Reply {
		v.ParentHref = fmt.Sprintf("#t%d", e.ThreadTimestamp)
		v.ParentInExport = c.rootSent
	}
	switch e.EventType {
	case model.EventSent:
		v.Kind = "message"
		if e.ContentType == model.ContentMembersChanged {
			v.Kind = "members"
		}
		if !v.Reply && e.Timestamp != c.anchorLast {
			// The first message sent at a time is the anchor its thread replies link to.
			v.Anchor = fmt.Sprintf("t%d", e.Timestamp)
			c.anchorLast = e.Timestamp
		}
		if !v.Reply {
			c.rootSent = true
		}
		c.msgSent = true
	case model.EventEdited:
		v.Kind, v.Edit = "edit", true
		v.OriginalInExport = c.msgSent
	case model.EventDeleted:
		v.Kind, v.Deleted = "deleted", true
		v.OriginalInExport = c.msgSent
	default:
		v.Kind = e.EventType
	}
	return eventTmpl.Execute(r.body.w, v)
}

// person records a participant of the current chat and returns how to show them.
func (r *renderer) person(p *model.Participant) personView {
	v := personView{Name: visible(name(p)), ID: visible(p.ID), Type: p.Type}
	switch p.Type {
	case model.ParticipantEmail:
		v.Detail = visible(p.Email)
	case model.ParticipantBot:
		v.Detail = visible("bot " + p.BotCode)
		if p.IntegrationID != "" {
			v.Detail += visible(", integration " + p.IntegrationID)
		}
	case model.ParticipantOccupant:
		v.Detail = "guest"
	}
	if c := r.chat; !c.seen[p.ID] {
		c.seen[p.ID] = true
		c.people = append(c.people, v)
	}
	return v
}

func (r *renderer) header() headerView {
	h := headerView{Org: visible(r.w.opt.Org), OrgName: visible(r.w.opt.OrgName), TaskID: visible(r.w.opt.TaskID),
		AsOf: r.w.asOf.UTC().Format(time.RFC3339), Days: r.w.days}
	if h.OrgName == "" {
		h.OrgName = h.Org
	}
	if n := len(r.w.days); n > 0 {
		h.From, h.To = r.w.days[0].Date, r.w.days[n-1].Date
	}
	return h
}

// finishChat writes the current chat's page: header and participants, which are known
// only now, then the events rendered so far.
func (r *renderer) finishChat() error {
	c := r.chat
	if c == nil {
		return nil
	}
	r.chat = nil
	page := chatPage{headerView: r.header(), Chat: c.id, Events: c.events, People: c.people,
		First: fmtMS(c.first), Last: fmtMS(c.last)}
	for i, used := range c.days {
		if used {
			page.ChatDays = append(page.ChatDays, r.w.days[i])
		}
	}
	zf, err := r.w.zw.CreateHeader(zipHeader(c.file, r.w.asOf))
	if err != nil {
		return err
	}
	if err := chatStartTmpl.Execute(zf, page); err != nil {
		return err
	}
	if err := r.body.copyTo(zf); err != nil {
		return fmt.Errorf("copy chat %s: %w", c.id, err)
	}
	if err := pageEndTmpl.Execute(zf, nil); err != nil {
		return err
	}
	return tocRowTmpl.Execute(r.toc.w, tocRow{File: c.file, Chat: c.id, Events: c.events, People: len(c.people),
		First: page.First, Last: page.Last})
}

func (r *renderer) index() error {
	zf, err := r.w.zw.CreateHeader(zipHeader("index.html", r.w.asOf))
	if err != nil {
		return err
	}
	h := r.header()
	if err := indexStartTmpl.Execute(zf, indexPage{headerView: h, Chats: r.chats, Summary: r.w.summary}); err != nil {
		return err
	}
	if err := r.toc.copyTo(zf); err != nil {
		return fmt.Errorf("copy table of contents: %w", err)
	}
	return indexEndTmpl.Execute(zf, nil)
}

type headerView struct {
	Org, OrgName, TaskID, AsOf, From, To string
	Days                                 []sourceDay
}

type chatPage struct {
	headerView
	Chat        string
	Events      int
	People      []personView
	First, Last string
	ChatDays    []sourceDay
}

type indexPage struct {
	headerView
	Chats int
	exporttask.Summary
}

type tocRow struct {
	File, Chat     string
	Events, People int
	First, Last    string
}

type personView struct{ Name, ID, Type, Detail string }

type eventView struct {
	Kind             string
	Anchor           string
	Time             instant
	EventTime        instant
	Sender           personView
	Reply            bool
	ParentHref       string
	ParentTime       instant
	ParentInExport   bool
	Edit, Deleted    bool
	OriginalInExport bool
	Content          contentView
}

type contentView struct {
	Type        string
	Has         bool
	Text        string
	Markdown    string
	Attachments []attachmentView
	Colons      string
	File        linkView
	Item        linkView
	ItemType    string
	Language    string
	Added       []string
	Removed     []string
}

// linkView is a URL shown as a link only when it is http or https; anything else
// (javascript:, data:, relative paths) is shown as text.
// A link whose file was captured (Local) points to the copy in the export's files/ folder
// instead; one that was not says why (NotCaptured).
//
// A captured one also notes the URL that served it after a redirect (ServedFrom) and the
// encoding its host served it with (Encoding): the copy is kept encoded, as hashed.
type linkView struct {
	URL, Href   string
	Local       bool
	NotCaptured string
	ServedFrom  string
	Encoding    string
}

type attachmentView struct {
	Name string
	Link linkView
	Raw  string
}

func link(u string) linkView {
	l := linkView{URL: visible(u)}
	if p, err := url.Parse(u); err == nil && (strings.EqualFold(p.Scheme, "http") || strings.EqualFold(p.Scheme, "https")) && p.Host != "" {
		l.Href = u
	}
	return l
}

func contentOf(e *model.Event) contentView {
	if !e.HasContent {
		return contentView{Type: e.ContentType}
	}
	c := &e.Content
	v := contentView{Type: c.Type, Has: true, Text: visible(c.Text), Colons: visible(c.Colons), ItemType: visible(c.ItemType),
		Language: visible(c.Language)}
	if c.MarkdownText != c.Text {
		v.Markdown = visible(c.MarkdownText)
	}
	if c.FileURL != "" {
		v.File = link(c.FileURL)
	}
	if c.ItemURL != "" {
		v.Item = link(c.ItemURL)
	}
	for _, a := range c.Attachments {
		v.Attachments = append(v.Attachments, attachment(a))
	}
	for i := range c.Added {
		v.Added = append(v.Added, visible(name(&c.Added[i])))
	}
	for i := range c.Removed {
		v.Removed = append(v.Removed, visible(name(&c.Removed[i])))
	}
	return v
}

func name(p *model.Participant) string {
	if p.DisplayName != "" {
		return p.DisplayName
	}
	return p.ID
}

// attachment shows an attachment's name and URL when the platform's object has them
// under a usual key; the object itself is always shown verbatim too.
func attachment(raw model.RawJSON) attachmentView {
	v := attachmentView{Raw: visible(string(raw))}
	var obj map[string]any
	if json.Unmarshal([]byte(raw), &obj) != nil {
		return v
	}
	// Search terms look for an attachment's name and link under these same keys
	// (exporttask's attachmentNames and attachmentURLs): keep the lists in step.
	for _, k := range []string{"name", "title", "fileName", "filename"} {
		if s, ok := obj[k].(string); ok && s != "" {
			v.Name = visible(s)
			break
		}
	}
	for _, k := range []string{"url", "fileUrl", "downloadUrl", "href"} {
		if s, ok := obj[k].(string); ok && s != "" {
			v.Link = link(s)
			break
		}
	}
	if v.Name == "" {
		v.Name = v.Link.URL
	}
	return v
}

// localize points the links whose files were captured to their copies, and marks the
// others not captured, as outs (the day's attachment index) says.
func (r *renderer) localize(v *contentView, e *model.Event, outs []linkOutcome) {
	if len(outs) == 0 {
		return
	}
	for _, l := range exporttask.EventLinks(e) {
		var lv *linkView
		switch {
		case l.Index >= 0 && l.Index < len(v.Attachments):
			lv = &v.Attachments[l.Index].Link
		case l.Field == "content.itemUrl":
			lv = &v.Item
		case l.Field == "content.fileUrl":
			lv = &v.File
		default:
			continue
		}
		for _, o := range outs {
			if o.Field != l.Field {
				continue
			}
			if o.Name != "" {
				// Each file once, under the name its first link gave it.
				if name, ok := r.names[o.Sum]; ok {
					o.Name = name
				} else {
					r.names[o.Sum] = o.Name
					r.files[o.Name] = o
				}
				// Chat pages are in chats/, the files in files/.
				lv.Href, lv.Local = "../"+filesDir+o.Name, true
				lv.ServedFrom, lv.Encoding = visible(o.ServedFrom), visible(o.Encoding)
			} else {
				lv.NotCaptured = visible(o.Reason)
			}
			break
		}
	}
}

// filesDir is the export's folder of captured files.
const filesDir = "files/"

// writeFiles adds the captured files the pages link to, in name order, streamed from the
// store and checked against their SHA-256 as they are copied.
func (r *renderer) writeFiles(ctx context.Context) error {
	names := make([]string, 0, len(r.files))
	for n := range r.files {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		o := r.files[n]
		h := zipHeader(filesDir+n, r.w.asOf)
		h.Method = zip.Store // mostly compressed already: images, PDFs, office documents
		zf, err := r.w.zw.CreateHeader(h)
		if err != nil {
			return err
		}
		rc, err := r.w.opt.Attachments.Open(ctx, o.Sum, o.Size)
		if err != nil {
			return err
		}
		_, err = io.Copy(zf, rc)
		rc.Close()
		if err != nil {
			return err
		}
	}
	return nil
}
