package main

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"strings"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/audit"
	"github.com/chatvault/chatvault/archiver/exporttask"
	"github.com/chatvault/chatvault/archiver/htmlexport"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/archiver/rsmf"
	"github.com/chatvault/chatvault/model"
	"github.com/spf13/pflag"
)

// exportFormats are the formats of export tasks: each name's encoder constructor.
var exportFormats = map[string]exporttask.NewEncoder{
	"jsonl": exporttask.NewJSONL,
	"json":  exporttask.NewJSON,
	"html": func(w io.Writer, o exporttask.FormatOptions) (exporttask.Encoder, error) {
		return htmlexport.NewWriter(w, htmlexport.Options(o))
	},
	"rsmf": func(w io.Writer, o exporttask.FormatOptions) (exporttask.Encoder, error) {
		return rsmf.NewWriter(w, rsmf.Options(o))
	},
}

func init() {
	register(&command{
		name:    "export-task",
		summary: "export a date range, filtered by chats, senders, custodians, messages, instants or search terms, as a stored task (jsonl, json, html, rsmf)",
		usage:   "--org ID [--from D] [--to D] [--since T] [--until T] [--chat ID]... [--user ID]... [--custodian ID]... [--message ID]... [--term T]... --format jsonl|json|html|rsmf [--attachment-index] [-o FILE]",
		flags: func(fs *pflag.FlagSet) {
			fs.String("org", "", "organization id (required)")
			fs.String("from", "", "first sealed day, YYYY-MM-DD (default: the organization's archival start)")
			fs.String("to", "", "last sealed day, inclusive (default: the organization's last sealed day)")
			fs.String("since", "", "keep only events at or after this RFC 3339 instant")
			fs.String("until", "", "keep only events before this RFC 3339 instant")
			fs.StringArray("chat", nil, "keep only this chat's events (repeatable)")
			fs.StringArray("user", nil, "keep only events this participant sent, joined or left (repeatable)")
			fs.StringArray("custodian", nil, "keep this custodian's events: sent, joined or left, and their chats' events while a member (repeatable)")
			fs.StringArray("message", nil, "keep only this message's events: sent, every edit, the deletion (repeatable)")
			fs.StringArray("term", nil, "keep only records this word or phrase matches; any term (repeatable)")
			fs.String("format", "jsonl", "result format")
			fs.Bool("attachment-index", false, "json, jsonl: the status names each day's attachment index revision; json also lists its entries for the selected records")
			fs.StringP("output", "o", "", "also write the result to FILE (created, never replaced)")
		},
		run: runExportTask,
	})
}

// newEngine makes the export task engine of the configuration over store.
func (e *env) newEngine(ctx context.Context, store archiver.Store, dir func(context.Context) (*model.Directory, error), now func() time.Time) (*exporttask.Engine, error) {
	links, err := e.newLinks()
	if err != nil {
		return nil, err
	}
	// Source days' manifests must be signed by the keys verify trusts (none configured:
	// not required), so that a task never exports a forged day.
	trusted, err := e.servingTrust(ctx, store)
	if err != nil {
		return nil, err
	}
	// completed.json is signed by signing.keyFile and, with trusted keys, a completion not
	// signed by one of them is never served: it names the result's bytes and hash.
	key, err := e.signingKey()
	if err != nil {
		return nil, err
	}
	c := e.cfg.Exports
	eng := &exporttask.Engine{
		TrustedKeys: trusted,
		SigningKey:  key,
		Store:       store,
		Directory:   dir,
		Formats:     exportFormats,
		Links:       links,
		BaseURL:     c.BaseURL,
		Limits:      exporttask.Limits{MaxScanEvents: int64(c.MaxScanEvents), MaxIDs: c.MaxIDs},
		Concurrency: c.Concurrency,
		Retention:   c.Retention,
		TempDir:     e.cfg.Export.TempDir,
		Now:         now,
		Logger:      e.log.With("component", "exports"),
	}
	// Counted in the store over every replica (exports.maxTasksPerOrg).
	eng.MaxTasksPerOrg = c.MaxTasksPerOrg
	// toUsers' addresses: the whole snapshot, read only for a task that names users, and
	// not kept (serve's directory holds only the organizations).
	eng.UserDirectory = func(context.Context) (*model.Directory, error) {
		b, err := e.readDirectory()
		if err != nil {
			return nil, err
		}
		return model.ParseDirectory(b)
	}
	// Without smtp.host the engine has no mailer and refuses "email" tasks with 400 naming
	// delivery; a typed nil would instead fail each task when it tries to send.
	m, err := e.mailer()
	if err != nil {
		return nil, err
	}
	if m != nil {
		eng.Mailer = m
	}
	return eng, nil
}

