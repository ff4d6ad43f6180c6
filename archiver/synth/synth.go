package synth

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/klauspost/compress/gzip"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/internal/crashpoint"
	"github.com/chatvault/chatvault/model"
)

// Compression selects which partition files are gzipped.
type Compression int

const (
	// Alternate gzips every other file (part-0002.jsonl.gz, part-0004.jsonl.gz, …), so a
	// partition holds both kinds.
	Alternate Compression = iota
	// Plain writes only .jsonl files.
	Plain
	// Gzip writes only .jsonl.gz files.
	Gzip
)

// Options say what to generate.
type Options struct {
	// Day is the partition to write; required.
	Day archiver.Day
	// Events is the number of lines to write, counting non-message, duplicate and bad lines.
	Events int
	// Orgs is the number of organizations in a new directory (0: 10). When the folder
	// already has a directory.json, it is reused and Orgs, if set, must match it.
	Orgs int
	// Seed makes the output reproducible: the same options and seed give the same bytes.
	Seed int64
	// Files is the number of partition files (0: one per 250,000 lines, at least one).
	Files int
	// Compression selects which files are gzipped (default Alternate).
	Compression Compression
	// Bad is the number of deliberately bad lines among the Events, of every kind in turn
	// (see BadKinds), spread across the files.
	Bad int
	// Parallel is how many files are written at once (0: GOMAXPROCS). It never changes
	// the output.
	Parallel int
	// Progress, if set, is called with the number of lines written so far, about every
	// 100,000 lines and once at the end. Calls are serialized and the count only grows.
	Progress func(written int)
}

// Stats describe what Generate wrote. Lines = Messages + Waves + Invitations + Bad.
type Stats struct {
	// Lines is the number of lines written (Options.Events).
	Lines int
	// Messages counts message events (sent, edited, deleted of the five message content
	// types), redelivered duplicates included.
	Messages int
	// Duplicates counts the redeliveries among Messages: lines that repeat an earlier
	// line's record, mostly byte for byte, sometimes encoded differently.
	Duplicates int
	// Waves and Invitations count the non-message events (contentType wave, roomInvitation).
	Waves, Invitations int
	// Bad counts the deliberately bad lines; BadByKind splits them by BadKinds name.
	Bad       int
	BadByKind map[string]int
	// Late counts lines written after lines committed later than them.
	Late int
	// Files are the partition files, relative to the output folder, in name order.
	Files []string
	// DirectoryReused is true when an existing directory.json was used.
	DirectoryReused bool
	// The directory's size: organizations (ArchivingOrgs of them with archival on), users,
	// bots, chats; occupants (guests) seen as chat members; and the chats events were
	// written to that the directory does not list.
	Orgs, ArchivingOrgs, Users, Bots, Occupants, Chats, UnlistedChats int
}

const (
	defaultOrgs      = 10
	linesPerFile     = 250_000
	progressInterval = 100_000
	closedMarker     = "_CLOSED"
	directoryFile    = "directory.json"
)

func (o Options) withDefaults() Options {
	if o.Orgs <= 0 {
		o.Orgs = defaultOrgs
	}
	if o.Files <= 0 {
		o.Files = max(1, o.Events/linesPerFile)
	}
	if o.Parallel <= 0 {
		o.Parallel = runtime.GOMAXPROCS(0)
	}
	return o
}

func (o Options) validate() error {
	switch {
	case o.Day.IsZero():
		return errors.New("synth: day is required")
	case o.Events < 0:
		return fmt.Errorf("synth: events: %d is negative", o.Events)
	case o.Orgs < 0:
		return fmt.Errorf("synth: orgs: %d is negative", o.Orgs)
	case o.Files < 0:
		return fmt.Errorf("synth: files: %d is negative", o.Files)
	case o.Compression < Alternate || o.Compression > Gzip:
		return fmt.Errorf("synth: compression: unknown value %d", o.Compression)
	case o.Bad < 0 || o.Bad > o.Events:
		return fmt.Errorf("synth: bad: %d is not between 0 and the %d events", o.Bad, o.Events)
	}
	return nil
}

