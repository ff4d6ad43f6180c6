package scheduler

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/chatvault/chatvault/archiver"
)

// A watermark is what a sealing tick knew of every organization's days, stored so that
// the first tick of the next process (every `chatvault run` is one, and so is every serve
// start) need not list each organization's days from its archivalStart to find its gaps:
//
//	scheduler/watermarks/<date>/<ms>-<sha16>.json.gz   {"version":1,"orgs":{"<org>":{"from","through"}}}
//
// For each organization, every day from `from` through `through` was sealed (its day
// index listed) when the tick looked. The store is create-only, so that stays true; a
// process's first look at an organization whose start is not before `from` then lists its
// days from `through` on (seeing that day still sealed, as every later look does, and
// listing afresh from the start when it is not: a store restored from an older backup).
// A watermark is a finding aid, not evidence: verify neither needs nor reads it. It is
// written by a tick that took the lease (one that seals), after its catch-up, at most
// once every watermarkEvery, and read as the newest of those written within
// watermarkWindow: one listing and one read per process.
const watermarkPrefix = "scheduler/watermarks/"

const (
	watermarkVersion = 1
	watermarkEvery   = 7  // days between watermarks
	watermarkWindow  = 14 // days back a process looks for the newest
)

type watermark struct {
	Version int                `json:"version"`
	Orgs    map[string]orgMark `json:"orgs"`
}

type orgMark struct {
	From    string `json:"from"`
	Through string `json:"through"`
}

// watermarks is a Scheduler's state of its watermarks.
type watermarks struct {
	read    bool
	written archiver.Day // the day of the newest watermark read or written (zero: none)
}

// loadWatermark seeds s.days from the newest watermark, once per process. A watermark that
// cannot be read or decoded is logged and skipped: the organizations are then listed
// from their start, as without one.
func (s *Scheduler) loadWatermark(ctx context.Context, today archiver.Day) {
	if s.Watermarks == nil || s.marks.read {
		return
	}
	s.marks.read = true
	day, err := seedFromWatermark(ctx, s.Watermarks, today, &s.days)
	if err != nil {
		s.Logger.Warn("cannot read the scheduler's watermark; listing each organization's days from its start", "err", err)
	}
	s.marks.written = day
}

// seedFromWatermark seeds x with what the newest watermark in st says, and returns the
// day it was written (zero when there is none).
func seedFromWatermark(ctx context.Context, st archiver.Store, today archiver.Day, x *dayIndex) (archiver.Day, error) {
	key, day, err := newestWatermark(ctx, st, today)
	if err != nil || key == "" {
		return archiver.Day{}, err
	}
	w, err := readWatermark(ctx, st, key)
	if err != nil {
		return archiver.Day{}, fmt.Errorf("%s: %w", key, err)
	}
	for org, m := range w.Orgs {
		from, err1 := archiver.ParseDay(m.From)
		through, err2 := archiver.ParseDay(m.Through)
		if err1 != nil || err2 != nil || through.Before(from) {
			continue
		}
		x.seed(org, from, through)
	}
	return day, nil
}

// newestWatermark returns the key and day of the newest watermark written within
// watermarkWindow days before today ("" when none): one listing from there.
//
// A watermark dated after tomorrow was written by a process whose clock ran ahead (an NTP
// step, an RTC wrong at boot): taken as the newest, it was read by every process until
// the clock reached its date, while what it says grew older (each first look listed the
// days after it), and no process wrote a newer one. It is passed over, and the janitor
// prunes it once its date is watermarkKeep days past.
func newestWatermark(ctx context.Context, st archiver.Store, today archiver.Day) (string, archiver.Day, error) {
	since := archiver.DayOf(today.Start().AddDate(0, 0, -watermarkWindow))
	var key string
	var day archiver.Day
	err := archiver.ListAfter(ctx, st, watermarkPrefix, watermarkPrefix+since.String(), func(k string) error {
		date, _, ok := strings.Cut(strings.TrimPrefix(k, watermarkPrefix), "/")
		d, err := archiver.ParseDay(date)
		if ok && err == nil && d.After(today.Next()) {
			return archiver.ErrStopListing // keys sort by date: the rest are later still
		}
		if ok && err == nil && strings.HasSuffix(k, ".json.gz") {
			key, day = k, d // keys sort by date, then time: the last is the newest
		}
		return nil
	})
	if errors.Is(err, archiver.ErrStopListing) {
		err = nil
	}
	return key, day, err
}

func readWatermark(ctx context.Context, st archiver.Store, key string) (*watermark, error) {
	rc, err := st.Open(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	zr, err := gzip.NewReader(rc)
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	var w watermark
	if err := json.NewDecoder(io.LimitReader(zr, 256<<20)).Decode(&w); err != nil {
		return nil, err
	}
	if w.Version != watermarkVersion {
		return nil, fmt.Errorf("unknown watermark version %d", w.Version)
	}
	return &w, nil
}

// writeWatermark stores what s.days knows, when the newest watermark is watermarkEvery
// days old or more (or there is none).
func (s *Scheduler) writeWatermark(ctx context.Context) error {
	if s.Watermarks == nil {
		return nil
	}
	now := s.Clock.Now()
	today := archiver.DayOf(now)
	// Written less than watermarkEvery days ago. One "written" after today was this
	// process's own while its clock ran ahead: a new one is due, or none was written for
	// as long as the step.
	if age := today.Start().Sub(s.marks.written.Start()); !s.marks.written.IsZero() && age >= 0 && age < watermarkEvery*24*time.Hour {
		return nil
	}
	w := watermark{Version: watermarkVersion, Orgs: s.days.marks()}
	if len(w.Orgs) == 0 {
		return nil
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := json.NewEncoder(zw).Encode(w); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	sum := sha256.Sum256(buf.Bytes())
	key := fmt.Sprintf("%s%s/%013d-%s.json.gz", watermarkPrefix, today, now.UnixMilli(), hex.EncodeToString(sum[:8]))
	if err := s.Watermarks.Create(ctx, key, bytes.NewReader(buf.Bytes()), int64(buf.Len()), sum, archiver.CreateOptions{}); err != nil && !errors.Is(err, archiver.ErrConflict) {
		return fmt.Errorf("store the scheduler's watermark: %w", err)
	}
	s.marks.written = today
	return nil
}

// seed makes what a watermark says of org known, unless a look already knows more: every
// day from `from` through `through` sealed.
func (x *dayIndex) seed(org string, from, through archiver.Day) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.orgs == nil {
		x.orgs = map[string]*orgDays{}
	}
	if _, ok := x.orgs[org]; !ok {
		x.orgs[org] = &orgDays{from: from, last: through}
	}
}

// marks returns, per organization, the days known sealed without a gap: from its start
// through the day before its first gap (through its last sealed day when it has none).
// An organization whose first day is a gap, or with none sealed, is left out.
func (x *dayIndex) marks() map[string]orgMark {
	x.mu.Lock()
	defer x.mu.Unlock()
	out := map[string]orgMark{}
	for org, o := range x.orgs {
		through := o.last
		if len(o.gaps) > 0 {
			through = archiver.DayOf(o.gaps[0].Start().Add(-time.Hour))
		}
		if through.IsZero() || through.Before(o.from) {
			continue
		}
		out[org] = orgMark{From: o.from.String(), Through: through.String()}
	}
	return out
}
