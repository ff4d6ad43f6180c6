package htmlexport

import (
	"archive/zip"
	"html/template"
	"time"
)

func zipHeader(name string, t time.Time) *zip.FileHeader {
	return &zip.FileHeader{Name: name, Method: zip.Deflate, Modified: t}
}

// The page is cut into pieces executed separately (start, one piece per event, end), so
// that a chat of any length streams; each piece begins and ends in HTML text, so
// html/template's contextual escaping holds across the cuts.

// csp forbids scripts, frames, forms and every fetch: the page needs only its inline style.
const csp = `default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'`

const style = `
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:60rem;padding:1rem 1.5rem;color:#1b1f24;background:#fff}
h1{font-size:1.4rem;margin:.2rem 0}h2{font-size:1.1rem;margin:1.5rem 0 .5rem;border-bottom:1px solid #d0d7de}
table{border-collapse:collapse;font-size:.9rem}td,th{border:1px solid #d0d7de;padding:.2rem .5rem;text-align:left;vertical-align:top}
.meta,.note{color:#57606a;font-size:.85rem}.hash{font-family:ui-monospace,monospace;font-size:.8rem;word-break:break-all}
.ev{border-left:3px solid #d0d7de;margin:.6rem 0;padding:.3rem .7rem}
.ev.reply{margin-left:2.5rem;border-left-color:#8c959f}
.ev.edit{border-left-color:#bf8700;background:#fff8c5}.ev.deleted{border-left-color:#cf222e;background:#ffebe9}
.ev.members{border-left-color:#0969da;background:#ddf4ff}
.badge{display:inline-block;font-size:.75rem;font-weight:600;border-radius:1em;padding:0 .5em;margin-left:.3em;background:#eaeef2}
.sender{font-weight:600}.epoch{color:#57606a;font-size:.8em}.text{white-space:pre-wrap;overflow-wrap:anywhere;margin:.2rem 0}
pre{background:#f6f8fa;padding:.5rem;overflow:auto}details{font-size:.8rem}code{overflow-wrap:anywhere}
del{color:#57606a}
`