// runExportTask runs a task in this process, the same as the API would: it is stored
// (tasks/<org>/<id>/…) and audited, so `serve` reports it and hands out links to it.
func runExportTask(ctx context.Context, e *env, fs *pflag.FlagSet) int {
	org, _ := fs.GetString("org")
	out, _ := fs.GetString("output")
	var req exporttask.Request
	req.From, _ = fs.GetString("from")
	req.To, _ = fs.GetString("to")
	req.ChatIDs, _ = fs.GetStringArray("chat")
	req.UserIDs, _ = fs.GetStringArray("user")
	req.Since, _ = fs.GetString("since")
	req.Until, _ = fs.GetString("until")
	req.MessageIDs, _ = fs.GetStringArray("message")
	req.Terms, _ = fs.GetStringArray("term")
	req.CustodianIDs, _ = fs.GetStringArray("custodian")
	req.Format, _ = fs.GetString("format")
	req.AttachmentIndex, _ = fs.GetBool("attachment-index")
	if org == "" {
		return e.fail("export-task", usagef("--org is required"))
	}
	if out != "" {
		if _, err := os.Stat(out); err == nil {
			return e.fail("export-task", usagef("-o %s exists; the result is never written over a file", out))
		}
	}
	store, closeStore, err := e.openStore()
	if err != nil {
		return e.fail("export-task", err)
	}
	defer closeStore()
	// The audit segment and the completion are signed: not by a retired key.
	if _, err := e.signingKeyFor(ctx, store); err != nil {
		return e.fail("export-task", err)
	}
	dirBytes, err := e.readDirectory()
	if err != nil {
		return e.fail("export-task", err)
	}
	dir, err := model.ParseDirectory(dirBytes)
	if err != nil {
		return e.fail("export-task", err)
	}
	if err := checkOrg(ctx, e, store, org, dir, false, "nothing is sealed under that id"); err != nil { // holdorg.go
		return e.fail("export-task", err)
	}
	eng, err := e.newEngine(ctx, store, func(context.Context) (*model.Directory, error) { return dir, nil }, time.Now)
	if err != nil {
		return e.fail("export-task", err)
	}
	// Days deleted from the store are not answered as not sealed yet (verify.witness).
	wf, err := e.openWitness(eng.TrustedKeys)
	if err != nil {
		return e.fail("export-task", err)
	}
	if wf != nil {
		eng.Witnessed = wf.witnessed(store)
	}
	key, err := e.signingKey() // the audit segment is signed like serve's
	if err != nil {
		return e.fail("export-task", err)
	}
	by := "cli"
	if u, err := user.Current(); err == nil {
		by = "cli:" + u.Username
	}
	rec := audit.Record{TokenName: by, Org: org, Date: req.From + ".." + req.To, Client: "local", Action: audit.ActionTaskCreate}
	id, err := eng.Create(ctx, org, by, req)
	rec.TaskID, rec.Time, rec.Status, rec.Complete = id, time.Now(), 202, err == nil
	if err == nil && (req.From == "" || req.To == "") {
		// The audit names the days the task reads: the range the defaults resolved to.
		if st, serr := eng.Status(ctx, org, id); serr == nil {
			rec.Date = st.Request.From + ".." + st.Request.To
		}
	}
	if err != nil {
		rec.Status = 400
	}
	audit := e.newAuditLog(store, key, func() (*model.Directory, error) { return dir, nil }, time.Now)
	if aerr := errors.Join(audit.Append(context.WithoutCancel(ctx), rec), audit.Flush(context.WithoutCancel(ctx))); aerr != nil {
		return e.fail("export-task", aerr)
	}
	var fe *exporttask.FieldError
	var uk *exporttask.UnknownIDsError
	if errors.As(err, &uk) {
		return e.fail("export-task", usagef("%v", uk))
	}
	if errors.As(err, &fe) {
		flag := map[string]string{"chatIds": "chat", "userIds": "user", "custodianIds": "custodian", "messageIds": "message", "terms": "term", "attachmentIndex": "attachment-index"}[fe.Field]
		if flag == "" {
			flag = fe.Field
		}
		return e.fail("export-task", usagef("--%s: %s", flag, fe.Message))
	}
	var wl *exporttask.WorkLimitError
	if errors.As(err, &wl) {
		return e.fail("export-task", usagef("%s", wl.Error()))
	}
	if err != nil {
		return e.fail("export-task", err)
	}
	e.log.Info("export task created", "task", id, "org", org, "from", req.From, "to", req.To, "format", req.Format)
	start := time.Now()
	st, err := eng.Execute(ctx, org, id)
	if err != nil {
		return e.fail("export-task", fmt.Errorf("task %s: %w (it runs again when serve starts)", id, err))
	}
	if st.State != exporttask.StateCompleted {
		return e.fail("export-task", fmt.Errorf("task %s %s: %s", id, st.State, st.Error))
	}
	if out != "" {
		if err := writeResult(ctx, eng, org, id, out, e.createOutput); err != nil {
			return e.fail("export-task", err)
		}
		// -o x.jsonl got gzip bytes under a name that says plain text, which a reader's
		// tools then misread; the file is written all the same (it is the result).
		if ext := st.ResultExtension(); ext != "" && !strings.HasSuffix(strings.ToLower(out), ext) {
			e.log.Warn("export task result saved under a name that does not say what it holds: name it *"+ext,
				"file", out, "format", req.Format, "extension", ext)
		}
	}
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // terms and links as typed: R&D, not R\u0026D
	if err := enc.Encode(st); err != nil {
		return e.fail("export-task", fmt.Errorf("task %s completed and is stored (serve reports it and hands out its links), but its status could not be printed: %w", id, err))
	}
	e.log.Info("export task completed", "task", id, "events", st.Result.Events, "bytes", st.Result.Size, "sha256", st.Result.SHA256, "took", time.Since(start).Round(time.Millisecond))
	if st.NoMatch != "" {
		e.log.Warn("export task result is empty", "task", id, "noMatch", st.NoMatch)
	}
	if len(st.MessageIDsNotFound) > 0 {
		e.log.Warn("export task: messages not found in the range's sealed days", "task", id, "messageIdsNotFound", st.MessageIDsNotFound)
	}
	return exitOK
}

