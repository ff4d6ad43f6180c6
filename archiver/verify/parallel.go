package verify

import (
	"context"
	"runtime"

	"github.com/chatvault/chatvault/archiver/ledger"
)

// walk verifies organizations concurrently, at most opt.Jobs at once, and merges their
// reports into rep in the order they were submitted (the store's key order), so that the
// report does not depend on which finished first. Memory holds the keys of the
// organizations in flight or waiting to be merged: at most twice Jobs.
type walk struct {
	ctx  context.Context
	l    ledger.Ledger
	opt  Options
	rep  *Report
	cp   *checkpointer // nil: no checkpoints
	sem  chan struct{}
	jobs chan *orgJob // submitted, in order, for the merger
	done chan error   // the merger's result
}

type orgJob struct {
	org      string
	rep      *Report
	check    *orgCheck
	err      error
	finished chan struct{}
}

// newWalk starts the merger; cp, when not nil, records the merged organizations.
func newWalk(ctx context.Context, l ledger.Ledger, opt Options, rep *Report, cp *checkpointer) *walk {
	n := opt.Jobs
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	w := &walk{ctx: ctx, l: l, opt: opt, rep: rep, cp: cp, sem: make(chan struct{}, n), jobs: make(chan *orgJob, n), done: make(chan error, 1)}
	go w.merge()
	return w
}

// submit starts the verification of org, whose keys are keys (which it keeps), once fewer
// than Jobs are running.
func (w *walk) submit(org string, keys []string) error {
	return w.submitFunc(org, func(rep *Report) (*orgCheck, error) { return verifyOrg(w.ctx, w.l, org, keys, w.opt, rep) })
}

// submitFunc starts fn, the verification of org reporting to its own report, once fewer
// than Jobs are running.
func (w *walk) submitFunc(org string, fn func(rep *Report) (*orgCheck, error)) error {
	select {
	case w.sem <- struct{}{}:
	case <-w.ctx.Done():
		return w.ctx.Err()
	}
	j := &orgJob{org: org, rep: &Report{state: w.rep.state}, finished: make(chan struct{})}
	if w.rep.chainedKeys != nil {
		j.rep.chainedKeys = map[string]bool{}
	}
	go func() {
		defer func() { <-w.sem }()
		defer close(j.finished)
		j.check, j.err = fn(j.rep)
	}()
	w.jobs <- j
	return nil
}

// wait merges the organizations submitted and returns the first error of their walks.
func (w *walk) wait() error {
	close(w.jobs)
	return <-w.done
}

func (w *walk) merge() {
	var first error
	for j := range w.jobs {
		<-j.finished
		if j.err != nil && first == nil {
			first = j.err
		}
		w.rep.add(j.rep)
		if j.check != nil {
			w.rep.state.merge(j.check)
		}
		if w.cp != nil && j.err == nil {
			if err := w.cp.org(w.ctx, j); err != nil && first == nil {
				first = err
			}
		}
		if w.opt.Progress != nil {
			w.opt.Progress(w.rep.Manifests)
		}
	}
	w.done <- first
}

// add merges o, the report of one organization, into r.
func (r *Report) add(o *Report) {
	r.Orgs++
	r.Manifests += o.Manifests
	r.Objects += o.Objects
	r.Bytes += o.Bytes
	r.Problems = append(r.Problems, o.Problems...)
	r.Warnings = append(r.Warnings, o.Warnings...)
	r.cut += o.cut
	r.foreign.merge(o.foreign)
	r.placed.merge(o.placed)
	for key := range o.chainedKeys {
		if r.chainedKeys == nil {
			r.chainedKeys = map[string]bool{}
		}
		r.chainedKeys[key] = true
	}
	for day, t := range o.tally {
		if r.tally == nil {
			r.tally = map[string]*accountingTally{}
		}
		if r.tally[day] == nil {
			r.tally[day] = &accountingTally{}
		}
		r.tally[day].chained += t.chained
		r.tally[day].named += t.named
	}
}