// Generate writes a synthetic event log into dir: dir/directory.json (unless one exists,
// which is then reused so that several days generated into one folder agree), the day's
// partition files dir/<YYYY-MM-DD>/part-NNNN.jsonl[.gz], and last dir/<YYYY-MM-DD>/_CLOSED.
//
// It refuses to write into a day folder that already has files: two generations are never
// mixed. On failure or cancellation it removes what it created, so the day stays absent.
func Generate(ctx context.Context, dir string, opt Options) (Stats, error) {
	if err := opt.validate(); err != nil {
		return Stats{}, err
	}
	orgsGiven := opt.Orgs
	opt = opt.withDefaults()
	day := opt.Day.String()
	dayDir := filepath.Join(dir, day)
	entries, err := os.ReadDir(dayDir)
	switch {
	case err == nil && len(entries) > 0:
		return Stats{}, fmt.Errorf("synth: %s already holds %d files (for example %s); refusing to mix two generations: use another folder or remove it",
			dayDir, len(entries), entries[0].Name())
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return Stats{}, fmt.Errorf("synth: read day folder: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Stats{}, fmt.Errorf("synth: create folder: %w", err)
	}

	var st Stats
	var cleanup []string // created paths, removed in reverse on failure
	ok := false
	defer func() {
		if !ok {
			for i := len(cleanup) - 1; i >= 0; i-- {
				os.Remove(cleanup[i])
			}
		}
	}()

	d, reused, err := loadDirectory(dir)
	if err != nil {
		return Stats{}, err
	}
	if reused {
		if orgsGiven > 0 && orgsGiven != len(d.Organizations) {
			return Stats{}, fmt.Errorf("synth: %s has %d organizations, not the %d asked for: use another folder, or no orgs option to reuse it",
				filepath.Join(dir, directoryFile), len(d.Organizations), orgsGiven)
		}
	} else {
		d = GenerateDirectory(opt)
		path := filepath.Join(dir, directoryFile)
		if err := writeDirectory(path, d); err != nil {
			return Stats{}, err
		}
		cleanup = append(cleanup, path)
	}
	w, err := buildWorld(d, opt.Seed)
	if err != nil {
		return Stats{}, fmt.Errorf("synth: %w", err)
	}
	// The day is written into a hidden folder beside its own and renamed into place once
	// whole, its _CLOSED marker written: a gen killed half-way (SIGKILL, a closed
	// terminal's SIGHUP) left part files in the day's folder without _CLOSED, which run
	// seals once the grace is over, a partial day. A hidden folder is no partition.
	stage, err := os.MkdirTemp(dir, "."+day+".partial-")
	if err != nil {
		return Stats{}, fmt.Errorf("synth: create day folder: %w", err)
	}
	defer func() {
		if !ok {
			os.RemoveAll(stage)
		}
	}()
	files, fstats, err := writeFiles(ctx, stage, w, opt)
	if err != nil {
		return Stats{}, err
	}
	crashpoint.Hit("synth.files")
	f, err := os.OpenFile(filepath.Join(stage, closedMarker), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return Stats{}, fmt.Errorf("synth: write %s: %w", closedMarker, err)
	}
	if err := f.Close(); err != nil {
		return Stats{}, fmt.Errorf("synth: write %s: %w", closedMarker, err)
	}
	if err := os.Chmod(stage, 0o755); err != nil {
		return Stats{}, fmt.Errorf("synth: create day folder: %w", err)
	}
	// Onto a missing or empty day folder (checked above); one that got files meanwhile
	// is not replaced.
	if err := os.Rename(stage, dayDir); err != nil {
		return Stats{}, fmt.Errorf("synth: put the day's folder in place: %w", err)
	}
	ok = true

	st.Files = files
	st.DirectoryReused = reused
	st.BadByKind = make(map[string]int, numBadKinds)
	for _, s := range fstats {
		st.Lines += s.lines
		st.Messages += s.messages
		st.Duplicates += s.duplicates
		st.Waves += s.waves
		st.Invitations += s.invitations
		st.Bad += s.bad
		st.Late += s.late
		for k, n := range s.badKinds {
			st.BadByKind[BadKinds[k]] += n
		}
	}
	st.Orgs, st.Users, st.Bots, st.Chats = len(d.Organizations), len(d.Users), len(d.Bots), len(d.Chats)
	for _, o := range d.Organizations {
		if o.Archival {
			st.ArchivingOrgs++
		}
	}
	st.Occupants, st.UnlistedChats = w.occupants, len(w.chats)-w.listed
	return st, nil
}

// loadDirectory reads dir/directory.json if there is one.
func loadDirectory(dir string) (*model.Directory, bool, error) {
	path := filepath.Join(dir, directoryFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("synth: read directory: %w", err)
	}
	d, err := model.ParseDirectory(data)
	if err != nil {
		return nil, false, fmt.Errorf("synth: existing %s: %w", path, err)
	}
	return d, true, nil
}

// writeDirectory writes d with one entry per line, readable and diffable, and refuses to
// replace a file that appeared meanwhile.
func writeDirectory(path string, d *model.Directory) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("synth: write directory: %w", err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	section := func(name string, n int, item func(i int) any) {
		bw.WriteString(`"` + name + `":[`)
		for i := range n {
			if i > 0 {
				bw.WriteByte(',')
			}
			bw.WriteByte('\n')
			buf.Reset()
			if err == nil {
				err = enc.Encode(item(i))
			}
			bw.Write(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
		}
		bw.WriteString("]")
	}
	bw.WriteString("{")
	section("organizations", len(d.Organizations), func(i int) any { return d.Organizations[i] })
	bw.WriteString(",\n")
	section("users", len(d.Users), func(i int) any { return d.Users[i] })
	bw.WriteString(",\n")
	section("bots", len(d.Bots), func(i int) any { return d.Bots[i] })
	bw.WriteString(",\n")
	section("chats", len(d.Chats), func(i int) any { return d.Chats[i] })
	bw.WriteString("}\n")
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("synth: write directory: %w", err)
	}
	return nil
}

// writeFiles writes the partition files, up to opt.Parallel at a time. Each file's content
// depends only on its index, so the result is the same for any parallelism.
func writeFiles(parent context.Context, stage string, w *world, opt Options) (_ []string, _ []fileStats, err error) {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	n := opt.Files
	width := max(4, len(strconv.Itoa(n)))
	names := make([]string, n)
	for i := range n {
		num := strconv.Itoa(i + 1)
		for len(num) < width {
			num = "0" + num
		}
		names[i] = opt.Day.String() + "/part-" + num + ".jsonl"
		if opt.Compression == Gzip || opt.Compression == Alternate && i%2 == 1 {
			names[i] += ".gz"
		}
	}

	var (
		mu       sync.Mutex
		total    atomic.Int64
		reported int64
	)
	var progress func(int)
	if opt.Progress != nil {
		progress = func(delta int) {
			now := total.Add(int64(delta))
			if now/progressInterval == (now-int64(delta))/progressInterval && now != int64(opt.Events) {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if now > reported {
				reported = now
				opt.Progress(int(now))
			}
		}
	}

	dayStart := opt.Day.Start().UnixMilli()
	stats := make([]fileStats, n)
	errs := make([]error, n)
	created := make([]bool, n)
	defer func() {
		if err != nil { // leave no partial files behind
			for i, c := range created {
				if c {
					os.Remove(filepath.Join(stage, path.Base(names[i])))
				}
			}
		}
	}()
	sem := make(chan struct{}, opt.Parallel)
	var wg sync.WaitGroup
	for i := range n {
		lineStart, lineEnd := i*opt.Events/n, (i+1)*opt.Events/n
		badStart, badEnd := lineStart*opt.Bad/max(opt.Events, 1), lineEnd*opt.Bad/max(opt.Events, 1)
		sem <- struct{}{}
		if ctx.Err() != nil {
			<-sem
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			file := filepath.Join(stage, path.Base(names[i]))
			stats[i], errs[i] = writeFile(ctx, file, &created[i], func(out *pipeWriter) *fileGen {
				return newFileGen(w, opt.Seed, i, n, dayStart, lineEnd-lineStart, badStart, badEnd-badStart, out)
			}, progress)
			if errs[i] != nil {
				cancel()
			}
		}()
	}
	wg.Wait()
	// A file's own failure cancels the others; report it rather than their cancellation.
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			return nil, nil, fmt.Errorf("synth: %w", err)
		}
	}
	if err := parent.Err(); err != nil {
		return nil, nil, fmt.Errorf("synth: %w", err)
	}
	for _, err := range errs {
		if err != nil {
			return nil, nil, fmt.Errorf("synth: %w", err)
		}
	}
	return names, stats, nil
}

