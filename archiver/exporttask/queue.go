package exporttask

import (
	"time"
)

// queued is a task waiting for a worker of this process.
type queued struct {
	ref     taskRef
	created time.Time
}

// fairQueue holds the tasks waiting for a worker, per organization, so that one
// organization's backlog does not hold up another's task: pop takes the next task from
// the organization with the fewest tasks running in this process, and among those the
// one served longest ago (round robin), and within an organization the oldest task.
// A plain FIFO would make an organization that asked for one day wait behind every task
// another organization queued before it.
type fairQueue struct {
	byOrg  map[string][]queued // each sorted by created, oldest first
	has    map[taskRef]bool
	served map[string]uint64 // when each organization last had a task popped (seq)
	seq    uint64
	n      int
}

func (q *fairQueue) init() {
	if q.byOrg == nil {
		q.byOrg, q.has, q.served = map[string][]queued{}, map[taskRef]bool{}, map[string]uint64{}
	}
}

// push adds a task unless it is queued already; it reports whether it did.
func (q *fairQueue) push(t queued) bool {
	q.init()
	if q.has[t.ref] {
		return false
	}
	l := q.byOrg[t.ref.org]
	i := len(l)
	for i > 0 && l[i-1].created.After(t.created) {
		i--
	}
	l = append(l, queued{})
	copy(l[i+1:], l[i:])
	l[i] = t
	q.byOrg[t.ref.org] = l
	q.has[t.ref] = true
	q.n++
	return true
}

// pop removes and returns the next task; running counts each organization's tasks
// running in this process.
func (q *fairQueue) pop(running map[string]int) (queued, bool) {
	if q.n == 0 {
		return queued{}, false
	}
	best := ""
	for org, l := range q.byOrg {
		if best == "" {
			best = org
			continue
		}
		b := q.byOrg[best]
		switch {
		case running[org] != running[best]:
			if running[org] < running[best] {
				best = org
			}
		case q.served[org] != q.served[best]:
			if q.served[org] < q.served[best] {
				best = org
			}
		case l[0].created.Before(b[0].created) || (l[0].created.Equal(b[0].created) && org < best):
			best = org
		}
	}
	l := q.byOrg[best]
	t := l[0]
	if len(l) == 1 {
		delete(q.byOrg, best)
	} else {
		q.byOrg[best] = l[1:]
	}
	delete(q.has, t.ref)
	q.n--
	q.seq++
	q.served[best] = q.seq
	return t, true
}

// len is how many tasks wait.
func (q *fairQueue) len() int { return q.n }