var pageHead = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="` + csp + `">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>` + style + `</style>
`

const exportFacts = `<p class="meta">Organization <strong>{{.OrgName}}</strong> ({{.Org}}) · export task {{.TaskID}} · days {{.From}} to {{.To}} (UTC) as sealed by {{.AsOf}} · exported by chatvault from sealed, hashed days</p>
`

var chatStartTmpl = template.Must(template.New("chat").Parse(pageHead + `<title>Chat {{.Chat}} · {{.OrgName}} · chatvault export</title>
</head>
<body>
<p class="meta"><a href="../index.html">All chats</a></p>
<h1>Chat {{.Chat}}</h1>
` + exportFacts + `<p class="meta">{{.Events}} events, {{.First}} to {{.Last}}. Times are RFC 3339 in UTC; the number after an event's time is the record's epoch milliseconds (<code>timestamp</code>, or <code>eventTimestamp</code> for an edit or deletion).</p>
<h2>Source days</h2>
<table><tr><th>Day</th><th>Revision</th><th>Manifest SHA-256</th></tr>
{{range .ChatDays}}<tr><td>{{.Date}}</td><td>{{.Revision}}</td><td class="hash">{{.SHA256}}</td></tr>
{{end}}</table>
<h2>Participants</h2>
<table><tr><th>Name</th><th>Type</th><th>Email / details</th><th>ID</th></tr>
{{range .People}}<tr><td>{{.Name}}</td><td>{{.Type}}</td><td>{{.Detail}}</td><td class="hash">{{.ID}}</td></tr>
{{end}}</table>
<h2>Transcript</h2>
<main>
`))

var eventTmpl = template.Must(template.New("event").Parse(`{{define "at"}}<time datetime="{{.RFC3339}}">{{.RFC3339}}</time> <span class="epoch">({{.MS}})</span>{{end -}}
{{define "cap"}}{{if .Local}} <span class="note">(captured copy, in this export; from {{.URL}}{{with .ServedFrom}}, which redirected to {{.}}{{end}}{{with .Encoding}}; kept {{.}}-encoded as the host served it: decompress the file to read it{{end}})</span>{{else if .NotCaptured}} <span class="note">(not captured: {{.NotCaptured}}; the link is to the original)</span>{{end}}{{end -}}
<div class="ev {{.Kind}}{{if .Reply}} reply{{end}}"{{if .Anchor}} id="{{.Anchor}}"{{end}}>
<div class="meta">{{template "at" .Time}} <span class="sender">{{.Sender.Name}}</span>{{with .Sender.Detail}} ({{.}}){{end}}
{{- if .Reply}} <span class="badge">reply</span> in the thread of {{if .ParentInExport}}<a href="{{.ParentHref}}">the message of {{.ParentTime.RFC3339}}</a>{{else}}the message of {{.ParentTime.RFC3339}} (not in this export){{end}}{{end}}
{{- if .Edit}} <span class="badge">edited</span> at {{template "at" .EventTime}}: new version of {{if .OriginalInExport}}the message above{{else}}a message sent {{.Time.RFC3339}} (original not shown above){{end}}{{end}}
{{- if .Deleted}} <span class="badge">deleted</span> at {{template "at" .EventTime}}{{if not .OriginalInExport}} (a message sent {{.Time.RFC3339}}; original not shown above){{end}}{{end}}</div>
{{- with .Content}}{{if .Has}}{{if $.Deleted}}<del>{{end}}
{{- if eq .Type "text"}}<p class="text">{{.Text}}</p>{{with .Markdown}}<details><summary>Markdown</summary><pre>{{.}}</pre></details>{{end}}
{{- if .Attachments}}<ul class="attachments">{{range .Attachments}}<li>Attachment: {{if .Link.Href}}<a href="{{.Link.Href}}" rel="noopener noreferrer">{{.Name}}</a>{{else}}{{.Name}}{{with .Link.URL}} ({{.}}){{end}}{{end}}{{template "cap" .Link}} <details><summary>as archived</summary><code>{{.Raw}}</code></details></li>{{end}}</ul>{{end}}
{{- else if eq .Type "emoji"}}<p class="text">{{.Text}} <code>{{.Colons}}</code>{{with .File}}{{if .URL}} {{if .Href}}<a href="{{.Href}}" rel="noopener noreferrer">image</a>{{else}}({{.URL}}){{end}}{{template "cap" .}}{{end}}{{end}}</p>
{{- else if eq .Type "item"}}<p class="text">Item ({{.ItemType}}): {{if .Item.Href}}<a href="{{.Item.Href}}" rel="noopener noreferrer">{{.Item.URL}}</a>{{else}}{{.Item.URL}}{{end}}{{template "cap" .Item}}</p>
{{- else if eq .Type "textSnippet"}}<p class="meta">Snippet ({{.Language}})</p><pre><code>{{.Text}}</code></pre>
{{- else if eq .Type "membersChanged"}}<p class="text">{{with .Added}}Added: {{range $i, $n := .}}{{if $i}}, {{end}}{{$n}}{{end}}.{{end}}{{with .Removed}} Removed: {{range $i, $n := .}}{{if $i}}, {{end}}{{$n}}{{end}}.{{end}}</p>
{{- end}}{{if $.Deleted}}</del>{{end}}{{else if $.Deleted}}<p class="note">(content not kept with the deletion)</p>{{end}}{{end}}
</div>
`))

var pageEndTmpl = template.Must(template.New("end").Parse(`</main>
</body>
</html>
`))

var indexStartTmpl = template.Must(template.New("index").Parse(pageHead + `<title>{{.OrgName}} · chat export {{.From}} to {{.To}} · chatvault</title>
</head>
<body>
<h1>Chat export for {{.OrgName}}</h1>
` + exportFacts + `{{if .NoMatch}}<p class="nomatch"><strong>{{.NoMatch}}</strong></p>
{{end}}{{if .TermReport}}<h2>Search term report</h2>
<p class="note">Per term, among the records the other filters kept: the records it matched, their chats and custodians (senders), and the records it alone matched.</p>
<table><tr><th>Term</th><th>Records</th><th>Chats</th><th>Custodians</th><th>Unique records</th></tr>
{{range .TermReport}}<tr><td>{{.Term}}</td><td>{{.Records}}</td><td>{{.Chats}}</td><td>{{.Custodians}}</td><td>{{.Unique}}</td></tr>
{{end}}</table>
{{end}}<h2>Source days</h2>
<p class="note">Each day was sealed by chatvault; its manifest's SHA-256 identifies the exact records this export was made from (<code>chatvault verify</code>).</p>
<table><tr><th>Day</th><th>Revision</th><th>Sealed records</th><th>Selected</th><th>Manifest SHA-256</th></tr>
{{range .Days}}<tr><td>{{.Date}}</td><td>{{.Revision}}</td><td>{{.Sealed}}</td><td>{{.Records}}</td><td class="hash">{{.SHA256}}</td></tr>
{{end}}</table>
<h2>Chats ({{.Chats}})</h2>
<table><tr><th>Chat</th><th>Events</th><th>Participants</th><th>First (UTC)</th><th>Last (UTC)</th></tr>
`))

var tocRowTmpl = template.Must(template.New("toc").Parse(`<tr><td><a href="{{.File}}">{{.Chat}}</a></td><td>{{.Events}}</td><td>{{.People}}</td><td>{{.First}}</td><td>{{.Last}}</td></tr>
`))

var indexEndTmpl = template.Must(template.New("indexEnd").Parse(`</table>
</body>
</html>
`))