func writeFile(ctx context.Context, path string, created *bool, newGen func(*pipeWriter) *fileGen, progress func(int)) (fileStats, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fileStats{}, fmt.Errorf("create %s: %w", filepath.Base(path), err)
	}
	*created = true
	var w io.Writer = f
	var zw *gzip.Writer
	if filepath.Ext(path) == ".gz" {
		zw, _ = gzip.NewWriterLevel(f, gzip.BestSpeed)
		w = zw
	}
	pw := newPipeWriter(w, 256<<10, 4)
	g := newGen(pw)
	err = g.run(ctx, progress)
	if cerr := pw.Close(); err == nil {
		err = cerr
	}
	if zw != nil && err == nil {
		err = zw.Close()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fileStats{}, fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	g.st.lines = g.written
	return g.st, nil
}

// pipeWriter buffers lines and hands each filled buffer to a goroutine that compresses
// and writes it, so that generating lines and compressing them overlap.
type pipeWriter struct {
	cur    []byte
	size   int
	full   chan []byte
	free   chan []byte
	done   chan struct{}
	failed atomic.Bool
	err    error // written by the goroutine, read after done is closed
}

func newPipeWriter(w io.Writer, size, buffers int) *pipeWriter {
	p := &pipeWriter{size: size, full: make(chan []byte, buffers), free: make(chan []byte, buffers), done: make(chan struct{})}
	for range buffers - 1 {
		p.free <- make([]byte, 0, size+size/4)
	}
	p.cur = make([]byte, 0, size+size/4)
	go func() {
		defer close(p.done)
		for b := range p.full {
			if p.err == nil {
				if _, p.err = w.Write(b); p.err != nil {
					p.failed.Store(true)
				}
			}
			p.free <- b[:0]
		}
	}()
	return p
}

// writeLine queues line and a newline.
func (p *pipeWriter) writeLine(line []byte) {
	p.cur = append(append(p.cur, line...), '\n')
	if len(p.cur) >= p.size {
		p.full <- p.cur
		p.cur = <-p.free
	}
}

// Failed reports whether a write has failed; Close says how.
func (p *pipeWriter) Failed() bool { return p.failed.Load() }

// Close writes what is buffered, waits until everything is written and returns the
// first error.
func (p *pipeWriter) Close() error {
	if len(p.cur) > 0 {
		p.full <- p.cur
		p.cur = nil
	}
	close(p.full)
	<-p.done
	return p.err
}
