package archiver

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"strings"

	"github.com/chatvault/chatvault/model"
	"github.com/klauspost/compress/gzip"
)

// VerifyOptions narrow a verification.
type VerifyOptions struct {
	// Org limits verification to one organization; empty means every organization in
	// the store.
	Org string
	// From and To (inclusive) limit which days' objects are re-hashed. Every manifest
	// chain is always walked whole, since a chain is only as good as its every link.
	From, To Day
	// TrustedKey, when set, must have signed every manifest.
	TrustedKey ed25519.PublicKey
	// Progress, when set, is called after each manifest.
	Progress func(manifests int)

	// Issue 10 (verify_chain.go, verify_coverage.go, witness.go). TrustedKeys, with
	// TrustedKey, are the public keys that may have signed manifests (several after a key
	// rotation). Directory, when set, is the snapshot whose archiving organizations must
	// each have a manifest for every day up to the store's newest. Witness, when set, holds
	// chain heads the store's chains must reach, with the same hashes.
	TrustedKeys []ed25519.PublicKey
	Directory   *model.Directory
	Witness     *Witness
	// Audit verifies the access audit's chains (archiver/audit.Verifier); nil leaves them
	// unverified, with a warning when the store holds any.
	Audit AuditVerifier
}

// VerifyReport is what Verify checked and found.
type VerifyReport struct {
	Orgs      int
	Manifests int
	Objects   int
	Bytes     int64
	// Problems are integrity failures: any one means the archive cannot be trusted as is.
	Problems []string
	// Warnings are worth a look but do not break integrity (for example an export left
	// by a run that crashed before its manifest).
	Warnings []string

	state *verifyState // the checks across organizations (verify_chain.go)
	// tally counts, per day, the manifests the chains hold and those the day's accounting
	// objects name (verify_accounting.go).
	tally map[string]*accountingTally
}

// OK reports whether no problem was found.
func (r *VerifyReport) OK() bool { return len(r.Problems) == 0 }

func (r *VerifyReport) problem(format string, args ...any) {
	r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
}