// writeResult copies a task's result to a new file made by create, checking its SHA-256
// on the way.
func writeResult(ctx context.Context, eng *exporttask.Engine, org, id, path string, create func(string) (*output, error)) error {
	st, rc, err := eng.OpenResult(ctx, org, id)
	if err != nil {
		return err
	}
	defer rc.Close()
	f, err := create(path)
	if err != nil {
		return err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), ctxReader{ctx, rc})
	if sum := hex.EncodeToString(h.Sum(nil)); err == nil && (n != st.Result.Size || sum != st.Result.SHA256) {
		err = fmt.Errorf("%s: wrote %d bytes with SHA-256 %s, the result has %d and %s", path, n, sum, st.Result.Size, st.Result.SHA256)
	}
	if err != nil {
		return errors.Join(err, f.abort())
	}
	return f.commit()
}

// servingTrust is the keys a served manifest must be signed by: those verify trusts
// (signing.publicKeyFile, else the public half of signing.keyFile), the public half of
// signing.keyFile in any case (what this process seals it must serve, even when the
// public key file lags behind), and the older keys that the store's rotation statements
// lead from to one of them, so that the days signed before a rotation are still served
// once signing.keyFile names the new key.
func (e *env) servingTrust(ctx context.Context, store archiver.Store) ([]ed25519.PublicKey, error) {
	trusted, err := e.trustedKeys("")
	if err != nil {
		return nil, err
	}
	if e.cfg.Signing.PublicKeyFile != "" {
		key, err := e.signingKey()
		if err != nil {
			return nil, err
		}
		if key != nil {
			trusted = append(trusted, key.Public().(ed25519.PublicKey))
		}
	}
	return ledger.Ledger{Store: store}.RotatedTrust(ctx, trusted)
}
