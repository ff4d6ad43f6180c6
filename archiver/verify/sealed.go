package verify

import (
	"time"

	"github.com/chatvault/chatvault/archiver"
)

// checkSealedAfterDay reports a manifest made before its day ended. The day may then miss
// its last events: a release before issue 10 sealed a day as soon as its partition had
// _CLOSED, even while the day was still going on. A version 1 manifest is history the
// store cannot undo, reported as a warning (a rerun of the day adds the missing events as
// a new revision); this release never seals a day before its end, so a version 2 manifest
// sealed early is a forgery or a clock that went back, and a problem. sealedAt is under
// the signature, so on a signed chain it is the signer's word.
func checkSealedAfterDay(m *archiver.StoredManifest, rep *Report) {
	day, err := archiver.ParseDay(m.Date)
	if err != nil {
		return // reported with the date
	}
	sealed, err := time.Parse(time.RFC3339Nano, m.SealedAt)
	if err != nil {
		if m.Version >= 2 {
			rep.problem("%s: sealedAt %q: %v", m.Key, m.SealedAt, err)
		}
		return
	}
	if !sealed.Before(day.End()) {
		return
	}
	msg := m.Key + ": sealed at " + m.SealedAt + ", before its day ended at " + day.End().UTC().Format(time.RFC3339) +
		": the day may miss its last events"
	if m.Version < 2 {
		rep.Warnings = append(rep.Warnings, msg+" (an earlier release sealed days early; rerun the day to add them as a revision)")
		return
	}
	rep.problem("%s (this release never seals a day before it ends: a forged manifest, or a clock that went back)", msg)
}
