package exporttask

import (
	"slices"
	"testing"
)

func TestPeriods(t *testing.T) {
	add := func(at int64) evidence { return evidence{at: at, member: true} }
	remove := func(at int64) evidence { return evidence{at: at} }
	seal := func(at int64, member bool) evidence { return evidence{at: at, seal: true, member: member} }
	for _, tt := range []struct {
		name string
		ev   []evidence
		want []span
	}{
		{"none", nil, nil},
		{"joined and left", []evidence{seal(1, false), add(5), seal(10, true), remove(15), seal(20, false)}, []span{{5, 15}}},
		{"member before the range", []evidence{remove(15), seal(20, false)}, []span{{never, 15}}},
		{"recorded at every seal, no change", []evidence{seal(10, true), seal(20, true)}, []span{{never, forever}}},
		{"never recorded", []evidence{seal(10, false), seal(20, false)}, nil},
		{"still a member", []evidence{seal(1, false), add(5)}, []span{{5, forever}}},
		// A seal records a member the changes say had left: the period between counts.
		{"seal disagrees with a removal", []evidence{add(5), remove(8), seal(10, true), seal(20, false)}, []span{{5, 20}}},
		// A seal does not record one the changes say joined: they count as a member up to
		// it (left unrecorded), and not from it to the next addition.
		{"seal misses an addition", []evidence{seal(1, false), add(5), seal(10, false), add(12)}, []span{{5, 10}, {12, forever}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := periods(tt.ev); !slices.Equal(got, tt.want) {
				t.Fatalf("periods = %v, want %v", got, tt.want)
			}
		})
	}
}