// Verify walks every manifest chain and re-hashes every object the manifests name:
// stored bytes, the JSONL inside, record counts and order, day indexes and quarantine
// objects. It returns an error only when it cannot read the store; what it finds wrong is
// in the report.
func (l Ledger) Verify(ctx context.Context, opt VerifyOptions) (*VerifyReport, error) {
	prefix := "orgs/"
	if opt.Org != "" {
		prefix += opt.Org + "/"
	}
	// Group keys by organization as they arrive in order, so memory holds one
	// organization's keys at a time.
	rep := &VerifyReport{}
	if err := l.beginVerify(ctx, opt, rep); err != nil {
		return rep, err
	}
	var org string
	var keys []string
	flush := func() error {
		if org == "" {
			return nil
		}
		rep.Orgs++
		err := l.verifyOrg(ctx, org, keys, opt, rep)
		keys = keys[:0]
		return err
	}
	err := l.Store.List(ctx, prefix, func(key string) error {
		rest := strings.TrimPrefix(key, "orgs/")
		o, _, ok := strings.Cut(rest, "/")
		if !ok {
			rep.Warnings = append(rep.Warnings, "unexpected object "+key)
			return nil
		}
		if o != org {
			if err := flush(); err != nil {
				return err
			}
			org = o
		}
		keys = append(keys, key)
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("verify: list %s: %w", prefix, err)
	}
	if err := flush(); err != nil {
		return rep, err
	}
	if err := l.verifyAudit(ctx, opt, rep); err != nil { // verify_audit.go
		return rep, err
	}
	if err := l.verifyAccounting(ctx, opt, rep); err != nil { // verify_accounting.go
		return rep, err
	}
	if lk, ok := l.Store.(Locker); ok {
		for _, p := range []string{prefix, "quarantine/"} {
			if err := l.verifyVersions(ctx, lk, p, rep); err != nil {
				return rep, err
			}
		}
		if !lk.Locking() {
			rep.Warnings = append(rep.Warnings, "the store does not lock objects: retention is not enforced by storage")
		}
	}
	l.endVerify(rep) // coverage and witness, once every chain was walked (verify_chain.go)
	return rep, nil
}

func (l Ledger) verifyOrg(ctx context.Context, org string, keys []string, opt VerifyOptions, rep *VerifyReport) error {
	referenced := map[string]bool{}
	ck := rep.state.beginOrg(org)
	defer ck.end()
	var prev *StoredManifest
	var expect int64 = 1
	for _, key := range keys {
		if !strings.HasPrefix(key, chainPrefix(org)) {
			continue
		}
		seq, ok := parseSeq(org, key)
		if !ok {
			rep.problem("%s: not a chain entry", key)
			continue
		}
		referenced[key] = true
		m, err := l.readManifest(ctx, key)
		if err != nil {
			rep.problem("%s: %v", key, err)
			prev = nil
			expect = seq + 1
			continue
		}
		rep.Manifests++
		rep.Objects++
		rep.Bytes += int64(len(m.Bytes))
		switch {
		case seq != expect:
			rep.problem("%s: chain gap: expected seq %d", key, expect)
		case m.Seq != seq:
			rep.problem("%s: manifest says seq %d", key, m.Seq)
		case m.Org != org:
			rep.problem("%s: manifest of organization %q", key, m.Org)
		case seq == 1 && m.Previous != "":
			rep.problem("%s: first manifest names a previous one", key)
		case prev != nil && m.Previous != hexSum(prev.SHA256):
			rep.problem("%s: previous is %s, but manifest %d hashes to %s", key, m.Previous, prev.Seq, hexSum(prev.SHA256))
		}
		ck.manifest(m, rep)
		checkSealedAfterDay(m, rep) // verify_sealed.go
		if m.Input != nil && !m.Input.Balanced() {
			rep.problem("%s: input counts do not balance", key)
		}
		day, err := ParseDay(m.Date)
		if err != nil {
			rep.problem("%s: date: %v", key, err)
		}
		idx := revisionKey(org, day, m.Revision)
		referenced[idx] = true
		referenced[m.Data.Key] = true
		if m.Quarantined != nil {
			referenced[m.Quarantined.Key] = true
		}
		if m.ChatIndex != nil {
			referenced[m.ChatIndex.Key] = true
		}
		if (opt.From.IsZero() || !day.Before(opt.From)) && (opt.To.IsZero() || !day.After(opt.To)) {
			l.verifyObjects(ctx, org, day, m, idx, rep)
			l.verifyRevision(ctx, org, day, m, rep)
			l.verifyPinnedVersions(ctx, m, rep)
			rep.chained(day, m) // verify_accounting.go
			if lk, ok := l.Store.(Locker); ok && lk.Locking() {
				l.verifyLocks(ctx, lk, day, m, idx, rep)
			}
		}
		prev = m
		expect = seq + 1
		if opt.Progress != nil {
			opt.Progress(rep.Manifests)
		}
	}
	for _, key := range keys {
		if referenced[key] {
			continue
		}
		switch {
		case strings.Contains(key, "/days/") && strings.Contains(key, "/failed-"):
		case strings.Contains(key, "/days/") && strings.Contains(key, "/chatindex-"):
			rep.Warnings = append(rep.Warnings, key+": chat index not named by any manifest (a run stopped before its commit)")
		case strings.Contains(key, "/days/") && strings.Contains(key, "/events-"):
			rep.Warnings = append(rep.Warnings, key+": export not named by any manifest (a run stopped before its commit)")
		case strings.Contains(key, "/days/") && strings.Contains(key, "/quarantine-"):
			rep.Warnings = append(rep.Warnings, key+": organization quarantine not named by any manifest (a run stopped before its commit)")
		default:
			rep.problem("%s: not named by any manifest", key)
		}
	}
	return ctx.Err()
}

func (l Ledger) verifyObjects(ctx context.Context, org string, day Day, m *StoredManifest, idx string, rep *VerifyReport) {
	if !strings.HasPrefix(m.Data.Key, dayPrefix(org, day)) {
		rep.problem("%s: data key %s is outside the day's folder", m.Key, m.Data.Key)
		return
	}
	if m.Window.Start != day.Start().UnixMilli() || m.Window.End != day.End().UnixMilli() {
		// The clock skew check below measures against the window.
		rep.problem("%s: window %d to %d is not the day %s", m.Key, m.Window.Start, m.Window.End, day)
	}
	if b, err := readAll(ctx, l.Store, idx); err != nil {
		rep.problem("%s: day index %s: %v", m.Key, idx, err)
	} else if !bytes.Equal(b, m.Bytes) {
		rep.problem("%s: day index %s differs from the chain entry", m.Key, idx)
	}
	rep.Objects++
	derived := newChatIndexBuilder()
	n, err := l.verifyData(ctx, m, derived)
	if err != nil {
		rep.problem("%s: %v", m.Data.Key, err)
	}
	rep.Bytes += n
	if q := m.Quarantined; q != nil {
		rep.Objects++
		n, err := l.verifyOrgQuarantine(ctx, org, day, q)
		if err != nil {
			rep.problem("%s: organization quarantine %s: %v", m.Key, q.Key, err)
		}
		rep.Bytes += n
	}
	if m.ChatIndex != nil {
		rep.Objects++
		rep.Bytes += m.ChatIndex.Size
		if err := l.verifyChatIndex(ctx, org, day, m, derived, err == nil); err != nil {
			rep.problem("%s: chat index: %v", m.Key, err)
		}
	}
	if q := m.Quarantine; q != nil {
		size, sum, err := l.hashObject(ctx, q.Key, q.VersionID)
		rep.Objects++
		switch {
		case err != nil:
			rep.problem("%s: quarantine: %v", m.Key, err)
		case size != q.Size || hexSum(sum) != q.SHA256:
			rep.problem("%s: quarantine object %s does not match its manifest", m.Key, q.Key)
		}
	}
}

func (l Ledger) hashObject(ctx context.Context, key, versionID string) (int64, [sha256.Size]byte, error) {
	var sum [sha256.Size]byte
	rc, err := l.OpenObject(ctx, key, versionID)
	if err != nil {
		return 0, sum, err
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(h, rc)
	if err != nil {
		return n, sum, err
	}
	copy(sum[:], h.Sum(nil))
	return n, sum, nil
}

// verifyData re-hashes the stored bytes and the JSONL inside, and checks the record count
// and that records are in export order without duplicates.
func (l Ledger) verifyData(ctx context.Context, m *StoredManifest, derived *chatIndexBuilder) (int64, error) {
	g, err := l.openHashedGzip(ctx, &m.Data, 1<<20) // the version the manifest names
	if err != nil {
		return g.n(), err
	}
	defer g.Close()
	br := g.Reader
	var records, size int64
	var prevLine []byte
	var prev, cur record
	var skew ClockSkew
	var first, last int64
	for {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			// A long line: assemble it.
			full := append([]byte(nil), line...)
			for err == bufio.ErrBufferFull {
				line, err = br.ReadSlice('\n')
				full = append(full, line...)
			}
			line = full
		}
		if len(line) > 0 {
			size += int64(len(line))
			if line[len(line)-1] != '\n' {
				return g.n(), fmt.Errorf("record %d has no newline", records+1)
			}
			records++
			// Each record must decode to what the format allows, and follow the previous
			// one in export order: a valid hash of a shuffled or foreign file is not enough.
			ev, err := model.Decode(line[:len(line)-1])
			if err != nil {
				return g.n(), fmt.Errorf("record %d: %w", records, err)
			}
			derived.add(&ev)
			cur = record{ts: ev.EventTimestamp, id: []byte(ev.MessageID), rank: model.EventTypeRank(ev.EventType), line: line}
			skew.add(ev.EventTimestamp, m.Window.Start, m.Window.End)
			if records == 1 {
				first = ev.EventTimestamp
			}
			last = ev.EventTimestamp
			if prevLine != nil {
				switch c := compareRecords(&prev, &cur); {
				case c == 0:
					return g.n(), fmt.Errorf("record %d repeats the previous one", records)
				case c > 0:
					return g.n(), fmt.Errorf("record %d is out of export order", records)
				}
			}
			prevLine = append(prevLine[:0], line...)
			prev = cur
			prev.id = append([]byte(nil), cur.id...)
			prev.line = prevLine
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return g.n(), fmt.Errorf("read: %w", err)
		}
	}
	if err := g.check(&m.Data, size); err != nil {
		return g.n(), err
	}
	switch {
	case records != m.Data.Records || records != m.Counts.Exported:
		return g.n(), fmt.Errorf("%d records, manifest says %d", records, m.Data.Records)
	case first != m.Window.FirstEvent || last != m.Window.LastEvent:
		return g.n(), fmt.Errorf("records span eventTimestamp %d to %d, manifest's window says %d to %d",
			first, last, m.Window.FirstEvent, m.Window.LastEvent)
	}
	var flagged ClockSkew
	if m.ClockSkew != nil {
		flagged = *m.ClockSkew
	}
	if skew != flagged {
		return g.n(), fmt.Errorf("records outside the day: %+v, manifest's clockSkew says %+v", skew, flagged)
	}
	return g.n(), nil
}

// hashedGzip reads a gzip object a manifest names (an export, an organization's
// quarantine) in the version it names, hashing the stored bytes and the JSONL inside as
// they are read; check then compares both, and the sizes, with the manifest. Reader reads
// the JSONL.
type hashedGzip struct {
	*bufio.Reader
	rc            io.ReadCloser
	counted       *countingReader
	stored, jsonl hash.Hash
}

// openHashedGzip opens o. Its result's n counts the stored bytes read, also when the
// object is not gzip (the error then says so, and the object is closed).
func (l Ledger) openHashedGzip(ctx context.Context, o *DataObject, bufSize int) (*hashedGzip, error) {
	rc, err := l.OpenObject(ctx, o.Key, o.VersionID)
	if err != nil {
		return nil, err
	}
	g := &hashedGzip{rc: rc, stored: sha256.New(), jsonl: sha256.New()}
	g.counted = &countingReader{r: io.TeeReader(rc, g.stored)}
	zr, err := gzip.NewReader(g.counted)
	if err != nil {
		rc.Close()
		return g, fmt.Errorf("not gzip: %w", err)
	}
	g.Reader = bufio.NewReaderSize(io.TeeReader(zr, g.jsonl), bufSize)
	return g, nil
}

// n is how many stored bytes were read (0 when nothing could be opened).
func (g *hashedGzip) n() int64 {
	if g == nil {
		return 0
	}
	return g.counted.n
}

// Close closes the stored object.
func (g *hashedGzip) Close() error { return g.rc.Close() }

// check reads the rest of the stored object (the gzip trailer) and compares its size and
// SHA-256, and the JSONL's SHA-256 and jsonlSize, its size as read, with o.
func (g *hashedGzip) check(o *DataObject, jsonlSize int64) error {
	if _, err := io.Copy(io.Discard, g.counted); err != nil {
		return err
	}
	switch {
	case g.counted.n != o.Size:
		return fmt.Errorf("size %d, manifest says %d", g.counted.n, o.Size)
	case hex.EncodeToString(g.stored.Sum(nil)) != o.SHA256:
		return fmt.Errorf("SHA-256 of stored bytes does not match the manifest")
	case hex.EncodeToString(g.jsonl.Sum(nil)) != o.JSONLSHA256:
		return fmt.Errorf("SHA-256 of the JSONL does not match the manifest")
	case jsonlSize != o.JSONLSize:
		return fmt.Errorf("JSONL size %d, manifest says %d", jsonlSize, o.JSONLSize)
	}
	return nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
