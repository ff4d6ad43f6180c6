package main

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"io"
	"mime/quotedprintable"
	"net/mail"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/chatvault/chatvault/archiver/exporttask"
	"github.com/chatvault/chatvault/archiver/scheduler"
	"github.com/chatvault/chatvault/internal/smtptest"
	"github.com/chatvault/chatvault/model"
)

// TestExportTaskFormatsAndEmail runs html, rsmf and json tasks through serve over HTTP, one
// delivered by URL and one by e-mail through a real SMTP server (STARTTLS, the relay's CA
// from smtp.caFile), and checks both results against the sealed days: the record count of
// every source day, the manifest hashes, and every file of the ZIP.
func TestExportTaskFormatsAndEmail(t *testing.T) {
	cleanEnv(t)
	store := t.TempDir()
	eventlog, orgs := taskArchive(t, store)
	org := orgs[0]
	sealed, records := sealedRange(t, store, org)

	relay := smtptest.Start(t, smtptest.Options{Username: "chatvault", Password: "relay-secret"})
	dir := t.TempDir()
	var ca []byte
	for _, c := range relay.Certificates() {
		ca = append(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c})...)
	}
	writeFile(t, filepath.Join(dir, "ca.pem"), ca)
	writeFile(t, filepath.Join(dir, "smtp.password"), []byte("relay-secret\n"))
	for k, v := range map[string]string{
		"CHATVAULT_AUTH_TOKENSFILE":     filepath.Join(dir, "tokens.json"),
		"CHATVAULT_HTTP_ADDR":           "127.0.0.1:0",
		"CHATVAULT_SCHEDULE_ENABLED":    "false",
		"CHATVAULT_HTTP_TOKENRATE":      "0",
		"CHATVAULT_HTTP_CLIENTRATE":     "0",
		"CHATVAULT_EXPORT_TEMPDIR":      t.TempDir(),
		"CHATVAULT_EXPORTS_BASEURL":     "https://chatvault.acme.example",
		"CHATVAULT_SMTP_HOST":           relay.Host,
		"CHATVAULT_SMTP_PORT":           strconv.Itoa(relay.Port),
		"CHATVAULT_SMTP_FROM":           "chatvault <archive@acme.example>",
		"CHATVAULT_SMTP_USERNAME":       "chatvault",
		"CHATVAULT_SMTP_PASSWORDFILE":   filepath.Join(dir, "smtp.password"),
		"CHATVAULT_SMTP_CAFILE":         filepath.Join(dir, "ca.pem"),
		"CHATVAULT_EXPORTS_CONCURRENCY": "2",
	} {
		t.Setenv(k, v)
	}
	common := []string{"--eventlog", eventlog, "--store", store, "--log-format", "json", "--log-level", "error"}
	tok := mint(t, common, org, "counsel")
	x := startTaskServer(t, common, scheduler.NewFakeClock(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)), nil)
	defer x.stop()

	// toUsers: one of the organization's users, mailed at the directory's address; another
	// organization's user, or one that does not exist, is a 400 naming each.
	b, err := os.ReadFile(filepath.Join(eventlog, "directory.json"))
	if err != nil {
		t.Fatal(err)
	}
	directory, err := model.ParseDirectory(b)
	if err != nil {
		t.Fatal(err)
	}
	var custodian, stranger model.User
	for _, u := range directory.Users {
		if u.OrgID == org && u.Email != "" && custodian.ID == "" {
			custodian = u
		}
		if u.OrgID == orgs[1] && stranger.ID == "" {
			stranger = u
		}
	}
	if custodian.ID == "" || stranger.ID == "" {
		t.Fatalf("the generated directory lacks a user of %s with an e-mail or a user of %s", org, orgs[1])
	}
	resp, refusal := x.do("POST", "/v1/exports/tasks", tok, `{"from":"2026-11-20","to":"2026-11-22","format":"rsmf","delivery":"email",`+
		`"toUsers":["`+custodian.ID+`","`+stranger.ID+`","u-nobody"]}`)
	if resp.StatusCode != 400 || !bytes.Contains(refusal, []byte(`"invalid_request"`)) || !bytes.Contains(refusal, []byte("toUsers")) ||
		!bytes.Contains(refusal, []byte(stranger.ID)) || !bytes.Contains(refusal, []byte("u-nobody")) || bytes.Contains(refusal, []byte(stranger.Email)) {
		t.Fatalf("toUsers with another organization's user and an unknown id: %d %s", resp.StatusCode, refusal)
	}

	html := x.create(tok, `{"from":"2026-11-20","to":"2026-11-22","format":"html"}`)
	production := x.create(tok, `{"from":"2026-11-20","to":"2026-11-22","format":"rsmf","delivery":"email",`+
		`"toEmails":["counsel@lawfirm.example"],"toUsers":["`+custodian.ID+`"],"subject":"Production for matter 42"}`)
	doc := x.create(tok, `{"from":"2026-11-20","to":"2026-11-22","format":"json"}`)
	for range 3 {
		if s := <-x.done; s != exporttask.StateCompleted {
			t.Fatalf("task ended %s", s)
		}
	}

	// html, by URL.
	st := x.status(tok, html)
	body := download(t, x, st, st.URL)
	files := unzip(t, body)
	index := string(files["index.html"])
	for _, sd := range st.SourceDays {
		if !strings.Contains(index, sd.ManifestSHA256) {
			t.Errorf("index.html does not name day %s's manifest %s", sd.Date, sd.ManifestSHA256)
		}
	}
	divs := 0
	for name, b := range files {
		if strings.HasPrefix(name, "chats/") {
			divs += bytes.Count(b, []byte(`<div class="ev `))
		}
	}
	if int64(divs) != records || st.Result.Events != records {
		t.Errorf("html: %d events rendered, status says %d; the sealed days hold %d", divs, st.Result.Events, records)
	}

	// json, by URL: one document any JSON parser reads, with every sealed record.
	jst := x.status(tok, doc)
	zr, err := gzip.NewReader(bytes.NewReader(download(t, x, jst, jst.URL)))
	if err != nil {
		t.Fatal(err)
	}
	var jdoc struct {
		Task         struct{ ID string }
		Organization struct{ ID string }
		Days         []struct {
			Date, ManifestSHA256 string
			Records              []json.RawMessage
		}
		Totals struct{ Records int64 }
	}
	if err := json.NewDecoder(zr).Decode(&jdoc); err != nil {
		t.Fatalf("json result: %v", err)
	}
	var jrecords []byte
	for i, d := range jdoc.Days {
		if sd := jst.SourceDays[i]; d.Date != sd.Date || d.ManifestSHA256 != sd.ManifestSHA256 {
			t.Errorf("json day %s %s, task source day %+v", d.Date, d.ManifestSHA256, sd)
		}
		for _, r := range d.Records {
			e, err := model.Decode(r)
			if err != nil {
				t.Fatal(err)
			}
			jrecords = append(model.AppendJSON(jrecords, &e), '\n')
		}
	}
	if jdoc.Task.ID != doc || jdoc.Organization.ID != org || len(jdoc.Days) != len(taskDays) || jdoc.Totals.Records != records || !bytes.Equal(jrecords, sealed) {
		t.Errorf("json: task %s org %s, %d days, %d records; want %s, %s, %d days and the %d sealed records",
			jdoc.Task.ID, jdoc.Organization.ID, len(jdoc.Days), jdoc.Totals.Records, doc, org, len(taskDays), records)
	}

	// rsmf, by e-mail: the mail carries a link, never data; the link downloads the result.
	msgs, err := relay.Wait(1, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 || !msgs[0].TLS || msgs[0].User != "chatvault" || strings.Join(msgs[0].To, ",") != "counsel@lawfirm.example,"+custodian.Email {
		t.Fatalf("mails %+v; want one to counsel and %s over TLS, authenticated", msgs, custodian.Email)
	}
	m, err := mail.ReadMessage(bytes.NewReader(msgs[0].Data))
	if err != nil {
		t.Fatal(err)
	}
	text, _ := io.ReadAll(quotedprintable.NewReader(m.Body))
	if m.Header.Get("Subject") != "Production for matter 42" {
		t.Errorf("subject %q", m.Header.Get("Subject"))
	}
	link := regexp.MustCompile(`https://chatvault\.acme\.example/\S+`).Find(text)
	if link == nil {
		t.Fatalf("no download link in the mail:\n%s", text)
	}
	for line := range bytes.Lines(sealed) {
		if e, _ := model.Decode(bytes.TrimSpace(line)); len(e.Content.Text) >= 16 && bytes.Contains(text, []byte(e.Content.Text)) {
			t.Fatalf("the mail carries message text %q", e.Content.Text)
		}
	}
	pst := x.status(tok, production)
	if len(pst.EmailedTo) != 2 {
		t.Errorf("status emailedTo %v", pst.EmailedTo)
	}
	files = unzip(t, download(t, x, pst, string(link)))
	var summary struct {
		Days []struct {
			Date           string `json:"date"`
			ManifestSHA256 string `json:"manifestSha256"`
			SealedRecords  int64  `json:"sealedRecords"`
			Selected       int64  `json:"selected"`
		} `json:"sourceDays"`
	}
	if err := json.Unmarshal(files["export.json"], &summary); err != nil {
		t.Fatal(err)
	}
	var n int64
	for i, d := range summary.Days {
		n += d.Selected
		if sd := pst.SourceDays[i]; d.Date != sd.Date || d.ManifestSHA256 != sd.ManifestSHA256 || d.SealedRecords != sd.Records || d.Selected != sd.Selected {
			t.Errorf("export.json day %+v, task source day %+v", d, sd)
		}
	}
	if n != records || pst.Result.Events != records {
		t.Errorf("rsmf: %d records in export.json, status says %d; the sealed days hold %d", n, pst.Result.Events, records)
	}
	rows, err := csv.NewReader(bytes.NewReader(files["loadfile.csv"])).ReadAll()
	if err != nil || len(rows) < 2 {
		t.Fatalf("load file: %v, %d rows", err, len(rows))
	}
	for _, r := range rows[1:] {
		sum := sha256.Sum256(files[r[7]])
		if hex.EncodeToString(sum[:]) != r[6] {
			t.Errorf("load file row %s: SHA-256 %s does not match %s", r[0], r[6], r[7])
		}
		msg, err := mail.ReadMessage(bytes.NewReader(files[r[7]]))
		if err != nil || msg.Header.Get("X-RSMF-Version") != "2.0.0" {
			t.Errorf("%s: %v, X-RSMF-Version %q", r[7], err, msg.Header.Get("X-RSMF-Version"))
		}
	}
	if len(rows)-1 != strings.Count(strings.Join(keys(files), "\n"), ".rsmf") {
		t.Errorf("load file lists %d files; the ZIP holds %v", len(rows)-1, keys(files))
	}
}

func download(t *testing.T, x *taskServer, st *exporttask.Status, link string) []byte {
	t.Helper()
	// exports.baseURL names the public address; the test's server listens on loopback.
	link = strings.Replace(link, "https://chatvault.acme.example", x.url, 1)
	if !strings.HasPrefix(link, x.url+"/") {
		t.Fatalf("link %q does not start with exports.baseURL", link)
	}
	resp, body := x.do("GET", link, "", "")
	sum := sha256.Sum256(body)
	if resp.StatusCode != 200 || hex.EncodeToString(sum[:]) != st.Result.SHA256 || int64(len(body)) != st.Result.Size {
		t.Fatalf("download %s: %d, %d bytes; want %d bytes with SHA-256 %s", st.TaskID, resp.StatusCode, len(body), st.Result.Size, st.Result.SHA256)
	}
	if ct := resp.Header.Get("Content-Type"); ct != st.Result.ContentType || (ct != "application/zip" && ct != "application/gzip") {
		t.Errorf("Content-Type %q", ct)
	}
	return body
}

func unzip(t *testing.T, b []byte) map[string][]byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		files[f.Name], err = io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
	}
	return files
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func writeFile(t *testing.T, name string, b []byte) {
	t.Helper()
	if err := os.WriteFile(name, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
