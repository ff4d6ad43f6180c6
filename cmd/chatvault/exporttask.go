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
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/exporttask"
	"github.com/chatvault/chatvault/archiver/htmlexport"
	"github.com/chatvault/chatvault/archiver/rsmf"
	"github.com/chatvault/chatvault/model"
	"github.com/spf13/pflag"
)

// exportFormats are the formats of export tasks: each name's encoder constructor.
var exportFormats = map[string]exporttask.NewEncoder{
	"jsonl": exporttask.NewJSONL,
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
		summary: "export a date range, filtered by chats, senders or custodians, as a stored task (jsonl, html, rsmf)",
		usage:   "--org ID --from D --to D [--chat ID]... [--user ID]... [--custodian ID]... --format jsonl|html|rsmf [-o FILE]",
		flags: func(fs *pflag.FlagSet) {
			fs.String("org", "", "organization id (required)")
			fs.String("from", "", "first sealed day, YYYY-MM-DD (required)")
			fs.String("to", "", "last sealed day, inclusive (required)")
			fs.StringArray("chat", nil, "keep only this chat's events (repeatable)")
			fs.StringArray("user", nil, "keep only events this participant sent, joined or left (repeatable)")
			fs.StringArray("custodian", nil, "keep this custodian's events: sent, joined or left, and their chats' events while a member (repeatable)")
			fs.String("format", "jsonl", "result format")
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
		Limits:      exporttask.Limits{MaxRangeDays: c.MaxRangeDays, MaxIDs: c.MaxIDs},
		Concurrency: c.Concurrency,
		Retention:   c.Retention,
		TempDir:     e.cfg.Export.TempDir,
		Now:         now,
		Logger:      e.log.With("component", "exports"),
	}
	// Counted in the store over every replica (exports.maxTasksPerOrg).
	eng.MaxTasksPerOrg = c.MaxTasksPerOrg
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
	req.CustodianIDs, _ = fs.GetStringArray("custodian")
	req.Format, _ = fs.GetString("format")
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
	dirBytes, err := e.readDirectory()
	if err != nil {
		return e.fail("export-task", err)
	}
	dir, err := model.ParseDirectory(dirBytes)
	if err != nil {
		return e.fail("export-task", err)
	}
	eng, err := e.newEngine(ctx, store, func(context.Context) (*model.Directory, error) { return dir, nil }, time.Now)
	if err != nil {
		return e.fail("export-task", err)
	}
	key, err := e.signingKey() // the audit segment is signed like serve's
	if err != nil {
		return e.fail("export-task", err)
	}
	by := "cli"
	if u, err := user.Current(); err == nil {
		by = "cli:" + u.Username
	}
	rec := archiver.AccessRecord{TokenName: by, Org: org, Date: req.From + ".." + req.To, Client: "local", Action: archiver.ActionTaskCreate}
	id, err := eng.Create(ctx, org, by, req)
	rec.TaskID, rec.Time, rec.Status, rec.Complete = id, time.Now(), 202, err == nil
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
		flag := map[string]string{"chatIds": "chat", "userIds": "user", "custodianIds": "custodian"}[fe.Field]
		if flag == "" {
			flag = fe.Field
		}
		return e.fail("export-task", usagef("--%s: %s", flag, fe.Message))
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
	}
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(st); err != nil {
		return e.fail("export-task", err)
	}
	e.log.Info("export task completed", "task", id, "events", st.Result.Events, "bytes", st.Result.Size, "sha256", st.Result.SHA256, "took", time.Since(start).Round(time.Millisecond))
	return exitOK
}

// writeResult copies a task's result to a new file made by create, checking its SHA-256
// on the way.
func writeResult(ctx context.Context, eng *exporttask.Engine, org, id, path string, create func(string) (*os.File, error)) error {
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
	n, err := io.Copy(io.MultiWriter(f, h), rc)
	if sum := hex.EncodeToString(h.Sum(nil)); err == nil && (n != st.Result.Size || sum != st.Result.SHA256) {
		err = fmt.Errorf("%s: wrote %d bytes with SHA-256 %s, the result has %d and %s", path, n, sum, st.Result.Size, st.Result.SHA256)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
	}
	return err
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
	return archiver.Ledger{Store: store}.RotatedTrust(ctx, trusted)
}
